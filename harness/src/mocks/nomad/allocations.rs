//! `/v1/allocations`, `/v1/allocation/:id` and its `stop`: the allocation shapes (stub and
//! full) with task events, `DesiredTransition` and `RescheduleTracker`.

use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use serde_json::{Value, json};

use super::{Q, Sh, api_err, block, reply};
use crate::mocks::{
    common::iso8601,
    nomad_model::{Alloc, NomadState, TaskState},
};

pub(super) fn ns_time(ns: u64) -> String {
    if ns == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let s = iso8601(ns / 1_000_000_000);
    match ns % 1_000_000_000 {
        0 => s,
        frac => format!("{}.{:09}Z", &s[..s.len() - 1], frac),
    }
}

fn event(kind: &str, at: u64, display: &str, exit_code: i64, fails: bool) -> Value {
    json!({
        "Type": kind, "Time": at, "Message": "", "DisplayMessage": display, "Details": {},
        "FailsTask": fails, "RestartReason": "", "SetupError": "", "DriverError": "",
        "ExitCode": exit_code, "Signal": 0, "KillTimeout": 0, "KillError": "", "KillReason": "",
        "StartDelay": 0, "DownloadError": "", "ValidationError": "", "DiskLimit": 0,
        "FailedSibling": "", "VaultError": "", "TaskSignalReason": "", "TaskSignal": "",
        "DriverMessage": "", "GenericSource": "",
    })
}

/// The task events a client reports for what the model knows: received, set up, started,
/// then terminated (exit 0 or 1) or killed by the server.
fn task_events(a: &Alloc, t: &TaskState) -> Vec<Value> {
    let mut v = vec![
        event(
            "Received",
            a.create_time,
            "Task received by client",
            0,
            false,
        ),
        event(
            "Task Setup",
            a.create_time,
            "Building Task Directory",
            0,
            false,
        ),
    ];
    if t.started_at > 0 {
        v.push(event(
            "Started",
            t.started_at,
            "Task started by client",
            0,
            false,
        ));
    }
    if t.finished_at > 0 {
        match a.client_status.as_str() {
            "failed" => v.push(event("Terminated", t.finished_at, "Exit Code: 1", 1, true)),
            // Ended by itself (the server left it desired `run`): the task exited 0.
            "complete" if a.desired_status == "run" => {
                v.push(event("Terminated", t.finished_at, "Exit Code: 0", 0, false));
            }
            // Stopped by the server (deregister, alloc stop, drain, destructive update).
            "complete" => {
                v.push(event(
                    "Killing",
                    t.finished_at,
                    "Sent interrupt. Waiting 5s before force killing",
                    0,
                    false,
                ));
                v.push(event(
                    "Killed",
                    t.finished_at,
                    "Task successfully killed",
                    0,
                    false,
                ));
            }
            _ => {}
        }
    }
    v
}

fn task_states(a: &Alloc) -> Value {
    let m: serde_json::Map<String, Value> = a
        .task_states
        .iter()
        .map(|(name, t)| (name.clone(), json!({"State": t.state, "Failed": t.failed, "Restarts": 0, "LastRestart": "0001-01-01T00:00:00Z", "StartedAt": ns_time(t.started_at), "FinishedAt": ns_time(t.finished_at), "Events": task_events(a, t)})))
        .collect();
    Value::Object(m)
}

fn reschedule_tracker(a: &Alloc, delay_ns: u64) -> Value {
    if a.reschedules.is_empty() {
        return Value::Null;
    }
    let events: Vec<Value> = a
        .reschedules
        .iter()
        .map(|(at, prev, node)| json!({"RescheduleTime": at, "PrevAllocID": prev, "PrevNodeID": node, "Delay": delay_ns}))
        .collect();
    json!({ "Events": events })
}

pub(super) fn stub(st: &NomadState, a: &Alloc) -> Value {
    let job_type = st
        .job(&a.job_id)
        .map(|e| e.job.job_type.clone())
        .unwrap_or_default();
    json!({
        "ID": a.id, "EvalID": a.eval_id, "Name": a.name, "Namespace": "default", "NodeID": a.node_id,
        "NodeName": a.node_name, "JobID": a.job_id, "JobType": job_type, "JobVersion": a.job_version,
        "TaskGroup": a.task_group, "DesiredStatus": a.desired_status, "DesiredDescription": "",
        "ClientStatus": a.client_status, "ClientDescription": client_description(a), "TaskStates": task_states(a),
        "DesiredTransition": {"Migrate": if a.migrate { json!(true) } else { Value::Null }, "Reschedule": null, "ForceReschedule": null},
        "RescheduleTracker": reschedule_tracker(a, st.config.batch_reschedule_delay.as_nanos() as u64),
        "PreviousAllocation": a.previous_alloc, "NextAllocation": a.next_alloc, "FollowupEvalID": "",
        "DeploymentStatus": null, "PreemptedAllocations": null, "PreemptedByAllocation": "",
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

pub(super) fn full(st: &NomadState, a: &Alloc) -> Value {
    let job = st.job(&a.job_id).ok();
    let tasks: serde_json::Map<String, Value> = job
        .and_then(|e| e.job.task_groups.iter().find(|g| g.name == a.task_group))
        .map(|g| g.tasks.iter().map(|t| (t.name.clone(), json!({"Cpu": {"CpuShares": t.resources.cpu}, "Memory": {"MemoryMB": t.resources.memory_mb}}))).collect())
        .unwrap_or_default();
    let mut v = stub(st, a);
    let o = v.as_object_mut().expect("stub is an object");
    o.insert(
        "Job".into(),
        job.and_then(|e| serde_json::to_value(&e.job).ok())
            .unwrap_or(Value::Null),
    );
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

/// `GET /v1/allocation/:id`.
pub(super) async fn get_one(State(sh): Sh, Path(id): Path<String>, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let st = sh.synced();
    match st.alloc(&id) {
        Ok(a) => reply(st.index(), full(&st, a)),
        Err(e) => api_err(e),
    }
}

/// `GET /v1/allocations` (stubs; `prefix` filters by ID).
pub(super) async fn list(State(sh): Sh, Query(q): Q) -> Response {
    if let Err(e) = block(&sh, &q).await {
        return api_err(e);
    }
    let st = sh.synced();
    let prefix = q.get("prefix").map(String::as_str).unwrap_or("");
    let list = st
        .allocs(prefix)
        .into_iter()
        .map(|a| stub(&st, a))
        .collect();
    reply(st.index(), Value::Array(list))
}

/// `POST /v1/allocation/:id/stop`.
pub(super) async fn stop(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.write(|st| st.stop_alloc(&id)) {
        Ok(r) => reply(r.index, json!({"EvalID": r.eval_id, "Index": r.index})),
        Err(e) => api_err(e),
    }
}
