//! A stateful stand-in for the OpenStack APIs the system uses, on one loopback listener:
//! Keystone v3 (`/v3`), Nova (`/compute/v2.1`), Neutron (`/network/v2.0`) and Cinder
//! (`/volume/v3/<project>`), listed in the token's service catalog so openstacksdk-style
//! clients discover them from `OS_AUTH_URL=<url>/v3`. Every call but the token request needs a
//! valid `X-Auth-Token`; an expired one gets Keystone's 401.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hrsi_harness::mocks::{OpenStackMock, VirtualClock, openstack_model::OpenStackConfig};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let os = OpenStackMock::spawn(listener, VirtualClock::default(), OpenStackConfig::default())?;
//! println!("OS_AUTH_URL={}", os.auth_url());
//! os.with_state(|s| s.quotas.cores = 8); // the next worker creation gets a 403
//! # Ok(()) }
//! ```

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{
    common::{
        Clocked, Control, Server, Synced, VirtualClock, instrument, iso8601, parse_json,
        wall_now_ns,
    },
    nomad::NomadMock,
    nomad_model::NodeSpec,
    openstack_model::{
        OpenStackConfig, OpenStackState, OsError, ServerEvent, ServerRequest, server_json,
        servers_detail_body,
    },
};

struct Shared {
    core: Synced<OpenStackState>,
    base: String,
}

impl std::ops::Deref for Shared {
    type Target = Synced<OpenStackState>;
    fn deref(&self) -> &Self::Target {
        &self.core
    }
}

impl Clocked for OpenStackState {
    fn tick(&mut self, now_ns: u64) {
        OpenStackState::tick(self, now_ns);
    }
}

/// A running OpenStack mock. Dropping it stops the server.
pub struct OpenStackMock {
    server: Server,
    shared: Arc<Shared>,
    control: Arc<Control>,
}

impl OpenStackMock {
    /// Serves a project with the system's flavors, networks and base image on `listener`.
    pub fn spawn(
        listener: TcpListener,
        clock: VirtualClock,
        config: OpenStackConfig,
    ) -> std::io::Result<Self> {
        let base = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            core: Synced::new(OpenStackState::new(config, clock.now_ns()), clock.clone()),
            base,
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

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The value for `OS_AUTH_URL`.
    pub fn auth_url(&self) -> String {
        format!("{}/v3", self.server.url())
    }

    /// The virtual clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.shared.clock
    }

    /// Advances the virtual clock and lets builds finish.
    pub fn advance(&self, d: Duration) {
        self.shared.advance(d);
    }

    /// Runs `f` on the project state, synced to the clock (quotas, token expiry, consoles...).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut OpenStackState) -> R) -> R {
        self.shared.with(f)
    }

    /// Fault injection and the request log.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Fault: every token issued so far is expired (the next call gets Keystone's 401).
    pub fn expire_tokens(&self) {
        self.with_state(OpenStackState::expire_tokens);
    }

    /// Fault: replaces the project's quotas (Nova answers 403, Cinder 413, Neutron 409 past them).
    pub fn set_quotas(&self, quotas: super::openstack_model::Quotas) {
        self.with_state(|s| s.quotas = quotas);
    }
}

/// Makes worker VMs register with Nomad: a server created from an image other than the base
/// image (i.e. the worker template image) boots a Nomad agent of its flavor, which registers
/// after `boot`; deleting the server takes its node down. Terraform's `tf-*` VMs are left out:
/// tf-tata is registered by the infrastructure model.
pub fn link_workers(openstack: &OpenStackMock, nomad: Arc<NomadMock>, boot: Duration) {
    let mut node_of: BTreeMap<String, String> = BTreeMap::new();
    openstack.with_state(|s| {
        s.set_hook(Box::new(move |ev| match ev {
            ServerEvent::Created(server, image) if image.starts_with("os-worker-template-") => {
                let ip = server
                    .addresses
                    .first()
                    .map(|a| a.1.clone())
                    .unwrap_or_default();
                let spec = NodeSpec::worker(
                    &server.name,
                    &server.flavor.name,
                    server.flavor.vcpus,
                    server.flavor.ram_mb,
                    &ip,
                );
                let id = nomad.with_state(|n| n.add_node(spec, boot));
                node_of.insert(server.id.clone(), id);
            }
            ServerEvent::Deleted(server) => {
                if let Some(id) = node_of.remove(&server.id) {
                    nomad.with_state(|n| {
                        let _ = n.node_down(&id);
                        n.forget_node(&id);
                    });
                }
            }
            ServerEvent::Created(..) => {}
        }))
    });
}

type Sh = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    let protected = Router::new()
        .route(
            "/compute/v2.1/servers",
            get(list_servers_short).post(create_server),
        )
        .route("/compute/v2.1/servers/detail", get(list_servers_detail))
        .route(
            "/compute/v2.1/servers/{id}",
            get(show_server).delete(delete_server),
        )
        .route("/compute/v2.1/servers/{id}/action", post(server_action))
        .route(
            "/compute/v2.1/servers/{id}/os-security-groups",
            get(server_secgroups),
        )
        .route("/compute/v2.1/flavors", get(list_flavors))
        .route("/compute/v2.1/flavors/detail", get(list_flavors_detail))
        .route("/compute/v2.1/flavors/{id}", get(show_flavor))
        .route("/compute/v2.1/images", get(list_images))
        .route("/compute/v2.1/images/detail", get(list_images))
        .route(
            "/compute/v2.1/images/{id}",
            get(show_image).delete(delete_image),
        )
        .route("/compute/v2.1/os-security-groups", get(list_secgroups))
        .route("/image/v2/images", get(glance_list))
        .route(
            "/image/v2/images/{id}",
            get(glance_show).delete(delete_image),
        )
        .route("/compute/v2.1/os-quota-sets/{project}", get(quota_set))
        .route("/network/v2.0/networks", get(list_networks))
        .route("/network/v2.0/floatingips", get(list_fips).post(create_fip))
        .route(
            "/network/v2.0/floatingips/{id}",
            axum::routing::delete(delete_fip),
        )
        .route(
            "/volume/v3/{project}/volumes",
            get(list_volumes).post(create_volume),
        )
        .route("/volume/v3/{project}/volumes/detail", get(list_volumes))
        .route(
            "/volume/v3/{project}/volumes/{id}",
            get(show_volume).delete(delete_volume),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(v3))
        .route("/v3/auth/tokens", post(issue_token))
        .route("/compute", get(nova_versions))
        .route("/compute/", get(nova_versions))
        .route("/compute/v2.1", get(nova_version))
        .route("/compute/v2.1/", get(nova_version))
        .route("/image", get(glance_versions))
        .route("/image/", get(glance_versions))
        .route("/network", get(neutron_versions))
        .route("/network/", get(neutron_versions))
        .merge(protected)
        .fallback(|| async {
            os_err(OsError::fault(
                404,
                "itemNotFound",
                "The resource could not be found.",
            ))
        })
        .with_state(shared)
}

fn os_err(e: OsError) -> Response {
    (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(e.body),
    )
        .into_response()
}

fn ok(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn no_content() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default()
}

async fn require_token(State(sh): Sh, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("X-Auth-Token")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = sh.synced().check_token(token, wall_now_ns()) {
        return os_err(e);
    }
    next.run(req).await
}

fn bad_body(e: String) -> Response {
    os_err(OsError::fault(
        400,
        "badRequest",
        format!("Malformed request body: {e}"),
    ))
}

// ---- keystone ---------------------------------------------------------------------------------

async fn versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": {"values": [{"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": format!("{}/v3/", sh.base)}]}]}}),
    )
}

async fn v3(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"version": {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": format!("{}/v3/", sh.base)}], "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}}),
    )
}

async fn issue_token(State(sh): Sh, body: Bytes) -> Response {
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

// ---- nova -------------------------------------------------------------------------------------

/// Nova's version document: clients read the maximum microversion here before asking for one.
fn nova_version_json(base: &str) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": "2.79", "min_version": "2.1", "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}]})
}

async fn nova_versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"versions": [nova_version_json(&sh.base)]}),
    )
}

async fn nova_version(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"version": nova_version_json(&sh.base)}),
    )
}

async fn neutron_versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::OK,
        json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{}/network/v2.0/", sh.base)}]}]}),
    )
}

/// Nova embeds the flavor from microversion 2.47 on; older clients get a link.
fn embedded_flavor(h: &HeaderMap) -> bool {
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
) -> Vec<&'a super::openstack_model::Server> {
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

async fn list_servers_short(State(sh): Sh, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = filtered(&st, &q).iter().map(|s| json!({"id": s.id, "name": s.name, "links": [{"rel": "self", "href": format!("{}/compute/v2.1/servers/{}", sh.base, s.id)}]})).collect();
    ok(StatusCode::OK, json!({ "servers": list }))
}

async fn list_servers_detail(
    State(sh): Sh,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let st = sh.synced();
    let body = servers_detail_body(
        filtered(&st, &q).into_iter(),
        &sh.base,
        &st.config.project_id,
        embedded_flavor(&headers),
    );
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn show_server(State(sh): Sh, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.server(&id) {
        Ok(s) => ok(
            StatusCode::OK,
            json!({"server": server_json(s, &sh.base, &st.config.project_id, embedded_flavor(&headers))}),
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

async fn create_server(State(sh): Sh, body: Bytes) -> Response {
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

async fn delete_server(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_server(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

async fn server_action(State(sh): Sh, Path(id): Path<String>, body: Bytes) -> Response {
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

fn secgroup_json(g: &super::openstack_model::SecurityGroup, project: &str) -> Value {
    json!({"id": g.id, "name": g.name, "description": g.description, "tenant_id": project, "rules": []})
}

async fn server_secgroups(State(sh): Sh, Path(id): Path<String>) -> Response {
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

async fn list_secgroups(State(sh): Sh) -> Response {
    let st = sh.synced();
    let groups: Vec<Value> = st
        .security_groups()
        .iter()
        .map(|g| secgroup_json(g, &st.config.project_id))
        .collect();
    ok(StatusCode::OK, json!({ "security_groups": groups }))
}

fn flavor_json(f: &super::openstack_model::Flavor, base: &str, detail: bool) -> Value {
    let links = json!([{"rel": "self", "href": format!("{base}/compute/v2.1/flavors/{}", f.id)}]);
    if detail {
        json!({"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb, "OS-FLV-EXT-DATA:ephemeral": 0, "swap": "", "rxtx_factor": 1.0, "os-flavor-access:is_public": true, "links": links})
    } else {
        json!({"id": f.id, "name": f.name, "links": links})
    }
}

async fn list_flavors(State(sh): Sh) -> Response {
    let st = sh.synced();
    ok(
        StatusCode::OK,
        json!({"flavors": st.flavors().iter().map(|f| flavor_json(f, &sh.base, false)).collect::<Vec<_>>()}),
    )
}

async fn list_flavors_detail(State(sh): Sh) -> Response {
    let st = sh.synced();
    ok(
        StatusCode::OK,
        json!({"flavors": st.flavors().iter().map(|f| flavor_json(f, &sh.base, true)).collect::<Vec<_>>()}),
    )
}

async fn show_flavor(State(sh): Sh, Path(id): Path<String>) -> Response {
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

fn image_json(i: &super::openstack_model::Image, base: &str) -> Value {
    json!({"id": i.id, "name": i.name, "status": i.status, "created": iso8601(i.created_s), "updated": iso8601(i.created_s), "minDisk": 0, "minRam": 0, "progress": 100, "metadata": {}, "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/images/{}", i.id)}]})
}

async fn list_images(State(sh): Sh, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .images()
        .iter()
        .filter(|i| q.get("name").is_none_or(|n| *n == i.name))
        .map(|i| image_json(i, &sh.base))
        .collect();
    ok(StatusCode::OK, json!({ "images": list }))
}

async fn show_image(State(sh): Sh, Path(id): Path<String>) -> Response {
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

async fn delete_image(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_image(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

async fn quota_set(State(sh): Sh, Path(project): Path<String>) -> Response {
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

// ---- glance -----------------------------------------------------------------------------------

async fn glance_versions(State(sh): Sh) -> Response {
    ok(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": [{"id": "v2.9", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{}/image/v2/", sh.base)}]}]}),
    )
}

fn glance_json(i: &super::openstack_model::Image) -> Value {
    json!({
        "id": i.id, "name": i.name, "status": i.status.to_lowercase(), "visibility": "private",
        "created_at": iso8601(i.created_s), "updated_at": iso8601(i.created_s), "min_disk": 0, "min_ram": 0,
        "container_format": "bare", "disk_format": "qcow2", "tags": [], "protected": false,
        "self": format!("/v2/images/{}", i.id), "file": format!("/v2/images/{}/file", i.id), "schema": "/v2/schemas/image",
    })
}

async fn glance_list(State(sh): Sh, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st
        .images()
        .iter()
        .filter(|i| q.get("name").is_none_or(|n| *n == i.name))
        .map(glance_json)
        .collect();
    ok(
        StatusCode::OK,
        json!({"images": list, "schema": "/v2/schemas/images", "first": "/v2/images"}),
    )
}

async fn glance_show(State(sh): Sh, Path(id): Path<String>) -> Response {
    let st = sh.synced();
    match st.images().iter().find(|i| i.id == id) {
        Some(i) => ok(StatusCode::OK, glance_json(i)),
        None => (
            StatusCode::NOT_FOUND,
            format!("404 Not Found\n\nNo image found with ID {id}"),
        )
            .into_response(),
    }
}

// ---- neutron ----------------------------------------------------------------------------------

async fn list_networks(State(sh): Sh, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let st = sh.synced();
    let list: Vec<Value> = st.networks().iter().filter(|(_, n)| q.get("name").is_none_or(|x| x == n)).map(|(id, name)| json!({"id": id, "name": name, "status": "ACTIVE", "admin_state_up": true, "shared": false, "subnets": [], "project_id": st.config.project_id})).collect();
    ok(StatusCode::OK, json!({ "networks": list }))
}

fn fip_json(f: &super::openstack_model::FloatingIp, project: &str) -> Value {
    json!({"id": f.id, "floating_ip_address": f.address, "fixed_ip_address": f.fixed_ip, "status": if f.fixed_ip.is_some() { "ACTIVE" } else { "DOWN" }, "floating_network_id": "external_magellium", "port_id": null, "router_id": null, "project_id": project, "tenant_id": project})
}

async fn list_fips(State(sh): Sh) -> Response {
    let st = sh.synced();
    ok(
        StatusCode::OK,
        json!({"floatingips": st.floating_ips().iter().map(|f| fip_json(f, &st.config.project_id)).collect::<Vec<_>>()}),
    )
}

async fn create_fip(State(sh): Sh, body: Bytes) -> Response {
    if let Err(e) = parse_json::<Value>(&body) {
        return os_err(OsError {
            status: 400,
            body: json!({"NeutronError": {"type": "HTTPBadRequest", "message": format!("Malformed request body: {e}"), "detail": ""}}),
        });
    }
    let mut st = sh.synced();
    match st.create_floating_ip() {
        Ok(f) => {
            let project = st.config.project_id.clone();
            ok(
                StatusCode::CREATED,
                json!({"floatingip": fip_json(&f, &project)}),
            )
        }
        Err(e) => os_err(e),
    }
}

async fn delete_fip(State(sh): Sh, Path(id): Path<String>) -> Response {
    match sh.synced().delete_floating_ip(&id) {
        Ok(()) => no_content(),
        Err(e) => os_err(e),
    }
}

// ---- cinder -----------------------------------------------------------------------------------

fn volume_json(v: &super::openstack_model::Volume) -> Value {
    json!({"id": v.id, "name": v.name, "size": v.size_gb, "status": "available", "created_at": iso8601(v.created_s).trim_end_matches('Z'), "bootable": "true", "attachments": [], "availability_zone": "nova", "volume_type": "default", "description": null})
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

async fn list_volumes(State(sh): Sh, Path(p): Path<BTreeMap<String, String>>) -> Response {
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

async fn create_volume(State(sh): Sh, Path(project): Path<String>, body: Bytes) -> Response {
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
    match st.create_volume(v["volume"]["name"].as_str().unwrap_or_default(), size) {
        Ok(vol) => ok(StatusCode::ACCEPTED, json!({"volume": volume_json(&vol)})),
        Err(e) => os_err(e),
    }
}

async fn show_volume(State(sh): Sh, Path((project, id)): Path<(String, String)>) -> Response {
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

async fn delete_volume(State(sh): Sh, Path((project, id)): Path<(String, String)>) -> Response {
    let mut st = sh.synced();
    if let Err(e) = check_project(&st, &project) {
        return os_err(e);
    }
    match st.delete_volume(&id) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => os_err(e),
    }
}
