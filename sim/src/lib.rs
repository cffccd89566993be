//! # hrsi-sim
//!
//! A pure, deterministic discrete-event model of the HR-S&I snow & ice production: inputs per
//! tile and track, the five job types and their dependencies, the services' loops, the Nomad
//! queue, the worker pool and the monitor, with outages and restarts in waves. No I/O, no clock
//! reads, no global state: the same [`Config`] gives the same bytes of report.
//!
//! # Example
//! ```
//! use hrsi_sim::{Config, Restart, simulate, time::DAY};
//! let mut cfg = Config::new(7).with_outage(3 * DAY, DAY, Restart::All);
//! cfg.horizon = 6 * DAY;
//! let report = simulate(&cfg);
//! let fsc = &report.job_types["fsc_rlie_job"];
//! assert_eq!(fsc.inputs, fsc.published + fsc.pending + fsc.superseded + fsc.cancelled + fsc.lost);
//! ```
#![warn(missing_docs)]

pub mod calibration;
pub mod catalogue;
pub mod config;
pub mod engine;
pub mod inputs;
pub mod job_type;
pub mod model;
pub mod params;
pub mod pool;
pub mod recovery;
pub mod report;
pub mod rng;
pub mod snapshot;
pub mod status;
pub mod time;
pub mod world;

pub use calibration::Calibration;
pub use config::{Action, Config, Fidelity, Restart, Service, Step};
pub use engine::{Baseline, Engine, Faults, Outcome};
pub use job_type::JobType;
pub use params::SystemParameters;
pub use report::Report;
pub use world::World;

use job_type::ALL_TYPES;

/// Runs a config once, against an optional baseline (its nominal levels and daily tile-days).
pub fn run(cfg: &Config, baseline: Option<&Baseline>) -> Outcome {
    World::new(cfg.clone(), baseline).finish()
}

/// The config a baseline of `cfg` runs: the same seed, calibration and parameters, no operator
/// step, nothing recorded. Configs with the same baseline config have the same baseline.
pub fn baseline_config(cfg: &Config) -> Config {
    Config {
        steps: Vec::new(),
        timeline: false,
        keep_jobs: false,
        keep_history: false,
        ..cfg.clone()
    }
}

/// The baseline of a config: the same seed, calibration and parameters, no operator step.
pub fn baseline(cfg: &Config) -> Baseline {
    let out = run(&baseline_config(cfg), None);
    levels(cfg, &out)
}

/// The nominal levels of a run without operator steps (it is its own baseline).
fn levels(cfg: &Config, out: &Outcome) -> Baseline {
    let mut nominal = [1i64; 5];
    for (t, samples) in out.overdue_samples.iter().enumerate() {
        let mut v = samples.clone();
        v.sort_unstable();
        if !v.is_empty() {
            let i = ((0.99 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            nominal[t] = v[i].max(1);
        }
    }
    // The busiest day's rate: a type batched by day (RLIE-S1-S2) peaks with its largest day.
    let n_days = (cfg.horizon / time::DAY).max(1) as usize;
    let mut per_day = vec![[0u64; 5]; n_days];
    let mut lost = [0u64; 5];
    for u in out
        .units
        .iter()
        .filter(|u| u.avail >= 0 && u.avail < cfg.horizon)
    {
        let d = ((u.avail / time::DAY) as usize).min(n_days - 1);
        per_day[d][u.ty.idx()] += 1;
        lost[u.ty.idx()] += u64::from(u.bucket == model::Bucket::Lost);
    }
    let target = (cfg.calibration.nrt_target_hours * time::HOUR as f64) as time::Ms;
    let allowance: [i64; 5] = std::array::from_fn(|t| {
        let busiest = per_day.iter().map(|d| d[t]).max().unwrap_or(0);
        recovery::nrt_allowance(ALL_TYPES[t], busiest as f64, target)
    });
    Baseline {
        nominal_overdue: nominal,
        daily: out.daily_created.clone(),
        not_at_nrt: std::array::from_fn(|t| nominal[t] > allowance[t]),
        nrt_allowance: allowance,
        lost,
    }
}

/// Runs a config and its baseline and returns the outcome. A config without operator steps is
/// its own baseline: it runs once, and its nominal levels come from its own samples.
pub fn run_with_baseline(cfg: &Config) -> Outcome {
    if cfg.steps.is_empty() {
        let mut out = run(cfg, None);
        let b = levels(cfg, &out);
        out.nominal_overdue = b.nominal_overdue;
        out.not_at_nrt = b.not_at_nrt;
        out.nrt_allowance = b.nrt_allowance;
        out.baseline_lost = Some(b.lost);
        return out;
    }
    let b = baseline(cfg);
    run(cfg, Some(&b))
}

/// Runs a config (and its baseline) and builds the report.
pub fn simulate(cfg: &Config) -> Report {
    Report::new(cfg, run_with_baseline(cfg))
}
