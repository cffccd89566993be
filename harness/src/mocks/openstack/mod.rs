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

mod cinder;
mod glance;
mod keystone;
mod neutron;
mod nova;
mod nova_extras;

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde_json::Value;
use tokio::net::TcpListener;

use super::{
    common::{Clocked, Control, Server, Synced, VirtualClock, instrument, wall_now_ns},
    nomad::NomadMock,
    nomad_model::NodeSpec,
    openstack_model::{OpenStackConfig, OpenStackState, OsError, ServerEvent},
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
        let router = instrument(json_suffix(router(shared.clone())), control.clone(), clock);
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
type Q = axum::extract::Query<BTreeMap<String, String>>;

/// Older SDKs (openstacksdk 0.46's cloud layer, which the real system pins) ask for
/// `/v2.0/floatingips.json` and the like: the suffix is dropped before routing, so they get
/// the same answers instead of a silent empty 404 list.
fn json_suffix(inner: Router) -> Router {
    Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::from_fn(strip_json))
}

async fn strip_json(mut req: Request, next: Next) -> Response {
    if let Some(path) = req.uri().path().strip_suffix(".json") {
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

fn router(shared: Arc<Shared>) -> Router {
    const C: &str = "/compute/v2.1";
    const N: &str = "/network/v2.0";
    const V: &str = "/volume/v3/{project}";
    let r = |p: &str, s: &str| format!("{p}{s}");
    let protected = Router::new()
        // keystone
        .route("/v3/projects", get(keystone::projects))
        .route("/v3/projects/{id}", get(keystone::project))
        .route("/v3/auth/projects", get(keystone::auth_projects))
        .route("/v3/users/{id}", get(keystone::user))
        .route("/v3/users/{id}/projects", get(keystone::user_projects))
        .route("/v3/domains/{id}", get(keystone::domain))
        // nova
        .route(
            &r(C, "/servers"),
            get(nova::list_servers_short).post(nova::create_server),
        )
        .route(&r(C, "/servers/detail"), get(nova::list_servers_detail))
        .route(
            &r(C, "/servers/{id}"),
            get(nova::show_server).delete(nova::delete_server),
        )
        .route(&r(C, "/servers/{id}/action"), post(nova::server_action))
        .route(
            &r(C, "/servers/{id}/os-security-groups"),
            get(nova::server_secgroups),
        )
        .route(
            &r(C, "/servers/{id}/metadata"),
            get(nova_extras::metadata)
                .put(nova_extras::replace_metadata)
                .post(nova_extras::update_metadata),
        )
        .route(
            &r(C, "/servers/{id}/metadata/{key}"),
            get(nova_extras::metadata_item)
                .put(nova_extras::set_metadata_item)
                .delete(nova_extras::delete_metadata_item),
        )
        .route(
            &r(C, "/servers/{id}/os-interface"),
            get(nova_extras::interfaces),
        )
        .route(
            &r(C, "/servers/{id}/os-volume_attachments"),
            get(nova_extras::attachments).post(nova_extras::attach),
        )
        .route(
            &r(C, "/servers/{id}/os-volume_attachments/{vol}"),
            get(nova_extras::attachment).delete(nova_extras::detach),
        )
        .route(&r(C, "/flavors"), get(nova::list_flavors))
        .route(&r(C, "/flavors/detail"), get(nova::list_flavors_detail))
        .route(&r(C, "/flavors/{id}"), get(nova::show_flavor))
        .route(
            &r(C, "/flavors/{id}/os-extra_specs"),
            get(nova_extras::extra_specs).post(nova_extras::set_extra_specs),
        )
        .route(
            &r(C, "/flavors/{id}/os-extra_specs/{key}"),
            get(nova_extras::extra_spec),
        )
        .route(
            &r(C, "/os-keypairs"),
            get(nova_extras::keypairs).post(nova_extras::create_keypair),
        )
        .route(
            &r(C, "/os-keypairs/{name}"),
            get(nova_extras::keypair).delete(nova_extras::delete_keypair),
        )
        .route(&r(C, "/limits"), get(nova_extras::limits))
        .route(
            &r(C, "/os-availability-zone"),
            get(nova_extras::availability_zones),
        )
        .route(
            &r(C, "/os-availability-zone/detail"),
            get(nova_extras::availability_zones),
        )
        .route(&r(C, "/images"), get(nova::list_images))
        .route(&r(C, "/images/detail"), get(nova::list_images))
        .route(
            &r(C, "/images/{id}"),
            get(nova::show_image).delete(nova::delete_image),
        )
        .route(&r(C, "/os-security-groups"), get(nova::list_secgroups))
        .route(&r(C, "/os-quota-sets/{project}"), get(nova::quota_set))
        .route(
            &r(C, "/os-quota-sets/{project}/detail"),
            get(nova::quota_set_detail),
        )
        // glance
        .route("/image/v2/images", get(glance::glance_list))
        .route(
            "/image/v2/images/{id}",
            get(glance::glance_show).delete(nova::delete_image),
        )
        // neutron
        .route(&r(N, "/extensions"), get(neutron::extensions))
        .route(&r(N, "/networks"), get(neutron::networks))
        .route(&r(N, "/networks/{id}"), get(neutron::network))
        .route(&r(N, "/subnets"), get(neutron::subnets))
        .route(&r(N, "/subnets/{id}"), get(neutron::subnet))
        .route(
            &r(N, "/ports"),
            get(neutron::ports).post(neutron::create_port),
        )
        .route(
            &r(N, "/ports/{id}"),
            get(neutron::port).delete(neutron::delete_port),
        )
        .route(
            &r(N, "/routers"),
            get(neutron::routers).post(neutron::create_router),
        )
        .route(
            &r(N, "/routers/{id}"),
            get(neutron::router).delete(neutron::delete_router),
        )
        .route(
            &r(N, "/routers/{id}/add_router_interface"),
            put(neutron::add_interface),
        )
        .route(
            &r(N, "/security-groups"),
            get(neutron::groups).post(neutron::create_group),
        )
        .route(
            &r(N, "/security-groups/{id}"),
            get(neutron::group).delete(neutron::delete_group),
        )
        .route(
            &r(N, "/security-group-rules"),
            get(neutron::rules).post(neutron::create_rule),
        )
        .route(
            &r(N, "/security-group-rules/{id}"),
            get(neutron::rule).delete(neutron::delete_rule),
        )
        .route(
            &r(N, "/floatingips"),
            get(neutron::fips).post(neutron::create_fip),
        )
        .route(
            &r(N, "/floatingips/{id}"),
            get(neutron::fip)
                .put(neutron::update_fip)
                .delete(neutron::delete_fip),
        )
        .route(&r(N, "/quotas/{project}"), get(neutron::quotas))
        .route(
            &r(N, "/quotas/{project}/details"),
            get(neutron::quota_details),
        )
        // cinder
        .route(
            &r(V, "/volumes"),
            get(cinder::list_volumes).post(cinder::create_volume),
        )
        .route(&r(V, "/volumes/detail"), get(cinder::list_volumes))
        .route(
            &r(V, "/volumes/{id}"),
            get(cinder::show_volume).delete(cinder::delete_volume),
        )
        .route(&r(V, "/os-quota-sets/{target}"), get(cinder::quotas))
        .route(&r(V, "/limits"), get(cinder::limits))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    Router::new()
        .route("/", get(keystone::versions))
        .route("/v3", get(keystone::v3))
        .route("/v3/", get(keystone::v3))
        .route(
            "/v3/auth/tokens",
            post(keystone::issue_token).delete(keystone::revoke),
        )
        .route("/compute", get(nova::nova_versions))
        .route("/compute/", get(nova::nova_versions))
        .route(C, get(nova::nova_version))
        .route("/compute/v2.1/", get(nova::nova_version))
        .route("/image", get(glance::glance_versions))
        .route("/image/", get(glance::glance_versions))
        .route("/network", get(nova::neutron_versions))
        .route("/network/", get(nova::neutron_versions))
        .route("/volume", get(cinder::versions))
        .route("/volume/", get(cinder::versions))
        .route("/volume/v3", get(cinder::version))
        .route("/volume/v3/", get(cinder::version))
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

pub(super) fn os_err(e: OsError) -> Response {
    (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(e.body),
    )
        .into_response()
}

pub(super) fn ok(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(super) fn no_content() -> Response {
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

pub(super) fn bad_body(e: String) -> Response {
    os_err(OsError::fault(
        400,
        "badRequest",
        format!("Malformed request body: {e}"),
    ))
}
