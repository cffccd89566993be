//! `/v1/jobs` and `/v1/job/:id[/…]`: list, register, parse, read, stop, dispatch, plan and
//! the sub-resources (summary, allocations, evaluations, versions, deployments, evaluate,
//! revert, stable, scale).

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Q, Sh, Shared, api_err, block, decode, parse_hcl, query_bool, reply, reply_bytes, text_error,
};
use crate::mocks::{jobspec::Job, nomad_model::JobEntry};

/// Nomad's limit on a dispatch payload (`DispatchPayloadSizeLimit`, 16 KiB).
const PAYLOAD_LIMIT: usize = 16 * 1024;

fn job_json(e: &JobEntry) -> Value {
    serde_json::to_value(&e.job).unwrap_or(Value::Null)
}

/// `GET /v1/jobs`: stubs, typed (a list of hundreds of dispatched jobs stays cheap).
pub(super) async fn list(State(sh): Sh, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let mut st = sh.synced();
    let prefix = q.get("prefix").map(String::as_str).unwrap_or("");
    let body = st.job_stubs_cached(prefix);
    reply_bytes(st.index(), body)
}

#[derive(Deserialize)]
struct RegisterRequest {
    #[serde(rename = "Job")]
    job: Option<Job>,
    /// Plan only: whether to return the field diff.
    #[serde(rename = "Diff", default)]
    diff: bool,
}

fn do_register(sh: &Shared, body: &Bytes, url_id: Option<&str>) -> Response {
    let req: RegisterRequest = match decode(body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let Some(job) = req.job else {
        return text_error(StatusCode::BAD_REQUEST, "Job must be specified");
    };
    if let Some(id) = url_id
        && job.id != id
    {
        return text_error(StatusCode::BAD_REQUEST, "Job ID does not match name");
    }
    match sh.write(|st| st.register(job)) {
        Ok(r) => reply(
            r.index,
            json!({"EvalID": r.eval_id, "EvalCreateIndex": r.index, "JobModifyIndex": r.job_modify_index, "Warnings": "", "Index": r.index, "LastContact": 0, "KnownLeader": true}),
        ),
        Err(e) => api_err(e),
    }
}

/// `POST /v1/jobs`.
pub(super) async fn register_new(State(sh): Sh, body: Bytes) -> Response {
    do_register(&sh, &body, None)
}

#[derive(Deserialize)]
struct ParseRequest {
    #[serde(rename = "JobHCL", default)]
    job_hcl: String,
}

/// `POST /v1/jobs/parse`.
pub(super) async fn parse(body: Bytes) -> Response {
    let req: ParseRequest = match decode(&body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    match parse_hcl(&req.job_hcl) {
        Ok(job) => axum::Json(job).into_response(),
        Err(e) => text_error(StatusCode::BAD_REQUEST, format!("error parsing job: {e}")),
    }
}

#[derive(Deserialize, Default)]
struct DispatchRequest {
    #[serde(rename = "Payload", default)]
    payload: Option<String>,
    #[serde(rename = "Meta", default)]
    meta: Option<BTreeMap<String, String>>,
}

/// Checks a dispatch payload as Go's JSON decoder does for a `[]byte` (standard base64 with
/// padding); the error names the first bad byte, as Go's `illegal base64 data at input byte N`.
fn check_base64(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let body_len = b.iter().rposition(|c| *c != b'=').map_or(0, |p| p + 1);
    if let Some(i) = b[..body_len].iter().position(|c| !alphabet(*c)) {
        return Err(format!("illegal base64 data at input byte {i}"));
    }
    let pad = b.len() - body_len;
    if pad > 2 || !b.len().is_multiple_of(4) || (pad > 0 && body_len % 4 == 1) {
        let at = if !b.len().is_multiple_of(4) {
            b.len() - b.len() % 4
        } else {
            body_len
        };
        return Err(format!("illegal base64 data at input byte {at}"));
    }
    Ok(())
}

fn dispatch(sh: &Shared, id: &str, body: &Bytes) -> Response {
    let req: DispatchRequest = if body.is_empty() {
        DispatchRequest::default()
    } else {
        match decode(body) {
            Ok(r) => r,
            Err(r) => return r.into_response(),
        }
    };
    let payload = req.payload.filter(|p| !p.is_empty());
    if let Some(p) = &payload {
        if let Err(e) = check_base64(p) {
            return text_error(StatusCode::BAD_REQUEST, e);
        }
        let decoded = p.trim_end_matches('=').len() * 3 / 4;
        if decoded > PAYLOAD_LIMIT {
            return text_error(
                StatusCode::BAD_REQUEST,
                format!("Payload exceeds maximum size; {decoded} > {PAYLOAD_LIMIT}"),
            );
        }
    }
    match sh.write(|st| st.dispatch(id, req.meta.unwrap_or_default(), payload)) {
        Ok((child, r)) => reply(
            r.index,
            json!({"Index": r.index, "JobCreateIndex": r.index, "EvalCreateIndex": r.index, "EvalID": r.eval_id, "DispatchedJobID": child}),
        ),
        Err(e) => api_err(e),
    }
}

fn plan(sh: &Shared, id: &str, body: &Bytes) -> Response {
    let req: RegisterRequest = match decode(body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let Some(job) = req.job else {
        return text_error(StatusCode::BAD_REQUEST, "Job must be specified");
    };
    if job.id != id {
        return text_error(StatusCode::BAD_REQUEST, "Job ID does not match");
    }
    let st = sh.synced();
    match st.plan(job, req.diff) {
        Ok(v) => reply(st.index(), v),
        Err(e) => api_err(e),
    }
}

#[derive(Deserialize)]
struct VersionRequest {
    #[serde(rename = "JobVersion", default)]
    version: u64,
    #[serde(rename = "EnforcePriorVersion", default)]
    enforce_prior: Option<u64>,
    #[serde(rename = "Stable", default)]
    stable: bool,
}

#[derive(Deserialize)]
struct ScaleRequest {
    #[serde(rename = "Count", default)]
    count: Option<i64>,
    #[serde(rename = "Target", default)]
    target: BTreeMap<String, String>,
}

fn eval_reply(r: crate::mocks::nomad_model::EvalResult) -> Response {
    reply(
        r.index,
        json!({"EvalID": r.eval_id, "EvalCreateIndex": r.index, "JobModifyIndex": r.job_modify_index, "Warnings": "", "Index": r.index, "LastContact": 0, "KnownLeader": true}),
    )
}

/// The sub-resources a job path may end with. Dispatched IDs contain a `/`, so the action is
/// the last segment only when it is one of these.
const ACTIONS: &[&str] = &[
    "dispatch",
    "summary",
    "allocations",
    "evaluations",
    "plan",
    "versions",
    "deployments",
    "deployment",
    "evaluate",
    "revert",
    "stable",
    "scale",
];

/// `/v1/job/<id>[/<action>]`.
pub(super) async fn job_any(
    State(sh): State<Arc<Shared>>,
    method: Method,
    Path(rest): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let (id, action) = match rest.rsplit_once('/') {
        Some((id, a)) if ACTIONS.contains(&a) => (id, a),
        _ => (rest.as_str(), ""),
    };
    let reads = method == Method::GET;
    if reads && let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let post = matches!(method, Method::POST | Method::PUT);
    match (method.clone(), action) {
        (Method::GET, "") => {
            let st = sh.synced();
            match st.job(id) {
                Ok(e) => reply(st.index(), job_json(e)),
                Err(e) => api_err(e),
            }
        }
        (_, "") if post => do_register(&sh, &body, Some(id)),
        (Method::DELETE, "") => {
            let purge = match query_bool(&q, "purge") {
                Ok(p) => p,
                Err(e) => return api_err(e),
            };
            if let Err(e) = query_bool(&q, "global") {
                return api_err(e);
            }
            match sh.write(|st| st.deregister(id, purge)) {
                Ok(r) => reply(
                    r.index,
                    json!({"EvalID": r.eval_id, "EvalCreateIndex": r.index, "JobModifyIndex": r.job_modify_index, "Index": r.index}),
                ),
                Err(e) => api_err(e),
            }
        }
        (_, "dispatch") if post => dispatch(&sh, id, &body),
        (_, "plan") if post => plan(&sh, id, &body),
        (_, "evaluate") if post => match sh.write(|st| st.evaluate_job(id)) {
            Ok(r) => eval_reply(r),
            Err(e) => api_err(e),
        },
        (_, "revert") if post => {
            let req: VersionRequest = match decode(&body) {
                Ok(r) => r,
                Err(r) => return r.into_response(),
            };
            match sh.write(|st| st.revert_job(id, req.version, req.enforce_prior)) {
                Ok(r) => eval_reply(r),
                Err(e) => api_err(e),
            }
        }
        (_, "stable") if post => {
            let req: VersionRequest = match decode(&body) {
                Ok(r) => r,
                Err(r) => return r.into_response(),
            };
            match sh.write(|st| st.set_stable(id, req.version, req.stable)) {
                Ok(i) => reply(i, json!({"Index": i, "JobModifyIndex": i})),
                Err(e) => api_err(e),
            }
        }
        (_, "scale") if post => {
            let req: ScaleRequest = match decode(&body) {
                Ok(r) => r,
                Err(r) => return r.into_response(),
            };
            let Some(group) = req.target.get("Group").cloned() else {
                return text_error(
                    StatusCode::BAD_REQUEST,
                    "missing task group name for scaling action",
                );
            };
            match sh.write(|st| st.scale_job(id, &group, req.count)) {
                Ok(r) => eval_reply(r),
                Err(e) => api_err(e),
            }
        }
        (Method::GET, "scale") => {
            let st = sh.synced();
            match st.scale_status(id) {
                Ok(v) => reply(st.index(), v),
                Err(e) => api_err(e),
            }
        }
        (Method::GET, "summary") => {
            let st = sh.synced();
            match st.summary_json(id) {
                Ok(v) => reply(st.index(), v),
                Err(e) => api_err(e),
            }
        }
        (Method::GET, "allocations") => {
            let st = sh.synced();
            let list = st
                .job_allocs(id)
                .unwrap_or_default()
                .into_iter()
                .map(|a| super::allocations::stub(&st, a))
                .collect();
            reply(st.index(), Value::Array(list))
        }
        (Method::GET, "evaluations") => {
            let st = sh.synced();
            let body = st.evals_body(st.job_evals(id).into_iter());
            reply_bytes(st.index(), body)
        }
        (Method::GET, "versions") => {
            let diffs = match query_bool(&q, "diffs") {
                Ok(d) => d,
                Err(e) => return api_err(e),
            };
            let st = sh.synced();
            match st.job_versions(id) {
                Ok(v) => {
                    let list: Vec<Value> = v
                        .iter()
                        .map(|j| serde_json::to_value(j).unwrap_or(Value::Null))
                        .collect();
                    let d = diffs.then(|| {
                        v.windows(2)
                            .map(|w| {
                                crate::mocks::nomad_model::diff::job_diff(Some(w[1]), w[0], false)
                            })
                            .collect::<Vec<_>>()
                    });
                    reply(
                        st.index(),
                        json!({"Versions": list, "Diffs": d, "Index": st.index(), "KnownLeader": true, "LastContact": 0}),
                    )
                }
                Err(e) => api_err(e),
            }
        }
        // No job of the system has an `update` stanza with canaries: no deployments.
        (Method::GET, "deployments") => {
            let st = sh.synced();
            reply(st.index(), json!([]))
        }
        (Method::GET, "deployment") => {
            let st = sh.synced();
            reply(st.index(), Value::Null)
        }
        _ => text_error(StatusCode::METHOD_NOT_ALLOWED, "Invalid method"),
    }
}

#[cfg(test)]
mod tests {
    use super::check_base64;

    #[test]
    fn base64_payloads_are_checked_as_go_decodes_them() {
        assert!(check_base64("aGVsbG8=").is_ok());
        assert!(check_base64("aGVsbG8h").is_ok());
        assert!(check_base64("").is_ok());
        assert_eq!(
            check_base64("aGV$bG8=").unwrap_err(),
            "illegal base64 data at input byte 3"
        );
        assert_eq!(
            check_base64("aGVsbG8").unwrap_err(),
            "illegal base64 data at input byte 4"
        );
        assert!(check_base64("not base64!").is_err());
    }
}
