//! Nova (`/compute/v2.1`): version documents, servers (list, detail, show, create, delete,
//! actions), security groups of a server, flavors, the compute image proxy, quota sets.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Sh, bad_body, no_content, ok, os_err};
use crate::mocks::{
    common::{iso8601, parse_json},
    openstack_model::{
        Flavor, OpenStackState, OsError, ServerRequest, server_json, servers_detail_body,
    },
};

/// Nova's version document: clients read the maximum microversion here before asking for one.
fn nova_version_json(base: &str) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": "2.79", "min_version": "2.1", "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}]})
}

pub(super) async fn nova_versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"versions": [nova_version_json(&sh.base)]}),
    )
}

pub(super) async fn nova_version(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"version": nova_version_json(&sh.base)}),
    )
}

pub(super) async fn neutron_versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{}/network/v2.0/", sh.base)}]}]}),
    )
}

/// Nova embeds the flavor from microversion 2.47 on; older clients get a link.
pub(super) fn embedded_flavor(h: &HeaderMap) -> bool {
    let v = h
        .get("X-OpenStack-Nova-API-Version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            h.get("OpenStack-API-Version")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("compute "))
                .map(str::to_owned)
        });
    match v.as_deref() {
        Some("latest") => true,
        Some(v) => v
            .strip_prefix("2.")
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m >= 47),
        None => false,
    }
}

/// Nova's `name` filter is a regular expression search; the anchors `^`/`$` and literal text
/// are supported here (the system filters by exact or prefix names).
fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, p) = pattern
        .strip_prefix('^')
        .map_or((false, pattern), |p| (true, p));
    let (end, p) = p.strip_suffix('$').map_or((false, p), |p| (true, p));
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

fn filtered<'a>(
    st: &'a OpenStackState,
    q: &BTreeMap<String, String>,
) -> Vec<&'a crate::mocks::openstack_model::Server> {
    st.servers()
        .iter()
        .filter(|s| q.get("name").is_none_or(|p| name_matches(p, &s.name)))
        .filter(|s| {
            q.get("status")
                .is_none_or(|x| x.eq_ignore_ascii_case(&s.status))
        })
        .filter(|s| q.get("flavor").is_none_or(|x| *x == s.flavor.id))
        .filter(|s| q.get("image").is_none_or(|x| *x == s.image_id))
        .collect()
}

pub(super) async fn list_servers_short(
    State(sh): Sh,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = filtered(&st, &q).iter().map(|s| json!({"id": s.id, "name": s.name, "links": [{"rel": "self", "href": format!("{}/compute/v2.1/servers/{}", sh.base, s.id)}]})).collect();
    ok(StatusCode::OK, json!({ "servers": list }))
}

pub(super) async fn list_servers_detail(
    State(sh): Sh,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let st = sh.synced();
    let body = servers_detail_body(
        filtered(&st, &q).into_iter(),
        &st,
        &sh.base,
        embedded_flavor(&headers),
    );
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

pub(super) async fn show_server(
    State(sh): Sh,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let st = sh.synced();
    match st.server(&id) {
        Ok(s) => ok(
            StatusCode::OK,
            json!({"server": server_json(s, &st, &sh.base, embedded_flavor(&headers))}),
        ),
        Err(e) => os_err(e),
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[key].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn create_server(State(sh): Sh, body: Bytes) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let s = &v["server"];
    if !s.is_object() {
        return os_err(OsError::fault(
            400,
            "badRequest",
            "Invalid input for field/attribute server. 'server' is a required property",
        ));
    }
    let req = ServerRequest {
        name: s["name"].as_str().unwrap_or_default().to_owned(),
        image_ref: s["imageRef"].as_str().unwrap_or_default().to_owned(),
        flavor_ref: s["flavorRef"].as_str().unwrap_or_default().to_owned(),
        networks: strings(&s["networks"], "uuid"),
        security_groups: strings(&s["security_groups"], "name"),
        key_name: s["key_name"].as_str().map(str::to_owned),
        metadata: s["metadata"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut st = sh.synced();
    match st.create_server(req) {
        Ok(server) => {
            let groups: Vec<Value> = server
                .security_groups
                .iter()
                .map(|g| json!({"name": g}))
                .collect();
            ok(
                StatusCode::ACCEPTED,
                json!({"server": {"id": server.id, "links": [{"rel": "self", "href": format!("{}/compute/v2.1/servers/{}", sh.base, server.id)}], "OS-DCF:diskConfig": "MANUAL", "security_groups": groups, "adminPass": "not-a-real-password"}}),
            )
        }
        Err(e) => os_err(e),
    }
}

pub(super) async fn delete_server(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_server(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

pub(super) async fn server_action(State(sh): Sh, Path(id): Path<String>, body: Bytes) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_body(e),
    };
    let mut st = sh.synced();
    if let Some(ci) = v.get("createImage") {
        return match st.create_image(&id, ci["name"].as_str().unwrap_or_default()) {
            Ok(img) => {
                let mut r = ok(StatusCode::ACCEPTED, json!({"image_id": img.id}));
                if let Ok(h) =
                    HeaderValue::from_str(&format!("{}/compute/v2.1/images/{}", sh.base, img.id))
                {
                    r.headers_mut().insert("Location", h);
                }
                r
            }
            Err(e) => os_err(e),
        };
    }
    if v.get("os-getConsoleOutput").is_some() {
        return match st.server(&id) {
            Ok(s) => ok(StatusCode::OK, json!({"output": s.console})),
            Err(e) => os_err(e),
        };
    }
    os_err(OsError::fault(400, "badRequest", "There is no such action"))
}

pub(super) fn secgroup_json(
    g: &crate::mocks::openstack_model::SecurityGroup,
    project: &str,
) -> Value {
    json!({"id": g.id, "name": g.name, "description": g.description, "tenant_id": project, "rules": []})
}

pub(super) async fn server_secgroups(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.server(&id) {
        Ok(s) => {
            let groups: Vec<Value> = st
                .security_groups()
                .iter()
                .filter(|g| s.security_groups.contains(&g.name))
                .map(|g| secgroup_json(g, &st.config.project_id))
                .collect();
            ok(StatusCode::OK, json!({ "security_groups": groups }))
        }
        Err(e) => os_err(e),
    }
}

pub(super) async fn list_secgroups(State(sh): Sh) -> Response {
    let st = sh.synced();
    let groups: Vec<Value> = st
        .security_groups()
        .iter()
        .map(|g| secgroup_json(g, &st.config.project_id))
        .collect();
    ok(StatusCode::OK, json!({ "security_groups": groups }))
}

/// A flavor; the detail carries `extra_specs` and `description` (microversions 2.61 and 2.55,
/// below the 2.79 this Nova offers).
pub(super) fn flavor_json(f: &Flavor, base: &str, detail: bool) -> Value {
    let links = json!([{"rel": "self", "href": format!("{base}/compute/v2.1/flavors/{}", f.id)}]);
    if detail {
        json!({"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb, "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": false, "swap": "", "rxtx_factor": 1.0, "os-flavor-access:is_public": true, "description": null, "extra_specs": f.extra_specs, "links": links})
    } else {
        json!({"id": f.id, "name": f.name, "links": links})
    }
}

pub(super) async fn list_flavors(State(sh): Sh) -> Response {
    let st = sh.synced();
    ok(
        StatusCode::OK,
        json!({"flavors": st.flavors().iter().map(|f| flavor_json(f, &sh.base, false)).collect::<Vec<_>>()}),
    )
}

pub(super) async fn list_flavors_detail(State(sh): Sh) -> Response {
    let st = sh.synced();
    ok(
        StatusCode::OK,
        json!({"flavors": st.flavors().iter().map(|f| flavor_json(f, &sh.base, true)).collect::<Vec<_>>()}),
    )
}

pub(super) async fn show_flavor(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.flavors().iter().find(|f| f.id == id) {
        Some(f) => ok(
            StatusCode::OK,
            json!({"flavor": flavor_json(f, &sh.base, true)}),
        ),
        None => os_err(OsError::fault(
            404,
            "itemNotFound",
            format!("Flavor {id} could not be found."),
        )),
    }
}

pub(super) fn image_json(i: &crate::mocks::openstack_model::Image, base: &str) -> Value {
    json!({"id": i.id, "name": i.name, "status": i.status, "created": iso8601(i.created_s), "updated": iso8601(i.created_s), "minDisk": 0, "minRam": 0, "progress": 100, "metadata": {}, "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/images/{}", i.id)}]})
}

pub(super) async fn list_images(
    State(sh): Sh,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .images()
        .iter()
        .filter(|i| q.get("name").is_none_or(|n| *n == i.name))
        .map(|i| image_json(i, &sh.base))
        .collect();
    ok(StatusCode::OK, json!({ "images": list }))
}

pub(super) async fn show_image(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.images().iter().find(|i| i.id == id) {
        Some(i) => ok(StatusCode::OK, json!({"image": image_json(i, &sh.base)})),
        None => os_err(OsError::fault(
            404,
            "itemNotFound",
            format!("Image {id} could not be found."),
        )),
    }
}

pub(super) async fn delete_image(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_image(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

pub(super) async fn quota_set(State(sh): Sh, Path(project): Path<String>) -> Response {
    let st = sh.synced();
    if project != st.config.project_id {
        return os_err(OsError::fault(
            403,
            "forbidden",
            format!(
                "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed for project {project}."
            ),
        ));
    }
    ok(StatusCode::OK, st.quota_set_json())
}

/// `GET /os-quota-sets/:project/detail` (`openstack quota show` asks it): limits with usage.
pub(super) async fn quota_set_detail(State(sh): Sh, Path(project): Path<String>) -> Response {
    let st = sh.synced();
    if project != st.config.project_id {
        return os_err(OsError::fault(
            403,
            "forbidden",
            format!(
                "Policy doesn't allow os_compute_api:os-quota-sets:detail to be performed for project {project}."
            ),
        ));
    }
    ok(StatusCode::OK, st.quota_detail_json())
}
