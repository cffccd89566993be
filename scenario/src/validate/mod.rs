//! Raw → validated. The YAML parser stops at its first error (the rest of the file cannot be
//! read reliably after a syntax or shape error); every check after that collects all errors.

use hrsi_sim::config::DEFAULT_START;
use hrsi_sim::job_type::ALL_TYPES;
use hrsi_sim::params::{self, JobTypesList};
use hrsi_sim::time::{DAY, Instant, Ms, parse_duration};
use hrsi_sim::{Calibration, Fidelity, JobType, Restart, SystemParameters};
use serde_saphyr::Spanned;

use crate::error::{ScenarioError, ScenarioErrors, Source, WithHint, did_you_mean};
use crate::model::*;
use crate::raw::*;

mod database;
mod expect;
mod infra;
mod jobs;
mod nomad;
mod sim;
mod sim_expect;
mod system_parameters;

pub(crate) use system_parameters::refusal;
use system_parameters::type_hint;

/// Lost reasons the model reports.
pub(crate) fn lost_reasons() -> impl Iterator<Item = &'static str> + Clone {
    hrsi_sim::model::LostReason::EVERY
        .into_iter()
        .map(|r| r.name())
}

/// The system's Nomad jobs (orchestration.md §4.2): the six services and the six processing jobs.
pub(crate) const NOMAD_JOBS: [&str; 12] = [
    "job-creation",
    "job-configuration",
    "job-execution",
    "job-publication",
    "monitor",
    "worker-pool-management",
    "si-processing",
    "test-job-processing",
    "rlies1-processing",
    "rlies1s2-processing",
    "ws-processing",
    "gfsc-processing",
];

/// Default horizon, days.
pub(crate) const DEFAULT_DAYS: u32 = 30;

/// Default seed when the file gives none.
pub(crate) const DEFAULT_SEED: u64 = 1;

pub(crate) fn parse(src: &str, origin: &str) -> Result<Scenario, ScenarioErrors> {
    let s = Source { src, origin };
    let raw: RawScenario = match serde_saphyr::from_str(src) {
        Ok(r) => r,
        // An empty file (or only comments) is the nominal scenario.
        Err(_)
            if src
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) =>
        {
            return Ok(Scenario::nominal(origin));
        }
        Err(e) => return Err(ScenarioErrors::new(vec![serde_error(&s, &e)])),
    };
    let mut v = Validator {
        s,
        errors: Vec::new(),
    };
    let sc = v.scenario(raw);
    if v.errors.is_empty() {
        Ok(sc)
    } else {
        Err(ScenarioErrors::new(v.errors))
    }
}

/// A calibration file (YAML or JSON): partial, unknown keys refused, values checked.
pub(crate) fn parse_calibration(src: &str, origin: &str) -> Result<Calibration, ScenarioErrors> {
    let s = Source { src, origin };
    let c: Spanned<Calibration> =
        serde_saphyr::from_str(src).map_err(|e| ScenarioErrors::new(vec![serde_error(&s, &e)]))?;
    c.value
        .validate()
        .map_err(|m| ScenarioErrors::new(vec![s.at(&c.referenced, 0, m)]))?;
    Ok(c.value)
}

/// Turns a serde-saphyr error into ours, with a hint for the common cases.
fn serde_error(s: &Source<'_>, e: &serde_saphyr::Error) -> ScenarioError {
    let loc = e.location().unwrap_or(serde_saphyr::Location::UNKNOWN);
    let msg = e
        .without_snippet()
        .render_with_formatter(&serde_saphyr::UserMessageFormatter);
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    };
    let hint = hint_for(&msg);
    let mut err = s.at(&loc, 0, msg);
    if loc.line() == 0 {
        // No position (end of input): point at the last line.
        let n = s.src.lines().count() as u64;
        err.line = n;
        err.column = 1;
        err.source_line = s.src.lines().last().unwrap_or("").to_owned();
    }
    if err.message.contains("expected mapping start") {
        // The file is not a mapping at all (any file can be named): show none of its text.
        err.text.clear();
        err.len = 0;
    }
    err.hint(hint)
}

fn hint_for(msg: &str) -> Option<String> {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, tail) = rest.split_once('`')?;
        let expected = tail.split_once("expected").map_or("", |(_, e)| e);
        let candidates: Vec<&str> = expected
            .trim_start_matches(" one of")
            .split([',', ' '])
            .map(|c| c.trim().trim_matches('`'))
            .filter(|c| !c.is_empty() && *c != "or")
            .collect();
        if let Some(h) = did_you_mean(name, candidates.iter().copied()) {
            return Some(h);
        }
        if ALL_TYPES.iter().any(|t| t.name() == name) || params::column(name).is_ok() {
            return Some(format!("`{name}` is a name, not a key here"));
        }
        return None;
    }
    let h = if msg.contains("invalid u64") || msg.contains("invalid u32") {
        "a whole number, e.g. `7`"
    } else if msg.contains("invalid f64") {
        "a number, e.g. `5` or `0.5`"
    } else if msg.contains("invalid bool") {
        "write `yes` or `no`"
    } else if msg.contains("expected string scalar") {
        "a single value here (quote it if it contains `: ` or starts with `[`)"
    } else if msg.contains("invalid type: sequence") {
        "a single value or a mapping here, not a list"
    } else if msg.contains("invalid type: map") || msg.contains("expected a sequence") {
        "steps and outages are lists: start each item with `- `"
    } else if msg.contains("expected mapping start") {
        "a mapping of `key: value` lines here (a scenario file starts with keys such as `name:`, `seed:`, `steps:`)"
    } else if msg.contains("expected sequence start") {
        "a list here: start each item with `- `"
    } else if msg.starts_with("missing field") {
        "add it"
    } else {
        return None;
    };
    Some(h.to_owned())
}

struct Validator<'a> {
    s: Source<'a>,
    errors: Vec<ScenarioError>,
}

impl Validator<'_> {
    fn err<T>(&mut self, at: &Spanned<T>, msg: impl Into<String>, hint: Option<String>) {
        self.errors
            .push(self.s.at(&at.referenced, 0, msg).hint(hint));
    }

    fn scenario(&mut self, raw: RawScenario) -> Scenario {
        let mut sc = Scenario::nominal(self.s.origin);
        sc.name = raw.name.as_ref().map(|n| n.value.clone());
        sc.about = raw.about.as_ref().map(|a| a.value.clone());
        if let Some(seed) = &raw.seed {
            sc.seed = seed.value;
        }
        if let Some(start) = &raw.start {
            match parse_start(&start.value) {
                Ok(i) => sc.start = i,
                Err((m, h)) => self.err(start, m, h),
            }
        }
        if let Some(days) = &raw.days {
            if days.value == 0 {
                self.err(
                    days,
                    "`days` must be at least 1",
                    Some("the horizon in days, e.g. `30`".into()),
                );
            } else if let Some(m) = hrsi_sim::config::days_refusal(u64::from(days.value)) {
                self.err(days, format!("`days`: {m}"), None);
            } else {
                sc.days = days.value;
            }
        }
        if let Some(c) = &raw.calibration {
            match &c.value {
                RawCalibration::Name(n) if n == "default" => {}
                RawCalibration::Name(n) => {
                    if !n.contains(['.', '/']) && did_you_mean(n, ["default"].into_iter()).is_some()
                    {
                        self.err(
                            c,
                            format!("unknown calibration `{n}`"),
                            Some("did you mean `default`?".into()),
                        );
                    } else {
                        sc.calibration_file = Some(n.clone());
                    }
                }
                RawCalibration::Inline(cal) => match cal.validate() {
                    Ok(()) => sc.calibration = (**cal).clone(),
                    Err(m) => self.err(c, m, None),
                },
            }
        }
        if let Some(p) = &raw.system_parameters {
            for (name, value) in &p.value.0 {
                if let Some(set) = self.param(name, value, false) {
                    sc.params
                        .set(&set.name, &set.value)
                        .expect("checked by `param`");
                }
            }
        }
        if let Some(f) = &raw.fidelity {
            sc.fidelity = f.value;
        }
        if let Some(h) = &raw.history {
            let most = hrsi_sim::config::MAX_WARM_START_DAYS;
            match parse_duration(&h.value) {
                Ok(ms) if ms as f64 > most * DAY as f64 => self.err(
                    h,
                    format!(
                        "`history` is more than {most} days: the warm start is simulated like \
                         the reported period, and {most} days reach every backward window"
                    ),
                    Some("e.g. `10d`".into()),
                ),
                Ok(ms) => sc.history = Some(ms),
                Err(m) => self.err(h, m, Some("e.g. `10d`".into())),
            }
        }
        sc.plan = self.plan(&raw, &sc);
        sc
    }

    fn steps(&mut self, list: &Spanned<Vec<Spanned<RawStep>>>) -> Vec<ScenarioStep> {
        let mut out = Vec::new();
        // Time advanced since the last action: a `run_until` right after it cannot be placed by
        // the simulator, whose wait starts at the previous action.
        let mut advanced = false;
        for st in &list.value {
            let Some(step) = self.step(st) else { continue };
            match &step.kind {
                StepKind::Advance(_) => advanced = true,
                StepKind::RunUntil { .. } if advanced => {
                    let h = "put the `advance` after the `run_until` (the wait starts at the previous action)";
                    self.err(st, "`run_until` right after `advance`", Some(h.into()));
                }
                k if !k.harness_only() => advanced = false,
                _ => {}
            }
            out.push(step);
        }
        out
    }

    fn step(&mut self, st: &Spanned<RawStep>) -> Option<ScenarioStep> {
        let r = &st.value;
        let present: Vec<&str> = [
            ("stop", r.stop.is_some()),
            ("start", r.start.is_some()),
            ("advance", r.advance.is_some()),
            ("set_param", r.set_param.is_some()),
            ("run_until", r.run_until.is_some()),
            ("sql", r.sql.is_some()),
            ("psql_file", r.psql_file.is_some()),
            ("backup", r.backup.is_some()),
            ("borg_extract", r.borg_extract.is_some()),
            ("pg_dumpall", r.pg_dumpall.is_some()),
            ("borg_list", r.borg_list.is_some()),
            ("restore", r.restore.is_some()),
            ("plan", r.plan.is_some()),
            ("fresh_volume", r.fresh_volume.is_some()),
            ("postgres_restart", r.postgres_restart.is_some()),
            ("nomad_edit", r.nomad_edit.is_some()),
            ("nomad_job_file", r.nomad_job_file.is_some()),
            ("nomad_run", r.nomad_run.is_some()),
            ("nomad_stop", r.nomad_stop.is_some()),
            ("nomad_wait_gone", r.nomad_wait_gone.is_some()),
            ("fault", r.fault.is_some()),
            ("patch_jobs", r.patch_jobs.is_some()),
            ("patch_test", r.patch_test.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.then_some(n))
        .collect();
        if present.len() > 1 {
            let msg = format!("one action per step, found `{}`", present.join("`, `"));
            self.err(st, msg, Some("split them into separate `- …` items".into()));
            return None;
        }
        let expect = r.expect.as_ref().map(|e| self.expect(&e.value));
        let refused = expect.as_ref().and_then(|e| e.refused.as_ref()).is_some();
        let kind = if let Some(c) = &r.stop {
            self.script(c, true)?
        } else if let Some(c) = &r.start {
            self.script(c, false)?
        } else if let Some(a) = &r.advance {
            self.advance(a)?
        } else if let Some(p) = &r.set_param {
            self.set_param(p, refused, r.expect.as_ref())?
        } else if let Some(ru) = &r.run_until {
            self.run_until(ru)?
        } else if let Some(q) = &r.sql {
            Self::sql(q)
        } else if let Some(p) = &r.psql_file {
            self.psql_file(p)?
        } else if let Some(d) = &r.pg_dumpall {
            self.pg_dumpall(d)?
        } else if r.borg_list.is_some() {
            StepKind::BorgList
        } else if let Some(rs) = &r.restore {
            self.restore(rs)?
        } else if let Some(p) = &r.plan {
            self.tf_plan(p)?
        } else if let Some(c) = &r.fresh_volume {
            StepKind::FreshVolume {
                confirm: c.value.confirm.value,
            }
        } else if r.postgres_restart.is_some() {
            StepKind::PostgresRestart
        } else if let Some(e) = &r.nomad_edit {
            StepKind::NomadEdit(self.nomad_change(e)?)
        } else if let Some(e) = &r.nomad_job_file {
            StepKind::NomadJobFile(self.nomad_change(e)?)
        } else if let Some(j) = &r.nomad_run {
            StepKind::NomadRun {
                job: self.nomad_job(&j.value.job)?,
            }
        } else if let Some(j) = &r.nomad_stop {
            StepKind::NomadStop {
                job: self.nomad_job(&j.value.job)?,
            }
        } else if let Some(w) = &r.nomad_wait_gone {
            self.nomad_wait_gone(w)?
        } else if let Some(f) = &r.fault {
            StepKind::Fault(self.fault(f)?)
        } else if r.backup.is_some() {
            StepKind::Backup
        } else if let Some(b) = &r.borg_extract {
            StepKind::BorgExtract {
                archive: b.value.archive.value.clone(),
                to: b.value.to.value.clone(),
            }
        } else if let Some(p) = &r.patch_jobs {
            StepKind::PatchJobs(self.patch_jobs(p)?)
        } else if let Some(p) = &r.patch_test {
            StepKind::PatchTest(self.patch_test(p)?)
        } else if r.expect.is_some() {
            StepKind::Expect
        } else {
            let kinds = "stop, start, advance, set_param, run_until, sql, psql_file, backup, borg_extract, \
                         pg_dumpall, borg_list, restore, plan, fresh_volume, postgres_restart, nomad_edit, \
                         nomad_job_file, nomad_run, nomad_stop, nomad_wait_gone, fault, patch_jobs, \
                         patch_test, expect";
            self.err(
                st,
                "empty step",
                Some(format!(
                    "name one of: {kinds}, with its value, e.g. `- stop: {{ confirm: yes }}`"
                )),
            );
            return None;
        };
        if let Some(e) = &r.expect {
            self.results_of(&kind, &e.value);
        }
        Some(ScenarioStep {
            line: st.referenced.line(),
            kind,
            expect,
        })
    }
}

/// Parses the start of a scenario: a date or an ISO time at midnight UTC.
pub(crate) fn parse_start(s: &str) -> Result<Instant, (String, Option<String>)> {
    let i = Instant::parse(s).map_err(|m| (m, None))?;
    if i.0.rem_euclid(DAY) != 0 {
        let msg = format!(
            "`{s}` is not at 00:00 UTC: the reported period starts at midnight UTC (daily rules use UTC days)"
        );
        return Err((
            msg,
            Some(format!(
                "write `{}`",
                Instant(i.0 - i.0.rem_euclid(DAY)).date()
            )),
        ));
    }
    Ok(i)
}

impl Scenario {
    /// The nominal scenario: seed 1, 2025-01-06, 30 days, defaults, no outage.
    pub fn nominal(origin: &str) -> Scenario {
        Scenario {
            origin: origin.to_owned(),
            name: None,
            about: None,
            seed: DEFAULT_SEED,
            start: Instant::parse(DEFAULT_START).expect("valid default start"),
            days: DEFAULT_DAYS,
            calibration: Calibration::default(),
            calibration_file: None,
            params: SystemParameters::default(),
            fidelity: Fidelity::default(),
            history: None,
            plan: Plan::Outages(Vec::new()),
            restart_params: Vec::new(),
        }
    }
}
