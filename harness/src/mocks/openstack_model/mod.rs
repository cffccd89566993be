//! The OpenStack project as a pure state machine: Keystone tokens, Nova servers, flavors,
//! images and security groups, Neutron floating IPs, Cinder volumes, and quotas. Errors carry
//! the real services' status codes and bodies (Nova 403 on quota, Cinder 413 `overLimit`,
//! Neutron 409 `OverQuota`, 401 for a missing or expired token).

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::Duration,
};

use serde_json::{Value, json};

use super::common::{IdGen, iso8601};

/// An OpenStack API error: status and the JSON body the service sends.
#[derive(Clone, Debug, PartialEq)]
pub struct OsError {
    /// HTTP status.
    pub status: u16,
    /// Body (never holds a password or a token).
    pub body: Value,
}

impl OsError {
    /// Nova/Cinder style: `{"<kind>": {"code": .., "message": ..}}`.
    pub fn fault(status: u16, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ kind: {"code": status, "message": message.into()} }),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::fault(404, "itemNotFound", message)
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::fault(400, "badRequest", message)
    }

    /// Keystone's 401.
    pub fn unauthorized() -> Self {
        Self {
            status: 401,
            body: json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}),
        }
    }

    fn neutron(status: u16, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"NeutronError": {"type": kind, "message": message.into(), "detail": ""}}),
        }
    }
}

/// Project quotas (defaults are assumptions: the sources do not state the project's quotas).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Servers.
    pub instances: u64,
    /// vCPUs.
    pub cores: u64,
    /// RAM (MB).
    pub ram_mb: u64,
    /// Floating IPs.
    pub floating_ips: u64,
    /// Volumes.
    pub volumes: u64,
    /// Volume gigabytes.
    pub gigabytes: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            instances: 250,
            cores: 1000,
            ram_mb: 8_000_000,
            floating_ips: 10,
            volumes: 20,
            gigabytes: 2000,
        }
    }
}

/// A flavor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flavor {
    /// ID.
    pub id: String,
    /// Name (`hm.medium`).
    pub name: String,
    /// vCPUs.
    pub vcpus: u64,
    /// RAM (MB).
    pub ram_mb: u64,
    /// Disk (GB).
    pub disk_gb: u64,
    /// Extra specs (`openstack flavor show` prints them as properties); none are known for
    /// CloudFerro's flavors, so empty until set through the API.
    pub extra_specs: BTreeMap<String, String>,
}

/// The flavors of orchestration.md §3.8; `eo1.small`, `eo1.large` and `eo2.2xlarge` sizes are
/// not in the sources and are assumptions (4 vCPU for eo1.large matches the 9200 MHz assumed
/// for tf-tata at 2300 MHz per vCPU).
pub fn default_flavors() -> Vec<Flavor> {
    [
        ("eo1.xsmall", 1, 1024, 8),
        ("eo1.small", 1, 2048, 16),
        ("eo1.large", 4, 8192, 64),
        ("eo2.medium", 1, 4096, 16),
        ("eo2.2xlarge", 8, 32768, 128),
        ("hm.medium", 2, 16384, 64),
        ("hm.large", 4, 32768, 128),
        ("hm.xlarge", 8, 66560, 256),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, vcpus, ram, disk))| Flavor {
        id: format!("{}", 100 + i),
        name: (*name).into(),
        vcpus: *vcpus,
        ram_mb: *ram,
        disk_gb: *disk,
        extra_specs: BTreeMap::new(),
    })
    .collect()
}

/// A Nova server.
#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// `BUILD`, `ACTIVE`...
    pub status: String,
    /// Flavor.
    pub flavor: Flavor,
    /// Image ID.
    pub image_id: String,
    /// (network name, fixed IP).
    pub addresses: Vec<(String, String)>,
    /// Security group names.
    pub security_groups: Vec<String>,
    /// Keypair name.
    pub key_name: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Creation (ns).
    pub created_ns: u64,
    /// Last update (ns): worker-pool-management's staleness clock.
    pub updated_ns: u64,
    /// When the build finishes (ns).
    pub active_at_ns: u64,
    /// Console log (`init_instance_finished_with_success` once booted).
    pub console: String,
    /// Attached volume IDs.
    pub volumes: Vec<String>,
}

/// An image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status (`ACTIVE`).
    pub status: String,
    /// Creation (s).
    pub created_s: u64,
    /// Size in bytes (assumed: the base image 2 GiB, a snapshot its server's disk use).
    pub size: u64,
}

impl Image {
    fn digest(&self, len: usize) -> String {
        let mut out = String::new();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        while out.len() < len {
            for b in self.id.bytes().chain([out.len() as u8]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            out.push_str(&format!("{h:016x}"));
        }
        out.truncate(len);
        out
    }

    /// Glance's `checksum` (32 hex digits, MD5-shaped). The stand-in holds no image data, so
    /// it is derived from the ID: stable, but not a digest of any content.
    pub fn checksum(&self) -> String {
        self.digest(32)
    }

    /// Glance's `os_hash_value` (SHA-512-shaped, derived like [`Image::checksum`]).
    pub fn sha512(&self) -> String {
        self.digest(128)
    }
}

/// A Neutron floating IP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatingIp {
    /// ID.
    pub id: String,
    /// Public address.
    pub address: String,
    /// Fixed IP it is associated with.
    pub fixed_ip: Option<String>,
    /// Port it is associated with.
    pub port_id: Option<String>,
}

/// A Cinder volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Size (GB).
    pub size_gb: u64,
    /// Creation (s).
    pub created_s: u64,
    /// Server it is attached to, and the device.
    pub attached: Option<(String, String)>,
}

/// A security group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityGroup {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Rules.
    pub rules: Vec<network::Rule>,
}

/// What a server request asks for (the `server` object of `POST /servers`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerRequest {
    /// Name.
    pub name: String,
    /// Image ID.
    pub image_ref: String,
    /// Flavor ID.
    pub flavor_ref: String,
    /// Network IDs (empty: the default private network).
    pub networks: Vec<String>,
    /// Security group names.
    pub security_groups: Vec<String>,
    /// Keypair.
    pub key_name: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A change to the server list, reported to the harness (e.g. to boot a Nomad agent).
#[derive(Clone, Debug, PartialEq)]
pub enum ServerEvent {
    /// A server was created.
    Created(Server, String),
    /// A server was deleted.
    Deleted(Server),
}

/// The most tokens held at once: a client that authenticates on every call cannot grow the table
/// without bound.
pub const MAX_TOKENS: usize = 10_000;

pub mod compute;
mod keystone;
pub mod network;
mod server_view;
mod servers;
#[cfg(test)]
mod tests;
mod volumes;

pub use server_view::{server_json, servers_detail_body};

/// Tunables.
#[derive(Clone, Debug)]
pub struct OpenStackConfig {
    /// Project ID.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// The operator's user name.
    pub username: String,
    /// The operator's password (never logged or echoed).
    pub password: String,
    /// Keystone token lifetime (Keystone's default: 1 h).
    pub token_ttl: Duration,
    /// `BUILD` to `ACTIVE` (not in the sources: 30 s assumed; the Nomad agent takes longer).
    pub build_time: Duration,
}

impl Default for OpenStackConfig {
    fn default() -> Self {
        Self {
            project_id: "prod-project-id".into(),
            project_name: "csi_prod".into(),
            username: "os-automation".into(),
            password: "placeholder-os-password".into(),
            token_ttl: Duration::from_secs(3600),
            build_time: Duration::from_secs(30),
        }
    }
}

/// Hook called on server changes while the state is locked: it must not call back into
/// the OpenStack mock.
pub type ServerHook = Box<dyn FnMut(&ServerEvent) + Send>;

/// The project.
pub struct OpenStackState {
    /// Configuration.
    pub config: OpenStackConfig,
    /// Quotas.
    pub quotas: Quotas,
    flavors: Vec<Flavor>,
    servers: Vec<Server>,
    images: Vec<Image>,
    fips: Vec<FloatingIp>,
    volumes: Vec<Volume>,
    secgroups: Vec<SecurityGroup>,
    networks: Vec<(String, String)>,
    /// `external_magellium`, the floating IP pool (not a server network).
    external: (String, String),
    subnets: Vec<network::Subnet>,
    ports: Vec<network::Port>,
    routers: Vec<network::Router>,
    keypairs: Vec<compute::Keypair>,
    tokens: HashMap<String, u64>,
    token_order: VecDeque<String>,
    ids: IdGen,
    next_ip: u32,
    now: u64,
    hook: Option<ServerHook>,
}

impl std::fmt::Debug for OpenStackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStackState")
            .field("servers", &self.servers.len())
            .field("images", &self.images.len())
            .finish_non_exhaustive()
    }
}

fn secs(ns: u64) -> u64 {
    ns / 1_000_000_000
}

impl OpenStackState {
    /// A project with the system's flavors, networks, the base image and the manual security
    /// groups (`default`, `allow_ping_ssh_rdp`).
    pub fn new(config: OpenStackConfig, now: u64) -> Self {
        let mut ids = IdGen::new(0x0057_4143_4b00);
        let networks: Vec<(String, String)> = ["private_magellium", "eodata", "eodata_magellium"]
            .iter()
            .map(|n| (ids.uuid(), (*n).to_owned()))
            .collect();
        let secgroups: Vec<SecurityGroup> = ["default", "allow_ping_ssh_rdp"]
            .iter()
            .map(|n| SecurityGroup {
                id: ids.uuid(),
                name: (*n).into(),
                description: String::new(),
                rules: Vec::new(),
            })
            .collect();
        let images = vec![Image {
            id: ids.uuid(),
            name: "image_name".into(),
            status: "ACTIVE".into(),
            created_s: secs(now),
            size: 2 << 30,
        }];
        let external = (ids.uuid(), "external_magellium".to_owned());
        let mut all_nets: Vec<(String, String)> = networks.clone();
        all_nets.push(external.clone());
        let subnets = network::default_subnets(&mut ids, &all_nets);
        let keypairs = compute::default_keypairs(now);
        let mut secgroups = secgroups;
        for g in &mut secgroups {
            g.rules = network::default_rules(&mut ids);
        }
        Self {
            external,
            subnets,
            ports: Vec::new(),
            routers: Vec::new(),
            keypairs,
            config,
            quotas: Quotas::default(),
            flavors: default_flavors(),
            servers: Vec::new(),
            images,
            fips: Vec::new(),
            volumes: Vec::new(),
            secgroups,
            networks,
            tokens: HashMap::new(),
            token_order: VecDeque::new(),
            ids,
            next_ip: 10,
            now,
            hook: None,
        }
    }

    /// Installs the server-change hook.
    pub fn set_hook(&mut self, hook: ServerHook) {
        self.hook = Some(hook);
    }

    /// Catches up with virtual time: builds finish.
    pub fn tick(&mut self, now: u64) {
        self.now = self.now.max(now);
        for s in &mut self.servers {
            if s.status == "BUILD" && s.active_at_ns <= self.now {
                s.status = "ACTIVE".into();
                s.updated_ns = s.active_at_ns;
                if s.console.is_empty() {
                    s.console =
                        "[init_instance.sh] init_instance_finished_with_success\ndone\n".into();
                }
            }
        }
    }
}
