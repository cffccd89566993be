//! Keystone v3: version documents, password tokens (expiry on the wall clock, 1 h), the
//! project and user reads `openstack project list`, `quota show` and openstacksdk make.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::{Q, Sh, no_content, ok, os_err};
use crate::mocks::{
    common::{iso8601, parse_json, wall_now_ns},
    openstack_model::{OpenStackConfig, OsError},
};

pub(super) async fn versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": {"values": [{"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": format!("{}/v3/", sh.base)}]}]}}),
    )
}

pub(super) async fn v3(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"version": {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": format!("{}/v3/", sh.base)}], "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}}),
    )
}

pub(super) async fn issue_token(State(sh): Sh, body: Bytes) -> Response {
    let v: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => {
            return ok(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": 400, "message": format!("Malformed request body: {e}"), "title": "Bad Request"}}),
            );
        }
    };
    let auth = &v["auth"];
    if !auth["identity"]["methods"]
        .as_array()
        .is_some_and(|m| m.iter().any(|x| x == "password"))
    {
        return ok(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": 400, "message": "Expecting to find identity.methods with \"password\" in auth.", "title": "Bad Request"}}),
        );
    }
    let user = &auth["identity"]["password"]["user"];
    let name = user["name"]
        .as_str()
        .or(user["id"].as_str())
        .unwrap_or_default();
    let password = user["password"].as_str().unwrap_or_default();
    let project = &auth["scope"]["project"];
    let project = project["id"]
        .as_str()
        .or(project["name"].as_str())
        .unwrap_or_default();
    let mut st = sh.synced();
    let issued = wall_now_ns();
    match st.issue_token(name, password, project, issued) {
        Ok((token, exp)) => {
            let c = &st.config;
            let body = json!({"token": {
                "methods": ["password"],
                "user": {"id": format!("uid-{}", c.username), "name": c.username, "domain": {"id": "default", "name": "Default"}, "password_expires_at": null},
                "project": {"id": c.project_id, "name": c.project_name, "domain": {"id": "default", "name": "Default"}},
                "roles": [{"id": "role-member", "name": "member"}],
                "catalog": st.catalog(&sh.base),
                "expires_at": fractional(exp), "issued_at": fractional(issued), "audit_ids": ["audit"],
            }});
            let mut r = ok(StatusCode::CREATED, body);
            if let Ok(h) = HeaderValue::from_str(&token) {
                r.headers_mut().insert("X-Subject-Token", h);
            }
            r
        }
        Err(e) => os_err(e),
    }
}

fn fractional(ns: u64) -> String {
    let s = iso8601(ns / 1_000_000_000);
    format!("{}.{:06}Z", &s[..s.len() - 1], (ns % 1_000_000_000) / 1000)
}

fn project_json(c: &OpenStackConfig, base: &str) -> Value {
    json!({
        "id": c.project_id, "name": c.project_name, "domain_id": "default", "description": "",
        "enabled": true, "parent_id": "default", "is_domain": false, "tags": [], "options": {},
        "links": {"self": format!("{base}/v3/projects/{}", c.project_id)},
    })
}

fn user_id(c: &OpenStackConfig) -> String {
    format!("uid-{}", c.username)
}

/// `GET /v3/projects` (filters `name`, `domain_id`, `enabled`): the one project.
pub(super) async fn projects(State(sh): Sh, Query(q): Q) -> Response {
    let c = sh.synced().config.clone();
    let keep = q.get("name").is_none_or(|n| *n == c.project_name)
        && q.get("domain_id").is_none_or(|d| d == "default")
        && q.get("id").is_none_or(|i| *i == c.project_id);
    let list: Vec<Value> = if keep {
        vec![project_json(&c, &sh.base)]
    } else {
        vec![]
    };
    ok(
        StatusCode::OK,
        json!({"projects": list, "links": {"self": format!("{}/v3/projects", sh.base), "previous": null, "next": null}}),
    )
}

/// `GET /v3/projects/:id` (by ID; the CLI falls back to a name search on 404).
pub(super) async fn project(State(sh): Sh, Path(id): Path<String>) -> Response {
    let c = sh.synced().config.clone();
    if id != c.project_id {
        return os_err(keystone_404("project", &id));
    }
    ok(
        StatusCode::OK,
        json!({"project": project_json(&c, &sh.base)}),
    )
}

/// `GET /v3/auth/projects` and `GET /v3/users/:id/projects`: the projects the token's user
/// can scope to.
pub(super) async fn auth_projects(State(sh): Sh) -> Response {
    let c = sh.synced().config.clone();
    ok(
        StatusCode::OK,
        json!({"projects": [project_json(&c, &sh.base)], "links": {"self": format!("{}/v3/auth/projects", sh.base), "previous": null, "next": null}}),
    )
}

/// `GET /v3/users/:id/projects`.
pub(super) async fn user_projects(State(sh): Sh, Path(id): Path<String>) -> Response {
    let c = sh.synced().config.clone();
    if id != user_id(&c) {
        return os_err(keystone_404("user", &id));
    }
    auth_projects(State(sh)).await
}

/// `GET /v3/users/:id`.
pub(super) async fn user(State(sh): Sh, Path(id): Path<String>) -> Response {
    let c = sh.synced().config.clone();
    if id != user_id(&c) {
        return os_err(keystone_404("user", &id));
    }
    ok(
        StatusCode::OK,
        json!({"user": {"id": id, "name": c.username, "domain_id": "default", "enabled": true, "default_project_id": c.project_id, "password_expires_at": null, "options": {}, "links": {"self": format!("{}/v3/users/{id}", sh.base)}}}),
    )
}

/// `GET /v3/domains/:id`.
pub(super) async fn domain(State(sh): Sh, Path(id): Path<String>) -> Response {
    if id != "default" {
        return os_err(keystone_404("domain", &id));
    }
    ok(
        StatusCode::OK,
        json!({"domain": {"id": "default", "name": "Default", "description": "The default domain", "enabled": true, "tags": [], "options": {}, "links": {"self": format!("{}/v3/domains/default", sh.base)}}}),
    )
}

/// `DELETE /v3/auth/tokens` (`openstack token revoke`): the token stops working.
pub(super) async fn revoke(State(sh): Sh, headers: axum::http::HeaderMap) -> Response {
    let t = headers
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if sh.synced().revoke_token(&t) {
        no_content()
    } else {
        os_err(keystone_404("token", ""))
    }
}

fn keystone_404(kind: &str, id: &str) -> OsError {
    OsError {
        status: 404,
        body: json!({"error": {"code": 404, "message": format!("Could not find {kind}: {id}."), "title": "Not Found"}}),
    }
}
