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

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, sync::Mutex, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{
    common::{
        Clocked, Control, Server, Synced, VirtualClock, instrument, iso8601, lock, parse_json,
        text_error,
    },
    jobspec::{Job, parse_hcl},
    nomad_files,
    nomad_model::{Alloc, ApiError, JobEntry, Node, NomadConfig, NomadState},
};

struct Shared {
    core: Synced<NomadState>,
    files: Mutex<Vec<(String, String)>>,
    boot_error: Mutex<Option<String>>,
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
    }

    /// Runs `f` on the state machine, synced to the clock: the harness's in-process door for
    /// what has no API (nodes booting, allocations finishing, lost nodes).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut NomadState) -> R) -> R {
        self.shared.with(f)
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
        .route("/v1/jobs", get(list_jobs).post(register_new))
        .route("/v1/jobs/parse", post(parse_job))
        .route("/v1/job/{*rest}", any(job_any))
        .route("/v1/nodes", get(list_nodes))
        .route("/v1/node/{id}", get(get_node))
        .route("/v1/node/{id}/allocations", get(node_allocs))
        .route("/v1/node/{id}/eligibility", post(node_eligibility))
        .route("/v1/allocation/{id}", get(get_alloc))
        .route(
            "/v1/status/leader",
            get(|| async { axum::Json("127.0.0.1:4647") }),
        )
        .fallback(|| async { text_error(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(shared)
}

fn api_err(e: ApiError) -> Response {
    text_error(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.message,
    )
}

fn reply(index: u64, body: Value) -> Response {
    let mut r = axum::Json(body).into_response();
    let h = r.headers_mut();
    h.insert("X-Nomad-Index", HeaderValue::from(index));
    h.insert("X-Nomad-KnownLeader", HeaderValue::from_static("true"));
    h.insert("X-Nomad-LastContact", HeaderValue::from_static("0"));
    r
}

fn job_json(e: &JobEntry) -> Value {
    serde_json::to_value(&e.job).unwrap_or(Value::Null)
}

async fn list_jobs(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let st = sh.synced();
    let prefix = q.get("prefix").map(String::as_str).unwrap_or("");
    let body = st.job_stubs_body(prefix);
    let mut r = reply(st.index(), Value::Null);
    *r.body_mut() = axum::body::Body::from(body);
    r
}

#[derive(Deserialize)]
struct RegisterRequest {
    #[serde(rename = "Job")]
    job: Option<Job>,
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
    let mut st = sh.synced();
    match st.register(job) {
        Ok(r) => reply(
            r.index,
            json!({"EvalID": r.eval_id, "EvalCreateIndex": r.index, "JobModifyIndex": r.job_modify_index, "Warnings": "", "Index": r.index, "LastContact": 0, "KnownLeader": true}),
        ),
        Err(e) => api_err(e),
    }
}

async fn register_new(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    do_register(&sh, &body, None)
}

#[derive(Deserialize)]
struct ParseRequest {
    #[serde(rename = "JobHCL", default)]
    job_hcl: String,
}

async fn parse_job(body: Bytes) -> Response {
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

/// `/v1/job/<id>[/<action>]`: dispatched IDs contain a `/`, so the action is the last segment
/// only when it is one of the known ones.
async fn job_any(
    State(sh): State<Arc<Shared>>,
    method: Method,
    Path(rest): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let (id, action) = match rest.rsplit_once('/') {
        Some((id, a @ ("dispatch" | "summary" | "allocations" | "evaluations" | "plan"))) => {
            (id, a)
        }
        _ => (rest.as_str(), ""),
    };
    match (method.clone(), action) {
        (Method::GET, "") => {
            let st = sh.synced();
            match st.job(id) {
                Ok(e) => reply(st.index(), job_json(e)),
                Err(e) => api_err(e),
            }
        }
        (Method::POST | Method::PUT, "") => do_register(&sh, &body, Some(id)),
        (Method::DELETE, "") => {
            let purge = q.get("purge").is_some_and(|v| v == "true");
            match sh.synced().deregister(id, purge) {
                Ok(r) => reply(
                    r.index,
                    json!({"EvalID": r.eval_id, "EvalCreateIndex": r.index, "JobModifyIndex": r.job_modify_index, "Index": r.index}),
                ),
                Err(e) => api_err(e),
            }
        }
        (Method::POST | Method::PUT, "dispatch") => {
            let req: DispatchRequest = if body.is_empty() {
                DispatchRequest::default()
            } else {
                match decode(&body) {
                    Ok(r) => r,
                    Err(r) => return r.into_response(),
                }
            };
            let payload = req.payload.filter(|p| !p.is_empty());
            match sh
                .synced()
                .dispatch(id, req.meta.unwrap_or_default(), payload)
            {
                Ok((child, r)) => reply(
                    r.index,
                    json!({"Index": r.index, "JobCreateIndex": r.index, "EvalCreateIndex": r.index, "EvalID": r.eval_id, "DispatchedJobID": child}),
                ),
                Err(e) => api_err(e),
            }
        }
        (Method::POST | Method::PUT, "plan") => {
            let req: RegisterRequest = match decode(&body) {
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
            match st.plan(job) {
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
            match st.job_allocs(id) {
                Ok(v) => {
                    let list = v.iter().map(|a| alloc_stub(&st, a)).collect();
                    reply(st.index(), Value::Array(list))
                }
                Err(e) => api_err(e),
            }
        }
        (Method::GET, "evaluations") => {
            let st = sh.synced();
            match st.evaluations_json(id) {
                Ok(v) => reply(st.index(), v),
                Err(e) => api_err(e),
            }
        }
        _ => text_error(StatusCode::METHOD_NOT_ALLOWED, "Invalid method"),
    }
}

fn ns_time(ns: u64) -> String {
    if ns == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let s = iso8601(ns / 1_000_000_000);
    match ns % 1_000_000_000 {
        0 => s,
        frac => format!("{}.{:09}Z", &s[..s.len() - 1], frac),
    }
}

fn task_states(a: &Alloc) -> Value {
    let m: serde_json::Map<String, Value> = a
        .task_states
        .iter()
        .map(|(name, t)| (name.clone(), json!({"State": t.state, "Failed": t.failed, "Restarts": 0, "StartedAt": ns_time(t.started_at), "FinishedAt": ns_time(t.finished_at), "Events": []})))
        .collect();
    Value::Object(m)
}

fn alloc_stub(st: &NomadState, a: &Alloc) -> Value {
    let job_type = st
        .job(&a.job_id)
        .map(|e| e.job.job_type.clone())
        .unwrap_or_default();
    json!({
        "ID": a.id, "EvalID": a.eval_id, "Name": a.name, "Namespace": "default", "NodeID": a.node_id,
        "NodeName": a.node_name, "JobID": a.job_id, "JobType": job_type, "JobVersion": a.job_version,
        "TaskGroup": a.task_group, "DesiredStatus": a.desired_status, "DesiredDescription": "",
        "ClientStatus": a.client_status, "ClientDescription": client_description(a), "TaskStates": task_states(a),
        "CreateIndex": a.create_index, "ModifyIndex": a.modify_index, "CreateTime": a.create_time, "ModifyTime": a.modify_time,
    })
}

fn client_description(a: &Alloc) -> &'static str {
    match a.client_status.as_str() {
        "running" => "Tasks are running",
        "complete" => "All tasks have completed",
        "failed" => "Failed tasks",
        "lost" => "alloc is lost since its node is down",
        _ => "No tasks have started",
    }
}

fn alloc_full(st: &NomadState, a: &Alloc) -> Value {
    let job = st.job(&a.job_id).ok();
    let tasks: serde_json::Map<String, Value> = job
        .and_then(|e| e.job.task_groups.iter().find(|g| g.name == a.task_group))
        .map(|g| g.tasks.iter().map(|t| (t.name.clone(), json!({"Cpu": {"CpuShares": t.resources.cpu}, "Memory": {"MemoryMB": t.resources.memory_mb}}))).collect())
        .unwrap_or_default();
    let mut v = alloc_stub(st, a);
    let o = v.as_object_mut().expect("stub is an object");
    o.insert("Job".into(), job.map(job_json).unwrap_or(Value::Null));
    o.insert(
        "AllocatedResources".into(),
        json!({"Tasks": tasks, "Shared": {"DiskMB": 0}}),
    );
    o.insert(
        "Resources".into(),
        json!({"CPU": a.cpu, "MemoryMB": a.memory_mb}),
    );
    o.insert("AllocModifyIndex".into(), json!(a.modify_index));
    v
}

fn node_stub(n: &Node) -> Value {
    json!({
        "Address": n.spec.address, "ID": n.id, "Datacenter": n.datacenter, "Name": n.spec.name,
        "NodeClass": n.spec.node_class, "Version": "0.11.1", "Drain": false,
        "SchedulingEligibility": if n.eligible { "eligible" } else { "ineligible" },
        "Status": n.status, "StatusDescription": "", "Drivers": {},
        "CreateIndex": n.create_index, "ModifyIndex": n.modify_index,
    })
}

fn node_full(n: &Node) -> Value {
    let mut attrs = serde_json::Map::new();
    attrs.insert("unique.hostname".into(), json!(n.spec.name));
    attrs.insert("unique.network.ip-address".into(), json!(n.spec.address));
    attrs.insert("cpu.totalcompute".into(), json!(n.spec.cpu_mhz.to_string()));
    attrs.insert(
        "memory.totalbytes".into(),
        json!((n.spec.memory_mb * 1024 * 1024).to_string()),
    );
    attrs.insert("nomad.version".into(), json!("0.11.1"));
    attrs.insert("driver.raw_exec".into(), json!("1"));
    attrs.insert("driver.docker".into(), json!("1"));
    if let Some(t) = &n.spec.instance_type {
        attrs.insert("platform.aws.instance-type".into(), json!(t));
    }
    let mut v = node_stub(n);
    let o = v.as_object_mut().expect("stub is an object");
    o.remove("Address");
    o.remove("Version");
    o.insert("HTTPAddr".into(), json!(format!("{}:4646", n.spec.address)));
    o.insert("TLSEnabled".into(), json!(false));
    o.insert("Attributes".into(), Value::Object(attrs));
    o.insert(
        "NodeResources".into(),
        json!({"Cpu": {"CpuShares": n.spec.cpu_mhz}, "Memory": {"MemoryMB": n.spec.memory_mb}}),
    );
    o.insert(
        "Resources".into(),
        json!({"CPU": n.spec.cpu_mhz, "MemoryMB": n.spec.memory_mb}),
    );
    o.insert("StatusUpdatedAt".into(), json!(n.status_updated_at));
    o.insert("Meta".into(), json!({}));
    v
}

async fn list_nodes(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let st = sh.synced();
    let prefix = q.get("prefix").map(String::as_str).unwrap_or("");
    reply(
        st.index(),
        Value::Array(
            st.nodes()
                .filter(|n| n.id.starts_with(prefix))
                .map(node_stub)
                .collect(),
        ),
    )
}

async fn get_node(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.node(&id) {
        Ok(n) => reply(st.index(), node_full(n)),
        Err(e) => api_err(e),
    }
}

async fn node_allocs(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.node_allocs(&id) {
        Ok(v) => {
            let list = v.iter().map(|a| alloc_full(&st, a)).collect();
            reply(st.index(), Value::Array(list))
        }
        Err(e) => api_err(e),
    }
}

#[derive(Deserialize)]
struct EligibilityRequest {
    #[serde(rename = "Eligibility", default)]
    eligibility: String,
}

async fn node_eligibility(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let req: EligibilityRequest = match decode(&body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    match sh.synced().set_eligibility(&id, &req.eligibility) {
        Ok(i) => reply(
            i,
            json!({"EvalIDs": [], "EvalCreateIndex": 0, "NodeModifyIndex": i, "Index": i}),
        ),
        Err(e) => api_err(e),
    }
}

async fn get_alloc(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.alloc(&id) {
        Ok(a) => reply(st.index(), alloc_full(&st, a)),
        Err(e) => api_err(e),
    }
}
