//! The operator tools as steps: `set_param` is `hrsi params set NAME=VALUE … --yes` and
//! `patch_jobs` is `hrsi jobs patch … --yes`, both through the database's HTTP API (the
//! PostgREST subset, served for the step on the rehearsal's database), as the operator
//! scripts reach production. Same checks, same refusals, same messages as the CLI.

use hrsi_scenario::{JobsPatch, ParamSetting};

use super::{MAX_LINES, Outcome};
use crate::{
    api::{Api, ApiConfig},
    operator::{
        OpError, Target,
        jobs::{Patch, Request, summary},
        params,
    },
    postgres::Server,
    rehearse::{
        transcript::{redact, redact_lines},
        world::{LastRun, World},
    },
    timefmt::UnixTime,
};

/// Jobs per selection request, as the CLI's default.
const PAGE_SIZE: u32 = 200;
/// The CLI's default bound on a selection.
const MAX_JOBS: u32 = 20_000;

/// The CLI's exit code for an error (`hrsi params`/`hrsi jobs` exit codes).
fn exit_code(e: &OpError) -> i32 {
    match e {
        OpError::Usage(_) => 2,
        OpError::Unreachable(_) => 3,
        OpError::Failed(_) => 1,
    }
}

/// Serves the API on the rehearsal's database for the length of `f`.
async fn through_api<R>(w: &World, f: impl AsyncFnOnce(&Target) -> R) -> Result<R, String> {
    w.with_server(async |srv: &Server, db: &str| -> Result<R, String> {
        let config = ApiConfig {
            pool_size: 2,
            ..ApiConfig::default()
        };
        let api = Api::start(srv, db, config).await.map_err(|e| {
            format!(
                "the database's API does not start: {}",
                redact(&e.to_string())
            )
        })?;
        let target = Target::api(&api.url()).map_err(|e| e.to_string())?;
        let r = f(&target).await;
        api.stop().await;
        Ok(r)
    })
    .await?
}

fn record(w: &mut World, out: &mut Outcome, code: i32, lines: Vec<String>, errors: Vec<String>) {
    // A message with a hint spans lines: each is a line of the transcript.
    let lines: Vec<String> = lines
        .iter()
        .flat_map(|l| l.lines().map(str::to_owned))
        .collect();
    out.observed
        .extend(redact_lines(lines.iter().map(String::as_str), MAX_LINES));
    out.observed.push(format!("exit code {code}"));
    w.last = LastRun {
        exit_code: Some(code),
        errors: errors.iter().map(|e| redact(e)).collect(),
        output: lines.iter().map(|l| redact(l)).collect(),
    };
}

/// The tool stopped with an error: its message, its exit code; a refusal of bad input is what
/// `expect: { refused: … }` looks for.
fn failed_run(w: &mut World, out: &mut Outcome, e: &OpError) {
    if matches!(e, OpError::Usage(_)) {
        out.refused.push(e.to_string());
    }
    let line = format!("error: {e}");
    let first = line.lines().next().unwrap_or_default().to_owned();
    record(w, out, exit_code(e), vec![line], vec![first]);
}

/// `hrsi params set NAME=VALUE … --yes` through the API: every value checked by the tool (a
/// refusal changes nothing, as the CLI), one UPDATE, one history row.
pub(super) async fn set_param(
    w: &mut World,
    settings: &[ParamSetting],
    out: &mut Outcome,
) -> Result<(), String> {
    let pairs: Vec<String> = settings
        .iter()
        .map(|s| format!("{}={}", s.name, s.value))
        .collect();
    let shown = pairs
        .iter()
        .map(|p| match p.split_once('=') {
            // As an operator would type it at a shell prompt.
            Some(_) if p.contains('\'') => {
                let mut q = String::from("\"");
                for c in p.chars() {
                    if matches!(c, '"' | '\\' | '$' | '`') {
                        q.push('\\');
                    }
                    q.push(c);
                }
                q + "\""
            }
            Some((k, v)) if v.contains([' ', '[', '"', '*', '$']) => format!("{k}='{v}'"),
            _ => p.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    out.observed.push(format!(
        "$ hrsi params set {shown} --yes   (through the API)"
    ));
    let values = match params::validate_all(&pairs) {
        Ok(v) => v,
        Err(e) => {
            failed_run(w, out, &e);
            // As the CLI: the exit code above, nothing written.
            let at = out.observed.len() - 1;
            out.observed.insert(at, "nothing changed".into());
            w.last.output.push("nothing changed".into());
            return Ok(());
        }
    };
    let r = through_api(w, async |t: &Target| -> Result<Vec<String>, OpError> {
        let current = t.params().await?;
        let mut lines = params::change_lines(&current, &values);
        let a = params::apply(t, &values).await?;
        lines.push(format!(
            "changed {} parameter(s); history row {}",
            values.len(),
            a.history_id
        ));
        Ok(lines)
    })
    .await?;
    match r {
        Ok(lines) => record(w, out, 0, lines, Vec::new()),
        Err(e) => failed_run(w, out, &e),
    }
    Ok(())
}

/// `hrsi jobs patch --type T [--status S,…] [--ids …] --post A,B --yes` through the API: the
/// selection, the matrix's prediction, every status through the trigger, PostgreSQL's message
/// for each refusal. Exit code 1 when a transition was refused, as the CLI.
pub(super) async fn patch_jobs(
    w: &mut World,
    p: &JobsPatch,
    out: &mut Outcome,
) -> Result<(), String> {
    let req = Request {
        job_type: p.job_type.clone(),
        status: p.status.clone(),
        ids: p.ids.clone(),
        post: p.post.clone(),
        ..Request::default()
    };
    let mut cmd = format!("$ hrsi jobs patch --type {}", p.job_type);
    if !p.status.is_empty() {
        cmd += &format!(" --status {}", p.status.join(","));
    }
    if !p.ids.is_empty() {
        let ids: Vec<String> = p.ids.iter().map(i64::to_string).collect();
        cmd += &format!(" --ids {}", ids.join(","));
    }
    cmd += &format!(" --post {} --yes   (through the API)", p.post.join(","));
    out.observed.push(cmd);
    let now = UnixTime(w.instant().0.div_euclid(1000));
    let patch = match Patch::new(&req, now) {
        Ok(p) => p,
        Err(e) => {
            failed_run(w, out, &e);
            return Ok(());
        }
    };
    let r = through_api(w, async |t: &Target| -> Result<(Vec<String>, bool), OpError> {
        let plan = patch.plan(t, PAGE_SIZE, MAX_JOBS).await?;
        let predicted = plan.iter().filter(|o| o.refused.is_some()).count();
        let mut lines = vec![format!(
            "{} {} job(s) selected; to post: {}; {predicted} predicted refused by the transition matrix",
            plan.len(),
            patch.type_name(),
            patch.post_names(),
        )];
        if plan.is_empty() {
            lines.push("nothing selected: no change".into());
            return Ok((lines, false));
        }
        let outcomes = patch.run(t, &plan, |_| {}).await?;
        lines.extend(outcomes.iter().map(|o| o.line(false)));
        lines.push(summary(&outcomes));
        Ok((lines, outcomes.iter().any(|o| o.refused.is_some())))
    })
    .await?;
    match r {
        Ok((lines, refused)) => {
            let errs: Vec<String> = lines
                .iter()
                .filter(|l| l.contains(": refused "))
                .cloned()
                .collect();
            record(w, out, if refused { 1 } else { 0 }, lines, errs);
        }
        Err(e) => failed_run(w, out, &e),
    }
    Ok(())
}
