//! One simulated year of nominal production, timed (release build): `cargo run --release -p hrsi-sim --example year`.
fn main() {
    let days: i64 = std::env::args()
        .nth(1)
        .map_or(365, |s| s.parse().expect("days"));
    let mut cfg = hrsi_sim::Config::new(1);
    cfg.horizon = days * hrsi_sim::time::DAY;
    let t = std::time::Instant::now();
    let out = hrsi_sim::run(&cfg, None);
    let el = t.elapsed();
    let jobs: u64 = out.stats.iter().map(|s| s.jobs_created).sum();
    println!(
        "{days} days: {jobs} jobs, {} events, {} status changes, {:.3} s",
        out.events,
        out.status_changes,
        el.as_secs_f64()
    );
}
