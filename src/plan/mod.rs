//! `hrsi plan`: capacity answers with confidence.
//!
//! A plan sweeps system parameters, scenario settings and calibration values
//! ([`sweep`], [`values`]), runs every point over the same seeds in parallel with each baseline
//! computed once ([`exec`]), or round by round only where more seeds can change the answer
//! ([`sequential`]), summarises the runs (recovery spread with "never" as +infinity, losses per
//! type beyond the baseline: [`stats`], [`analyze`]), and answers a question with claims made
//! only on the one-sided Clopper-Pearson bound ([`goals`]). Outputs: a table, JSON, CSV of every run, shard
//! files and their merge ([`output`]), plots ([`plots`]) and a self-contained HTML report
//! ([`report`]). Everything here is pure apart from the rayon pool: reading and writing files
//! is the command line's job.
//!
//! # Example
//! ```
//! use hrsi::plan::{Plan, PlanInputs, Work, analyze};
//! let inputs = PlanInputs {
//!     days: Some(4),
//!     outage_start_day: Some(1.0),
//!     outage_days: Some(1.0),
//!     sweeps: vec!["scenario.restart=all,waves".into()],
//!     replications: Some(1),
//!     ..PlanInputs::default()
//! };
//! let plan = Plan::new(inputs).unwrap();
//! let records = Work::new(&plan, None).unwrap().execute(&|| {});
//! let a = analyze(&plan, &records);
//! assert_eq!(a.points.len(), 2);
//! ```

pub mod analyze;
pub mod exec;
pub mod goals;
pub mod output;
pub mod plots;
pub mod report;
pub mod sequential;
pub mod stats;
pub mod sweep;
pub mod values;

pub use analyze::{Analysis, analyze};
pub use exec::{RunRecord, Shard, Work};
pub use sweep::{Goal, Plan, PlanInputs, ScenarioSource};
