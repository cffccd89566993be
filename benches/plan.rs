//! `hrsi plan` speed: 1 000 simulations of a 30-day horizon with a 5-day outage (the issue's
//! budget: ≤ 30 s on the project's 2-core machine). 100 seeds × {all, waves} × 5 outage starts:
//! 1 000 runs sharing 100 baselines (one per seed), on every core.
//!
//! `cargo bench --bench plan` (release). CI only checks that it builds and runs once
//! (`cargo test --benches`), with a small sweep.
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hrsi::plan::{Plan, PlanInputs, Work};

fn inputs(seeds: u32, starts: &str) -> PlanInputs {
    PlanInputs {
        days: Some(30),
        outage_start_day: Some(5.0),
        outage_days: Some(5.0),
        sweeps: vec![
            "scenario.restart=all,waves".into(),
            format!("scenario.outage_start_day={starts}"),
        ],
        replications: Some(seeds),
        ..PlanInputs::default()
    }
}

fn plan(c: &mut Criterion) {
    // Under `cargo test --benches` criterion runs each function once: keep that one small.
    let full = std::env::args().any(|a| a == "--bench");
    let p = if full {
        Plan::new(inputs(100, "3,5,7,9,11"))
    } else {
        Plan::new(inputs(1, "5"))
    }
    .expect("valid plan");
    let work = Work::new(&p, None).expect("valid work");
    let mut g = c.benchmark_group("plan");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    let name = format!("{}_runs_30_days_5_day_outage", work.runs());
    g.bench_function(&name, |b| b.iter(|| black_box(work.execute(&|| {}))));
    g.finish();
}

criterion_group!(benches, plan);
criterion_main!(benches);
