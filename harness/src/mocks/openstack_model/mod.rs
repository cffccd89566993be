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
pub mod network;

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

    // ---- keystone ---------------------------------------------------------------------------

    /// Password authentication scoped to the project; returns the token and its expiry (ns
    /// since the epoch on the **wall** clock, `wall_ns` being now: keystoneauth compares
    /// `expires_at` with its own clock, so a virtual expiry would make it re-authenticate on
    /// every call). Expired tokens are dropped here, and at most [`MAX_TOKENS`] are kept.
    pub fn issue_token(
        &mut self,
        user: &str,
        password: &str,
        project: &str,
        wall_ns: u64,
    ) -> Result<(String, u64), OsError> {
        if user != self.config.username || password != self.config.password {
            return Err(OsError::unauthorized());
        }
        if !project.is_empty()
            && project != self.config.project_id
            && project != self.config.project_name
        {
            return Err(OsError {
                status: 401,
                body: json!({"error": {"code": 401, "message": format!("User {user} has no access to project {project}"), "title": "Unauthorized"}}),
            });
        }
        // Tokens are issued in expiry order (one lifetime, a forward clock): dropping from the
        // front removes every expired one, and the oldest when the table is full.
        while let Some(front) = self.token_order.front() {
            let expired = self.tokens.get(front).is_none_or(|exp| *exp <= wall_ns);
            if !expired && self.tokens.len() < MAX_TOKENS {
                break;
            }
            if let Some(t) = self.token_order.pop_front() {
                self.tokens.remove(&t);
            }
        }
        let token = format!("gAAAAA{}", self.ids.uuid().replace('-', ""));
        let exp = wall_ns + self.config.token_ttl.as_nanos() as u64;
        self.tokens.insert(token.clone(), exp);
        self.token_order.push_back(token.clone());
        Ok((token, exp))
    }

    /// Checks an `X-Auth-Token` against the wall clock's now (`wall_ns`).
    pub fn check_token(&self, token: Option<&str>, wall_ns: u64) -> Result<(), OsError> {
        match token.and_then(|t| self.tokens.get(t)) {
            Some(exp) if *exp > wall_ns => Ok(()),
            _ => Err(OsError::unauthorized()),
        }
    }

    /// Revokes a token (`DELETE /v3/auth/tokens`); false when it is unknown.
    pub fn revoke_token(&mut self, token: &str) -> bool {
        self.tokens.remove(token).is_some()
    }

    /// How many tokens are held (expired ones go at the next issue).
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// Fault: every issued token is now expired (clients must re-authenticate).
    pub fn expire_tokens(&mut self) {
        for exp in self.tokens.values_mut() {
            *exp = 0;
        }
    }

    /// The service catalog for a base URL.
    pub fn catalog(&self, base: &str) -> Value {
        let ep = |t: &str, name: &str, path: String| json!({"type": t, "name": name, "id": format!("svc-{name}"), "endpoints": [{"id": format!("ep-{name}"), "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{base}{path}")}]});
        json!([
            ep("identity", "keystone", "/v3".into()),
            ep("compute", "nova", "/compute/v2.1".into()),
            ep("network", "neutron", "/network".into()),
            ep("image", "glance", "/image".into()),
            ep(
                "volumev3",
                "cinderv3",
                format!("/volume/v3/{}", self.config.project_id)
            ),
        ])
    }

    // ---- nova -------------------------------------------------------------------------------

    /// Flavors.
    pub fn flavors(&self) -> &[Flavor] {
        &self.flavors
    }

    /// A flavor by ID (or by name, as the SDK's `find_flavor` falls back to).
    pub fn flavor(&self, id_or_name: &str) -> Result<&Flavor, OsError> {
        self.flavors
            .iter()
            .find(|f| f.id == id_or_name || f.name == id_or_name)
            .ok_or_else(|| OsError::not_found(format!("Flavor {id_or_name} could not be found.")))
    }

    /// Servers in creation order.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// One server.
    pub fn server(&self, id: &str) -> Result<&Server, OsError> {
        self.servers
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| OsError::not_found(format!("Instance {id} could not be found.")))
    }

    /// A server by name.
    pub fn server_by_name(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    fn used(&self) -> (u64, u64, u64) {
        self.servers.iter().fold((0, 0, 0), |(n, c, r), s| {
            (n + 1, c + s.flavor.vcpus, r + s.flavor.ram_mb)
        })
    }

    /// `POST /servers`.
    pub fn create_server(&mut self, req: ServerRequest) -> Result<Server, OsError> {
        if req.name.is_empty() {
            return Err(OsError::bad_request(
                "Invalid input for field/attribute server. 'name' is a required property",
            ));
        }
        let flavor = self
            .flavor(&req.flavor_ref)
            .map_err(|_| {
                OsError::bad_request(format!("Flavor {} could not be found.", req.flavor_ref))
            })?
            .clone();
        let image = self
            .images
            .iter()
            .find(|i| i.id == req.image_ref)
            .cloned()
            .ok_or_else(|| {
                OsError::bad_request(format!("Image {} could not be found.", req.image_ref))
            })?;
        let mut nets = Vec::new();
        for n in if req.networks.is_empty() {
            vec![self.networks[0].0.clone()]
        } else {
            req.networks.clone()
        } {
            let name = self
                .networks
                .iter()
                .find(|(id, name)| *id == n || *name == n)
                .map(|(_, name)| name.clone())
                .ok_or_else(|| OsError::bad_request(format!("Network {n} could not be found.")))?;
            nets.push(name);
        }
        if let Some(k) = &req.key_name
            && !self.keypairs.iter().any(|x| x.name == *k)
        {
            return Err(OsError::bad_request("Invalid key_name provided."));
        }
        for g in &req.security_groups {
            if !self.secgroups.iter().any(|s| s.name == *g || s.id == *g) {
                return Err(OsError::bad_request(format!(
                    "Unable to find security_group with name or id '{g}'"
                )));
            }
        }
        let (n, cores, ram) = self.used();
        let q = &self.quotas;
        for (what, req_n, used, limit) in [
            ("instances", 1, n, q.instances),
            ("cores", flavor.vcpus, cores, q.cores),
            ("ram", flavor.ram_mb, ram, q.ram_mb),
        ] {
            if used + req_n > limit {
                return Err(OsError::fault(
                    403,
                    "forbidden",
                    format!(
                        "Quota exceeded for {what}: Requested {req_n}, but already used {used} of {limit} {what}"
                    ),
                ));
            }
        }
        let addresses = nets
            .into_iter()
            .map(|net| {
                self.next_ip += 1;
                (
                    net,
                    format!("192.168.{}.{}", self.next_ip / 250, self.next_ip % 250 + 2),
                )
            })
            .collect();
        let server = Server {
            id: self.ids.uuid(),
            name: req.name,
            status: "BUILD".into(),
            flavor,
            image_id: image.id,
            addresses,
            security_groups: if req.security_groups.is_empty() {
                vec!["default".into()]
            } else {
                req.security_groups
            },
            key_name: req.key_name,
            metadata: req.metadata,
            created_ns: self.now,
            updated_ns: self.now,
            active_at_ns: self.now + self.config.build_time.as_nanos() as u64,
            console: String::new(),
            volumes: Vec::new(),
        };
        self.add_server_ports(&server);
        self.servers.push(server.clone());
        if let Some(h) = self.hook.as_mut() {
            h(&ServerEvent::Created(server.clone(), image.name));
        }
        self.tick(self.now);
        Ok(server)
    }

    /// `DELETE /servers/:id` (gone at once; the SDK's `wait=True` then sees 404).
    pub fn delete_server(&mut self, id: &str) -> Result<(), OsError> {
        let i = self
            .servers
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| OsError::not_found(format!("Instance {id} could not be found.")))?;
        let s = self.servers.remove(i);
        self.remove_server_ports(&s.id);
        for v in self.volumes.iter_mut() {
            if v.attached.as_ref().is_some_and(|(srv, _)| *srv == s.id) {
                v.attached = None;
            }
        }
        for f in self.fips.iter_mut().filter(|f| {
            s.addresses
                .iter()
                .any(|(_, a)| f.fixed_ip.as_deref() == Some(a))
        }) {
            f.fixed_ip = None;
            f.port_id = None;
        }
        if let Some(h) = self.hook.as_mut() {
            h(&ServerEvent::Deleted(s));
        }
        Ok(())
    }

    /// Replaces a server's console log (e.g. a template whose init never finished).
    pub fn set_console(&mut self, id: &str, text: &str) -> Result<(), OsError> {
        let now = self.now;
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| OsError::not_found(format!("Instance {id} could not be found.")))?;
        s.console = text.into();
        s.updated_ns = now;
        Ok(())
    }

    /// The `createImage` server action: a snapshot image named `name`.
    pub fn create_image(&mut self, server_id: &str, name: &str) -> Result<Image, OsError> {
        self.server(server_id)?;
        if name.is_empty() {
            return Err(OsError::bad_request(
                "Invalid input for field/attribute createImage. 'name' is a required property",
            ));
        }
        let img = Image {
            id: self.ids.uuid(),
            name: name.into(),
            status: "ACTIVE".into(),
            created_s: secs(self.now),
            size: 3 << 30,
        };
        self.images.push(img.clone());
        Ok(img)
    }

    /// Images.
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// `DELETE /images/:id`.
    pub fn delete_image(&mut self, id: &str) -> Result<(), OsError> {
        let i = self
            .images
            .iter()
            .position(|x| x.id == id)
            .ok_or_else(|| OsError::not_found(format!("Image {id} could not be found.")))?;
        self.images.remove(i);
        Ok(())
    }

    /// Security groups.
    pub fn security_groups(&self) -> &[SecurityGroup] {
        &self.secgroups
    }

    /// Adds a security group (Terraform's `openstack_compute_secgroup_v2`).
    pub fn add_security_group(&mut self, name: &str, description: &str) -> SecurityGroup {
        let g = SecurityGroup {
            id: self.ids.uuid(),
            name: name.into(),
            description: description.into(),
            rules: network::default_rules(&mut self.ids),
        };
        self.secgroups.push(g.clone());
        g
    }

    /// Networks as (id, name).
    pub fn networks(&self) -> &[(String, String)] {
        &self.networks
    }

    // ---- neutron ----------------------------------------------------------------------------

    /// Floating IPs.
    pub fn floating_ips(&self) -> &[FloatingIp] {
        &self.fips
    }

    /// Allocates a floating IP (409 `OverQuota` past the quota).
    pub fn create_floating_ip(&mut self) -> Result<FloatingIp, OsError> {
        if self.fips.len() as u64 >= self.quotas.floating_ips {
            return Err(OsError::neutron(
                409,
                "OverQuota",
                "Quota exceeded for resources: ['floatingip'].",
            ));
        }
        let n = self.fips.len() as u64 + 1;
        let f = FloatingIp {
            id: self.ids.uuid(),
            address: format!("185.178.84.{n}"),
            fixed_ip: None,
            port_id: None,
        };
        self.fips.push(f.clone());
        Ok(f)
    }

    /// Releases a floating IP.
    pub fn delete_floating_ip(&mut self, id: &str) -> Result<(), OsError> {
        let i = self.fips.iter().position(|f| f.id == id).ok_or_else(|| {
            OsError::neutron(
                404,
                "FloatingIPNotFound",
                format!("Floating IP {id} could not be found"),
            )
        })?;
        self.fips.remove(i);
        Ok(())
    }

    // ---- cinder -----------------------------------------------------------------------------

    /// Volumes.
    pub fn volumes(&self) -> &[Volume] {
        &self.volumes
    }

    /// Creates a volume (413 `overLimit` past the quota, as Cinder answers).
    pub fn create_volume(&mut self, name: &str, size_gb: u64) -> Result<Volume, OsError> {
        if size_gb == 0 {
            return Err(OsError::bad_request(
                "Invalid input received: 'size' parameter must be an integer greater than 0.",
            ));
        }
        if self.volumes.len() as u64 >= self.quotas.volumes {
            return Err(OsError::fault(
                413,
                "overLimit",
                format!(
                    "VolumeLimitExceeded: Maximum number of volumes allowed ({}) exceeded for quota 'volumes'.",
                    self.quotas.volumes
                ),
            ));
        }
        let used: u64 = self.volumes.iter().map(|v| v.size_gb).sum();
        if used + size_gb > self.quotas.gigabytes {
            return Err(OsError::fault(
                413,
                "overLimit",
                format!(
                    "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {size_gb}G, quota is {}G and {used}G has been consumed.",
                    self.quotas.gigabytes
                ),
            ));
        }
        let v = Volume {
            id: self.ids.uuid(),
            name: name.into(),
            size_gb,
            created_s: secs(self.now),
            attached: None,
        };
        self.volumes.push(v.clone());
        Ok(v)
    }

    /// Deletes a volume.
    pub fn delete_volume(&mut self, id: &str) -> Result<(), OsError> {
        let i = self
            .volumes
            .iter()
            .position(|v| v.id == id)
            .ok_or_else(|| OsError::not_found(format!("Volume {id} could not be found.")))?;
        self.volumes.remove(i);
        Ok(())
    }

    /// `GET /os-quota-sets/:project` body.
    pub fn quota_set_json(&self) -> Value {
        let q = &self.quotas;
        json!({"quota_set": {"id": self.config.project_id, "instances": q.instances, "cores": q.cores, "ram": q.ram_mb, "key_pairs": 100, "metadata_items": 128, "server_groups": 10, "server_group_members": 10}})
    }

    /// Every server still building becomes `ACTIVE` now (a world served with its VMs already
    /// up).
    pub fn finish_builds(&mut self) {
        let now = self.now;
        for s in &mut self.servers {
            if s.status == "BUILD" {
                s.active_at_ns = now;
            }
        }
        self.tick(now);
    }
}

#[derive(serde::Serialize)]
struct Link {
    rel: &'static str,
    href: String,
}

#[derive(serde::Serialize)]
struct Address<'a> {
    version: u8,
    addr: &'a str,
    #[serde(rename = "OS-EXT-IPS:type")]
    kind: &'static str,
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr")]
    mac: String,
}

#[derive(serde::Serialize)]
struct VolumeRef<'a> {
    id: &'a str,
    delete_on_termination: bool,
}

#[derive(serde::Serialize)]
struct NameRef<'a> {
    name: &'a str,
}

#[derive(serde::Serialize)]
struct ImageRef<'a> {
    id: &'a str,
    links: [Link; 0],
}

/// A server as Nova writes it (typed, so that listing hundreds of workers stays cheap).
#[derive(serde::Serialize)]
struct ServerView<'a> {
    id: &'a str,
    name: &'a str,
    status: &'a str,
    tenant_id: &'a str,
    user_id: &'static str,
    metadata: &'a BTreeMap<String, String>,
    #[serde(rename = "hostId")]
    host_id: &'static str,
    image: ImageRef<'a>,
    flavor: Value,
    created: String,
    updated: String,
    addresses: BTreeMap<&'a str, Vec<Address<'a>>>,
    #[serde(rename = "accessIPv4")]
    access_ipv4: &'static str,
    #[serde(rename = "accessIPv6")]
    access_ipv6: &'static str,
    links: [Link; 1],
    key_name: Option<&'a str>,
    security_groups: Vec<NameRef<'a>>,
    #[serde(rename = "OS-EXT-STS:vm_state")]
    vm_state: &'static str,
    #[serde(rename = "OS-EXT-STS:task_state")]
    task_state: Option<&'static str>,
    #[serde(rename = "OS-EXT-STS:power_state")]
    power_state: u8,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    availability_zone: &'static str,
    #[serde(rename = "os-extended-volumes:volumes_attached")]
    volumes_attached: Vec<VolumeRef<'a>>,
    progress: u8,
    config_drive: &'static str,
    #[serde(rename = "OS-DCF:diskConfig")]
    disk_config: &'static str,
}

fn server_view<'a>(
    s: &'a Server,
    base: &str,
    project: &'a str,
    embedded_flavor: bool,
) -> ServerView<'a> {
    let mut addresses: BTreeMap<&str, Vec<Address<'_>>> = BTreeMap::new();
    for (net, ip) in &s.addresses {
        let last: u32 = ip
            .rsplit('.')
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        addresses.entry(net.as_str()).or_default().push(Address {
            version: 4,
            addr: ip,
            kind: "fixed",
            mac: format!("fa:16:3e:00:00:{:02x}", last & 0xff),
        });
    }
    let f = &s.flavor;
    let flavor = if embedded_flavor {
        json!({"vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb, "ephemeral": 0, "swap": 0, "original_name": f.name, "extra_specs": {}})
    } else {
        json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/v2.1/flavors/{}", f.id)}]})
    };
    let active = s.status == "ACTIVE";
    ServerView {
        id: &s.id,
        name: &s.name,
        status: &s.status,
        tenant_id: project,
        user_id: "operator",
        metadata: &s.metadata,
        host_id: "",
        image: ImageRef {
            id: &s.image_id,
            links: [],
        },
        flavor,
        created: iso8601(secs(s.created_ns)),
        updated: iso8601(secs(s.updated_ns)),
        addresses,
        access_ipv4: "",
        access_ipv6: "",
        links: [Link {
            rel: "self",
            href: format!("{base}/compute/v2.1/servers/{}", s.id),
        }],
        key_name: s.key_name.as_deref(),
        security_groups: s
            .security_groups
            .iter()
            .map(|g| NameRef { name: g })
            .collect(),
        vm_state: if active { "active" } else { "building" },
        task_state: if active { None } else { Some("spawning") },
        power_state: u8::from(active),
        availability_zone: "nova",
        volumes_attached: s
            .volumes
            .iter()
            .map(|id| VolumeRef {
                id,
                delete_on_termination: false,
            })
            .collect(),
        progress: if active { 100 } else { 0 },
        config_drive: "",
        disk_config: "MANUAL",
    }
}

/// Server JSON, with the flavor embedded (microversion ≥ 2.47, what openstacksdk reads as
/// `flavor["original_name"]`) or as a link (older microversions).
pub fn server_json(s: &Server, base: &str, project: &str, embedded_flavor: bool) -> Value {
    serde_json::to_value(server_view(s, base, project, embedded_flavor)).unwrap_or(Value::Null)
}

/// `{"servers": [...]}` of `GET /servers/detail`, serialized directly.
pub fn servers_detail_body<'a>(
    servers: impl Iterator<Item = &'a Server>,
    base: &str,
    project: &str,
    embedded_flavor: bool,
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        servers: Vec<ServerView<'a>>,
    }
    let body = Body {
        servers: servers
            .map(|s| server_view(s, base, project, embedded_flavor))
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> OpenStackState {
        OpenStackState::new(OpenStackConfig::default(), 0)
    }

    fn worker(os: &OpenStackState, name: &str, flavor: &str) -> ServerRequest {
        ServerRequest {
            name: name.into(),
            image_ref: os.images()[0].id.clone(),
            flavor_ref: os.flavor(flavor).unwrap().id.clone(),
            ..ServerRequest::default()
        }
    }

    #[test]
    fn a_server_builds_then_becomes_active_with_the_success_key_on_its_console() {
        let mut os = project();
        let s = os
            .create_server(worker(&os, "os-worker-001", "hm.medium"))
            .unwrap();
        assert_eq!(s.status, "BUILD");
        os.tick(29_000_000_000);
        assert_eq!(os.server(&s.id).unwrap().status, "BUILD");
        os.tick(30_000_000_000);
        let s = os.server(&s.id).unwrap();
        assert_eq!(s.status, "ACTIVE");
        assert!(s.console.contains("init_instance_finished_with_success"));
        assert_eq!(s.addresses[0].0, "private_magellium");
    }

    #[test]
    fn quotas_answer_like_nova_cinder_and_neutron() {
        let mut os = project();
        os.quotas.cores = 5;
        os.create_server(worker(&os, "os-worker-001", "hm.large"))
            .unwrap();
        let e = os
            .create_server(worker(&os, "os-worker-002", "hm.medium"))
            .unwrap_err();
        assert_eq!(e.status, 403);
        assert_eq!(
            e.body["forbidden"]["message"],
            "Quota exceeded for cores: Requested 2, but already used 4 of 5 cores"
        );
        os.quotas.gigabytes = 40;
        os.create_volume("tf-tutu-volume", 32).unwrap();
        let e = os.create_volume("more", 16).unwrap_err();
        assert_eq!(e.status, 413);
        assert!(
            e.body["overLimit"]["message"]
                .as_str()
                .unwrap()
                .starts_with("VolumeSizeExceedsAvailableQuota")
        );
        os.quotas.floating_ips = 0;
        let e = os.create_floating_ip().unwrap_err();
        assert_eq!(
            (e.status, e.body["NeutronError"]["type"].as_str()),
            (409, Some("OverQuota"))
        );
    }

    #[test]
    fn bad_requests_name_what_is_missing() {
        let mut os = project();
        let mut r = worker(&os, "x", "hm.medium");
        r.flavor_ref = "999".into();
        assert_eq!(
            os.create_server(r).unwrap_err().body["badRequest"]["message"],
            "Flavor 999 could not be found."
        );
        let mut r = worker(&os, "x", "hm.medium");
        r.name.clear();
        assert_eq!(os.create_server(r).unwrap_err().status, 400);
        let mut r = worker(&os, "x", "hm.medium");
        r.security_groups = vec!["nope".into()];
        assert_eq!(os.create_server(r).unwrap_err().status, 400);
        assert_eq!(os.delete_server("nope").unwrap_err().status, 404);
    }

    #[test]
    fn tokens_expire_with_the_wall_clock_and_on_demand() {
        let mut os = project();
        let wall = 1_800_000_000_000_000_000;
        assert_eq!(
            os.issue_token("os-automation", "wrong", "", wall)
                .unwrap_err()
                .status,
            401
        );
        let (t, exp) = os
            .issue_token("os-automation", "placeholder-os-password", "csi_prod", wall)
            .unwrap();
        assert_eq!(exp, wall + 3_600_000_000_000);
        // Virtual time does not expire a token: a rehearsal may jump days ahead.
        os.tick(u64::MAX / 2);
        assert!(os.check_token(Some(&t), wall).is_ok());
        assert!(os.check_token(Some(&t), exp - 1).is_ok());
        assert_eq!(os.check_token(Some(&t), exp).unwrap_err().status, 401);
        // The expired token is dropped at the next issue.
        assert_eq!(os.token_count(), 1);
        let (t2, _) = os
            .issue_token("os-automation", "placeholder-os-password", "", exp)
            .unwrap();
        assert_eq!(os.token_count(), 1);
        os.expire_tokens();
        assert!(os.check_token(Some(&t2), exp).is_err());
        assert!(os.check_token(None, exp).is_err());
    }

    #[test]
    fn the_token_table_is_bounded() {
        let mut os = project();
        let wall = 1_800_000_000_000_000_000;
        for i in 0..MAX_TOKENS as u64 + 5 {
            os.issue_token("os-automation", "placeholder-os-password", "", wall + i)
                .unwrap();
        }
        assert_eq!(os.token_count(), MAX_TOKENS);
    }
}
