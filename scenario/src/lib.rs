//! # hrsi-scenario
//!
//! Scenario files: the runbook as data, shared by `hrsi simulate` (setup, outages, restart plan)
//! and `hrsi rehearse` (steps and expectations). Pure: text in, a validated [`Scenario`] or all
//! its errors out, each with `file:line:column`, the offending text and a hint. Reading files is
//! the caller's job (including a calibration file the scenario names: see
//! [`Scenario::calibration_file`] and [`parse_calibration`]).
//!
//! Parsing has two stages. The YAML parser (serde-saphyr, `deny_unknown_fields` everywhere)
//! checks the shape and stops at the first syntax or shape error, as the rest of the file cannot
//! be read reliably after one. Validation then checks the meaning (job types, parameter names
//! and values, dates, durations, the plan) and reports every error it finds.
//!
//! # Example
//! ```
//! use hrsi_scenario::Scenario;
//! let src = "seed: 7\ndays: 6\noutages:\n  - { start_day: 2, days: 1 }\nrestart: all\n";
//! let sc = Scenario::from_yaml_str(src, "short.yaml").unwrap();
//! let cfg = sc.to_sim_config();
//! assert_eq!((cfg.seed, cfg.steps.len()), (7, 2));
//!
//! let err = Scenario::from_yaml_str("seed: 7\nsystem_parameters:\n  max_workers: 40\n", "bad.yaml")
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("bad.yaml:3:3: error: unknown system parameter `max_workers`"));
//! ```
#![warn(missing_docs)]

mod check;
mod convert;
mod error;
mod model;
mod raw;
mod validate;

pub use check::{Check, Checks};
pub use error::{ScenarioError, ScenarioErrors};
pub use model::{
    BoundOp, CaughtUp, Count, Expect, Fault, HoursBound, JobsPatch, NomadChange, NomadSpec, Outage,
    ParamSetting, PatchTest, Plan, PlanCounts, Scenario, ScenarioStep, ServersCheck, Services,
    SqlCheck, StepKind,
};

use hrsi_sim::time::{DAY, Ms};
use hrsi_sim::{Calibration, Restart};

/// Parses a calibration file (YAML or JSON; missing keys keep their defaults, unknown keys are
/// refused, values are checked).
pub fn parse_calibration(src: &str, origin: &str) -> Result<Calibration, ScenarioErrors> {
    validate::parse_calibration(src, origin)
}

impl Scenario {
    /// Parses and validates a scenario. `origin` names the source in messages (a file name).
    pub fn from_yaml_str(src: &str, origin: &str) -> Result<Scenario, ScenarioErrors> {
        validate::parse(src, origin)
    }

    /// The simulator's config: start, horizon, calibration (with `history` as its warm start),
    /// parameters, fidelity, and the plan as simulator steps.
    ///
    /// Steps map one to one onto the simulator's: an `advance` delays the next action, a
    /// `run_until: {caught_up}` holds it until the types are caught up (a final `run_until`
    /// has no action to hold: its outcome is the report's `catch_up_hours`). The harness-only
    /// kinds, `confirm: no` and set_params expected to be refused change nothing in the
    /// simulated world and are skipped.
    pub fn to_sim_config(&self) -> hrsi_sim::Config {
        let mut cfg = hrsi_sim::Config::new(self.seed);
        cfg.start = self.start;
        cfg.horizon = Ms::from(self.days) * DAY;
        cfg.calibration = self.calibration.clone();
        if let Some(h) = self.history {
            cfg.calibration.warm_start_days = h as f64 / DAY as f64;
        }
        cfg.params = self.params.clone();
        cfg.fidelity = self.fidelity;
        cfg.steps = convert::sim_steps(&self.plan, &self.params);
        if !self.restart_params.is_empty() {
            cfg.steps = convert::set_before_starts(cfg.steps, &self.restart_params);
        }
        cfg
    }

    /// Replaces the calibration (after reading [`Scenario::calibration_file`], or from
    /// `--calibration`).
    pub fn set_calibration(&mut self, calibration: Calibration) {
        self.calibration = calibration;
        self.calibration_file = None;
    }

    /// Sets the start from a date or an ISO time, which must be midnight UTC.
    pub fn set_start(&mut self, text: &str) -> Result<(), String> {
        self.start = validate::parse_start(text).map_err(with_hint)?;
        Ok(())
    }

    /// Sets a system parameter from `NAME=VALUE`, checked as in a file (`job_types_list` must be
    /// a JSON list with double quotes).
    pub fn set_param(&mut self, assignment: &str) -> Result<(), String> {
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(format!(
                "`{assignment}` is not `NAME=VALUE` (e.g. `max_number_of_worker_instances=40`)"
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        hrsi_sim::params::column(name).map_err(|e| e.to_string())?;
        if let Some(r) = validate::refusal(name, value) {
            return Err(with_hint(r));
        }
        self.params.set(name, value).map_err(|e| e.to_string())
    }

    /// Sets a system parameter at each restart, just before the `start` (as the operator does
    /// after a long outage, e.g. `gfsc_daily_jobs_creation_start_date`), checked as
    /// [`Scenario::set_param`]. Refused for a scenario written as steps: there, write a
    /// `set_param` step before the `start`.
    pub fn set_param_at_restart(&mut self, assignment: &str) -> Result<(), String> {
        if matches!(&self.plan, Plan::Steps(s) if !s.is_empty()) {
            return Err(format!(
                "`{}` is written as steps (hint: add a `set_param` step before its `start`)",
                self.origin
            ));
        }
        let mut probe = self.params.clone();
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(format!(
                "`{assignment}` is not `NAME=VALUE` (e.g. `gfsc_daily_jobs_creation_start_date=2025-01-09`)"
            ));
        };
        std::mem::swap(&mut probe, &mut self.params);
        let checked = self.set_param(assignment);
        std::mem::swap(&mut probe, &mut self.params);
        checked?;
        self.restart_params
            .push((name.trim().to_owned(), value.trim().to_owned()));
        Ok(())
    }

    /// Whether the plan restarts the system at least once (a `start` after a `stop`).
    pub fn restarts(&self) -> bool {
        self.to_sim_config()
            .steps
            .iter()
            .any(|s| s.action == hrsi_sim::Action::Start)
    }

    /// Turns a fidelity switch on by name.
    pub fn set_fidelity(&mut self, name: &str) -> Result<(), String> {
        self.fidelity.set(name, true).map_err(|names| {
            let hint = error::did_you_mean(name, names.iter().copied())
                .unwrap_or_else(|| format!("switches: {}", names.join(", ")));
            format!("unknown fidelity switch `{name}` (hint: {hint})")
        })
    }

    /// Replaces the outages with one (`--outage-start-day`, `--outage-days`, `--restart`).
    /// Refused for a scenario written as steps: a file uses one form or the other.
    pub fn set_outage(
        &mut self,
        start_day: f64,
        days: f64,
        restart: Restart,
    ) -> Result<(), String> {
        if matches!(&self.plan, Plan::Steps(s) if !s.is_empty()) {
            return Err(format!(
                "`{}` is written as steps: outage options apply to scenarios without steps \
                 (hint: edit the steps, or drop the scenario file)",
                self.origin
            ));
        }
        if !(start_day >= 0.0 && days > 0.0 && start_day.is_finite() && days.is_finite()) {
            return Err(
                "the outage needs a start day of 0 or more and a length of more than 0 days".into(),
            );
        }
        if start_day + days > f64::from(self.days) {
            return Err(format!(
                "the outage (day {start_day} + {days} days) ends after the horizon of {} days \
                 (hint: raise --days to at least {})",
                self.days,
                (start_day + days).ceil()
            ));
        }
        let ms = |d: f64| (d * DAY as f64).round() as Ms;
        self.plan = Plan::Outages(vec![Outage {
            start: ms(start_day),
            length: ms(days),
            restart,
        }]);
        Ok(())
    }

    /// Changes how the outages restart (`--restart` without outage options).
    pub fn set_restart(&mut self, restart: Restart) -> Result<(), String> {
        match &mut self.plan {
            Plan::Outages(o) if o.len() == 1 || (!o.is_empty() && restart == Restart::All) => {
                o.iter_mut().for_each(|o| o.restart = restart);
                Ok(())
            }
            Plan::Outages(o) if !o.is_empty() => Err(format!(
                "`{}` has {} outages: only the last one can restart in waves (the waves end when \
                 the types are caught up, so a later outage has no fixed date)",
                self.origin,
                o.len()
            )),
            _ => Err(
                "--restart needs an outage (hint: add --outage-start-day and --outage-days)".into(),
            ),
        }
    }

    /// The `run_until: {caught_up, within}` limits a simulated run did not meet: a type whose
    /// catch-up (simulation.md, measured from when the type was enabled again) is later than
    /// `within`, or never came.
    pub fn late_waits(&self, report: &hrsi_sim::Report) -> Vec<LateWait> {
        convert::late_waits(&self.plan, &self.params, report)
    }

    /// The steps written in the file that the simulator skips (harness-only kinds).
    pub fn harness_only_steps(&self) -> usize {
        match &self.plan {
            Plan::Steps(s) => s.iter().filter(|s| s.kind.harness_only()).count(),
            Plan::Outages(_) => 0,
        }
    }
}

/// A `run_until` whose `within` the simulated run did not meet.
#[derive(Debug, Clone, PartialEq)]
pub struct LateWait {
    /// Line of the `run_until` in the file.
    pub line: u64,
    /// The type that was late.
    pub job_type: hrsi_sim::JobType,
    /// The limit, ms.
    pub within: Ms,
    /// Its catch-up, hours (`None`: never before the horizon).
    pub catch_up_hours: Option<f64>,
}

impl std::fmt::Display for LateWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let within = self.within as f64 / hrsi_sim::time::HOUR as f64;
        match self.catch_up_hours {
            Some(h) => write!(
                f,
                "line {}: `run_until` {}: caught up after {h:.1} h, later than `within: {within} h`",
                self.line,
                self.job_type.name()
            ),
            None => write!(
                f,
                "line {}: `run_until` {}: never caught up before the horizon (`within: {within} h`)",
                self.line,
                self.job_type.name()
            ),
        }
    }
}

fn with_hint((msg, hint): (String, Option<String>)) -> String {
    match hint {
        Some(h) => format!("{msg} (hint: {h})"),
        None => msg,
    }
}

#[cfg(test)]
mod tests;
