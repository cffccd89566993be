//! Nova servers, flavors, images and security groups of the project.

use super::*;

impl OpenStackState {
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

    pub(super) fn used(&self) -> (u64, u64, u64) {
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
}
