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

mod sim_expect;

/// Lost reasons the model reports.
pub(crate) fn lost_reasons() -> impl Iterator<Item = &'static str> + Clone {
    hrsi_sim::model::LostReason::ALL
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

    fn plan(&mut self, raw: &RawScenario, sc: &Scenario) -> Plan {
        if let (Some(_), Some(steps)) = (&raw.outages, &raw.steps) {
            self.err(
                steps,
                "a file uses `outages:` or `steps:`, not both",
                Some(
                    "write the outages as steps (`stop`, `advance`, `start`), or drop `outages:`"
                        .into(),
                ),
            );
        }
        let restart = match &raw.restart {
            None => Restart::All,
            Some(r) if raw.outages.is_none() => {
                let msg =
                    "`restart` applies to `outages:`; with `steps:` write the restart as steps";
                self.err(
                    r,
                    msg,
                    Some("remove `restart:`, or describe the outage with `outages:`".into()),
                );
                Restart::All
            }
            Some(r) => match r.value.as_str() {
                "all" => Restart::All,
                "waves" => Restart::Waves,
                other => {
                    let h = did_you_mean(other, ["all", "waves"].into_iter())
                        .or(Some("`all` or `waves`".into()));
                    self.err(r, format!("unknown restart plan `{other}`"), h);
                    Restart::All
                }
            },
        };
        if let Some(outages) = &raw.outages {
            return Plan::Outages(self.outages(outages, restart, sc));
        }
        match &raw.steps {
            Some(steps) => Plan::Steps(self.steps(steps)),
            None => Plan::Outages(Vec::new()),
        }
    }

    fn outages(
        &mut self,
        list: &Spanned<Vec<Spanned<RawOutage>>>,
        restart: Restart,
        sc: &Scenario,
    ) -> Vec<Outage> {
        let mut out: Vec<Outage> = Vec::new();
        let horizon = Ms::from(sc.days) * DAY;
        for o in &list.value {
            let r = &o.value;
            let (start, length) = match (&r.start_day, &r.days, &r.start, &r.end) {
                (Some(sd), Some(d), None, None) => {
                    if !(sd.value >= 0.0
                        && d.value > 0.0
                        && sd.value.is_finite()
                        && d.value.is_finite())
                    {
                        self.err(
                            o,
                            "`start_day` must be 0 or more and `days` more than 0",
                            Some("e.g. `{start_day: 3, days: 0.5}` for 12 hours on day 3".into()),
                        );
                        continue;
                    }
                    (
                        (sd.value * DAY as f64).round() as Ms,
                        (d.value * DAY as f64).round() as Ms,
                    )
                }
                (None, None, Some(s), Some(e)) => {
                    let (Some(a), Some(b)) = (self.instant(s), self.instant(e)) else {
                        continue;
                    };
                    if a.0 < sc.start.0 {
                        let h = format!("the scenario starts at {}", sc.start.iso());
                        self.err(s, "the outage starts before the scenario", Some(h));
                        continue;
                    }
                    if b.0 <= a.0 {
                        self.err(
                            e,
                            "an outage must end after it starts",
                            Some("swap `start` and `end`".into()),
                        );
                        continue;
                    }
                    (a.0 - sc.start.0, b.0 - a.0)
                }
                _ => {
                    let h =
                        "write `{start_day: 3, days: 5}` or `{start: 2025-01-09, end: 2025-01-14}`";
                    self.err(
                        o,
                        "an outage is `start_day` + `days`, or `start` + `end`",
                        Some(h.into()),
                    );
                    continue;
                }
            };
            if let Some(prev) = out.last() {
                if prev.restart == Restart::Waves {
                    let h = "the waves end when the types are caught up, so a later outage has no fixed \
                             date: write the scenario as steps, or use `restart: all`";
                    self.err(o, "an outage after a restart in waves", Some(h.into()));
                    continue;
                }
                if start < prev.start + prev.length {
                    let h = format!(
                        "the previous outage ends on day {}",
                        (prev.start + prev.length) as f64 / DAY as f64
                    );
                    self.err(o, "outages must be in order and must not overlap", Some(h));
                    continue;
                }
            }
            if start + length > horizon {
                let h = format!(
                    "raise `days` to at least {}",
                    (start + length + DAY - 1) / DAY
                );
                self.err(
                    o,
                    format!("the outage ends after the horizon ({} days)", sc.days),
                    Some(h),
                );
                continue;
            }
            out.push(Outage {
                start,
                length,
                restart,
            });
        }
        out
    }

    fn instant(&mut self, s: &Spanned<String>) -> Option<Instant> {
        match Instant::parse(&s.value) {
            Ok(i) => Some(i),
            Err(m) => {
                self.err(s, m, None);
                None
            }
        }
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
            match parse_duration(&a.value) {
                Ok(ms) => StepKind::Advance(ms),
                Err(m) => {
                    self.err(a, m, Some("e.g. `advance: 5d`".into()));
                    return None;
                }
            }
        } else if let Some(p) = &r.set_param {
            self.set_param(p, refused, r.expect.as_ref())?
        } else if let Some(ru) = &r.run_until {
            let caught_up = self.types(&ru.value.caught_up)?;
            let within = match &ru.value.within {
                None => None,
                Some(w) => match parse_duration(&w.value) {
                    Ok(ms) => Some(ms),
                    Err(m) => {
                        self.err(w, m, Some("e.g. `within: 72h`".into()));
                        None
                    }
                },
            };
            StepKind::RunUntil { caught_up, within }
        } else if let Some(q) = &r.sql {
            match &q.value {
                RawSql::Text(t) => StepKind::Sql(t.clone()),
                RawSql::Full(f) => StepKind::SqlWith {
                    query: f.query.value.clone(),
                    on_error_stop: f.on_error_stop.unwrap_or(false),
                },
            }
        } else if let Some(p) = &r.psql_file {
            StepKind::PsqlFile {
                file: self.file_name(&p.value.file)?,
                on_error_stop: p.value.on_error_stop.unwrap_or(false),
                single_transaction: p.value.single_transaction.unwrap_or(false),
            }
        } else if let Some(d) = &r.pg_dumpall {
            StepKind::PgDumpall {
                schema_only: d.value.schema_only.unwrap_or(false),
                to: self.file_name(&d.value.to)?,
            }
        } else if r.borg_list.is_some() {
            StepKind::BorgList
        } else if let Some(rs) = &r.restore {
            StepKind::Restore {
                file: self.file_name(&rs.value.file)?,
                drop_schema: rs.value.drop_schema.unwrap_or(true),
                killed_at: rs.value.killed_at.as_ref().map(|k| k.value.clone()),
            }
        } else if let Some(p) = &r.plan {
            let destroy = match p.value.mode.value.as_str() {
                "apply" => false,
                "destroy" => true,
                other => {
                    let h = did_you_mean(other, ["apply", "destroy"].into_iter())
                        .or(Some("`apply` or `destroy`".into()));
                    self.err(&p.value.mode, format!("unknown plan mode `{other}`"), h);
                    return None;
                }
            };
            let runbook_configuration = match p
                .value
                .configuration
                .as_ref()
                .map(|c| c.value.as_str())
            {
                None | Some("public") => false,
                Some("runbook") => true,
                Some(other) => {
                    let c = p.value.configuration.as_ref().expect("some");
                    let h = did_you_mean(other, ["public", "runbook"].into_iter())
                        .or(Some("`public` (the public code: 10 in core) or `runbook` (13, with the dashboard proxy)".into()));
                    self.err(c, format!("unknown configuration `{other}`"), h);
                    return None;
                }
            };
            StepKind::TfPlan {
                destroy,
                target: self.target(p.value.target.as_ref())?,
                runbook_configuration,
            }
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
            let job = self.nomad_job(&w.value.job)?;
            match parse_duration(&w.value.within.value) {
                Ok(within) => StepKind::NomadWaitGone { job, within },
                Err(m) => {
                    self.err(&w.value.within, m, Some("e.g. `within: 10m`".into()));
                    return None;
                }
            }
        } else if let Some(f) = &r.fault {
            StepKind::Fault(self.fault(f)?)
        } else if r.backup.is_some() {
            StepKind::Backup
        } else if let Some(b) = &r.borg_extract {
            StepKind::BorgExtract {
                archive: b.value.archive.value.clone(),
                to: b.value.to.value.clone(),
            }
        } else if r.expect.is_some() {
            StepKind::Expect
        } else {
            let kinds = "stop, start, advance, set_param, run_until, sql, psql_file, backup, borg_extract, \
                         pg_dumpall, borg_list, restore, plan, fresh_volume, postgres_restart, nomad_edit, \
                         nomad_job_file, nomad_run, nomad_stop, nomad_wait_gone, fault, expect";
            self.err(
                st,
                "empty step",
                Some(format!(
                    "name one of: {kinds}, with its value, e.g. `- stop: {{ confirm: yes }}`"
                )),
            );
            return None;
        };
        Some(ScenarioStep {
            line: st.referenced.line(),
            kind,
            expect,
        })
    }

    /// `stop`/`start`: the simulator's stop and start when the target is `module.core` and
    /// every answer is `yes`; otherwise a harness-only run of the script.
    fn script(&mut self, c: &Spanned<Confirm>, destroy: bool) -> Option<StepKind> {
        let confirm = c.value.confirm.value;
        let target = self.target(c.value.target.as_ref())?;
        let prompts = if destroy { 1 } else { 2 };
        let answers: Vec<String> = match &c.value.answers {
            Some(a) => {
                if a.is_empty() || a.len() > prompts {
                    let h = if destroy {
                        "prod_env_destroy.sh asks once (Terraform's prompt), e.g. `answers: [yes]`"
                    } else {
                        "prod_env_apply.sh asks twice (its own prompt, then Terraform's), e.g. `answers: [yes, no]`"
                    };
                    self.err(
                        c,
                        format!("{} answer(s) for {prompts} prompt(s)", a.len()),
                        Some(h.into()),
                    );
                    return None;
                }
                a.iter().map(|x| x.value.clone()).collect()
            }
            None => vec![if confirm { "yes" } else { "no" }.to_owned(); prompts],
        };
        let all_yes = answers.len() == prompts && answers.iter().all(|a| a == "yes");
        if target == "module.core" && (all_yes || (!confirm && c.value.answers.is_none())) {
            return Some(if destroy {
                StepKind::Stop { confirm }
            } else {
                StepKind::Start { confirm }
            });
        }
        Some(StepKind::Script {
            destroy,
            target,
            answers,
        })
    }

    /// A Terraform target: `module.NAME` or `module.NAME.TYPE.NAME`.
    fn target(&mut self, t: Option<&Spanned<String>>) -> Option<String> {
        let Some(t) = t else {
            return Some("module.core".into());
        };
        let v = &t.value;
        let ok = v.starts_with("module.")
            && v.len() <= 200
            && v.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !ok {
            self.err(
                t,
                format!("`{v}` is not a Terraform target"),
                Some(
                    "e.g. `module.core` or `module.core.openstack_compute_instance_v2.database`"
                        .into(),
                ),
            );
            return None;
        }
        Some(v.clone())
    }

    /// A file in the rehearsal's working directory (or next to the scenario): a relative path
    /// that stays inside it.
    fn file_name(&mut self, f: &Spanned<String>) -> Option<String> {
        let v = &f.value;
        let bad = v.is_empty()
            || v.len() > 200
            || v.starts_with('/')
            || v.split('/').any(|p| p == ".." || p.is_empty())
            || v.chars().any(|c| c.is_control() || c == '\\');
        if bad {
            self.err(
                f,
                format!("`{v}` is not a file name the rehearsal can use"),
                Some(
                    "a relative path without `..`, e.g. `database-all.sql` or `patches/fix.sql`"
                        .into(),
                ),
            );
            return None;
        }
        Some(v.clone())
    }

    /// One of the system's Nomad jobs.
    fn nomad_job(&mut self, j: &Spanned<String>) -> Option<String> {
        if NOMAD_JOBS.contains(&j.value.as_str()) {
            return Some(j.value.clone());
        }
        let h = did_you_mean(&j.value, NOMAD_JOBS.iter().copied())
            .or_else(|| Some(format!("one of {}", NOMAD_JOBS.join(", "))));
        self.err(j, format!("unknown Nomad job `{}`", j.value), h);
        None
    }

    fn nomad_change(&mut self, e: &Spanned<RawNomadEdit>) -> Option<NomadChange> {
        let job = self.nomad_job(&e.value.job)?;
        if e.value.image.is_none() && e.value.cpu.is_none() {
            self.err(
                e,
                "nothing to change",
                Some("give `image:` (a tag or a reference) or `cpu:` (MHz)".into()),
            );
            return None;
        }
        if let Some(c) = &e.value.cpu
            && !(1..=100_000).contains(&c.value)
        {
            self.err(
                c,
                format!("cpu {} MHz is out of range", c.value),
                Some("between 1 and 100000, e.g. `cpu: 1000`".into()),
            );
            return None;
        }
        if let Some(i) = &e.value.image
            && (i.value.is_empty()
                || i.value.len() > 300
                || i.value
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '\\'))
        {
            self.err(
                i,
                "not an image reference or tag",
                Some("e.g. `git-b7e71dc4`".into()),
            );
            return None;
        }
        Some(NomadChange {
            job,
            image: e.value.image.as_ref().map(|i| i.value.clone()),
            cpu: e.value.cpu.as_ref().map(|c| c.value),
        })
    }

    fn fault(&mut self, f: &Spanned<RawFault>) -> Option<Fault> {
        let r = &f.value;
        let mut found = Vec::new();
        if r.postgres_killed == Some(true) {
            found.push(Fault::PostgresKilled);
        }
        if let Some(n) = &r.nomad_5xx {
            if !(1..=1000).contains(&n.value) {
                self.err(n, "between 1 and 1000 requests", None);
                return None;
            }
            found.push(Fault::Nomad5xx(n.value));
        }
        if let Some(n) = &r.nomad_lost_node {
            found.push(Fault::NomadLostNode(n.value.clone()));
        }
        if let Some(q) = &r.openstack_quota {
            found.push(Fault::OpenStackQuota(q.value.min(100_000)));
        }
        if r.openstack_token_expired == Some(true) {
            found.push(Fault::OpenStackTokenExpired);
        }
        if found.len() != 1 {
            self.err(
                f,
                "a fault step names exactly one fault",
                Some("one of `postgres_killed: yes`, `nomad_5xx: 3`, `nomad_lost_node: tf-tata`, `openstack_quota: 20`, `openstack_token_expired: yes`".into()),
            );
            return None;
        }
        found.pop()
    }

    fn patterns(&mut self, list: Option<&Vec<Spanned<String>>>) -> Vec<String> {
        let mut out = Vec::new();
        for p in list.into_iter().flatten() {
            match regex::RegexBuilder::new(&p.value)
                .size_limit(1 << 20)
                .build()
            {
                Ok(_) => out.push(p.value.clone()),
                Err(e) => {
                    let msg = e.to_string();
                    let last = msg.lines().last().unwrap_or("").trim();
                    let first = last.strip_prefix("error: ").unwrap_or(last).to_owned();
                    self.err(p, format!("not a valid pattern: {first}"), Some("a regular expression; escape `(`, `[`, `.` and `*` with `\\` to match them literally".into()));
                }
            }
        }
        out
    }

    fn set_param(
        &mut self,
        p: &Spanned<Pairs<ParamValue>>,
        refused: bool,
        expect: Option<&Spanned<RawExpect>>,
    ) -> Option<StepKind> {
        if p.value.0.is_empty() {
            self.err(
                p,
                "`set_param` sets nothing",
                Some("e.g. `set_param: { max_number_of_worker_instances: 40 }`".into()),
            );
            return None;
        }
        let n = self.errors.len();
        let settings: Vec<ParamSetting> = p
            .value
            .0
            .iter()
            .filter_map(|(k, v)| self.param(k, v, refused))
            .collect();
        if self.errors.len() > n {
            return None;
        }
        if let Some(e) = expect.filter(|_| refused) {
            let wanted = e.value.refused.as_ref().expect("refused");
            let reasons: Vec<&str> = settings
                .iter()
                .filter_map(|s| s.refused.as_deref())
                .collect();
            if reasons.is_empty() {
                self.err(
                    wanted,
                    "expected a refusal, but every value is valid",
                    Some("remove `refused:`".into()),
                );
            } else if !reasons.iter().any(|r| r.contains(&wanted.value)) {
                let msg = format!("refused, but for another reason: {}", reasons.join("; "));
                self.err(wanted, msg, None);
            }
        }
        Some(StepKind::SetParam(settings))
    }

    /// Checks one parameter; `Some` when it can be set (or is refused, as expected).
    fn param(
        &mut self,
        name: &Spanned<String>,
        value: &Spanned<ParamValue>,
        expect_refused: bool,
    ) -> Option<ParamSetting> {
        if let Err(e) = params::column(&name.value) {
            let hint = match e {
                params::ParamError::Unknown { hint: Some(h), .. } => {
                    Some(format!("did you mean `{h}`?"))
                }
                _ => None,
            };
            self.err(
                name,
                format!("unknown system parameter `{}`", name.value),
                hint,
            );
            return None;
        }
        let text = match &value.value {
            ParamValue::Null => "null".to_owned(),
            ParamValue::Scalar(s) => s.clone(),
            ParamValue::List(items) if name.value == "job_types_list" => {
                let mut ok = true;
                for it in items {
                    if JobType::from_name(&it.value).is_none() && it.value != "test_job" {
                        self.err(
                            it,
                            format!("unknown job type `{}`", it.value),
                            type_hint(&it.value),
                        );
                        ok = false;
                    }
                }
                if !ok {
                    return None;
                }
                let names: Vec<String> = items.iter().map(|i| format!("\"{}\"", i.value)).collect();
                format!("[{}]", names.join(", "))
            }
            ParamValue::List(_) => {
                let msg = format!("`{}` takes one value, not a list", name.value);
                self.err(value, msg, Some("only `job_types_list` is a list".into()));
                return None;
            }
        };
        match refusal(&name.value, &text) {
            None => Some(ParamSetting {
                name: name.value.clone(),
                value: text,
                refused: None,
            }),
            Some((_, _)) if expect_refused => {
                let (msg, _) = refusal(&name.value, &text).expect("refused");
                Some(ParamSetting {
                    name: name.value.clone(),
                    value: text,
                    refused: Some(msg),
                })
            }
            Some((msg, hint)) => {
                self.err(value, msg, hint);
                None
            }
        }
    }

    fn types(&mut self, t: &Spanned<RawTypes>) -> Option<CaughtUp> {
        match &t.value {
            RawTypes::Word(w) if w == "all" => Some(CaughtUp::All),
            RawTypes::Word(w) => {
                let h = type_hint(w).or(Some(
                    "`all` or a list such as `[fsc_rlie_job, rlies1_job]`".into(),
                ));
                self.err(
                    t,
                    format!("expected `all` or a list of job types, found `{w}`"),
                    h,
                );
                None
            }
            RawTypes::List(items) => {
                let mut out = Vec::new();
                for it in items {
                    match JobType::from_name(&it.value) {
                        Some(jt) => out.push(jt),
                        None => self.err(
                            it,
                            format!("unknown job type `{}`", it.value),
                            type_hint(&it.value),
                        ),
                    }
                }
                (out.len() == items.len()).then_some(CaughtUp::Types(out))
            }
        }
    }

    fn job_type(&mut self, s: &Spanned<String>) -> Option<JobType> {
        let t = JobType::from_name(&s.value);
        if t.is_none() {
            self.err(
                s,
                format!("unknown job type `{}`", s.value),
                type_hint(&s.value),
            );
        }
        t
    }

    fn count(&mut self, c: &Spanned<RawCount>) -> Option<Count> {
        match &c.value {
            RawCount::Exact(n) => Some(Count::Eq(*n)),
            RawCount::Text(t) => {
                let n = Count::parse(t);
                if n.is_none() {
                    self.err(
                        c,
                        format!("`{t}` is not a count"),
                        Some("e.g. `0`, `\"> 0\"` or `\"<= 5\"`".into()),
                    );
                }
                n
            }
        }
    }

    fn expect(&mut self, e: &RawExpect) -> Expect {
        let mut out = Expect {
            plan: e.plan.as_ref().map(|p| PlanCounts {
                add: p.value.add,
                change: p.value.change,
                destroy: p.value.destroy,
            }),
            nomad_running: e
                .nomad_running
                .iter()
                .flatten()
                .map(|n| n.value.clone())
                .collect(),
            refused: e.refused.as_ref().map(|r| r.value.clone()),
            exit_code: e.exit_code.as_ref().map(|c| c.value),
            no_errors: e.no_errors.unwrap_or(false),
            database_running: e.database_running,
            ..Expect::default()
        };
        out.errors_only = self.patterns(e.errors_only.as_ref());
        out.errors = self.patterns(e.errors.as_ref());
        out.output = self.patterns(e.output.as_ref());
        out.no_output = self.patterns(e.no_output.as_ref());
        for (job, state) in e.nomad_jobs.iter().flat_map(|p| &p.0) {
            if self.nomad_job(job).is_none() {
                continue;
            }
            if !["running", "pending", "dead", "absent"].contains(&state.value.as_str()) {
                let h = did_you_mean(
                    &state.value,
                    ["running", "pending", "dead", "absent"].into_iter(),
                )
                .or(Some("`running`, `pending`, `dead` or `absent`".into()));
                self.err(state, format!("unknown job state `{}`", state.value), h);
                continue;
            }
            out.nomad_jobs
                .insert(job.value.clone(), state.value.clone());
        }
        for (job, spec) in e.nomad_spec.iter().flat_map(|p| &p.0) {
            if self.nomad_job(job).is_some() {
                out.nomad_spec.insert(
                    job.value.clone(),
                    NomadSpec {
                        image: spec.value.image.clone(),
                        cpu: spec.value.cpu,
                    },
                );
            }
        }
        if let Some(s) = &e.openstack_servers {
            out.openstack_servers = Some(ServersCheck {
                count: s.value.count.as_ref().and_then(|c| self.count(c)),
                include: s
                    .value
                    .include
                    .iter()
                    .flatten()
                    .map(|x| x.value.clone())
                    .collect(),
                exclude: s
                    .value
                    .exclude
                    .iter()
                    .flatten()
                    .map(|x| x.value.clone())
                    .collect(),
            });
        }
        if let Some(c) = &e.caught_up {
            out.caught_up = self.types(c);
        }
        for (t, c) in e.backlog.iter().flat_map(|p| &p.0) {
            if let (Some(t), Some(c)) = (self.job_type(t), self.count(c)) {
                out.backlog.insert(t, c);
            }
        }
        for (t, c) in e.lost.iter().flat_map(|p| &p.0) {
            if let (Some(t), Some(c)) = (self.job_type(t), self.count(c)) {
                out.lost.insert(t, c);
            }
        }
        for (t, reasons) in e.lost_reasons.iter().flat_map(|p| &p.0) {
            let t = self.job_type(t);
            for (reason, c) in &reasons.value.0 {
                if !lost_reasons().any(|r| r == reason.value) {
                    let h = did_you_mean(&reason.value, lost_reasons()).or_else(|| {
                        Some(format!(
                            "one of {}",
                            lost_reasons().collect::<Vec<_>>().join(", ")
                        ))
                    });
                    self.err(reason, format!("unknown lost reason `{}`", reason.value), h);
                    continue;
                }
                if let (Some(t), Some(c)) = (t, self.count(c)) {
                    out.lost_reasons
                        .entry(t)
                        .or_default()
                        .insert(reason.value.clone(), c);
                }
            }
        }
        for q in e.sql.iter().flatten() {
            let equals = q.value.equals.as_ref().and_then(|v| match &v.value {
                ParamValue::Null => Some("null".to_owned()),
                ParamValue::Scalar(s) => Some(s.clone()),
                ParamValue::List(_) => {
                    self.err(
                        v,
                        "`equals` takes one value",
                        Some("e.g. `equals: 0`".into()),
                    );
                    None
                }
            });
            let equals_backup = q.value.equals_backup.unwrap_or(false);
            if equals.is_none() && !equals_backup {
                self.err(
                    q,
                    "an SQL check needs `equals:` or `equals_backup: true`",
                    Some("e.g. `equals: 0` under `query:`".into()),
                );
            }
            out.sql.push(SqlCheck {
                query: q.value.query.value.clone(),
                equals,
                equals_backup,
            });
        }
        if let Some(s) = &e.services_failing {
            out.services_failing = match &s.value {
                RawTypes::Word(w) if w == "all" => Some(Services::All),
                RawTypes::Word(w) if w == "none" => Some(Services::None),
                RawTypes::Word(w) => {
                    self.err(
                        s,
                        format!("expected `all`, `none` or a list of services, found `{w}`"),
                        did_you_mean(w, ["all", "none"].into_iter()),
                    );
                    None
                }
                RawTypes::List(l) => {
                    Some(Services::Named(l.iter().map(|x| x.value.clone()).collect()))
                }
            };
        }
        self.sim_expect(e, &mut out);
        out
    }
}

/// Why hrsi refuses a parameter value (message, hint), or `None` when it accepts it.
pub(crate) fn refusal(name: &str, text: &str) -> Option<(String, Option<String>)> {
    if let Err(e) = SystemParameters::default().set(name, text) {
        return Some((e.to_string(), value_hint(name)));
    }
    if name != "job_types_list" {
        return None;
    }
    match JobTypesList::parse(text) {
        JobTypesList::Valid(_) => None,
        JobTypesList::NotJson => Some((
            format!(
                "`{text}` is not a JSON list: every service reads `job_types_list` with json.loads \
                 and would fail at each loop"
            ),
            Some(format!(
                "write a YAML list `[fsc_rlie_job, rlies1_job]`, or JSON with double quotes: `{}`",
                text.replace('\'', "\"")
            )),
        )),
        JobTypesList::UnknownType(t) => Some((
            format!(
                "unknown job type `{t}` in `job_types_list`: the services would stop until restarted"
            ),
            type_hint(t.trim_matches('"')),
        )),
    }
}

/// What a column takes, for a refused value.
fn value_hint(name: &str) -> Option<String> {
    let c = params::column(name).ok()?;
    let what = match c.kind {
        params::Kind::Int => "a whole number",
        params::Kind::Float => "a number",
        params::Kind::Bool => "`true` or `false`",
        params::Kind::Text => "text",
        params::Kind::Timestamp => "a date or time such as `2025-01-10` or `2025-01-10T00:00:00Z`",
    };
    Some(match c.default {
        Some(d) => format!("`{name}` takes {what} (SQL default `{d}`)"),
        None => format!("`{name}` takes {what} or null"),
    })
}

fn type_hint(name: &str) -> Option<String> {
    did_you_mean(name, ALL_TYPES.iter().map(|t| t.name())).or_else(|| {
        Some(format!(
            "job types: {}",
            ALL_TYPES.map(|t| t.name()).join(", ")
        ))
    })
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
