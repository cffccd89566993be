//! The operator's actions on the world, one per step kind, in the runbook's words.

use hrsi_scenario::{CaughtUp, Fault, ScenarioStep, StepKind};
use hrsi_sim::{
    Action, JobType,
    params::JobTypesList,
    time::{MINUTE, Ms, SECOND},
};

use super::{
    course::{caught, hours, per_type},
    transcript::{redact, redact_lines},
    world::{Db, LastRun, World},
};
use crate::{
    iac::{Configuration, Mode, Plan, TfState, prod_env_apply, prod_env_destroy},
    mocks,
    postgres::{Server, quote_ident, quote_literal},
};

mod database;
mod nomad;
mod operator;
mod patch_test;
mod volume;

pub use nomad::{describe_allocations, live_allocations};
pub use patch_test::patch_path;

use database::*;
use nomad::*;
use volume::*;

/// Largest scenario file a step reads (a patch, a dump).
const MAX_FILE: u64 = 64 << 20;
/// Output lines kept per command in a transcript.
const MAX_LINES: usize = 40;

/// What a step left for its expectations.
#[derive(Default)]
pub struct Outcome {
    /// Observed lines.
    pub observed: Vec<String>,
    /// The plan the step printed (stop, start, plan).
    pub plan: Option<Plan>,
    /// A `run_until` or `nomad_wait_gone` that did not come in time: (what, observed).
    pub late: Option<(String, String)>,
    /// What hrsi's own tools refused (set_param, patch_jobs, patch_test): their messages.
    pub refused: Vec<String>,
    /// A `patch_test` step's verdict.
    pub verdict: Option<String>,
    /// A `patch_test` step's findings, `KIND: MESSAGE`.
    pub findings: Vec<String>,
}

/// Carries out one step.
pub async fn run(w: &mut World, step: &ScenarioStep, out: &mut Outcome) -> Result<(), String> {
    w.last = LastRun::default();
    // A Nomad 5xx window that the clock passed (a boot, a wait for a job to go) ends now.
    if w.course.nomad_until().is_some_and(|e| e <= w.now) {
        let now = w.now;
        tokio::task::block_in_place(|| w.course.run_to(now));
    }
    nomad_window_ended(w, out);
    let r = act(w, step, out).await;
    // Whatever the step did to Nomad (a start, a run, an edit, a stop, a fault, time passing),
    // the simulated services run as Nomad runs them.
    let now = w.now;
    follow_placement(w, now, out);
    r
}

async fn act(w: &mut World, step: &ScenarioStep, out: &mut Outcome) -> Result<(), String> {
    match &step.kind {
        StepKind::Stop { confirm } => script(w, true, "module.core", &[yn(*confirm)], out).await,
        StepKind::Start { confirm } => {
            let a = yn(*confirm);
            script(w, false, "module.core", &[a, a], out).await
        }
        StepKind::Script {
            destroy,
            target,
            answers,
        } => {
            let a: Vec<&str> = answers.iter().map(String::as_str).collect();
            script(w, *destroy, target, &a, out).await
        }
        StepKind::Advance(ms) => {
            advance(w, *ms, out);
            Ok(())
        }
        StepKind::RunUntil { caught_up, within } => {
            run_until(w, caught_up, *within, out);
            Ok(())
        }
        StepKind::SetParam(settings) => operator::set_param(w, settings, out).await,
        StepKind::PatchJobs(p) => operator::patch_jobs(w, p, out).await,
        StepKind::PatchTest(t) => patch_test::patch_test(w, t, out).await,
        StepKind::Sql(q) => sql(w, q, false, out).await,
        StepKind::SqlWith {
            query,
            on_error_stop,
        } => sql(w, query, *on_error_stop, out).await,
        StepKind::PsqlFile {
            file,
            on_error_stop,
            single_transaction,
        } => psql_file(w, file, *on_error_stop, *single_transaction, out).await,
        StepKind::PgDumpall { schema_only, to } => pg_dumpall(w, *schema_only, to, out).await,
        StepKind::Backup => take_backup(w, out).await,
        StepKind::BorgList => {
            if !w.borg_ready {
                return Err("no backup repository yet (no `backup` step ran)".into());
            }
            let list = w.borg.list().await.map_err(|e| redact(&e.to_string()))?;
            out.observed
                .push(format!("borg list: {} archive(s)", list.len()));
            for a in &list {
                out.observed.push(format!("{} {}", a.name, a.time));
            }
            Ok(())
        }
        StepKind::BorgExtract { archive, to } => borg_extract(w, archive, to, out).await,
        StepKind::Restore {
            file,
            drop_schema,
            killed_at,
        } => restore(w, file, *drop_schema, killed_at.as_deref(), out).await,
        StepKind::TfPlan {
            destroy,
            target,
            runbook_configuration,
        } => {
            let (config, state) = if *runbook_configuration {
                let c = Configuration::runbook_with_dashboard_proxy();
                let mut s = TfState::fully_deployed(&c);
                if !*destroy {
                    for r in c.resources().iter().filter(|r| r.module == "core") {
                        s.remove(&r.address());
                    }
                }
                (c, s)
            } else {
                let tf = w.tf.as_ref().ok_or("no infrastructure model")?.lock().await;
                (tf.config.clone(), tf.state.clone())
            };
            let mode = if *destroy { Mode::Destroy } else { Mode::Apply };
            let p = crate::iac::model::plan(&config, &state, mode, target)
                .map_err(|e| e.to_string())?;
            out.observed.push(format!(
                "terraform plan{} -target {target} ({} configuration)",
                if *destroy { " -destroy" } else { "" },
                if *runbook_configuration {
                    "the runbook's"
                } else {
                    "the public"
                }
            ));
            out.observed.push(p.summary_line());
            out.plan = Some(p);
            Ok(())
        }
        StepKind::FreshVolume { confirm } => fresh_volume(w, *confirm, out).await,
        StepKind::PostgresRestart => {
            let Db::Own(t) = &w.db else {
                return Err("the shared server is not restarted by a rehearsal".into());
            };
            let mut t = t.lock().await;
            let c = t
                .server
                .as_mut()
                .and_then(Server::cluster_mut)
                .ok_or("tf-tutu has no database volume")?;
            c.stop_server();
            c.restart().map_err(|e| redact(&e.to_string()))?;
            // Crash recovery: the server refuses connections until it has replayed the WAL.
            for _ in 0..200 {
                match t.server.as_ref().expect("kept").connect("postgres").await {
                    Ok(_) => break,
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            }
            drop(t);
            let now = w.now;
            w.course.act(now, Action::DatabaseAvailable);
            out.observed.push(
                "systemctl restart postgresql on tf-tutu: the server starts on its data directory (crash recovery from the WAL); the simulated services reach the database again"
                    .into(),
            );
            Ok(())
        }
        StepKind::NomadEdit(change) => nomad_edit(w, change, out).await,
        StepKind::NomadJobFile(change) => nomad_job_file(w, change, out),
        StepKind::NomadRun { job } => {
            let before = registered(w, job);
            let file = job_file(job);
            let src = w
                .nomad
                .job_files()
                .into_iter()
                .find(|(n, _)| *n == file)
                .map(|(_, s)| s)
                .ok_or_else(|| format!("no file {file} on tf-tete"))?;
            let http = reqwest::Client::new();
            let base = w.nomad.url();
            let parsed = http
                .post(format!("{base}/v1/jobs/parse"))
                .json(&serde_json::json!({ "JobHCL": src }))
                .send()
                .await
                .map_err(|e| redact(&e.to_string()))?;
            let Some(job_json) = nomad_answer(w, parsed, "nomad job run (parse)", out).await else {
                return Ok(());
            };
            let r = http
                .post(format!("{base}/v1/jobs"))
                .json(&serde_json::json!({ "Job": job_json }))
                .send()
                .await
                .map_err(|e| redact(&e.to_string()))?;
            if nomad_answer(w, r, &format!("nomad job run {file}"), out)
                .await
                .is_some()
            {
                follow_service(w, job, true, before, out);
            }
            Ok(())
        }
        StepKind::NomadStop { job } => {
            let r = reqwest::Client::new()
                .delete(format!("{}/v1/job/{job}", w.nomad.url()))
                .send()
                .await
                .map_err(|e| redact(&e.to_string()))?;
            if nomad_answer(w, r, &format!("nomad job stop {job}"), out)
                .await
                .is_some()
            {
                follow_service(w, job, false, None, out);
            }
            Ok(())
        }
        StepKind::NomadWaitGone { job, within } => {
            let mut waited: Ms = 0;
            let step = 30 * SECOND;
            loop {
                if w.nomad.with_state(|s| s.job(job).is_err()) {
                    out.observed.push(format!(
                        "{job} is gone from Nomad after {} (garbage collection of a dead job)",
                        minutes(waited)
                    ));
                    return Ok(());
                }
                if waited >= *within {
                    out.late = Some((
                        format!("{job} gone within {}", minutes(*within)),
                        format!("still listed after {}", minutes(waited)),
                    ));
                    return Ok(());
                }
                w.advance_clock(step);
                waited += step;
            }
        }
        StepKind::Fault(f) => fault(w, f, out).await,
        StepKind::Expect => Ok(()),
    }
}

fn yn(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The rehearsal's infrastructure model, locked.
async fn terraform(
    w: &World,
) -> Result<tokio::sync::MutexGuard<'_, crate::iac::Terraform>, String> {
    Ok(w.tf
        .as_ref()
        .ok_or("no infrastructure model in this rehearsal")?
        .lock()
        .await)
}

/// What Terraform printed, without its resource comments and blank lines.
fn push_terraform_output(out: &mut Outcome, lines: &[String]) {
    out.observed.extend(redact_lines(
        lines
            .iter()
            .map(String::as_str)
            .filter(|l| !l.starts_with("  # ") && !l.is_empty()),
        MAX_LINES,
    ));
}

fn minutes(ms: Ms) -> String {
    format!("{} min {} s", ms / MINUTE, (ms % MINUTE) / SECOND)
}

async fn script(
    w: &mut World,
    destroy: bool,
    target: &str,
    answers: &[&str],
    out: &mut Outcome,
) -> Result<(), String> {
    let now_secs = (w.instant().0 / 1000) as u64;
    let env = w.env.clone();
    let mut guard = terraform(w).await?;
    let tf = &mut *guard;
    let before = tf.state.len();
    let run = if destroy {
        prod_env_destroy(tf, &env, &[target], answers, now_secs).await
    } else {
        prod_env_apply(tf, &env, &[target], answers, now_secs).await
    };
    let name = if destroy {
        "prod_env_destroy.sh"
    } else {
        "prod_env_apply.sh"
    };
    out.observed.push(format!(
        "$ ./{name} {target}   (answers: {})",
        answers.join(", ")
    ));
    push_terraform_output(out, &run.lines);
    out.observed.push(format!("exit code {}", run.exit_code));
    for e in tf.effect_errors() {
        out.observed.push(format!("effect: {}", redact(e)));
    }
    out.plan = run.terraform.as_ref().and_then(|t| t.plan.clone());
    let changed = tf.state.len() != before;
    drop(guard);
    let fresh = match &w.db {
        Db::Own(t) => t.lock().await.take_fresh_boot(),
        Db::Clone { .. } => false,
    };
    if fresh {
        fresh_database(w, out);
    }
    w.last = LastRun {
        exit_code: Some(run.exit_code),
        errors: run
            .lines
            .iter()
            .filter(|l| l.starts_with("Error") || l.contains("[asserts error]"))
            .map(|l| redact(l))
            .collect(),
        output: run.lines.iter().map(|l| redact(l)).collect(),
    };
    if changed && target == "module.core" {
        let now = w.now;
        w.course
            .act(now, if destroy { Action::Stop } else { Action::Start });
        if w.course.project_quota.is_some() {
            // The servers that count against the quota beside the workers changed with the core.
            tell_quota(w);
        }
        if !destroy {
            // tf-tata boots and registers with Nomad before the services are placed.
            let boot = 180 * SECOND;
            w.advance_clock(boot);
            out.observed.push(format!(
                "tf-tata boots and registers with Nomad ({} assumed); the simulated services started at the apply",
                minutes(boot)
            ));
            // A service Nomad leaves pending never ran since the apply.
            follow_placement(w, now, out);
        }
    } else if changed {
        out.observed.push(format!(
            "the simulated system does not see a change of `{target}` (its stop and start are the whole core module)"
        ));
    }
    Ok(())
}

fn advance(w: &mut World, ms: Ms, out: &mut Outcome) {
    let until = (w.now + ms).min(w.course.horizon());
    tokio::task::block_in_place(|| w.course.run_to(until));
    let f = w.course.figures();
    w.advance_clock(ms);
    out.observed.push(format!(
        "simulated system at {}: {}; backlog {}; workers {}{}",
        w.instant().iso(),
        if w.course.up { "up" } else { "down" },
        per_type(&f.backlog),
        f.workers,
        felt(w)
    ));
    nomad_window_ended(w, out);
    if w.now > w.course.horizon() {
        out.observed.push(format!(
            "past the scenario's horizon ({} days): the simulated system stopped there",
            w.course.horizon() / hrsi_sim::time::DAY
        ));
    }
    sync_workers(w, f.workers as usize, out);
}

fn run_until(w: &mut World, caught_up: &CaughtUp, within: Option<Ms>, out: &mut Outcome) {
    let types: Vec<JobType> = match caught_up {
        CaughtUp::Types(t) => t.clone(),
        CaughtUp::All => match w.course.params.job_types() {
            JobTypesList::Valid(v) => v,
            _ => Vec::new(),
        },
    };
    let limit = within.unwrap_or(w.course.horizon() - w.now);
    let until = (w.now + limit).min(w.course.horizon());
    // The world may stand a little behind the clock (tf-tata's boot after a start).
    tokio::task::block_in_place(|| w.course.run_to(w.now));
    let (when, per) = tokio::task::block_in_place(|| w.course.run_until_caught_up(&types, until));
    let detail: Vec<String> = per
        .iter()
        .map(|(t, c)| match c {
            Some(c) => format!(
                "{} caught up at {}",
                t.name(),
                hrsi_sim::time::Instant(w.start.0 + c).iso()
            ),
            None => format!("{} not caught up", t.name()),
        })
        .collect();
    let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
    let what = format!("caught up [{}] within {}", names.join(", "), hours(limit));
    match when {
        Some(t) => {
            let waited = (t - w.now).max(0);
            w.advance_clock(waited);
            out.observed.push(format!(
                "simulated: {}; known at {} (after the confirmation window), waited {}",
                detail.join(", "),
                w.instant().iso(),
                hours(waited)
            ));
        }
        None => {
            let waited = until - w.now;
            w.advance_clock(waited);
            out.late = Some((
                what,
                format!("{} after {}", detail.join(", "), hours(waited)),
            ));
        }
    }
    let f = w.course.figures();
    out.observed.push(format!(
        "simulated system at {}: backlog {}; workers {}{}",
        w.instant().iso(),
        per_type(&f.backlog),
        f.workers,
        felt(w)
    ));
    nomad_window_ended(w, out);
    sync_workers(w, f.workers as usize, out);
}

/// The OpenStack stand-in holds as many worker VMs as the simulated pool: a quota shows there,
/// and the world is told what the quota leaves for workers beside the other servers.
fn sync_workers(w: &mut World, want: usize, out: &mut Outcome) {
    tell_quota(w);
    let (made, refused) = w.openstack.with_state(|s| {
        let mut made = 0usize;
        let mut refused: Option<String> = None;
        let workers: Vec<String> = s
            .servers()
            .iter()
            .filter(|v| v.name.starts_with("os-worker-"))
            .map(|v| v.id.clone())
            .collect();
        if workers.len() > want {
            for id in workers.iter().skip(want) {
                let _ = s.delete_server(id);
            }
            return (0, None);
        }
        let image = s
            .images()
            .iter()
            .find(|i| i.name == "image_name")
            .map(|i| i.id.clone())
            .unwrap_or_default();
        let Ok(flavor) = s.flavor("hm.medium").map(|f| f.id.clone()) else {
            return (0, Some("no hm.medium flavor".to_owned()));
        };
        for k in workers.len()..want {
            let req = mocks::openstack_model::ServerRequest {
                name: format!("os-worker-{k:03}"),
                image_ref: image.clone(),
                flavor_ref: flavor.clone(),
                networks: vec!["private_magellium".into(), "eodata_magellium".into()],
                ..Default::default()
            };
            match s.create_server(req) {
                Ok(_) => made += 1,
                Err(e) => {
                    refused = Some(format!("{} {}", e.status, redact(&e.body.to_string())));
                    break;
                }
            }
        }
        (made, refused)
    });
    w.worker_servers = w.openstack.with_state(|s| {
        s.servers()
            .iter()
            .filter(|v| v.name.starts_with("os-worker-"))
            .count()
    });
    if let Some(r) = refused {
        out.observed.push(format!(
            "OpenStack refused worker creations: {} of {want} workers exist ({made} created now): {r}",
            w.worker_servers
        ));
    }
    let felt = w.course.faults();
    if let (Some(q), Some(since)) = (felt.worker_quota, felt.refused_since) {
        out.observed.push(format!(
            "the simulated pool holds at {} worker(s), the {q} the quota leaves: Nova refuses its creations beyond it (403) since {}; the pool manager logs each refusal and tries again every loop",
            w.course.figures().workers,
            hrsi_sim::time::Instant(w.start.0 + since).iso()
        ));
    }
}

/// The world is told what the project's quota leaves for worker VMs beside the other servers
/// (they count against the same quota), at the instant it or those servers change.
fn tell_quota(w: &mut World) {
    let others = w.openstack.with_state(|s| {
        s.servers()
            .iter()
            .filter(|v| !v.name.starts_with("os-worker-"))
            .count()
    });
    let now = w.now;
    tokio::task::block_in_place(|| w.course.run_to(now));
    w.course.worker_quota(others);
}

/// The faults in force and the services stopped by hand, for the `simulated system` lines.
fn felt(w: &World) -> String {
    let mut s = faults_felt(&w.course.faults());
    let (unplaced, by_hand): (Vec<_>, Vec<_>) = w
        .course
        .world()
        .stopped_services()
        .into_iter()
        .partition(|s| w.unplaced.contains(s));
    if !by_hand.is_empty() {
        let names: Vec<&str> = by_hand.iter().map(|s| s.nomad_job()).collect();
        s.push_str(&format!("; stopped by hand: {}", names.join(", ")));
    }
    if !unplaced.is_empty() {
        let names: Vec<&str> = unplaced.iter().map(|s| s.nomad_job()).collect();
        s.push_str(&format!(
            "; not running, no allocation placed by Nomad: {}",
            names.join(", ")
        ));
    }
    s
}

/// What the faults in force do to the simulated services, for the `simulated system` lines.
fn faults_felt(f: &hrsi_sim::Faults) -> String {
    let mut s = String::new();
    if f.database_down {
        s.push_str(&format!(
            "; database unreachable: the services create, configure, dispatch and publish nothing, the pool and the monitor skip their loops, {} run(s) ended without their statuses written",
            f.unrecorded_runs
        ));
    }
    if f.nomad_down {
        s.push_str(&format!(
            "; Nomad API 5xx: {} dispatch(es) failed (those jobs are in internal_error, Nomad Command Error, no automatic retry), the pool and the monitor skip their loops",
            f.failed_dispatches
        ));
    }
    s
}

/// The stand-in stops answering 503 when the world's Nomad 5xx window ends.
fn nomad_window_ended(w: &mut World, out: &mut Outcome) {
    if w.course.take_nomad_ended() {
        w.nomad.control().clear_faults();
        let f = w.course.faults();
        out.observed.push(format!(
            "the Nomad API answers again: the pool and the monitor loop again; {} job(s) left in internal_error by failed dispatches (an operator patches them: error_checked, ready)",
            f.failed_dispatches
        ));
    }
}

async fn fault(w: &mut World, f: &Fault, out: &mut Outcome) -> Result<(), String> {
    match f {
        Fault::PostgresKilled => {
            let Db::Own(t) = &w.db else {
                return Err("the shared server is never killed".into());
            };
            let pid = t
                .lock()
                .await
                .server
                .as_ref()
                .and_then(Server::cluster)
                .and_then(|c| c.pid())
                .ok_or("PostgreSQL is not running")?;
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .map_err(|e| e.to_string())?;
            wait_down(w).await;
            let now = w.now;
            w.course.act(now, Action::DatabaseUnavailable);
            out.observed.push(
                "fault: PostgreSQL's postmaster killed (SIGKILL): PostgREST answers connection errors, the simulated services' calls fail"
                    .into(),
            );
        }
        Fault::Nomad5xx(n) => {
            w.nomad
                .control()
                .inject(mocks::Fault::always(mocks::FaultKind::Status(503)).times(*n));
            out.observed.push(format!(
                "fault: the Nomad API answers 503 to the next {n} request(s) (the operator's: the simulated services call Nomad every few seconds and would take them at once; `nomad_5xx: {{ for: 30m }}` is felt by them)"
            ));
        }
        Fault::Nomad5xxFor(length) => {
            w.nomad
                .control()
                .inject(mocks::Fault::always(mocks::FaultKind::Status(503)));
            let now = w.now;
            w.course.nomad_unavailable_for(now, *length);
            out.observed.push(format!(
                "fault: the Nomad API answers 503 for {} (until {}): job execution's dispatches fail, the worker pool and the monitor skip their loops",
                minutes(*length),
                hrsi_sim::time::Instant(w.start.0 + now + length).iso()
            ));
        }
        Fault::NomadLostNode(name) => {
            if !w.nomad.lose_node(name) {
                return Err(format!("no Nomad node named `{name}`"));
            }
            out.observed.push(format!(
                "fault: node {name} stops heartbeating: it is down and its allocations are lost"
            ));
        }
        Fault::OpenStackQuota(n) => {
            w.openstack.set_quotas(mocks::openstack_model::Quotas {
                instances: *n,
                ..Default::default()
            });
            w.course.project_quota = Some(*n);
            tell_quota(w);
            out.observed.push(format!(
                "fault: the project's instance quota is now {n} (every server counts: the simulated pool is held to what the others leave)"
            ));
        }
        Fault::OpenStackTokenExpired => {
            w.openstack.expire_tokens();
            out.observed
                .push("fault: every OpenStack token issued so far is expired".into());
        }
    }
    Ok(())
}

/// At the start: the database holds the scenario's parameters (the history's own values are
/// overwritten where they differ), so the simulated system and the database agree.
pub async fn align_params(w: &mut World) -> Result<usize, String> {
    let course = w.course.params.clone();
    w.with_server(async |srv: &Server, db: &str| -> Result<usize, String> {
        let c = srv.connect(db).await.map_err(|e| e.to_string())?;
        let mut n = 0;
        for (name, value) in read_params(&c).await? {
            if hrsi_sim::params::column(&name).is_err() {
                continue;
            }
            let mut probe = course.clone();
            let text = sim_text(value.unwrap_or_else(|| "null".into()));
            if probe.set(&name, &text).is_ok() && same_param(&probe, &course, &name) {
                continue;
            }
            let lit = match course.get(&name) {
                None | Some(hrsi_sim::params::Value::Null) => "null".to_owned(),
                Some(v) => quote_literal(&v.to_string()),
            };
            c.execute(
                &format!(
                    "update cosims.system_parameters set {} = {lit}",
                    quote_ident(&name)
                ),
                &[],
            )
            .await
            .map_err(|e| format!("write {name}: {e}"))?;
            n += 1;
        }
        Ok(n)
    })
    .await?
}

/// Every column of `cosims.system_parameters` as (name, text value), sorted by name: what the
/// services read, and what the simulated system is aligned with.
async fn read_params(c: &tokio_postgres::Client) -> Result<Vec<(String, Option<String>)>, String> {
    let rows = c
        .query(
            "select key, value from cosims.system_parameters p, jsonb_each_text(to_jsonb(p)) order by key",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Equal values; timestamps compared as instants (`2025-01-08` = `2025-01-08T00:00:00Z`).
fn same_param(a: &hrsi_sim::SystemParameters, b: &hrsi_sim::SystemParameters, name: &str) -> bool {
    a.get(name) == b.get(name)
        || matches!((a.timestamp(name), b.timestamp(name)), (Some(x), Some(y)) if x == y)
}

fn sim_text(text: String) -> String {
    if text.len() == 19 && text.as_bytes().get(10) == Some(&b'T') {
        format!("{text}Z")
    } else {
        text
    }
}

/// After a step: the simulated system reads `cosims.system_parameters` from the database (the
/// truth at every step boundary), through its import.
pub async fn import_params(w: &mut World, out: &mut Outcome) {
    let Ok(Ok(rows)) = w
        .with_session(
            async |c: &mut tokio_postgres::Client| -> Result<Vec<(String, Option<String>)>, String> {
                read_params(c).await
            },
        )
        .await
    else {
        return;
    };
    super::truth::import_params(w, rows, out);
}

/// Whether every type of the list is caught up now.
pub fn caught_now(w: &World, types: &[JobType]) -> Vec<(JobType, bool, Option<Ms>)> {
    let f = w.course.figures();
    types
        .iter()
        .map(|&t| {
            let c = caught(&f, t);
            (t, c.is_some_and(|c| c + f.window <= w.now), c)
        })
        .collect()
}
