//! Simulator speed: one simulated year of nominal production (all five types, about 700 000
//! jobs) must take ≤ 1 s on one core; a 30-day run with a 5-day outage restarted in waves
//! (baseline included) is the unit of `hrsi plan`.
//!
//! `cargo bench --bench sim` (release). CI only checks that it builds and runs once
//! (`cargo test --benches`).
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hrsi_sim::config::{Restart, outage_steps};
use hrsi_sim::time::DAY;
use hrsi_sim::{Config, run, simulate};

fn year(c: &mut Criterion) {
    let mut cfg = Config::new(1);
    cfg.horizon = 365 * DAY;
    let mut g = c.benchmark_group("simulator");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("one_year_nominal", |b| {
        b.iter(|| black_box(run(black_box(&cfg), None)))
    });
    // What `hrsi simulate --days 365` runs: the year is its own baseline (one simulation).
    g.bench_function("simulate_365_days_as_the_cli_does", |b| {
        b.iter(|| black_box(simulate(black_box(&cfg))))
    });
    let mut out = Config::new(1);
    out.steps = outage_steps(5 * DAY, 5 * DAY, Restart::Waves, 0);
    g.bench_function("30_days_5_day_outage_waves_with_baseline", |b| {
        b.iter(|| black_box(simulate(black_box(&out))))
    });
    g.finish();
}

criterion_group!(benches, year);
criterion_main!(benches);
