//! Cinder v3 (`/volume/v3/<project>`): the version discovery document, volumes (with the
//! legacy `display_name` accepted), quotas and limits.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Q, Sh, bad_body, ok, os_err};
use crate::mocks::{
    common::{iso8601, parse_json},
    openstack_model::{OpenStackState, OsError},
};

fn version_json(base: &str) -> Value {
    json!({"id": "v3.0", "status": "CURRENT", "version": "3.59", "min_version": "3.0", "updated": "2016-02-08T12:20:21Z",
           "links": [{"rel": "self", "href": format!("{base}/volume/v3/")}, {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}],
           "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]})
}

/// `GET /volume/`: the version discovery document (300, as Cinder).
pub(super) async fn versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": [version_json(&sh.base)]}),
    )
}

/// `GET /volume/v3/`.
pub(super) async fn version(State(sh): Sh) -> Response {
    ok(StatusCode::OK, json!({"version": version_json(&sh.base)}))
}

/// `GET /volume/v3/:project/os-quota-sets/:target` (`?usage=true` for in-use counts).
pub(super) async fn quotas(
    State(sh): Sh,
    Path((project, target)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    let st = sh.synced();
    if let Err(e) = check_project(&st, &project).and_then(|()| check_project(&st, &target)) {
        return os_err(e);
    }
    let usage = q
        .get("usage")
        .is_some_and(|u| u.eq_ignore_ascii_case("true") || u == "1");
    let used_n = st.volumes().len() as u64;
    let used_gb: u64 = st.volumes().iter().map(|v| v.size_gb).sum();
    let row = |limit: u64, used: u64| {
        if usage {
            json!({"limit": limit, "in_use": used, "reserved": 0, "allocated": 0})
        } else {
            json!(limit)
        }
    };
    let qv = &st.quotas;
    ok(
        StatusCode::OK,
        json!({"quota_set": {
            "id": target, "volumes": row(qv.volumes, used_n), "gigabytes": row(qv.gigabytes, used_gb),
            "snapshots": row(10, 0), "backups": row(10, 0), "backup_gigabytes": row(1000, 0),
            "per_volume_gigabytes": if usage { json!({"limit": -1, "in_use": 0, "reserved": 0, "allocated": 0}) } else { json!(-1) },
            "groups": row(10, 0), "volumes___DEFAULT__": row(qv.volumes, used_n),
        }}),
    )
}

/// `GET /volume/v3/:project/limits`.
pub(super) async fn limits(State(sh): Sh, Path(project): Path<String>) -> Response {
    let st = sh.synced();
    if let Err(e) = check_project(&st, &project) {
        return os_err(e);
    }
    let used: u64 = st.volumes().iter().map(|v| v.size_gb).sum();
    ok(
        StatusCode::OK,
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": st.quotas.volumes, "maxTotalVolumeGigabytes": st.quotas.gigabytes,
            "maxTotalSnapshots": 10, "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000,
            "totalVolumesUsed": st.volumes().len(), "totalGigabytesUsed": used,
            "totalSnapshotsUsed": 0, "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0,
        }}}),
    )
}

fn volume_json(v: &crate::mocks::openstack_model::Volume) -> Value {
    let (status, attachments) = match &v.attached {
        Some((server, device)) => (
            "in-use",
            json!([{"id": v.id, "attachment_id": format!("att-{}", v.id), "volume_id": v.id, "server_id": server, "device": device, "host_name": null, "attached_at": iso8601(v.created_s).trim_end_matches('Z')}]),
        ),
        None => ("available", json!([])),
    };
    json!({"id": v.id, "name": v.name, "size": v.size_gb, "status": status, "created_at": iso8601(v.created_s).trim_end_matches('Z'), "updated_at": null, "bootable": "true", "attachments": attachments, "availability_zone": "nova", "volume_type": "default", "description": null, "multiattach": false, "encrypted": false, "metadata": {}, "user_id": "operator", "snapshot_id": null, "source_volid": null, "replication_status": null, "consistencygroup_id": null, "links": []})
}

fn check_project(st: &OpenStackState, project: &str) -> Result<(), OsError> {
    if project == st.config.project_id {
        Ok(())
    } else {
        Err(OsError::fault(
            404,
            "itemNotFound",
            format!("Project {project} could not be found."),
        ))
    }
}

pub(super) async fn list_volumes(
    State(sh): Sh,
    Path(p): Path<BTreeMap<String, String>>,
) -> Response {
    let st = sh.synced();
    if let Err(e) = check_project(
        &st,
        p.get("project").map(String::as_str).unwrap_or_default(),
    ) {
        return os_err(e);
    }
    ok(
        StatusCode::OK,
        json!({"volumes": st.volumes().iter().map(volume_json).collect::<Vec<_>>()}),
    )
}

pub(super) async fn create_volume(
    State(sh): Sh,
    Path(project): Path<String>,
    body: Bytes,
) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let mut st = sh.synced();
    if let Err(e) = check_project(&st, &project) {
        return os_err(e);
    }
    let Some(size) = v["volume"]["size"].as_u64() else {
        return os_err(OsError::fault(
            400,
            "badRequest",
            "Invalid input received: 'size' parameter must be an integer greater than 0.",
        ));
    };
    // Cinder v1's `display_name`, which older clients still send, names the volume too.
    let vol = &v["volume"];
    let name = vol["name"]
        .as_str()
        .or(vol["display_name"].as_str())
        .unwrap_or_default();
    match st.create_volume(name, size) {
        Ok(vol) => ok(StatusCode::ACCEPTED, json!({"volume": volume_json(&vol)})),
        Err(e) => os_err(e),
    }
}

pub(super) async fn show_volume(
    State(sh): Sh,
    Path((project, id)): Path<(String, String)>,
) -> Response {
    let st = sh.synced();
    if let Err(e) = check_project(&st, &project) {
        return os_err(e);
    }
    match st.volumes().iter().find(|v| v.id == id) {
        Some(v) => ok(StatusCode::OK, json!({"volume": volume_json(v)})),
        None => os_err(OsError::fault(
            404,
            "itemNotFound",
            format!("Volume {id} could not be found."),
        )),
    }
}

pub(super) async fn delete_volume(
    State(sh): Sh,
    Path((project, id)): Path<(String, String)>,
) -> Response {
    let mut st = sh.synced();
    if let Err(e) = check_project(&st, &project) {
        return os_err(e);
    }
    match st.delete_volume(&id) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => os_err(e),
    }
}
