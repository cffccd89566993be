//! `expect:`: what can be observed after a step, checked against the world.

use hrsi_scenario::{CaughtUp, Expect, Services};
use hrsi_sim::{JobType, params::JobTypesList};

use super::{
    course::per_type,
    guard,
    steps::{self, Outcome},
    transcript::{Check, redact},
    world::{Db, READER_ROLE, World},
};
use crate::postgres::Server;

/// The services that read `job_types_list` (orchestration.md: every service).
const SERVICES: [&str; 6] = [
    "job-creation",
    "job-configuration",
    "job-execution",
    "job-publication",
    "worker-pool-management",
    "monitor",
];

fn check(what: impl Into<String>, passed: bool, observed: impl Into<String>) -> Check {
    Check {
        what: what.into(),
        passed,
        observed: observed.into(),
    }
}

/// Runs a user query as the read-only role; the first column of the first row, as text.
pub async fn query(w: &World, q: &str) -> Result<String, String> {
    guard::check(q).map_err(|r| format!("refused: {r}"))?;
    let now = w.instant();
    let q = substitute_now(q, &now.iso());
    w.with_server(async |srv: &Server, db: &str| -> Result<String, String> {
        let mut cfg = srv.params().config(db);
        cfg.user(READER_ROLE);
        let first = cfg.connect(tokio_postgres::NoTls).await;
        let (client, conn) = match first {
            Ok(c) => c,
            Err(_) => {
                // A fresh volume or a restore may have left the cluster without the role.
                if let Ok(admin) = srv.connect(db).await {
                    let _ = admin.batch_execute(&super::world::roles_sql()).await;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                cfg.connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| format!("connect as {READER_ROLE}: {}", pg_error(&e)))?
            }
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let msgs = client
            .simple_query(&q)
            .await
            .map_err(|e| redact(&pg_error(&e)))?;
        for m in msgs {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                return Ok(r.get(0).unwrap_or("null").to_owned());
            }
        }
        Ok("(no row)".into())
    })
    .await?
}

fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

/// `:now` becomes the virtual time as a timestamp literal (outside quotes only matters little:
/// the token is not a valid SQL word anyway).
fn substitute_now(q: &str, iso: &str) -> String {
    let lit = format!(
        "timestamp '{}'",
        iso.trim_end_matches('Z').replace('T', " ")
    );
    let re = regex::Regex::new(r":now\b").expect("valid");
    re.replace_all(q, lit.as_str()).into_owned()
}

/// Checks every expectation of a step.
pub async fn evaluate(
    w: &World,
    e: &Expect,
    out: &Outcome,
    step_error: &mut Option<String>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Some(r) = &e.refused {
        // A refusal by hrsi is what this step expects: the step's error, or a refused value.
        let found = out
            .refused
            .iter()
            .chain(step_error.iter())
            .find(|m| m.contains(r.as_str()))
            .cloned();
        checks.push(check(
            format!("refused \"{r}\""),
            found.is_some(),
            found
                .clone()
                .map_or("not refused".into(), |m| redact(&m.replace('\n', " "))),
        ));
        if found.is_some() {
            *step_error = None;
        }
    }
    if let Some(v) = &e.verdict {
        let got = out.verdict.clone();
        checks.push(check(
            format!("verdict {v}"),
            got.as_deref() == Some(v.as_str()),
            got.unwrap_or_else(|| "no patch was tested".into()),
        ));
    }
    for f in &e.findings {
        let re = regex::Regex::new(f).ok();
        let hit = out
            .findings
            .iter()
            .find(|x| re.as_ref().is_some_and(|r| r.is_match(x)));
        checks.push(check(
            format!("finding /{f}/"),
            hit.is_some(),
            hit.cloned().unwrap_or_else(|| {
                if out.findings.is_empty() {
                    "no finding".into()
                } else {
                    out.findings.join("; ")
                }
            }),
        ));
    }
    if let Some(p) = e.plan {
        let got = out.plan.as_ref();
        let summary = got.map_or("no plan was printed".into(), |p| p.summary_line());
        let ok = got.is_some_and(|g| {
            p.add.is_none_or(|n| n as usize == g.to_add.len())
                && p.change.is_none_or(|n| n as usize == g.to_change.len())
                && p.destroy.is_none_or(|n| n as usize == g.to_destroy.len())
        });
        let mut want = Vec::new();
        if let Some(n) = p.add {
            want.push(format!("add {n}"));
        }
        if let Some(n) = p.change {
            want.push(format!("change {n}"));
        }
        if let Some(n) = p.destroy {
            want.push(format!("destroy {n}"));
        }
        checks.push(check(format!("plan: {}", want.join(", ")), ok, summary));
    }
    if let Some(c) = e.exit_code {
        let got = w.last.exit_code;
        checks.push(check(
            format!("exit code {c}"),
            got == Some(c),
            got.map_or("no exit code (killed or no command)".into(), |g| {
                format!("exit code {g}")
            }),
        ));
    }
    for p in &e.errors {
        let re = pattern(p);
        let hit = w.last.errors.iter().find(|x| re.is_match(x));
        checks.push(check(
            format!("error /{p}/"),
            hit.is_some(),
            hit.cloned()
                .unwrap_or_else(|| format!("no such error among {}", w.last.errors.len())),
        ));
    }
    if e.no_errors {
        checks.push(check(
            "no error",
            w.last.errors.is_empty(),
            match w.last.errors.first() {
                None => "none".into(),
                Some(f) => format!("{} error(s), first: {f}", w.last.errors.len()),
            },
        ));
    }
    if !e.errors_only.is_empty() {
        let res: Vec<regex::Regex> = e.errors_only.iter().map(|p| pattern(p)).collect();
        let other = w
            .last
            .errors
            .iter()
            .find(|x| !res.iter().any(|r| r.is_match(x)));
        checks.push(check(
            format!("only errors /{}/", e.errors_only.join("/, /")),
            other.is_none(),
            match other {
                None => format!("{} error(s), all expected", w.last.errors.len()),
                Some(o) => format!("unexpected: {o}"),
            },
        ));
    }
    // `output` must find a line, `no_output` must not: one search serves both.
    let printed = |p: &str| {
        let re = pattern(p);
        w.last
            .output
            .iter()
            .chain(out.observed.iter())
            .find(|x| re.is_match(x))
            .cloned()
    };
    for (patterns, want_hit, label) in [
        (&e.output, true, "output"),
        (&e.no_output, false, "no output"),
    ] {
        for p in patterns {
            let hit = printed(p);
            checks.push(check(
                format!("{label} /{p}/"),
                hit.is_some() == want_hit,
                hit.unwrap_or_else(|| "not printed".into()),
            ));
        }
    }
    if let Some(want) = e.database_running {
        let got = w.database_running().await;
        checks.push(check(
            format!("database running: {want}"),
            got == want,
            if got {
                "PostgreSQL answers"
            } else {
                "connection refused"
            },
        ));
    }
    if !e.nomad_running.is_empty() {
        for job in &e.nomad_running {
            let (ok, seen) = nomad_state(w, job);
            checks.push(check(
                format!("nomad running {job}"),
                ok && seen == "running",
                seen,
            ));
        }
    }
    for (job, want) in &e.nomad_jobs {
        let (_, seen) = nomad_state(w, job);
        checks.push(check(
            format!("nomad {job} {want}"),
            seen.starts_with(want.as_str()),
            seen,
        ));
    }
    for (job, spec) in &e.nomad_spec {
        let got = w.nomad.with_state(|s| {
            s.job(job).ok().map(|e| {
                let t = e.job.task_groups.first().and_then(|g| g.tasks.first());
                (
                    t.and_then(|t| t.config.get("image"))
                        .and_then(|i| i.as_str())
                        .unwrap_or("")
                        .to_owned(),
                    t.and_then(|t| t.resources.cpu),
                    e.job.version,
                )
            })
        });
        let allocs = steps::live_allocations(w, job);
        let (ok, seen) = match got {
            None => (false, "not registered".to_owned()),
            Some((img, cpu, version)) => {
                let runs = allocs
                    .iter()
                    .any(|(v, status)| *v == version && status == "running");
                (
                    spec.image
                        .as_ref()
                        .is_none_or(|i| img.ends_with(i.as_str()))
                        && spec.cpu.is_none_or(|c| cpu == Some(c))
                        && spec.running.is_none_or(|r| r == runs),
                    format!(
                        "image {}, cpu {}{}",
                        redact(&img),
                        cpu.map_or("-".into(), |c| c.to_string()),
                        if spec.running.is_some() {
                            format!(
                                "; version {version}, {}",
                                steps::describe_allocations(&allocs)
                            )
                        } else {
                            String::new()
                        }
                    ),
                )
            }
        };
        let mut want = Vec::new();
        if let Some(i) = &spec.image {
            want.push(format!("image …{i}"));
        }
        if let Some(c) = spec.cpu {
            want.push(format!("cpu {c}"));
        }
        match spec.running {
            Some(true) => want.push("an allocation of it running".into()),
            Some(false) => want.push("no allocation of it running".into()),
            None => {}
        }
        checks.push(check(format!("nomad {job}: {}", want.join(", ")), ok, seen));
    }
    if let Some(s) = &e.openstack_servers {
        let names: Vec<String> = w
            .openstack
            .with_state(|st| st.servers().iter().map(|v| v.name.clone()).collect());
        if let Some(c) = s.count {
            checks.push(check(
                format!("openstack servers {c:?}"),
                c.holds(names.len() as u64),
                format!("{} server(s)", names.len()),
            ));
        }
        for n in &s.include {
            checks.push(check(
                format!("openstack server {n} exists"),
                names.contains(n),
                if names.contains(n) {
                    "exists"
                } else {
                    "absent"
                },
            ));
        }
        for n in &s.exclude {
            checks.push(check(
                format!("openstack server {n} absent"),
                !names.contains(n),
                if names.contains(n) {
                    "exists"
                } else {
                    "absent"
                },
            ));
        }
    }
    if let Some(s) = &e.services_failing {
        let failing = failing_services(w).await;
        let (what, ok) = match s {
            Services::All => ("all".to_owned(), failing.len() == SERVICES.len()),
            Services::None => ("none".to_owned(), failing.is_empty()),
            Services::Named(n) => {
                let mut a = n.clone();
                a.sort();
                let mut b: Vec<String> = failing.iter().map(|(s, _)| s.to_string()).collect();
                b.sort();
                (n.join(", "), a == b)
            }
        };
        let seen = if failing.is_empty() {
            "none failing".to_owned()
        } else {
            failing
                .iter()
                .map(|(s, why)| format!("{s} ({why})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        checks.push(check(format!("services failing: {what}"), ok, seen));
    }
    if let Some(c) = &e.caught_up {
        let types: Vec<JobType> = match c {
            CaughtUp::Types(t) => t.clone(),
            CaughtUp::All => match w.course.params.job_types() {
                JobTypesList::Valid(v) => v,
                _ => Vec::new(),
            },
        };
        let per = tokio::task::block_in_place(|| steps::caught_now(w, &types));
        for (t, ok, c) in per {
            let seen = match c {
                Some(c) if ok => format!(
                    "caught up at {}",
                    hrsi_sim::time::Instant(w.start.0 + c).iso()
                ),
                Some(c) => format!(
                    "catching up since {}, not confirmed yet (window)",
                    hrsi_sim::time::Instant(w.start.0 + c).iso()
                ),
                None => "not caught up".into(),
            };
            checks.push(check(format!("caught up {}", t.name()), ok, seen));
        }
    }
    if !e.backlog.is_empty() {
        let f = w.course.figures();
        for (t, c) in &e.backlog {
            let v = f.backlog[t.idx()];
            checks.push(check(
                format!("backlog {} {c:?}", t.name()),
                c.holds(v.max(0) as u64),
                format!("{v} (all: {})", per_type(&f.backlog)),
            ));
        }
    }
    if let Some(c) = &e.workers {
        let v = w.course.figures().workers;
        checks.push(check(
            format!("simulated workers {c:?}"),
            c.holds(v.max(0) as u64),
            format!("{v} worker VM(s)"),
        ));
    }
    if !e.lost.is_empty() || !e.lost_reasons.is_empty() {
        let r = tokio::task::block_in_place(|| w.course.report_to_horizon());
        for (t, c) in &e.lost {
            let v = r.job_types.get(t.name()).map_or(0, |x| x.lost);
            checks.push(check(
                format!("lost {} {c:?} (to the horizon)", t.name()),
                c.holds(v),
                format!("{v} lost in the simulated course"),
            ));
        }
        for (t, reasons) in &e.lost_reasons {
            let tr = r.job_types.get(t.name());
            for (reason, c) in reasons {
                let v = tr
                    .and_then(|x| x.lost_reasons.get(reason.as_str()))
                    .copied()
                    .unwrap_or(0);
                checks.push(check(
                    format!("lost {} {reason} {c:?} (to the horizon)", t.name()),
                    c.holds(v),
                    format!("{v} in the simulated course"),
                ));
            }
        }
    }
    for q in &e.sql {
        let got = query(w, &q.query).await;
        let short = q.query.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(want) = &q.equals {
            let (ok, seen) = match &got {
                Ok(v) => (v.trim() == want.trim(), v.clone()),
                Err(e) => (false, e.clone()),
            };
            checks.push(check(format!("sql `{short}` = {want}"), ok, seen));
        }
        if q.equals_backup {
            let from = w.restored_from.clone().or_else(|| w.last_backup.clone());
            let want = from
                .as_ref()
                .and_then(|b| w.backups.get(b))
                .and_then(|m| m.get(&q.query))
                .cloned();
            let (ok, seen) = match (&got, &want, &from) {
                (Ok(v), Some(b), Some(f)) => (v == b, format!("{v}; the backup {f} holds {b}")),
                (Ok(v), None, Some(f)) => (
                    false,
                    format!("{v}; the backup {f} holds no such result (schema-only dump?)"),
                ),
                (Ok(v), _, None) => (false, format!("{v}; no backup was taken")),
                (Err(e), _, _) => (false, e.clone()),
            };
            checks.push(check(format!("sql `{short}` equals the backup"), ok, seen));
        }
    }
    checks
}

fn pattern(p: &str) -> regex::Regex {
    // Validated by the loader.
    regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .build()
        .unwrap_or_else(|_| regex::Regex::new(&regex::escape(p)).expect("escaped"))
}

/// (ok, state): `running`, `pending …`, `dead`, `absent`.
pub(crate) fn nomad_state(w: &World, job: &str) -> (bool, String) {
    w.nomad.with_state(|s| match s.job(job) {
        Err(_) => (false, "absent".into()),
        Ok(e) => {
            let status = e.job.status.clone();
            let mut seen = status.clone();
            if let Some((g, why)) = e.blocked.iter().next() {
                seen = format!("{status} ({g}: {why})");
            }
            (status == "running", seen)
        }
    })
}

/// Services that fail now, with why: the database unreachable, `job_types_list` unreadable,
/// or their Nomad job not running.
async fn failing_services(w: &World) -> Vec<(&'static str, String)> {
    let db_up = w.database_running().await;
    let types = if db_up { query_direct(w).await } else { None };
    let mut out = Vec::new();
    for s in SERVICES {
        let (ok, state) = nomad_state(w, s);
        let why = if !db_up {
            Some("the database does not answer".to_owned())
        } else if let Some(t) = &types {
            match JobTypesList::parse(t) {
                JobTypesList::Valid(_) if ok => None,
                JobTypesList::Valid(_) => Some(format!("Nomad: {state}")),
                JobTypesList::NotJson => Some("job_types_list is not JSON".into()),
                JobTypesList::UnknownType(x) => Some(format!("unknown job type {x}")),
            }
        } else {
            Some("system_parameters unreadable".into())
        };
        if let Some(why) = why {
            out.push((s, why));
        }
    }
    out
}

async fn query_direct(w: &World) -> Option<String> {
    let r = w
        .with_session(async |c: &mut tokio_postgres::Client| {
            let row = c
                .query_one(
                    "select job_types_list::text from cosims.system_parameters",
                    &[],
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(row.get::<_, Option<String>>(0))
        })
        .await
        .ok()?
        .ok()?;
    let _ = matches!(w.db, Db::Own(_));
    r
}
