//! The agent and cluster endpoints a client or an operator asks first: `/v1/agent/self`,
//! `/v1/agent/members`, `/v1/agent/health`, `/v1/status/leader`, `/v1/status/peers`,
//! `/v1/regions`, `/v1/metrics`, and `/v1/system/gc`. The server is tf-tete, Nomad 0.11.1,
//! a single server in region `global`.

use axum::{extract::State, response::Response};
use serde_json::json;

use super::{Sh, reply};
use crate::mocks::common::log_time;

const VERSION: &str = "0.11.1";
const RPC_ADDR: &str = "127.0.0.1:4647";

fn member() -> serde_json::Value {
    json!({
        "Name": "tf-tete.global", "Addr": "127.0.0.1", "Port": 4648, "Status": "alive",
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2, "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 2,
        "Tags": {"build": VERSION, "dc": "dc1", "region": "global", "role": "nomad", "vsn": "1", "mvn": "1",
                 "bootstrap": "1", "expect": "1", "id": "00000000-0000-4000-8000-000000007465", "rpc_addr": "127.0.0.1", "port": "4647", "raft_vsn": "2"},
    })
}

/// `GET /v1/agent/self`.
pub(super) async fn agent_self(State(sh): Sh) -> Response {
    let st = sh.synced();
    reply(
        st.index(),
        json!({
            "config": {"Region": "global", "Datacenter": "dc1", "NodeName": "tf-tete", "Version": {"Version": VERSION, "VersionPrerelease": "", "VersionMetadata": "", "Revision": ""},
                       "Server": {"Enabled": true, "BootstrapExpect": 1}, "Client": {"Enabled": false}, "ACL": {"Enabled": false}, "Ports": {"HTTP": 4646, "RPC": 4647, "Serf": 4648}},
            "member": member(),
            "stats": {"nomad": {"server": "true", "leader": "true", "bootstrap": "false", "known_regions": "1", "leader_addr": RPC_ADDR},
                      "raft": {"state": "Leader", "applied_index": st.index().to_string(), "commit_index": st.index().to_string(), "num_peers": "0"},
                      "runtime": {"arch": "amd64", "os": "linux", "version": "go1.14.1"}},
        }),
    )
}

/// `GET /v1/agent/members`.
pub(super) async fn members(State(sh): Sh) -> Response {
    let st = sh.synced();
    reply(
        st.index(),
        json!({"ServerName": "tf-tete", "ServerRegion": "global", "ServerDC": "dc1", "Members": [member()]}),
    )
}

/// `GET /v1/agent/health`.
pub(super) async fn health(State(sh): Sh) -> Response {
    let st = sh.synced();
    reply(st.index(), json!({"server": {"ok": true, "message": "ok"}}))
}

/// `GET /v1/status/leader`.
pub(super) async fn leader(State(sh): Sh) -> Response {
    reply(sh.synced().index(), json!(RPC_ADDR))
}

/// `GET /v1/status/peers`.
pub(super) async fn peers(State(sh): Sh) -> Response {
    reply(sh.synced().index(), json!([RPC_ADDR]))
}

/// `GET /v1/regions`.
pub(super) async fn regions(State(sh): Sh) -> Response {
    reply(sh.synced().index(), json!(["global"]))
}

/// `GET /v1/deployments`: the system's jobs have no deployments (no `update` canaries).
pub(super) async fn deployments(State(sh): Sh) -> Response {
    reply(sh.synced().index(), json!([]))
}

/// `GET /v1/metrics`: go-metrics' JSON summary with the gauges the model can give.
pub(super) async fn metrics(State(sh): Sh) -> Response {
    let st = sh.synced();
    let (mut running, mut pending, mut dead) = (0, 0, 0);
    for j in st.jobs() {
        match j.job.status.as_str() {
            "running" => running += 1,
            "pending" => pending += 1,
            _ => dead += 1,
        }
    }
    let nodes = st.nodes().filter(|n| n.status == "ready").count();
    let g = |name: &str, v: usize| json!({"Name": name, "Value": v as f64, "Labels": {}});
    reply(
        st.index(),
        json!({
            "Timestamp": format!("{} +0000 UTC", log_time(sh.clock.now_secs())),
            "Gauges": [g("nomad.nomad.job_status.running", running), g("nomad.nomad.job_status.pending", pending), g("nomad.nomad.job_status.dead", dead), g("nomad.nomad.client.nodes_ready", nodes), g("nomad.raft.appliedIndex", st.index() as usize)],
            "Counters": [], "Samples": [], "Points": [],
        }),
    )
}

/// `PUT /v1/system/gc`: dead jobs, their allocations and evaluations, and down nodes go now.
pub(super) async fn system_gc(State(sh): Sh) -> Response {
    let i = sh.write(|st| st.system_gc());
    reply(i, serde_json::Value::Null)
}

/// `PUT /v1/system/reconcile/summaries`: summaries are computed on read here: nothing to do.
pub(super) async fn reconcile_summaries(State(sh): Sh) -> Response {
    reply(sh.synced().index(), serde_json::Value::Null)
}
