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
pub mod config;
pub mod engine;
pub mod inputs;
pub mod job_type;
pub mod model;
pub mod params;
pub mod pool;
pub mod report;
pub mod rng;
pub mod snapshot;
pub mod status;
pub mod time;

pub use calibration::Calibration;
pub use config::{Action, Config, Fidelity, Restart, Step};
pub use engine::{Baseline, Engine, Outcome};
pub use job_type::JobType;
pub use params::SystemParameters;
pub use report::Report;

/// Runs a config once, against an optional baseline (its nominal levels and daily tile-days).
pub fn run(cfg: &Config, baseline: Option<&Baseline>) -> Outcome {
    Engine::new(cfg, baseline).run()
}

/// The baseline of a config: the same seed, calibration and parameters, no operator step.
pub fn baseline(cfg: &Config) -> Baseline {
    let base = Config {
        steps: Vec::new(),
        timeline: false,
        keep_jobs: false,
        keep_history: false,
        ..cfg.clone()
    };
    let out = run(&base, None);
    let mut nominal = [1i64; 5];
    for (t, samples) in out.overdue_samples.iter().enumerate() {
        let mut v = samples.clone();
        v.sort_unstable();
        if !v.is_empty() {
            let i = ((0.99 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            nominal[t] = v[i].max(1);
        }
    }
    Baseline {
        nominal_overdue: nominal,
        daily: out.daily_created,
    }
}

/// Runs a config and its baseline (when it has steps) and returns the outcome.
pub fn run_with_baseline(cfg: &Config) -> Outcome {
    let b = baseline(cfg);
    if cfg.steps.is_empty() {
        // The run is its own baseline: run again with the levels so catch-up is defined.
        return run(
            cfg,
            Some(&Baseline {
                daily: Vec::new(),
                ..b
            }),
        );
    }
    run(cfg, Some(&b))
}

/// Runs a config (and its baseline) and builds the report.
pub fn simulate(cfg: &Config) -> Report {
    Report::new(cfg, run_with_baseline(cfg))
}
