//! Nova beyond servers and flavors: keypairs, flavor extra specs, server metadata, interfaces
//! and volume attachments, limits and availability zones.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use super::{Sh, bad_body, no_content, ok, os_err};
use crate::mocks::{
    common::{iso8601, parse_json},
    openstack_model::{OsError, compute::Keypair},
};

fn keypair_json(k: &Keypair, with_key: bool) -> Value {
    let mut v =
        json!({"name": k.name, "fingerprint": k.fingerprint, "type": "ssh", "user_id": "operator"});
    if with_key {
        v["public_key"] = json!(k.public_key);
        v["created_at"] = json!(iso8601(k.created_s).trim_end_matches('Z'));
        v["id"] = json!(1);
        v["deleted"] = json!(false);
    }
    v
}

/// `GET /os-keypairs`.
pub(super) async fn keypairs(State(sh): Sh) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .keypairs()
        .iter()
        .map(|k| json!({"keypair": keypair_json(k, false)}))
        .collect();
    ok(StatusCode::OK, json!({ "keypairs": list }))
}

/// `GET /os-keypairs/:name`.
pub(super) async fn keypair(State(sh): Sh, Path(name): Path<String>) -> Response {
    let st = sh.synced();
    match st.keypairs().iter().find(|k| k.name == name) {
        Some(k) => ok(StatusCode::OK, json!({"keypair": keypair_json(k, true)})),
        None => os_err(OsError::fault(
            404,
            "itemNotFound",
            format!("Keypair {name} not found for user operator"),
        )),
    }
}

/// `POST /os-keypairs` (with or without a public key; a generated key's private half is never
/// produced: the stand-in holds no key material).
pub(super) async fn create_keypair(State(sh): Sh, body: Bytes) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let k = &v["keypair"];
    let Some(name) = k["name"].as_str() else {
        return os_err(OsError::fault(
            400,
            "badRequest",
            "Invalid input for field/attribute keypair. 'name' is a required property",
        ));
    };
    match sh.synced().create_keypair(name, k["public_key"].as_str()) {
        Ok(kp) => ok(StatusCode::OK, json!({"keypair": keypair_json(&kp, true)})),
        Err(e) => os_err(e),
    }
}

/// `DELETE /os-keypairs/:name`.
pub(super) async fn delete_keypair(State(sh): Sh, Path(name): Path<String>) -> Response {
    match sh.synced().delete_keypair(&name) {
        Ok(()) => accepted(),
        Err(e) => os_err(e),
    }
}

fn accepted() -> Response {
    axum::response::IntoResponse::into_response(StatusCode::ACCEPTED)
}

/// `GET /flavors/:id/os-extra_specs`.
pub(super) async fn extra_specs(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.flavor(&id) {
        Ok(f) => ok(StatusCode::OK, json!({"extra_specs": f.extra_specs})),
        Err(e) => os_err(e),
    }
}

/// `GET /flavors/:id/os-extra_specs/:key`.
pub(super) async fn extra_spec(State(sh): Sh, Path((id, key)): Path<(String, String)>) -> Response {
    let st = sh.synced();
    match st.flavor(&id) {
        Ok(f) => match f.extra_specs.get(&key) {
            Some(v) => ok(StatusCode::OK, json!({ key: v })),
            None => os_err(OsError::fault(
                404,
                "itemNotFound",
                format!("Flavor {id} has no extra specs with key {key}."),
            )),
        },
        Err(e) => os_err(e),
    }
}

fn string_map(v: &Value) -> Option<BTreeMap<String, String>> {
    v.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect()
    })
}

/// `POST /flavors/:id/os-extra_specs`.
pub(super) async fn set_extra_specs(
    State(sh): Sh,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let Some(specs) = string_map(&v["extra_specs"]) else {
        return os_err(OsError::fault(
            400,
            "badRequest",
            "Invalid input for field/attribute extra_specs.",
        ));
    };
    let mut st = sh.synced();
    match st.set_extra_specs(&id, specs) {
        Ok(()) => ok(
            StatusCode::OK,
            json!({"extra_specs": st.flavor(&id).map(|f| f.extra_specs.clone()).unwrap_or_default()}),
        ),
        Err(e) => os_err(e),
    }
}

/// `GET /servers/:id/metadata`.
pub(super) async fn metadata(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.server(&id) {
        Ok(s) => ok(StatusCode::OK, json!({"metadata": s.metadata})),
        Err(e) => os_err(e),
    }
}

async fn write_metadata(sh: Sh, id: String, body: Bytes, replace: bool) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let Some(items) = string_map(&v["metadata"]) else {
        return os_err(OsError::fault(
            400,
            "badRequest",
            "Invalid input for field/attribute metadata. 'metadata' is a required property",
        ));
    };
    match sh.synced().set_metadata(&id, items, replace) {
        Ok(m) => ok(StatusCode::OK, json!({ "metadata": m })),
        Err(e) => os_err(e),
    }
}

/// `PUT /servers/:id/metadata`: replaces every item.
pub(super) async fn replace_metadata(sh: Sh, Path(id): Path<String>, body: Bytes) -> Response {
    write_metadata(sh, id, body, true).await
}

/// `POST /servers/:id/metadata`: merges.
pub(super) async fn update_metadata(sh: Sh, Path(id): Path<String>, body: Bytes) -> Response {
    write_metadata(sh, id, body, false).await
}

/// `GET /servers/:id/metadata/:key`.
pub(super) async fn metadata_item(
    State(sh): Sh,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let st = sh.synced();
    match st.server(&id) {
        Ok(s) => match s.metadata.get(&key) {
            Some(v) => ok(StatusCode::OK, json!({"meta": { key: v }})),
            None => os_err(OsError::fault(
                404,
                "itemNotFound",
                "Metadata item was not found",
            )),
        },
        Err(e) => os_err(e),
    }
}

/// `PUT /servers/:id/metadata/:key` with `{"meta": {key: value}}`.
pub(super) async fn set_metadata_item(
    State(sh): Sh,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let Some(items) = string_map(&v["meta"]).filter(|m| m.len() == 1 && m.contains_key(&key))
    else {
        return os_err(OsError::fault(
            400,
            "badRequest",
            "Request body and URI mismatch",
        ));
    };
    match sh.synced().set_metadata(&id, items.clone(), false) {
        Ok(_) => ok(StatusCode::OK, json!({ "meta": items })),
        Err(e) => os_err(e),
    }
}

/// `DELETE /servers/:id/metadata/:key`.
pub(super) async fn delete_metadata_item(
    State(sh): Sh,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    match sh.synced().delete_metadata(&id, &key) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

/// `GET /servers/:id/os-interface`: the server's ports.
pub(super) async fn interfaces(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    if let Err(e) = st.server(&id) {
        return os_err(e);
    }
    let list: Vec<Value> = st
        .ports()
        .iter()
        .filter(|p| p.device_id == id)
        .map(|p| {
            let subnet = st.subnets().iter().find(|s| s.network_id == p.network_id).map(|s| s.id.clone()).unwrap_or_default();
            json!({"port_id": p.id, "net_id": p.network_id, "mac_addr": p.mac, "port_state": "ACTIVE", "fixed_ips": [{"subnet_id": subnet, "ip_address": p.fixed_ip}]})
        })
        .collect();
    ok(StatusCode::OK, json!({ "interfaceAttachments": list }))
}

fn attachment_json(server: &str, volume: &str, device: &str) -> Value {
    json!({"id": volume, "volumeId": volume, "serverId": server, "device": device, "tag": null, "delete_on_termination": false})
}

/// `GET /servers/:id/os-volume_attachments`.
pub(super) async fn attachments(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    if let Err(e) = st.server(&id) {
        return os_err(e);
    }
    let list: Vec<Value> = st
        .attachments(&id)
        .iter()
        .map(|(v, d)| attachment_json(&id, v, d))
        .collect();
    ok(StatusCode::OK, json!({ "volumeAttachments": list }))
}

/// `POST /servers/:id/os-volume_attachments` with `{"volumeAttachment": {"volumeId": V}}`.
pub(super) async fn attach(State(sh): Sh, Path(id): Path<String>, body: Bytes) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let Some(vol) = v["volumeAttachment"]["volumeId"].as_str() else {
        return os_err(OsError::fault(
            400,
            "badRequest",
            "Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property",
        ));
    };
    match sh.synced().attach_volume(&id, vol) {
        Ok(dev) => ok(
            StatusCode::OK,
            json!({"volumeAttachment": attachment_json(&id, vol, &dev)}),
        ),
        Err(e) => os_err(e),
    }
}

/// `GET /servers/:id/os-volume_attachments/:volume`.
pub(super) async fn attachment(State(sh): Sh, Path((id, vol)): Path<(String, String)>) -> Response {
    let st = sh.synced();
    match st.attachments(&id).iter().find(|(v, _)| *v == vol) {
        Some((v, d)) => ok(
            StatusCode::OK,
            json!({"volumeAttachment": attachment_json(&id, v, d)}),
        ),
        None => os_err(OsError::fault(
            404,
            "itemNotFound",
            format!("volume_id not found: {vol}"),
        )),
    }
}

/// `DELETE /servers/:id/os-volume_attachments/:volume`.
pub(super) async fn detach(State(sh): Sh, Path((id, vol)): Path<(String, String)>) -> Response {
    match sh.synced().detach_volume(&id, &vol) {
        Ok(()) => accepted(),
        Err(e) => os_err(e),
    }
}

/// `GET /limits`.
pub(super) async fn limits(State(sh): Sh) -> Response {
    ok(StatusCode::OK, sh.synced().limits_json())
}

/// `GET /os-availability-zone[/detail]`: one zone, `nova`.
pub(super) async fn availability_zones() -> Response {
    ok(
        StatusCode::OK,
        json!({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}]}),
    )
}
