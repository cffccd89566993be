//! A stateful stand-in for the Nomad HTTP API (port 4646) on a loopback listener.
//!
//! Paths, JSON field names (`ID`, `Status`, `TaskGroups`, `ClientStatus`, ...) and status codes
//! are Nomad's, for the calls the system makes (orchestration.md §4.6) plus registration, so
//! python-nomad, the `nomad` CLI pointed at it with `NOMAD_ADDR`, or curl all work. Errors are
//! plain text, as Nomad writes them. The state machine is [`NomadState`]; time is the harness's
//! [`VirtualClock`], synced before each request.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hrsi_harness::mocks::{NomadMock, VirtualClock, nomad_model::{NomadConfig, NodeSpec}};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let nomad = NomadMock::spawn(listener, VirtualClock::default(), NomadConfig::default())?;
//! nomad.power_on_registered_files(); // what tf-tete's init does: `nomad run` the 12 files
//! nomad.with_state(|s| s.add_node(NodeSpec::orchestrator(), std::time::Duration::from_secs(120)));
//! nomad.advance(std::time::Duration::from_secs(120)); // the services get placed
//! println!("NOMAD_ADDR={}", nomad.url());
//! # Ok(()) }
//! ```

mod agent;
mod allocations;
mod evaluations;
mod jobs;
mod nodes;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Arc,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get, post, put},
};
use serde_json::Value;
use tokio::net::TcpListener;

use super::{
    common::{
        Clocked, Control, Server, Synced, VirtualClock, instrument, lock, parse_json, text_error,
    },
    jobspec::parse_hcl,
    nomad_files,
    nomad_model::{ApiError, NomadConfig, NomadState},
};

struct Shared {
    core: Synced<NomadState>,
    files: Mutex<Vec<(String, String)>>,
    boot_error: Mutex<Option<String>>,
    /// Wakes blocking queries after a write.
    changed: tokio::sync::Notify,
}

impl Shared {
    /// Runs a write on the synced state and wakes the blocking queries.
    fn write<R>(&self, f: impl FnOnce(&mut NomadState) -> R) -> R {
        let r = self.core.with(f);
        self.changed.notify_waiters();
        r
    }
}

impl std::ops::Deref for Shared {
    type Target = Synced<NomadState>;
    fn deref(&self) -> &Self::Target {
        &self.core
    }
}

impl Clocked for NomadState {
    fn tick(&mut self, now_ns: u64) {
        NomadState::tick(self, now_ns);
    }
}

/// A running Nomad mock. Dropping it stops the server.
pub struct NomadMock {
    server: Server,
    shared: Arc<Shared>,
    control: Arc<Control>,
}

impl NomadMock {
    /// Serves an empty Nomad server on `listener`; the job files default to the system's twelve
    /// with worker-pool-management at the public code's 1000 MHz.
    pub fn spawn(
        listener: TcpListener,
        clock: VirtualClock,
        config: NomadConfig,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            core: Synced::new(NomadState::new(config, clock.now_ns()), clock.clone()),
            files: Mutex::new(nomad_files::default_job_files(1000)),
            boot_error: Mutex::new(None),
            changed: tokio::sync::Notify::new(),
        });
        let control = Arc::new(Control::default());
        let router = instrument(router(shared.clone()), control.clone(), clock);
        Ok(Self {
            server: Server::spawn(listener, router)?,
            shared,
            control,
        })
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, the value for `NOMAD_ADDR`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The virtual clock this mock reads.
    pub fn clock(&self) -> &VirtualClock {
        &self.shared.clock
    }

    /// Advances the virtual clock and lets the server catch up (registrations, GC, reschedules).
    pub fn advance(&self, d: Duration) {
        self.shared.advance(d);
        self.shared.changed.notify_waiters();
    }

    /// Runs `f` on the state machine, synced to the clock: the harness's in-process door for
    /// what has no API (nodes booting, allocations finishing, lost nodes).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut NomadState) -> R) -> R {
        self.shared.write(f)
    }

    /// Fault injection and the request log.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Fault: the node named `name` stops heartbeating (its VM died): it goes `down` and its
    /// allocations are `lost`; Nomad places replacements where it can. Returns false when no
    /// node has that name.
    pub fn lose_node(&self, name: &str) -> bool {
        self.with_state(|s| match s.node_by_name(name).map(|n| n.id.clone()) {
            Some(id) => s.node_down(&id).is_ok(),
            None => false,
        })
    }

    /// The job files on tf-tete, in registration order.
    pub fn job_files(&self) -> Vec<(String, String)> {
        lock(&self.shared.files).clone()
    }

    /// Replaces the job files (a new package, or a persistent patch of a `.nomad` file).
    pub fn set_job_files(&self, files: Vec<(String, String)>) {
        *lock(&self.shared.files) = files;
    }

    /// Edits one job file in place; returns false when there is no such file.
    pub fn edit_job_file(&self, name: &str, edit: impl FnOnce(&str) -> String) -> bool {
        let mut files = lock(&self.shared.files);
        match files.iter_mut().find(|(n, _)| n == name) {
            Some((_, src)) => {
                *src = edit(src);
                true
            }
            None => false,
        }
    }

    /// `nomad run -detach` of every file, in order, as tf-tete's init script does; like that
    /// script (`set -e`), it stops at the first file that fails and returns its error.
    pub fn power_on_registered_files(&self) -> Result<usize, String> {
        let files = self.job_files();
        let mut st = self.shared.synced();
        for (i, (name, src)) in files.iter().enumerate() {
            let res = parse_hcl(src)
                .map_err(|e| {
                    format!("Error getting job struct: Error parsing job file from {name}: {e}")
                })
                .and_then(|job| {
                    st.register(job).map(|_| ()).map_err(|e| {
                        format!(
                            "Error submitting job: Unexpected response code: {} ({})",
                            e.status, e.message
                        )
                    })
                });
            if let Err(e) = res {
                *lock(&self.shared.boot_error) = Some(e.clone());
                return Err(e);
            }
            let _ = i;
        }
        *lock(&self.shared.boot_error) = None;
        Ok(files.len())
    }

    /// The error that stopped the last boot, if any.
    pub fn boot_error(&self) -> Option<String> {
        lock(&self.shared.boot_error).clone()
    }

    /// The Nomad server VM is destroyed: its state (on the VM's ephemeral disk) is lost and the
    /// port closes, so clients get "connection refused".
    pub async fn power_off(&self) {
        self.server.stop().await;
        self.shared.unsynced().reset();
    }

    /// The Nomad server VM is created again: the port opens (same address) on an empty state,
    /// then the job files are registered.
    pub async fn power_on(&self) -> Result<usize, String> {
        self.server
            .restart()
            .await
            .map_err(|e| format!("failed to reopen {}: {e}", self.addr()))?;
        self.power_on_registered_files()
    }

    /// Whether the server answers.
    pub fn is_up(&self) -> bool {
        self.server.is_running()
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/jobs", get(jobs::list).post(jobs::register_new))
        .route("/v1/jobs/parse", post(jobs::parse))
        .route("/v1/job/{*rest}", any(jobs::job_any))
        .route("/v1/nodes", get(nodes::list))
        .route("/v1/node/{id}", get(nodes::get_one))
        .route("/v1/node/{id}/allocations", get(nodes::allocations))
        .route("/v1/node/{id}/eligibility", post(nodes::eligibility))
        .route("/v1/node/{id}/drain", post(nodes::drain))
        .route("/v1/node/{id}/evaluate", post(nodes::evaluate))
        .route("/v1/allocations", get(allocations::list))
        .route("/v1/allocation/{id}", get(allocations::get_one))
        .route(
            "/v1/allocation/{id}/stop",
            post(allocations::stop).put(allocations::stop),
        )
        .route("/v1/evaluations", get(evaluations::list))
        .route("/v1/evaluation/{id}", get(evaluations::get_one))
        .route(
            "/v1/evaluation/{id}/allocations",
            get(evaluations::allocations),
        )
        .route("/v1/deployments", get(agent::deployments))
        .route("/v1/system/gc", put(agent::system_gc))
        .route(
            "/v1/system/reconcile/summaries",
            put(agent::reconcile_summaries),
        )
        .route("/v1/agent/self", get(agent::agent_self))
        .route("/v1/agent/members", get(agent::members))
        .route("/v1/agent/health", get(agent::health))
        .route("/v1/status/leader", get(agent::leader))
        .route("/v1/status/peers", get(agent::peers))
        .route("/v1/regions", get(agent::regions))
        .route("/v1/metrics", get(agent::metrics))
        .fallback(|| async { text_error(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(shared)
}

type Sh = axum::extract::State<Arc<Shared>>;
type Q = axum::extract::Query<BTreeMap<String, String>>;

fn api_err(e: ApiError) -> Response {
    text_error(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.message,
    )
}

/// A JSON answer with Nomad's query-meta headers; `X-Nomad-Index` is the state's raft index,
/// which moves on every change.
fn reply(index: u64, body: Value) -> Response {
    reply_bytes(index, serde_json::to_vec(&body).unwrap_or_default())
}

fn reply_bytes(index: u64, body: impl Into<axum::body::Body>) -> Response {
    let mut r = (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert("X-Nomad-Index", HeaderValue::from(index));
    h.insert("X-Nomad-KnownLeader", HeaderValue::from_static("true"));
    h.insert("X-Nomad-LastContact", HeaderValue::from_static("0"));
    r
}

/// A request body that is not the JSON expected: Nomad answers 400 with the decoder's message.
struct DecodeError(String);

impl IntoResponse for DecodeError {
    fn into_response(self) -> Response {
        text_error(
            StatusCode::BAD_REQUEST,
            format!("failed to decode request body: {}", self.0),
        )
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, DecodeError> {
    parse_json(body).map_err(DecodeError)
}

/// A query boolean as Nomad parses it (Go's `strconv.ParseBool`): `1 t T TRUE true True` and
/// `0 f F FALSE false False`; absent or empty is false; anything else is a 400.
fn query_bool(q: &BTreeMap<String, String>, key: &str) -> Result<bool, ApiError> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(false),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            Err(ApiError::new(
                400,
                format!(
                    "Failed to parse value of {key:?} ({shown:?}) as a bool: strconv.ParseBool: parsing {shown:?}: invalid syntax"
                ),
            ))
        }
    }
}

/// Nomad's default blocking-query wait, and the most it allows (10 min).
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
const MAX_WAIT: Duration = Duration::from_secs(600);

/// A Go duration as the `wait` parameter takes it (`30s`, `5m`, `100ms`, `1m30s`).
fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(n);
        let v: f64 = num.parse().ok()?;
        let u = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(u);
        let mul = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * mul;
        rest = next;
    }
    (total.is_finite() && total <= 1e9).then(|| Duration::from_secs_f64(total))
}

/// A blocking query (`?index=N&wait=D`): waits until the state's index passes `N` or `D`
/// elapses (default 5 min, at most 10 min), then lets the handler answer with the new
/// state. Time-driven changes (allocations ending, nodes registering) are seen because each
/// look syncs the state with the clock.
async fn block(sh: &Shared, q: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let Some(raw) = q.get("index") else {
        return Ok(());
    };
    let index: u64 = raw
        .parse()
        .map_err(|_| ApiError::new(400, "Invalid index"))?;
    let wait = match q.get("wait") {
        None => DEFAULT_WAIT,
        Some(w) => parse_go_duration(w).ok_or_else(|| ApiError::new(400, "Invalid wait time"))?,
    }
    .min(MAX_WAIT);
    let start = Instant::now();
    loop {
        if sh.synced().index() > index {
            return Ok(());
        }
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Ok(());
        }
        tokio::select! {
            _ = sh.changed.notified() => {}
            _ = tokio::time::sleep(left.min(Duration::from_millis(50))) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_and_booleans_parse_as_nomad_does() {
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("x"), None);
        assert_eq!(parse_go_duration(""), None);
        let q = |v: &str| BTreeMap::from([("purge".to_owned(), v.to_owned())]);
        for t in ["True", "true", "1", "t", "TRUE"] {
            assert!(query_bool(&q(t), "purge").unwrap(), "{t}");
        }
        for f in ["False", "0", "f", ""] {
            assert!(!query_bool(&q(f), "purge").unwrap(), "{f}");
        }
        assert!(query_bool(&q("yes"), "purge").is_err());
        assert!(!query_bool(&BTreeMap::new(), "purge").unwrap());
    }
}
