//! `/v1/nodes` and `/v1/node/:id[/…]`: list, read, allocations, eligibility, drain and
//! evaluate, with `DrainStrategy` and `HostVolumes` in the node shape.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Q, Sh, api_err, block, decode, reply};
use crate::mocks::nomad_model::Node;

fn drain_strategy(n: &Node) -> Value {
    match &n.drain {
        None => Value::Null,
        Some(d) => json!({
            "Deadline": d.deadline_ns, "IgnoreSystemJobs": d.ignore_system_jobs,
            "ForceDeadline": d.force_at().map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), super::allocations::ns_time),
            "StartedAt": super::allocations::ns_time(d.started_at),
        }),
    }
}

fn node_stub(n: &Node) -> Value {
    json!({
        "Address": n.spec.address, "ID": n.id, "Datacenter": n.datacenter, "Name": n.spec.name,
        "NodeClass": n.spec.node_class, "Version": "0.11.1", "Drain": n.drain.is_some(),
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
    o.insert("DrainStrategy".into(), drain_strategy(n));
    o.insert("HostVolumes".into(), json!({}));
    o.insert("HostNetworks".into(), json!({}));
    o.insert("CSIControllerPlugins".into(), Value::Null);
    o.insert("CSINodePlugins".into(), Value::Null);
    o.insert("Links".into(), json!({}));
    o.insert(
        "Reserved".into(),
        json!({"CPU": 0, "MemoryMB": 0, "DiskMB": 0}),
    );
    o.insert("ReservedResources".into(), json!({"Cpu": {"CpuShares": 0}, "Memory": {"MemoryMB": 0}, "Disk": {"DiskMB": 0}, "Networks": {"ReservedHostPorts": ""}}));
    o.insert(
        "ComputedClass".into(),
        json!(format!("v1:{}", n.spec.node_class.len())),
    );
    o.insert("SecretID".into(), json!(""));
    o.insert(
        "Events".into(),
        json!([{"Message": "Node registered", "Subsystem": "Cluster", "Details": null, "Timestamp": super::allocations::ns_time(n.status_updated_at * 1_000_000_000), "CreateIndex": n.create_index}]),
    );
    v
}

/// `GET /v1/nodes`.
pub(super) async fn list(State(sh): Sh, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
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

/// `GET /v1/node/:id`.
pub(super) async fn get_one(State(sh): Sh, Path(id): Path<String>, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let st = sh.synced();
    match st.node(&id) {
        Ok(n) => reply(st.index(), node_full(n)),
        Err(e) => api_err(e),
    }
}

/// `GET /v1/node/:id/allocations` (full allocations, as Nomad answers).
pub(super) async fn allocations(State(sh): Sh, Path(id): Path<String>, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let st = sh.synced();
    match st.node_allocs(&id) {
        Ok(v) => {
            let list = v.iter().map(|a| super::allocations::full(&st, a)).collect();
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

/// `POST /v1/node/:id/eligibility`.
pub(super) async fn eligibility(State(sh): Sh, Path(id): Path<String>, body: Bytes) -> Response {
    let req: EligibilityRequest = match decode(&body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    match sh.write(|st| st.set_eligibility(&id, &req.eligibility)) {
        Ok(i) => reply(
            i,
            json!({"EvalIDs": [], "EvalCreateIndex": 0, "NodeModifyIndex": i, "Index": i}),
        ),
        Err(e) => api_err(e),
    }
}

#[derive(Deserialize)]
struct DrainSpecBody {
    #[serde(rename = "Deadline", default)]
    deadline: i64,
    #[serde(rename = "IgnoreSystemJobs", default)]
    ignore_system_jobs: bool,
}

#[derive(Deserialize)]
struct DrainRequest {
    #[serde(rename = "DrainSpec", default)]
    drain_spec: Option<DrainSpecBody>,
    #[serde(rename = "MarkEligible", default)]
    mark_eligible: bool,
}

/// `POST /v1/node/:id/drain`: `{"DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": b}}` starts
/// a drain, `{"DrainSpec": null, "MarkEligible": true}` cancels it.
pub(super) async fn drain(State(sh): Sh, Path(id): Path<String>, body: Bytes) -> Response {
    let req: DrainRequest = match decode(&body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let spec = req.drain_spec.map(|d| (d.deadline, d.ignore_system_jobs));
    match sh.write(|st| st.drain_node(&id, spec, req.mark_eligible)) {
        Ok((evals, i)) => reply(
            i,
            json!({"EvalIDs": evals, "EvalCreateIndex": i, "NodeModifyIndex": i, "Index": i, "LastContact": 0, "KnownLeader": true}),
        ),
        Err(e) => api_err(e),
    }
}

/// `POST /v1/node/:id/evaluate`.
pub(super) async fn evaluate(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.write(|st| st.evaluate_node(&id)) {
        Ok((evals, i)) => reply(
            i,
            json!({"EvalIDs": evals, "EvalCreateIndex": i, "NodeModifyIndex": i, "HeartbeatTTL": 0, "Index": i, "LastContact": 0, "KnownLeader": true, "LeaderRPCAddr": "127.0.0.1:4647", "NumNodes": 0, "Servers": null, "Features": 0}),
        ),
        Err(e) => api_err(e),
    }
}
