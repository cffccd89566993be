//! Neutron (`/network/v2.0`): networks (the project's and the external pool), subnets, ports,
//! routers, security groups and rules, floating IPs (create, show, associate with a port,
//! release), quotas and the extension list clients probe.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use super::{Q, Sh, no_content, ok, os_err};
use crate::mocks::{
    common::parse_json,
    openstack_model::{
        FloatingIp, OpenStackState, OsError, SecurityGroup,
        network::{Port, Router, Rule},
    },
};

fn bad(e: impl std::fmt::Display) -> Response {
    os_err(OsError {
        status: 400,
        body: json!({"NeutronError": {"type": "HTTPBadRequest", "message": format!("Malformed request body: {e}"), "detail": ""}}),
    })
}

fn not_found(kind: &str, what: &str, id: &str) -> Response {
    os_err(OsError {
        status: 404,
        body: json!({"NeutronError": {"type": format!("{kind}NotFound"), "message": format!("{what} {id} could not be found."), "detail": ""}}),
    })
}

fn body(b: &Bytes) -> Result<Value, String> {
    parse_json::<Value>(b)
}

/// Neutron's list filters: every `key=value` given must match the field (as a string).
fn keep(v: &Value, q: &std::collections::BTreeMap<String, String>) -> bool {
    q.iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "fields" | "limit" | "marker" | "sort_key" | "sort_dir"
            )
        })
        .all(|(k, want)| match &v[k.as_str()] {
            Value::String(s) => s == want,
            Value::Bool(b) => b.to_string() == want.to_lowercase(),
            Value::Number(n) => n.to_string() == *want,
            Value::Null => want.is_empty(),
            _ => true,
        })
}

fn network_json(st: &OpenStackState, id: &str, name: &str, external: bool) -> Value {
    let p = &st.config.project_id;
    let subnets: Vec<&str> = st
        .subnets()
        .iter()
        .filter(|s| s.network_id == id)
        .map(|s| s.id.as_str())
        .collect();
    json!({"id": id, "name": name, "status": "ACTIVE", "admin_state_up": true, "shared": external,
           "router:external": external, "subnets": subnets, "mtu": 1500, "availability_zones": ["nova"],
           "ipv4_address_scope": null, "port_security_enabled": true, "description": "", "tags": [],
           "project_id": if external { "admin" } else { p.as_str() }, "tenant_id": if external { "admin" } else { p.as_str() },
           "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "revision_number": 1})
}

/// `GET /v2.0/networks`.
pub(super) async fn networks(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .all_networks()
        .iter()
        .map(|(id, n, e)| network_json(&st, id, n, *e))
        .filter(|v| keep(v, &q))
        .collect();
    ok(StatusCode::OK, json!({ "networks": list }))
}

/// `GET /v2.0/networks/:id`.
pub(super) async fn network(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.all_networks().iter().find(|(i, ..)| *i == id) {
        Some((i, n, e)) => ok(
            StatusCode::OK,
            json!({"network": network_json(&st, i, n, *e)}),
        ),
        None => not_found("Network", "Network", &id),
    }
}

fn subnet_json(st: &OpenStackState, s: &crate::mocks::openstack_model::network::Subnet) -> Value {
    let gw = s
        .cidr
        .split('/')
        .next()
        .unwrap_or_default()
        .rsplit_once('.')
        .map_or_else(String::new, |(a, _)| format!("{a}.1"));
    json!({"id": s.id, "name": s.name, "network_id": s.network_id, "cidr": s.cidr, "ip_version": 4, "gateway_ip": gw,
           "enable_dhcp": true, "dns_nameservers": [], "allocation_pools": [], "host_routes": [], "description": "",
           "ipv6_address_mode": null, "ipv6_ra_mode": null, "subnetpool_id": null, "tags": [], "revision_number": 0,
           "project_id": st.config.project_id, "tenant_id": st.config.project_id})
}

/// `GET /v2.0/subnets`.
pub(super) async fn subnets(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .subnets()
        .iter()
        .map(|s| subnet_json(&st, s))
        .filter(|v| keep(v, &q))
        .collect();
    ok(StatusCode::OK, json!({ "subnets": list }))
}

/// `GET /v2.0/subnets/:id`.
pub(super) async fn subnet(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.subnets().iter().find(|s| s.id == id) {
        Some(s) => ok(StatusCode::OK, json!({"subnet": subnet_json(&st, s)})),
        None => not_found("Subnet", "Subnet", &id),
    }
}

fn port_json(st: &OpenStackState, p: &Port) -> Value {
    let subnet = st
        .subnets()
        .iter()
        .find(|s| s.network_id == p.network_id)
        .map(|s| s.id.clone())
        .unwrap_or_default();
    json!({"id": p.id, "name": p.name, "network_id": p.network_id, "device_id": p.device_id, "device_owner": p.device_owner,
           "mac_address": p.mac, "fixed_ips": [{"subnet_id": subnet, "ip_address": p.fixed_ip}], "security_groups": p.security_groups,
           "status": "ACTIVE", "admin_state_up": true, "allowed_address_pairs": [], "binding:vnic_type": "normal",
           "port_security_enabled": true, "description": "", "tags": [], "revision_number": 1,
           "project_id": st.config.project_id, "tenant_id": st.config.project_id})
}

/// `GET /v2.0/ports` (`device_id=` finds a server's ports, as `server add floating ip` does).
pub(super) async fn ports(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .ports()
        .iter()
        .map(|p| port_json(&st, p))
        .filter(|v| keep(v, &q))
        .collect();
    ok(StatusCode::OK, json!({ "ports": list }))
}

/// `GET /v2.0/ports/:id`.
pub(super) async fn port(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.ports().iter().find(|p| p.id == id) {
        Some(p) => ok(StatusCode::OK, json!({"port": port_json(&st, p)})),
        None => not_found("Port", "Port", &id),
    }
}

/// `POST /v2.0/ports`.
pub(super) async fn create_port(State(sh): Sh, b: Bytes) -> Response {
    let v = match body(&b) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let p = &v["port"];
    let mut st = sh.synced();
    match st.create_port(
        p["network_id"].as_str().unwrap_or_default(),
        p["name"].as_str().unwrap_or_default(),
    ) {
        Ok(port) => ok(StatusCode::CREATED, json!({"port": port_json(&st, &port)})),
        Err(e) => os_err(e),
    }
}

/// `DELETE /v2.0/ports/:id`.
pub(super) async fn delete_port(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_port(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

fn router_json(st: &OpenStackState, r: &Router) -> Value {
    let gw = r
        .gateway
        .as_ref()
        .map(|n| json!({"network_id": n, "enable_snat": true, "external_fixed_ips": []}));
    json!({"id": r.id, "name": r.name, "status": "ACTIVE", "admin_state_up": true, "external_gateway_info": gw,
           "routes": [], "availability_zones": ["nova"], "description": "", "tags": [], "revision_number": 1,
           "project_id": st.config.project_id, "tenant_id": st.config.project_id})
}

/// `GET /v2.0/routers`.
pub(super) async fn routers(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .routers()
        .iter()
        .map(|r| router_json(&st, r))
        .filter(|v| keep(v, &q))
        .collect();
    ok(StatusCode::OK, json!({ "routers": list }))
}

/// `GET /v2.0/routers/:id`.
pub(super) async fn router(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.routers().iter().find(|r| r.id == id) {
        Some(r) => ok(StatusCode::OK, json!({"router": router_json(&st, r)})),
        None => not_found("Router", "Router", &id),
    }
}

/// `POST /v2.0/routers`.
pub(super) async fn create_router(State(sh): Sh, b: Bytes) -> Response {
    let v = match body(&b) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let r = &v["router"];
    let mut st = sh.synced();
    match st.create_router(
        r["name"].as_str().unwrap_or_default(),
        r["external_gateway_info"]["network_id"].as_str(),
    ) {
        Ok(router) => ok(
            StatusCode::CREATED,
            json!({"router": router_json(&st, &router)}),
        ),
        Err(e) => os_err(e),
    }
}

/// `DELETE /v2.0/routers/:id`.
pub(super) async fn delete_router(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_router(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

/// `PUT /v2.0/routers/:id/add_router_interface`.
pub(super) async fn add_interface(State(sh): Sh, Path(id): Path<String>, b: Bytes) -> Response {
    let v = match body(&b) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let mut st = sh.synced();
    match st.add_router_interface(&id, v["subnet_id"].as_str().unwrap_or_default()) {
        Ok(p) => ok(
            StatusCode::OK,
            json!({"id": id, "subnet_id": v["subnet_id"], "subnet_ids": [v["subnet_id"]], "port_id": p.id, "network_id": p.network_id, "project_id": st.config.project_id, "tenant_id": st.config.project_id}),
        ),
        Err(e) => os_err(e),
    }
}

fn rule_json(g: &str, r: &Rule, project: &str) -> Value {
    json!({"id": r.id, "security_group_id": g, "direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
           "port_range_min": r.port_min, "port_range_max": r.port_max, "remote_ip_prefix": r.remote_ip_prefix,
           "remote_group_id": null, "description": "", "revision_number": 0, "project_id": project, "tenant_id": project})
}

fn group_json(g: &SecurityGroup, project: &str) -> Value {
    let rules: Vec<Value> = g
        .rules
        .iter()
        .map(|r| rule_json(&g.id, r, project))
        .collect();
    json!({"id": g.id, "name": g.name, "description": g.description, "security_group_rules": rules, "stateful": true,
           "tags": [], "revision_number": 1, "project_id": project, "tenant_id": project})
}

/// `GET /v2.0/security-groups`.
pub(super) async fn groups(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let p = &st.config.project_id;
    let list: Vec<Value> = st
        .security_groups()
        .iter()
        .map(|g| group_json(g, p))
        .filter(|v| keep(v, &q))
        .collect();
    ok(StatusCode::OK, json!({ "security_groups": list }))
}

/// `GET /v2.0/security-groups/:id`.
pub(super) async fn group(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.security_groups().iter().find(|g| g.id == id) {
        Some(g) => ok(
            StatusCode::OK,
            json!({"security_group": group_json(g, &st.config.project_id)}),
        ),
        None => not_found("SecurityGroup", "Security group", &id),
    }
}

/// `POST /v2.0/security-groups`.
pub(super) async fn create_group(State(sh): Sh, b: Bytes) -> Response {
    let v = match body(&b) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let g = &v["security_group"];
    let mut st = sh.synced();
    match st.create_security_group(
        g["name"].as_str().unwrap_or_default(),
        g["description"].as_str().unwrap_or_default(),
    ) {
        Ok(g) => ok(
            StatusCode::CREATED,
            json!({"security_group": group_json(&g, &st.config.project_id)}),
        ),
        Err(e) => os_err(e),
    }
}

/// `DELETE /v2.0/security-groups/:id`.
pub(super) async fn delete_group(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_security_group(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

/// `GET /v2.0/security-group-rules`.
pub(super) async fn rules(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let p = &st.config.project_id;
    let list: Vec<Value> = st
        .security_groups()
        .iter()
        .flat_map(|g| g.rules.iter().map(move |r| rule_json(&g.id, r, p)))
        .filter(|v| keep(v, &q))
        .collect();
    ok(StatusCode::OK, json!({ "security_group_rules": list }))
}

/// `GET /v2.0/security-group-rules/:id`.
pub(super) async fn rule(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    for g in st.security_groups() {
        if let Some(r) = g.rules.iter().find(|r| r.id == id) {
            return ok(
                StatusCode::OK,
                json!({"security_group_rule": rule_json(&g.id, r, &st.config.project_id)}),
            );
        }
    }
    not_found("SecurityGroupRule", "Security group rule", &id)
}

/// `POST /v2.0/security-group-rules`.
pub(super) async fn create_rule(State(sh): Sh, b: Bytes) -> Response {
    let v = match body(&b) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let r = &v["security_group_rule"];
    let port = |k: &str| r[k].as_u64().and_then(|p| u16::try_from(p).ok());
    let rule = Rule {
        id: String::new(),
        direction: r["direction"].as_str().unwrap_or_default().to_owned(),
        ethertype: r["ethertype"].as_str().unwrap_or("IPv4").to_owned(),
        protocol: r["protocol"].as_str().map(str::to_owned),
        port_min: port("port_range_min"),
        port_max: port("port_range_max"),
        remote_ip_prefix: r["remote_ip_prefix"].as_str().map(str::to_owned),
    };
    let group = r["security_group_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut st = sh.synced();
    match st.create_rule(&group, rule) {
        Ok(rule) => ok(
            StatusCode::CREATED,
            json!({"security_group_rule": rule_json(&group, &rule, &st.config.project_id)}),
        ),
        Err(e) => os_err(e),
    }
}

/// `DELETE /v2.0/security-group-rules/:id`.
pub(super) async fn delete_rule(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_rule(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

fn fip_json(st: &OpenStackState, f: &FloatingIp) -> Value {
    let p = &st.config.project_id;
    json!({"id": f.id, "floating_ip_address": f.address, "fixed_ip_address": f.fixed_ip,
           "status": if f.port_id.is_some() || f.fixed_ip.is_some() { "ACTIVE" } else { "DOWN" },
           "floating_network_id": st.external_network_id(), "port_id": f.port_id, "router_id": null,
           "description": "", "dns_domain": "", "dns_name": "", "port_details": null, "tags": [], "revision_number": 1,
           "project_id": p, "tenant_id": p})
}

/// `GET /v2.0/floatingips` (also `floatingips.json`, what openstacksdk 0.46's cloud layer asks).
pub(super) async fn fips(State(sh): Sh, Query(q): Q) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .floating_ips()
        .iter()
        .map(|f| fip_json(&st, f))
        .filter(|v| keep(v, &q))
        .collect();
    ok(StatusCode::OK, json!({ "floatingips": list }))
}

/// `GET /v2.0/floatingips/:id`.
pub(super) async fn fip(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.floating_ips().iter().find(|f| f.id == id) {
        Some(f) => ok(StatusCode::OK, json!({"floatingip": fip_json(&st, f)})),
        None => os_err(OsError {
            status: 404,
            body: json!({"NeutronError": {"type": "FloatingIPNotFound", "message": format!("Floating IP {id} could not be found"), "detail": ""}}),
        }),
    }
}

/// `POST /v2.0/floatingips` (from the external network; 409 past the quota).
pub(super) async fn create_fip(State(sh): Sh, b: Bytes) -> Response {
    let v = match body(&b) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let mut st = sh.synced();
    let net = v["floatingip"]["floating_network_id"]
        .as_str()
        .unwrap_or_default();
    if net != st.external_network_id() && net != "external_magellium" {
        return not_found("ExternalNetwork", "External network", net);
    }
    let port = v["floatingip"]["port_id"].as_str().map(str::to_owned);
    match st.create_floating_ip() {
        Ok(f) => {
            if let Err(e) = st.associate_floating_ip(&f.id, port.as_deref()) {
                let _ = st.delete_floating_ip(&f.id);
                return os_err(e);
            }
            let f = st
                .floating_ips()
                .iter()
                .find(|x| x.id == f.id)
                .cloned()
                .unwrap_or(f);
            ok(
                StatusCode::CREATED,
                json!({"floatingip": fip_json(&st, &f)}),
            )
        }
        Err(e) => os_err(e),
    }
}

/// `PUT /v2.0/floatingips/:id`: `{"floatingip": {"port_id": P}}` associates, `null` releases.
pub(super) async fn update_fip(State(sh): Sh, Path(id): Path<String>, b: Bytes) -> Response {
    let v = match body(&b) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let Some(f) = v.get("floatingip").filter(|f| f.is_object()) else {
        return bad("'floatingip' is a required object");
    };
    let mut st = sh.synced();
    let port = f["port_id"].as_str();
    match st.associate_floating_ip(&id, port) {
        Ok(()) => {
            let f = st.floating_ips().iter().find(|x| x.id == id).cloned();
            ok(
                StatusCode::OK,
                json!({"floatingip": f.map(|f| fip_json(&st, &f))}),
            )
        }
        Err(e) => os_err(e),
    }
}

/// `DELETE /v2.0/floatingips/:id`.
pub(super) async fn delete_fip(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_floating_ip(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

/// `GET /v2.0/quotas/:project[/details]`.
pub(super) async fn quotas(State(sh): Sh, Path(project): Path<String>) -> Response {
    quota_body(&sh, &project, false)
}

/// `GET /v2.0/quotas/:project/details`.
pub(super) async fn quota_details(State(sh): Sh, Path(project): Path<String>) -> Response {
    quota_body(&sh, &project, true)
}

fn quota_body(sh: &super::Shared, project: &str, details: bool) -> Response {
    let st = sh.synced();
    if project != st.config.project_id {
        return os_err(OsError {
            status: 403,
            body: json!({"NeutronError": {"type": "HTTPForbidden", "message": format!("Non-admin is not authorized to access quotas for another project ({project})"), "detail": ""}}),
        });
    }
    ok(StatusCode::OK, st.network_quota_json(details))
}

/// `GET /v2.0/extensions`: what clients probe before using a feature.
pub(super) async fn extensions() -> Response {
    let ext: Vec<Value> = [
        ("external-net", "Neutron external network"),
        ("router", "Neutron L3 Router"),
        ("security-group", "security-group"),
        ("quotas", "Quota management support"),
        ("quota_details", "Quota details management support"),
        ("port-security", "Port Security"),
        ("binding", "Port Binding"),
        ("standard-attr-tag", "Tag support for resources with standard attribute"),
    ]
    .iter()
    .map(|(alias, name)| json!({"alias": alias, "name": name, "description": name, "updated": "2017-01-01T00:00:00-00:00", "links": []}))
    .collect();
    ok(StatusCode::OK, json!({ "extensions": ext }))
}
