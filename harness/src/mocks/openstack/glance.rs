//! Glance v2 (`/image/v2`): images with `size` and `checksum` (what `openstack image list
//! --long` and the SDK's image proxy read).

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Q, Sh, ok};
use crate::mocks::common::iso8601;

pub(super) async fn glance_versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": [{"id": "v2.9", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{}/image/v2/", sh.base)}]}]}),
    )
}

fn glance_json(i: &crate::mocks::openstack_model::Image, project: &str) -> Value {
    json!({
        "id": i.id, "name": i.name, "status": i.status.to_lowercase(), "visibility": "private",
        "created_at": iso8601(i.created_s), "updated_at": iso8601(i.created_s), "min_disk": 0, "min_ram": 0,
        "container_format": "bare", "disk_format": "qcow2", "tags": [], "protected": false,
        "size": i.size, "virtual_size": null, "checksum": i.checksum(), "os_hash_algo": "sha512",
        "os_hash_value": i.sha512(), "owner": project, "os_hidden": false, "properties": {},
        "self": format!("/v2/images/{}", i.id), "file": format!("/v2/images/{}/file", i.id), "schema": "/v2/schemas/image",
    })
}

pub(super) async fn glance_list(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .images()
        .iter()
        .filter(|i| q.get("name").is_none_or(|n| *n == i.name))
        .map(|i| glance_json(i, &st.config.project_id))
        .collect();
    ok(
        StatusCode::OK,
        json!({"images": list, "schema": "/v2/schemas/images", "first": "/v2/images"}),
    )
}

pub(super) async fn glance_show(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.images().iter().find(|i| i.id == id) {
        Some(i) => ok(StatusCode::OK, glance_json(i, &st.config.project_id)),
        None => (
            StatusCode::NOT_FOUND,
            format!("404 Not Found\n\nNo image found with ID {id}"),
        )
            .into_response(),
    }
}
