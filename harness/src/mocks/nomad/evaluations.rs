//! `/v1/evaluations` and `/v1/evaluation/:id[/allocations]`: what `nomad job run` (without
//! `-detach`) and `nomad eval status` poll.

use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use serde_json::Value;

use super::{Q, Sh, api_err, block, reply, reply_bytes};

/// `GET /v1/evaluations` (`prefix` filters by ID).
pub(super) async fn list(State(sh): Sh, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let mut st = sh.synced();
    let prefix = q.get("prefix").map(String::as_str).unwrap_or("");
    let body = st.evals_cached(prefix);
    reply_bytes(st.index(), body)
}

/// `GET /v1/evaluation/:id`.
pub(super) async fn get_one(State(sh): Sh, Path(id): Path<String>, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let st = sh.synced();
    match st.eval(&id) {
        Ok(e) => reply(st.index(), st.eval_json(e)),
        Err(e) => api_err(e),
    }
}

/// `GET /v1/evaluation/:id/allocations` (stubs).
pub(super) async fn allocations(State(sh): Sh, Path(id): Path<String>, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let st = sh.synced();
    match st.eval_allocs(&id) {
        Ok(v) => {
            let list = v
                .into_iter()
                .map(|a| super::allocations::stub(&st, a))
                .collect();
            reply(st.index(), Value::Array(list))
        }
        Err(e) => api_err(e),
    }
}
