//! The Nomad steps, as the operator does them: the web UI's edit (GET, change, POST), the job
//! files on tf-tete, `nomad job run` and `nomad job stop`, over the stand-in's HTTP API (so its
//! faults apply).

use super::Outcome;
use crate::{
    mocks::{jobspec::Job, nomad_files::SERVICE_JOBS},
    rehearse::{transcript::redact, world::World},
};
use hrsi_scenario::NomadChange;
use hrsi_sim::{Action, Service, time::Ms};
pub(super) fn job_file(job: &str) -> String {
    SERVICE_JOBS
        .iter()
        .find(|(id, ..)| *id == job)
        .map(|(_, f, ..)| f.to_string())
        .unwrap_or_else(|| format!("{}.nomad", job.replace('-', "_")))
}

/// An answer of the Nomad API, as the operator's client shows it: a non-2xx answer is the
/// command's failure (exit code 1, the message as its error), not the rehearsal's.
pub(super) async fn nomad_answer(
    w: &mut World,
    r: reqwest::Response,
    what: &str,
    out: &mut Outcome,
) -> Option<serde_json::Value> {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    out.observed
        .push(format!("{what}: HTTP {}", status.as_u16()));
    if !status.is_success() {
        let msg = format!(
            "Error: Unexpected response code: {} ({})",
            status.as_u16(),
            redact(body.trim())
        );
        out.observed.push(msg.clone());
        w.last.exit_code = Some(1);
        w.last.errors.push(msg.clone());
        w.last.output.push(msg);
        return None;
    }
    w.last.exit_code = Some(0);
    Some(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

pub(super) fn new_image(current: &str, wanted: &str) -> String {
    if wanted.contains('/') {
        return wanted.to_owned();
    }
    match current.rsplit_once(':') {
        Some((repo, _)) if !repo.ends_with("//") => format!("{repo}:{wanted}"),
        _ => format!("{current}:{wanted}"),
    }
}

/// The Nomad UI's edit: GET the definition, change it, POST it (plan and run).
pub(super) async fn nomad_edit(
    w: &mut World,
    change: &NomadChange,
    out: &mut Outcome,
) -> Result<(), String> {
    let before = registered(w, &change.job);
    let http = reqwest::Client::new();
    let url = format!("{}/v1/job/{}", w.nomad.url(), change.job);
    let r = http
        .get(&url)
        .send()
        .await
        .map_err(|e| redact(&e.to_string()))?;
    let Some(v) = nomad_answer(
        w,
        r,
        &format!("Nomad UI: open {} definition", change.job),
        out,
    )
    .await
    else {
        return Ok(());
    };
    let mut job: Job = serde_json::from_value(v).map_err(|e| format!("unreadable job: {e}"))?;
    let task = job
        .task_groups
        .first_mut()
        .and_then(|g| g.tasks.first_mut())
        .ok_or("the job has no task")?;
    if let Some(img) = &change.image {
        let cur = task
            .config
            .get("image")
            .and_then(|i| i.as_str())
            .unwrap_or("")
            .to_owned();
        let new = new_image(&cur, img);
        out.observed.push(format!(
            "\"image\": \"{}\" → \"{}\"",
            redact(&cur),
            redact(&new)
        ));
        task.config
            .insert("image".into(), serde_json::Value::String(new));
    }
    if let Some(cpu) = change.cpu {
        out.observed.push(format!(
            "\"CPU\": {} → {cpu}",
            task.resources.cpu.unwrap_or(0)
        ));
        task.resources.cpu = Some(cpu);
    }
    let r = http
        .post(&url)
        .json(&serde_json::json!({ "Job": job }))
        .send()
        .await
        .map_err(|e| redact(&e.to_string()))?;
    if nomad_answer(w, r, "Nomad UI: plan, run", out)
        .await
        .is_none()
    {
        return Ok(());
    }
    out.observed.push(
        "changed in Nomad only: the job file on tf-tete still has the old value (lost at the next full restart)"
            .into(),
    );
    follow_service(w, &change.job, true, before, out);
    Ok(())
}

pub(super) fn nomad_job_file(
    w: &mut World,
    change: &NomadChange,
    out: &mut Outcome,
) -> Result<(), String> {
    let file = job_file(&change.job);
    let image_re = regex::Regex::new(r#"(image\s*=\s*")([^"]*)(")"#).expect("valid");
    let cpu_re = regex::Regex::new(r"(cpu\s*=\s*)(\d+)").expect("valid");
    let mut note = Vec::new();
    let ok = w.nomad.edit_job_file(&file, |src| {
        let mut s = src.to_owned();
        if let Some(img) = &change.image
            && let Some(c) = image_re.captures(&s)
        {
            let new = new_image(&c[2], img);
            note.push(format!(
                "image = \"{}\" → \"{}\"",
                redact(&c[2]),
                redact(&new)
            ));
            s = image_re
                .replace(&s, format!("${{1}}{new}${{3}}"))
                .into_owned();
        }
        if let Some(cpu) = change.cpu
            && let Some(c) = cpu_re.captures(&s)
        {
            note.push(format!("cpu = {} → {cpu}", &c[2]));
            s = cpu_re.replace(&s, format!("${{1}}{cpu}")).into_owned();
        }
        s
    });
    if !ok {
        return Err(format!("no file {file} on tf-tete"));
    }
    out.observed.push(format!(
        "edited {file} (nomad_server/src/envsubst on tf-tete): {}",
        note.join("; ")
    ));
    out.observed.push(
        "persistent: registered again at every full restart; Nomad itself runs the old definition until `nomad job run`"
            .into(),
    );
    Ok(())
}

/// The allocations of a job that are live (to run: pending or running), oldest first, as
/// (job version, client status).
pub fn live_allocations(w: &World, job: &str) -> Vec<(u64, String)> {
    w.nomad.with_state(|s| {
        let mut v: Vec<(u64, u64, String)> = s
            .job_allocs(job)
            .map(|a| {
                a.into_iter()
                    .filter(|a| a.is_live())
                    .map(|a| (a.create_index, a.job_version, a.client_status.clone()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.into_iter().map(|(_, ver, st)| (ver, st)).collect()
    })
}

/// The live allocations, as `nomad job status` lists them.
pub fn describe_allocations(allocs: &[(u64, String)]) -> String {
    if allocs.is_empty() {
        return "no allocation running or pending".into();
    }
    allocs
        .iter()
        .map(|(v, st)| format!("an allocation of version {v} {st}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The registered version of a job and whether an allocation of that version runs.
pub(super) fn registered(w: &World, job: &str) -> Option<(u64, bool)> {
    let version = w
        .nomad
        .with_state(|s| s.job(job).ok().map(|e| e.job.version))?;
    let runs = live_allocations(w, job)
        .iter()
        .any(|(v, st)| *v == version && st == "running");
    Some((version, runs))
}

/// Whether Nomad runs an allocation of the registered version of `job`.
fn placed(w: &World, job: &str) -> bool {
    registered(w, job).is_some_and(|(_, runs)| runs)
}

/// A `nomad job stop` (`run: false`) or a `nomad job run` / UI "plan, run" that Nomad accepted,
/// of an orchestrator service: the simulated one follows what Nomad runs (orchestration.md §1,
/// §4.2). `before`: the version registered before the run and whether it ran.
///
/// - A run of an unchanged definition is a no-op in Nomad (same version, same allocation): the
///   service keeps running.
/// - A run of a changed definition registers a new version and, the service jobs having no
///   `update` stanza, Nomad stops the running allocation and places one of the new version: the
///   service restarts (a fresh process: it reads its loop sleep again, job creation remembers no
///   night pass). If the new version cannot be placed (e.g. its CPU ask), the old allocation is
///   stopped all the same and the service is stopped in fact until it is placed.
/// - A run of a service that does not run starts it only once Nomad placed it: one left pending
///   stays stopped ([`follow_placement`] starts it when it is placed).
pub(super) fn follow_service(
    w: &mut World,
    job: &str,
    run: bool,
    before: Option<(u64, bool)>,
    out: &mut Outcome,
) {
    let Some(s) = Service::of_nomad_job(job) else {
        return;
    };
    let now = w.now;
    let running = w.course.world().service_running(s);
    let was_unplaced = w.unplaced.contains(&s);
    if !run {
        // Stopped by hand now, whatever Nomad did with it before.
        w.unplaced.remove(&s);
        if running {
            tokio::task::block_in_place(|| w.course.act(now, Action::StopService(s)));
            out.observed.push(format!(
                "the simulated {job} stops; the other services, Nomad and the runs already placed carry on: {}",
                stops(s)
            ));
        }
        return;
    }
    let after = registered(w, job);
    let new_version = match (before, after) {
        (Some((b, _)), Some((a, _))) => a != b,
        _ => false,
    };
    let placed = after.is_some_and(|(_, runs)| runs);
    match (running, new_version, placed) {
        (true, false, _) => out.observed.push(match after {
            Some((v, _)) => format!(
                "the definition is unchanged: Nomad keeps version {v} and its allocation; the simulated {job} keeps running"
            ),
            None => format!("the simulated {job} was running: it keeps running"),
        }),
        (true, true, true) => {
            let (b, a) = (before.map_or(0, |b| b.0), after.map_or(0, |a| a.0));
            tokio::task::block_in_place(|| {
                w.course.act(now, Action::StopService(s));
                w.course.act(now, Action::StartService(s));
            });
            let nomad = if before.is_some_and(|b| b.1) {
                format!(
                    "replaces the allocation of version {b} by one of version {a} (no update stanza: stop, then place)"
                )
            } else {
                format!("places it (version {b} had no running allocation)")
            };
            out.observed.push(format!(
                "a changed definition: Nomad registers version {a} and {nomad}; the simulated {job} restarts with it: {}",
                resumes(s)
            ));
        }
        (true, true, false) => {
            tokio::task::block_in_place(|| w.course.act(now, Action::StopService(s)));
            w.unplaced.insert(s);
            out.observed.push(format!(
                "a changed definition: Nomad stops the running allocation, and the new version is not placed ({}): the simulated {job} is stopped in fact: {}",
                describe_allocations(&live_allocations(w, job)),
                stops(s)
            ));
        }
        (false, _, true) => {
            tokio::task::block_in_place(|| w.course.act(now, Action::StartService(s)));
            w.unplaced.remove(&s);
            let how = match (before, after) {
                (Some((b, false)), Some((a, _))) if was_unplaced && a != b => format!(
                    "Nomad registers version {a} and places it (version {b} had no running allocation); "
                ),
                _ => String::new(),
            };
            out.observed.push(format!(
                "{how}the simulated {job} starts again: {}",
                resumes(s)
            ));
        }
        (false, _, false) => {
            // Accepted, but not placed: it does not run, and is no longer stopped by hand.
            w.unplaced.insert(s);
            out.observed.push(format!(
                "Nomad accepted it but places no allocation ({}): the simulated {job} stays stopped",
                crate::rehearse::expect::nomad_state(w, job).1
            ));
        }
    }
}

/// After a step, at `at` (ms since the start): the simulated services follow Nomad's placement
/// of their jobs (orchestration.md §4.7: a job whose allocation is not placed is `pending` and
/// its process does not run; infra.md: worker-pool-management left pending on tf-tata's CPU). A
/// service whose job has no running allocation of its registered version is stopped in the
/// world; one Nomad placed since starts. Nothing to follow while the system is stopped (the
/// next full start runs every service, and this is called again after it).
pub(super) fn follow_placement(w: &mut World, at: Ms, out: &mut Outcome) {
    if !w.course.up {
        w.unplaced.clear();
        return;
    }
    for s in Service::ALL {
        let job = s.nomad_job();
        let running = w.course.world().service_running(s);
        if running {
            // A full start ran it again.
            w.unplaced.remove(&s);
        }
        match (running, placed(w, job)) {
            (true, false) => {
                tokio::task::block_in_place(|| w.course.act(at, Action::StopService(s)));
                w.unplaced.insert(s);
                out.observed.push(format!(
                    "Nomad runs no allocation of {job} ({}): the simulated {job} does not run either: {}",
                    crate::rehearse::expect::nomad_state(w, job).1,
                    stops(s)
                ));
            }
            (false, true) => {
                tokio::task::block_in_place(|| w.course.act(at, Action::StartService(s)));
                w.unplaced.remove(&s);
                out.observed.push(format!(
                    "Nomad placed {job}: the simulated {job} starts: {}",
                    resumes(s)
                ));
            }
            _ => {}
        }
    }
}

/// What waits while a service is stopped.
fn stops(s: Service) -> &'static str {
    match s {
        Service::JobCreation => {
            "no job is created (the inputs wait in the catalogues; GFSC's night pass waits too)"
        }
        Service::JobConfiguration => "new jobs stay initialized or configured",
        Service::JobExecution => {
            "ready jobs are not dispatched (the jobs already queued in Nomad are still placed and run)"
        }
        Service::JobPublication => {
            "processed jobs are not published (nothing downstream of them is created)"
        }
        Service::WorkerPoolManagement => "no worker VM is created or deleted",
        Service::Monitor => {
            "jobs stuck in Nomad (queued over 60 min, unknown to Nomad after a restart) are not dispatched again"
        }
    }
}

/// What a service started again does first.
fn resumes(s: Service) -> &'static str {
    match s {
        Service::JobCreation => {
            "it resumes from the last inserted job of each type (the night pass from yesterday)"
        }
        Service::JobConfiguration => "it configures the jobs that waited",
        Service::JobExecution => "its first loop dispatches every ready job (no cap per loop)",
        Service::JobPublication => "it publishes the processed jobs that waited",
        Service::WorkerPoolManagement => "the pool follows the Nomad queue again",
        Service::Monitor => "its first loop dispatches the stuck jobs again",
    }
}
