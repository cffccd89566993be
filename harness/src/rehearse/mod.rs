//! `hrsi rehearse`: the runbook replayed end to end against real PostgreSQL, psql, pg_dumpall
//! and borg, the Nomad and OpenStack stand-ins and the infrastructure model, in virtual time,
//! with a verdict, a transcript and a snapshot per scenario.
//!
//! - [`discover`] finds and loads scenario files (strict: every error with file:line:column);
//! - [`run_suite`] runs them, `jobs` at a time, each in its own [`world::World`]: its own
//!   cluster when a step acts on the whole server, else a clone of the run's template; its own
//!   stand-ins and virtual clock;
//! - [`SuiteReport`] is what comes out: deterministic (sorted by file, no wall times), so
//!   shards merged with [`SuiteReport::merge`] give the same bytes as one machine.

pub mod bases;
pub mod compare;
pub mod course;
pub mod expect;
pub mod files;
pub mod guard;
pub mod junit;
pub mod session;
pub mod steps;
pub mod transcript;
pub mod truth;
pub mod world;

use std::{path::Path, sync::Arc, time::Instant as WallInstant};

use hrsi_scenario::{Plan, Scenario, StepKind};
use serde::{Deserialize, Serialize};

use bases::{Choice, Prepared};
pub use files::{ScenarioFile, discover, filter, parse_shard, shard};
pub use transcript::{Check, ScenarioResult, StepResult};
use world::World;

/// The outcome of a suite (or a shard of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// Scenarios, sorted by file.
    pub scenarios: Vec<ScenarioResult>,
    /// Wall time of what the run prepared (template, data directories), ms (not part of any
    /// deterministic output).
    #[serde(skip)]
    pub prepared_ms: Vec<(&'static str, u64)>,
    /// What the run could not prepare (its scenarios then set up the slow way).
    #[serde(skip)]
    pub prepare_failures: Vec<String>,
}

impl SuiteReport {
    /// Whether every expectation of every scenario held.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(ScenarioResult::passed)
    }

    /// Merges shards (each scenario once, sorted by file): the same as one machine.
    pub fn merge(parts: Vec<SuiteReport>) -> Result<SuiteReport, String> {
        let mut all: Vec<ScenarioResult> = parts.into_iter().flat_map(|p| p.scenarios).collect();
        all.sort_by(|a, b| a.file.cmp(&b.file));
        for w in all.windows(2) {
            if w[0].file == w[1].file {
                return Err(format!("{} is in two shards", w[0].file));
            }
        }
        Ok(SuiteReport {
            scenarios: all,
            prepared_ms: Vec::new(),
            prepare_failures: Vec::new(),
        })
    }

    /// Deterministic JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serializable") + "\n"
    }

    /// The summary table.
    pub fn summary(&self, with_times: bool) -> String {
        let w = self
            .scenarios
            .iter()
            .map(|s| s.file.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let mut s = format!(
            "{:<w$}  {:<6}  {:>5}  {:>12}",
            "scenario", "result", "steps", "expectations"
        );
        if with_times {
            s.push_str("  wall ms");
        }
        s.push('\n');
        for r in &self.scenarios {
            let (ok, total) = r.check_counts();
            s.push_str(&format!(
                "{:<w$}  {:<6}  {:>5}  {:>12}",
                r.file,
                if r.passed() { "PASS" } else { "FAIL" },
                r.steps.len(),
                format!("{ok}/{total}")
            ));
            if with_times {
                s.push_str(&format!("  {:>7}", r.wall_ms));
            }
            s.push('\n');
        }
        if with_times {
            let mut phases: Vec<(&str, u64)> = Vec::new();
            for r in &self.scenarios {
                for (n, ms) in &r.phases_ms {
                    match phases.iter_mut().find(|(p, _)| p == n) {
                        Some((_, t)) => *t += ms,
                        None => phases.push((n, *ms)),
                    }
                }
            }
            let total: u64 = phases.iter().map(|(_, t)| t).sum();
            s.push_str("where the time went (summed over scenarios; they overlap with --jobs):\n");
            for (n, ms) in &self.prepared_ms {
                s.push_str(&format!(
                    "  once per run, beside the first scenarios: {n}: {ms} ms\n"
                ));
            }
            for e in &self.prepare_failures {
                s.push_str(&format!(
                    "  not prepared (the scenarios set up without it): {e}\n"
                ));
            }
            for (n, ms) in phases {
                s.push_str(&format!(
                    "  {n}: {ms} ms ({:.0} %)\n",
                    100.0 * ms as f64 / total.max(1) as f64
                ));
            }
        }
        let failed = self.scenarios.iter().filter(|r| !r.passed()).count();
        s.push_str(&format!(
            "{} scenario(s): {} passed, {failed} failed\n",
            self.scenarios.len(),
            self.scenarios.len() - failed
        ));
        s
    }
}

/// Runs the scenarios, `jobs` at a time (call from a multi-threaded tokio runtime).
/// `progress` is told when each scenario ends. What the run prepares is chosen from these files
/// ([`Choice::of`]); a shard passes the choice of the whole list to [`run_suite_with`].
pub async fn run_suite(
    files: Vec<ScenarioFile>,
    jobs: usize,
    progress: Arc<dyn Fn(&ScenarioResult) + Send + Sync>,
) -> SuiteReport {
    let choice = Choice::of(&files);
    run_suite_with(files, choice, jobs, progress).await
}

/// [`run_suite`] with the prepared worlds chosen beforehand (from the list before `--shard`).
pub async fn run_suite_with(
    files: Vec<ScenarioFile>,
    choice: Choice,
    jobs: usize,
    progress: Arc<dyn Fn(&ScenarioResult) + Send + Sync>,
) -> SuiteReport {
    world::sweep_stale_workdirs(&world::work_base());
    let prepared = Prepared::start(choice);
    let sem = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    // The longest first: with a few jobs the wall time is bounded by the last long scenario to
    // start. The report is sorted by file afterwards, so the order shows nowhere.
    let mut files = files;
    files.sort_by_key(|f| std::cmp::Reverse(estimated_cost(&f.scenario)));
    let mut handles = Vec::new();
    for f in files {
        let permit = sem.clone().acquire_owned().await.expect("open");
        let prepared = prepared.clone();
        let progress = progress.clone();
        handles.push(tokio::spawn(async move {
            let _permit = permit;
            let r = run_scenario(&f, &prepared).await;
            progress(&r);
            r
        }));
    }
    let mut scenarios = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => scenarios.push(r),
            Err(e) => scenarios.push(ScenarioResult {
                file: "?".into(),
                name: "?".into(),
                setup: vec![],
                prediction: vec![],
                steps: vec![],
                course: vec![],
                notes: vec![],
                error: Some(format!("the rehearsal panicked: {e}")),
                wall_ms: 0,
                phases_ms: vec![],
            }),
        }
    }
    scenarios.sort_by(|a, b| a.file.cmp(&b.file));
    SuiteReport {
        scenarios,
        prepared_ms: prepared.timings(),
        prepare_failures: prepared.failures(),
    }
}

/// A rough estimate of a scenario's wall time (arbitrary units, from measured runs): the
/// world's exports grow with its days, and a step that dumps, restores or lets the world read
/// the jobs back costs more on the world's data than on the small generated history.
pub fn estimated_cost(sc: &Scenario) -> u64 {
    let Plan::Steps(steps) = &sc.plan else {
        return 0;
    };
    let world = bases::world_runs(sc);
    let big = |on_world: u64, small: u64| if world { on_world } else { small };
    let mut cost = 2 + if world { 8 + u64::from(sc.days) } else { 0 };
    for st in steps {
        cost += match &st.kind {
            StepKind::Restore { .. } => big(20, 8),
            StepKind::Backup
            | StepKind::PgDumpall { .. }
            | StepKind::BorgExtract { .. }
            | StepKind::PsqlFile { .. } => big(6, 2),
            StepKind::Sql(_)
            | StepKind::SqlWith { .. }
            | StepKind::PatchJobs(_)
            | StepKind::PatchTest(_) => big(6, 1),
            StepKind::FreshVolume { .. } | StepKind::Fault(_) => 4,
            StepKind::Advance(_) | StepKind::RunUntil { .. } => 3,
            _ => 1,
        };
    }
    cost
}

/// Runs one scenario in its own world.
pub async fn run_scenario(f: &ScenarioFile, prepared: &Prepared) -> ScenarioResult {
    let t0 = WallInstant::now();
    let sc = &f.scenario;
    let mut res = ScenarioResult {
        file: f.rel.clone(),
        name: sc.name.clone().unwrap_or_else(|| f.rel.clone()),
        setup: Vec::new(),
        prediction: Vec::new(),
        course: Vec::new(),
        steps: Vec::new(),
        notes: Vec::new(),
        error: None,
        wall_ms: 0,
        phases_ms: Vec::new(),
    };
    let (prediction, predicted) = tokio::task::block_in_place(|| course::predict(sc));
    res.prediction = prediction;
    let mut phases = Phases::default();
    phases.add("prediction (hrsi simulate)", t0);
    let dir = f.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut setup = Vec::new();
    let world = World::build(sc, dir, prepared, &mut setup).await;
    res.setup = setup.iter().map(|l| transcript::redact(l)).collect();
    let mut w = match world {
        Ok(w) => {
            phases.0.extend(w.timings.iter().copied());
            w
        }
        Err(e) => {
            res.error = Some(format!("setup failed: {}", transcript::redact(&e)));
            res.wall_ms = t0.elapsed().as_millis() as u64;
            return res;
        }
    };
    match steps::align_params(&mut w).await {
        Ok(0) => {}
        Ok(n) => res.setup.push(format!(
            "the scenario's system parameters written to cosims.system_parameters ({n} column(s) differed from the history's)"
        )),
        Err(e) => {
            res.error = Some(format!("setup failed: {}", transcript::redact(&e)));
            w.teardown().await;
            res.wall_ms = t0.elapsed().as_millis() as u64;
            return res;
        }
    }
    let Plan::Steps(steps) = &sc.plan else {
        unreachable!("discover keeps only scenarios with steps")
    };
    if bases::world_runs(sc) {
        let tt = WallInstant::now();
        match truth::Truth::first_export(&mut w).await {
            Ok(line) => res.setup.push(line),
            Err(e) => {
                res.error = Some(format!("setup failed: {}", transcript::redact(&e)));
                w.teardown().await;
                res.wall_ms = t0.elapsed().as_millis() as u64;
                return res;
            }
        }
        phases.add("database as truth (export of the world, import)", tt);
    }
    let mut unseen: Vec<String> = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        let ts = WallInstant::now();
        let at = w.instant().iso();
        let mut out = steps::Outcome::default();
        let r = steps::run(&mut w, st, &mut out).await;
        let mut error = r.err().map(|e| transcript::redact(&e));
        phases.add(phase_of(&st.kind), ts);
        let tt = WallInstant::now();
        // The database is the truth at every step boundary: what the world did is written,
        // what the operator changed is read back before the world runs again.
        if matches!(st.kind, StepKind::Restore { .. }) {
            w.truth.restore_pending = w.restored_from.clone();
        }
        steps::import_params(&mut w, &mut out).await;
        let synced = if matches!(st.kind, StepKind::Advance(_) | StepKind::RunUntil { .. }) {
            truth::Truth::export(&mut w, &mut out).await
        } else if truth::may_write(&st.kind) {
            truth::Truth::import_jobs(&mut w, &mut out).await
        } else {
            Ok(())
        };
        if let Err(e) = synced {
            error.get_or_insert(transcript::redact(&e));
        }
        phases.add("database as truth (export of the world, import)", tt);
        let te = WallInstant::now();
        let mut checks = Vec::new();
        if let Some((what, seen)) = out.late.take() {
            checks.push(Check {
                what,
                passed: false,
                observed: seen,
            });
        }
        if let Some(e) = &st.expect {
            checks.extend(expect::evaluate(&w, e, &out, &mut error).await);
        }
        // The quota, a Nomad 5xx window and a killed PostgreSQL reach the simulated services;
        // a lost tf-tata reaches them through Nomad's placement of the services.
        if let StepKind::Fault(
            f @ (hrsi_scenario::Fault::Nomad5xx(_)
            | hrsi_scenario::Fault::NomadLostNode(_)
            | hrsi_scenario::Fault::OpenStackTokenExpired),
        ) = &st.kind
            && !matches!(f, hrsi_scenario::Fault::NomadLostNode(n) if n == "tf-tata")
        {
            unseen.push(format!(
                "step {} (fault {f:?}): the simulated system does not see this fault itself; the stand-ins and the operator's calls do",
                i + 1
            ));
        }
        phases.add(phase_of(&st.kind), te);
        let wall_ms = ts.elapsed().as_millis() as u64;
        res.steps.push(StepResult {
            wall_ms,
            index: i + 1,
            line: st.line,
            kind: st.kind.name().into(),
            at,
            action: describe(&st.kind),
            observed: out.observed,
            checks,
            error,
        });
    }
    if w.truth.active() {
        let tc = WallInstant::now();
        let rehearsed = tokio::task::block_in_place(|| w.course.report_to_horizon());
        res.course = compare::lines(sc, &predicted, &rehearsed);
        phases.add("simulated course (advance, run_until, figures)", tc);
    }
    res.notes.extend(unseen);
    let tt = WallInstant::now();
    w.teardown().await;
    phases.add("teardown", tt);
    res.wall_ms = t0.elapsed().as_millis() as u64;
    res.phases_ms = phases.0;
    res
}

/// Wall time per phase, in first-seen order.
#[derive(Default)]
struct Phases(Vec<(&'static str, u64)>);

impl Phases {
    fn add(&mut self, name: &'static str, since: WallInstant) {
        let ms = since.elapsed().as_millis() as u64;
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, t)) => *t += ms,
            None => self.0.push((name, ms)),
        }
    }
}

fn phase_of(k: &StepKind) -> &'static str {
    match k {
        StepKind::Advance(_) | StepKind::RunUntil { .. } | StepKind::Expect => {
            "simulated course (advance, run_until, figures)"
        }
        StepKind::Sql(_)
        | StepKind::SqlWith { .. }
        | StepKind::PsqlFile { .. }
        | StepKind::SetParam(_)
        | StepKind::PatchJobs(_)
        | StepKind::PatchTest(_)
        | StepKind::PgDumpall { .. }
        | StepKind::Backup
        | StepKind::BorgList
        | StepKind::BorgExtract { .. }
        | StepKind::Restore { .. }
        | StepKind::PostgresRestart => "database steps (psql, pg_dumpall, borg)",
        _ => "infrastructure and Nomad steps (scripts, Terraform, stand-ins)",
    }
}

/// A step in the runbook's words.
fn describe(k: &StepKind) -> String {
    match k {
        StepKind::Stop { confirm } => format!(
            "stop the system (prod_env_destroy.sh module.core, answer {})",
            if *confirm { "yes" } else { "no" }
        ),
        StepKind::Start { confirm } => format!(
            "start the system (prod_env_apply.sh module.core, answer {})",
            if *confirm { "yes" } else { "no" }
        ),
        StepKind::Script {
            destroy,
            target,
            answers,
        } => format!(
            "{} {target} (answers {})",
            if *destroy {
                "prod_env_destroy.sh"
            } else {
                "prod_env_apply.sh"
            },
            answers.join(", ")
        ),
        StepKind::Advance(ms) => format!("advance {}", course::hours(*ms)),
        StepKind::SetParam(s) => format!(
            "hrsi params set {} (through the API)",
            s.iter()
                .map(|p| format!("{} = {}", p.name, p.value))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        StepKind::RunUntil { caught_up, within } => format!(
            "run until caught up ({}){}",
            match caught_up {
                hrsi_scenario::CaughtUp::All => "all".to_owned(),
                hrsi_scenario::CaughtUp::Types(t) =>
                    t.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
            },
            within
                .map(|w| format!(" within {}", course::hours(w)))
                .unwrap_or_default()
        ),
        StepKind::Sql(_) => "sql (psql at the prompt, no ON_ERROR_STOP)".into(),
        StepKind::SqlWith { on_error_stop, .. } => format!(
            "sql (ON_ERROR_STOP {})",
            if *on_error_stop { "on" } else { "off" }
        ),
        StepKind::PsqlFile { file, .. } => format!("psql -f {file}"),
        StepKind::PgDumpall { schema_only, to } => {
            format!("pg_dumpall{} > {to}", if *schema_only { " -s" } else { "" })
        }
        StepKind::Backup => "backup (the 04:00 job: pg_dumpall | borg create)".into(),
        StepKind::BorgList => "borg list".into(),
        StepKind::BorgExtract { archive, to } => format!("borg extract {archive} > {to}"),
        StepKind::Restore {
            file, drop_schema, ..
        } => format!(
            "restore {file} ({})",
            if *drop_schema {
                "DROP SCHEMA cosims CASCADE, then psql -f"
            } else {
                "psql -f without the DROP"
            }
        ),
        StepKind::TfPlan {
            destroy, target, ..
        } => format!(
            "terraform plan{} -target {target}",
            if *destroy { " -destroy" } else { "" }
        ),
        StepKind::FreshVolume { .. } => "a fresh database volume".into(),
        StepKind::PostgresRestart => "restart PostgreSQL on tf-tutu".into(),
        StepKind::NomadEdit(c) => format!("edit {} in the Nomad UI", c.job),
        StepKind::NomadJobFile(c) => format!("edit {}'s Nomad file", c.job),
        StepKind::NomadRun { job } => format!("nomad job run {job}"),
        StepKind::NomadStop { job } => format!("nomad job stop {job}"),
        StepKind::NomadWaitGone { job, within } => format!(
            "wait for {job} to disappear (within {})",
            course::hours(*within)
        ),
        StepKind::Fault(f) => format!("fault: {f:?}"),
        StepKind::PatchJobs(p) => format!(
            "hrsi jobs patch --type {}{}{} --post {} (through the API)",
            p.job_type,
            if p.status.is_empty() {
                String::new()
            } else {
                format!(" --status {}", p.status.join(","))
            },
            if p.ids.is_empty() {
                String::new()
            } else {
                format!(
                    " --ids {}",
                    p.ids
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            },
            p.post.join(",")
        ),
        StepKind::PatchTest(t) => format!(
            "hrsi patch-test --patch {}{}",
            t.patch,
            t.backup
                .as_ref()
                .map_or(" (generated data)".to_owned(), |b| format!(" --backup {b}"))
        ),
        StepKind::Expect => "observe".into(),
    }
}
