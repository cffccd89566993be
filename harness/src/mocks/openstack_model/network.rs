//! Neutron: subnets, ports (one per server NIC, plus free ones), routers, security groups and
//! their rules, the external network (`external_magellium`, the floating-IP pool), floating
//! IP association with a port, and the network quotas.

use serde_json::{Value, json};

use super::{FloatingIp, IdGen, OpenStackState, OsError, SecurityGroup, Server};

/// A subnet (one per network; CIDRs are assumptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// ID.
    pub id: String,
    /// Network ID.
    pub network_id: String,
    /// Name.
    pub name: String,
    /// CIDR.
    pub cidr: String,
}

/// A port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Network ID.
    pub network_id: String,
    /// Server ID, or empty.
    pub device_id: String,
    /// `compute:nova`, `network:router_interface`, or empty.
    pub device_owner: String,
    /// Fixed IPv4.
    pub fixed_ip: String,
    /// MAC address.
    pub mac: String,
    /// Security group IDs.
    pub security_groups: Vec<String>,
}

/// A router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Router {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// External gateway network ID.
    pub gateway: Option<String>,
}

/// A security group rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// ID.
    pub id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// `tcp`, `udp`, `icmp` or none (any).
    pub protocol: Option<String>,
    /// Port range.
    pub port_min: Option<u16>,
    /// Port range end.
    pub port_max: Option<u16>,
    /// Remote CIDR.
    pub remote_ip_prefix: Option<String>,
}

/// Most ports, routers and rules held (Neutron's default quotas).
const MAX_PORTS: usize = 500;
const MAX_ROUTERS: usize = 10;
const MAX_RULES: usize = 100;
const MAX_SECGROUPS: usize = 10;

/// Every new group allows all egress, as Neutron creates it.
pub fn default_rules(ids: &mut IdGen) -> Vec<Rule> {
    ["IPv4", "IPv6"]
        .iter()
        .map(|e| Rule {
            id: ids.uuid(),
            direction: "egress".into(),
            ethertype: (*e).into(),
            protocol: None,
            port_min: None,
            port_max: None,
            remote_ip_prefix: None,
        })
        .collect()
}

/// One subnet per network.
pub fn default_subnets(ids: &mut IdGen, nets: &[(String, String)]) -> Vec<Subnet> {
    nets.iter()
        .enumerate()
        .map(|(i, (id, name))| Subnet {
            id: ids.uuid(),
            network_id: id.clone(),
            name: format!("{name}-subnet"),
            cidr: match name.as_str() {
                "private_magellium" => "192.168.0.0/16".into(),
                "external_magellium" => "185.178.84.0/24".into(),
                _ => format!("10.{}.0.0/16", 100 + i),
            },
        })
        .collect()
}

/// The MAC of the NIC holding `ip` (Nova and Neutron show the same one).
pub(crate) fn mac_of(ip: &str) -> String {
    let last: u32 = ip
        .rsplit('.')
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let third: u32 = ip
        .rsplit('.')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    format!("fa:16:3e:00:{:02x}:{:02x}", third & 0xff, last & 0xff)
}

fn neutron_404(kind: &str, what: &str, id: &str) -> OsError {
    OsError::neutron(
        404,
        &format!("{kind}NotFound"),
        format!("{what} {id} could not be found."),
    )
}

impl OpenStackState {
    /// Networks as Neutron lists them: the project's and the external one.
    pub fn all_networks(&self) -> Vec<(&str, &str, bool)> {
        self.networks
            .iter()
            .map(|(id, n)| (id.as_str(), n.as_str(), false))
            .chain(std::iter::once((
                self.external.0.as_str(),
                self.external.1.as_str(),
                true,
            )))
            .collect()
    }

    /// The external network's ID.
    pub fn external_network_id(&self) -> &str {
        &self.external.0
    }

    /// Subnets.
    pub fn subnets(&self) -> &[Subnet] {
        &self.subnets
    }

    /// Ports.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// Routers.
    pub fn routers(&self) -> &[Router] {
        &self.routers
    }

    fn net_id(&self, name: &str) -> String {
        self.all_networks()
            .iter()
            .find(|(id, n, _)| *n == name || *id == name)
            .map(|(id, ..)| (*id).to_owned())
            .unwrap_or_default()
    }

    pub(super) fn add_server_ports(&mut self, s: &Server) {
        let groups: Vec<String> = self
            .secgroups
            .iter()
            .filter(|g| s.security_groups.contains(&g.name) || s.security_groups.contains(&g.id))
            .map(|g| g.id.clone())
            .collect();
        for (net, ip) in &s.addresses {
            let p = Port {
                id: self.ids.uuid(),
                name: String::new(),
                network_id: self.net_id(net),
                device_id: s.id.clone(),
                device_owner: "compute:nova".into(),
                fixed_ip: ip.clone(),
                mac: mac_of(ip),
                security_groups: groups.clone(),
            };
            self.ports.push(p);
        }
    }

    pub(super) fn remove_server_ports(&mut self, server: &str) {
        let gone: Vec<String> = self
            .ports
            .iter()
            .filter(|p| p.device_id == server)
            .map(|p| p.id.clone())
            .collect();
        self.ports.retain(|p| p.device_id != server);
        for f in &mut self.fips {
            if f.port_id.as_ref().is_some_and(|p| gone.contains(p)) {
                f.port_id = None;
                f.fixed_ip = None;
            }
        }
    }

    /// `POST /v2.0/ports`: a free port on a project network.
    pub fn create_port(&mut self, network: &str, name: &str) -> Result<Port, OsError> {
        if !self.networks.iter().any(|(id, _)| id == network) {
            return Err(neutron_404("Network", "Network", network));
        }
        if self.ports.len() >= MAX_PORTS {
            return Err(OsError::neutron(
                409,
                "OverQuota",
                "Quota exceeded for resources: ['port'].",
            ));
        }
        self.next_ip += 1;
        let ip = format!("192.168.{}.{}", self.next_ip / 250, self.next_ip % 250 + 2);
        let default = self
            .secgroups
            .iter()
            .find(|g| g.name == "default")
            .map(|g| g.id.clone());
        let p = Port {
            id: self.ids.uuid(),
            name: name.to_owned(),
            network_id: network.to_owned(),
            device_id: String::new(),
            device_owner: String::new(),
            mac: mac_of(&ip),
            fixed_ip: ip,
            security_groups: default.into_iter().collect(),
        };
        self.ports.push(p.clone());
        Ok(p)
    }

    /// `DELETE /v2.0/ports/:id` (a server's port goes with its server).
    pub fn delete_port(&mut self, id: &str) -> Result<(), OsError> {
        let i = self
            .ports
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| neutron_404("Port", "Port", id))?;
        if !self.ports[i].device_id.is_empty() && self.ports[i].device_owner == "compute:nova" {
            return Err(OsError::neutron(
                409,
                "PortInUse",
                format!("Port {id} is in use by server {}.", self.ports[i].device_id),
            ));
        }
        self.ports.remove(i);
        for f in &mut self.fips {
            if f.port_id.as_deref() == Some(id) {
                f.port_id = None;
                f.fixed_ip = None;
            }
        }
        Ok(())
    }

    /// `PUT /v2.0/floatingips/:id` with `port_id`: associates (or, with `None`, releases) the
    /// floating IP; 409 when the port already has one.
    pub fn associate_floating_ip(&mut self, fip: &str, port: Option<&str>) -> Result<(), OsError> {
        if !self.fips.iter().any(|f| f.id == fip) {
            return Err(OsError::neutron(
                404,
                "FloatingIPNotFound",
                format!("Floating IP {fip} could not be found"),
            ));
        }
        let fixed = match port {
            None => None,
            Some(p) => {
                let port = self
                    .ports
                    .iter()
                    .find(|x| x.id == p)
                    .ok_or_else(|| neutron_404("Port", "Port", p))?;
                if self
                    .fips
                    .iter()
                    .any(|f| f.id != fip && f.port_id.as_deref() == Some(p))
                {
                    return Err(OsError::neutron(
                        409,
                        "FloatingIPPortAlreadyAssociated",
                        format!(
                            "Cannot associate floating IP {fip} with port {p}: port already has a floating IP."
                        ),
                    ));
                }
                Some((port.id.clone(), port.fixed_ip.clone()))
            }
        };
        let f = self
            .fips
            .iter_mut()
            .find(|f| f.id == fip)
            .expect("checked above");
        match fixed {
            Some((p, ip)) => {
                f.port_id = Some(p);
                f.fixed_ip = Some(ip);
            }
            None => {
                f.port_id = None;
                f.fixed_ip = None;
            }
        }
        Ok(())
    }

    /// `POST /v2.0/routers`.
    pub fn create_router(&mut self, name: &str, gateway: Option<&str>) -> Result<Router, OsError> {
        if let Some(g) = gateway
            && g != self.external.0
        {
            return Err(OsError::neutron(
                400,
                "BadRequest",
                format!("Network {g} is not a valid external network."),
            ));
        }
        if self.routers.len() >= MAX_ROUTERS {
            return Err(OsError::neutron(
                409,
                "OverQuota",
                "Quota exceeded for resources: ['router'].",
            ));
        }
        let r = Router {
            id: self.ids.uuid(),
            name: name.to_owned(),
            gateway: gateway.map(str::to_owned),
        };
        self.routers.push(r.clone());
        Ok(r)
    }

    /// `DELETE /v2.0/routers/:id`.
    pub fn delete_router(&mut self, id: &str) -> Result<(), OsError> {
        let i = self
            .routers
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| neutron_404("Router", "Router", id))?;
        if self.ports.iter().any(|p| p.device_id == id) {
            return Err(OsError::neutron(
                409,
                "RouterInUse",
                format!("Router {id} still has ports"),
            ));
        }
        self.routers.remove(i);
        Ok(())
    }

    /// `PUT /v2.0/routers/:id/add_router_interface` with a subnet: a router port on it.
    pub fn add_router_interface(&mut self, router: &str, subnet: &str) -> Result<Port, OsError> {
        if !self.routers.iter().any(|r| r.id == router) {
            return Err(neutron_404("Router", "Router", router));
        }
        let sn = self
            .subnets
            .iter()
            .find(|s| s.id == subnet)
            .cloned()
            .ok_or_else(|| neutron_404("Subnet", "Subnet", subnet))?;
        let gw = sn
            .cidr
            .split('/')
            .next()
            .unwrap_or_default()
            .rsplit_once('.')
            .map_or_else(String::new, |(a, _)| format!("{a}.1"));
        let p = Port {
            id: self.ids.uuid(),
            name: String::new(),
            network_id: sn.network_id.clone(),
            device_id: router.to_owned(),
            device_owner: "network:router_interface".into(),
            mac: mac_of(&gw),
            fixed_ip: gw,
            security_groups: Vec::new(),
        };
        self.ports.push(p.clone());
        Ok(p)
    }

    /// `POST /v2.0/security-groups`.
    pub fn create_security_group(
        &mut self,
        name: &str,
        description: &str,
    ) -> Result<SecurityGroup, OsError> {
        if name.is_empty() || name.len() > 255 {
            return Err(OsError::neutron(
                400,
                "HTTPBadRequest",
                "Invalid input for name.",
            ));
        }
        if self.secgroups.len() >= MAX_SECGROUPS {
            return Err(OsError::neutron(
                409,
                "OverQuota",
                "Quota exceeded for resources: ['security_group'].",
            ));
        }
        Ok(self.add_security_group(name, description))
    }

    /// `DELETE /v2.0/security-groups/:id` (409 while a port uses it).
    pub fn delete_security_group(&mut self, id: &str) -> Result<(), OsError> {
        let i = self
            .secgroups
            .iter()
            .position(|g| g.id == id)
            .ok_or_else(|| neutron_404("SecurityGroup", "Security group", id))?;
        if self
            .ports
            .iter()
            .any(|p| p.security_groups.iter().any(|g| g == id))
        {
            return Err(OsError::neutron(
                409,
                "SecurityGroupInUse",
                format!("Security Group {id} in use."),
            ));
        }
        self.secgroups.remove(i);
        Ok(())
    }

    /// `POST /v2.0/security-group-rules`.
    pub fn create_rule(&mut self, group: &str, mut rule: Rule) -> Result<Rule, OsError> {
        if !matches!(rule.direction.as_str(), "ingress" | "egress") {
            return Err(OsError::neutron(
                400,
                "HTTPBadRequest",
                format!(
                    "Invalid input for direction. Reason: {:?} is not in ['ingress', 'egress'].",
                    rule.direction
                ),
            ));
        }
        if let (Some(a), Some(b)) = (rule.port_min, rule.port_max)
            && a > b
        {
            return Err(OsError::neutron(
                400,
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            ));
        }
        let total: usize = self.secgroups.iter().map(|g| g.rules.len()).sum();
        if total >= MAX_RULES {
            return Err(OsError::neutron(
                409,
                "OverQuota",
                "Quota exceeded for resources: ['security_group_rule'].",
            ));
        }
        rule.id = self.ids.uuid();
        let g = self
            .secgroups
            .iter_mut()
            .find(|g| g.id == group)
            .ok_or_else(|| neutron_404("SecurityGroup", "Security group", group))?;
        if g.rules.iter().any(|r| {
            Rule {
                id: String::new(),
                ..r.clone()
            } == Rule {
                id: String::new(),
                ..rule.clone()
            }
        }) {
            return Err(OsError::neutron(
                409,
                "SecurityGroupRuleExists",
                "Security group rule already exists.",
            ));
        }
        g.rules.push(rule.clone());
        Ok(rule)
    }

    /// `DELETE /v2.0/security-group-rules/:id`.
    pub fn delete_rule(&mut self, id: &str) -> Result<(), OsError> {
        for g in &mut self.secgroups {
            if let Some(i) = g.rules.iter().position(|r| r.id == id) {
                g.rules.remove(i);
                return Ok(());
            }
        }
        Err(neutron_404("SecurityGroupRule", "Security group rule", id))
    }

    /// Neutron's quota body; `details` adds used and reserved counts.
    pub fn network_quota_json(&self, details: bool) -> Value {
        let rules: usize = self.secgroups.iter().map(|g| g.rules.len()).sum();
        let rows = [
            (
                "floatingip",
                self.quotas.floating_ips as usize,
                self.fips.len(),
            ),
            ("network", 100, self.networks.len()),
            ("port", MAX_PORTS, self.ports.len()),
            ("rbac_policy", 10, 0),
            ("router", MAX_ROUTERS, self.routers.len()),
            ("security_group", MAX_SECGROUPS, self.secgroups.len()),
            ("security_group_rule", MAX_RULES, rules),
            ("subnet", 100, self.subnets.len()),
            ("subnetpool", -1i64 as usize, 0),
        ];
        let mut m = serde_json::Map::new();
        for (k, limit, used) in rows {
            let limit = if limit == usize::MAX {
                json!(-1)
            } else {
                json!(limit)
            };
            m.insert(
                k.into(),
                if details {
                    json!({"limit": limit, "used": used, "reserved": 0})
                } else {
                    limit
                },
            );
        }
        json!({ "quota": m })
    }
}

impl OpenStackState {
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
}
