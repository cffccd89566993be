//! Nova beyond servers: keypairs, flavor extra specs, server metadata, volume attachments,
//! limits and availability zones.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{OpenStackState, OsError, secs};

/// A Nova keypair. Terraform's keypairs set no public key: OpenStack generated them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keypair {
    /// Name.
    pub name: String,
    /// OpenSSH public key.
    pub public_key: String,
    /// MD5 fingerprint, colon-separated.
    pub fingerprint: String,
    /// Creation (s).
    pub created_s: u64,
}

/// Nova's `metadata_items` quota.
pub const METADATA_ITEMS: usize = 128;
/// Longest metadata key or value Nova takes.
const METADATA_LEN: usize = 255;

fn fingerprint(name: &str) -> String {
    // Deterministic and shaped as Nova writes it; not a real key's digest.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = Vec::new();
    for i in 0..16u8 {
        for b in name.bytes().chain([i]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push(format!("{:02x}", h >> 56));
    }
    out.join(":")
}

fn keypair(name: &str, public_key: Option<&str>, now_s: u64) -> Keypair {
    Keypair {
        name: name.to_owned(),
        public_key: public_key.map_or_else(
            || {
                format!(
                    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{} Generated-by-Nova",
                    name.len()
                )
            },
            str::to_owned,
        ),
        fingerprint: fingerprint(name),
        created_s: now_s,
    }
}

/// The keypairs Terraform's cold and admin modules create (infra.md §1.2).
pub fn default_keypairs(now_ns: u64) -> Vec<Keypair> {
    [
        "tf-toto-local-keypair",
        "tf-tutu-local-keypair",
        "tf-toto-external-key",
    ]
    .iter()
    .map(|n| keypair(n, None, secs(now_ns)))
    .collect()
}

impl OpenStackState {
    /// Keypairs by name.
    pub fn keypairs(&self) -> &[Keypair] {
        &self.keypairs
    }

    /// `POST /os-keypairs`: 409 when the name is taken, 400 for a bad name.
    pub fn create_keypair(
        &mut self,
        name: &str,
        public_key: Option<&str>,
    ) -> Result<Keypair, OsError> {
        let ok = !name.is_empty()
            && name.len() <= 255
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " -_.@".contains(c));
        if !ok {
            return Err(OsError::bad_request(
                "Keypair data is invalid: Keypair name contains unsafe characters",
            ));
        }
        if self.keypairs.iter().any(|k| k.name == name) {
            return Err(OsError::fault(
                409,
                "conflictingRequest",
                format!("Key pair '{name}' already exists."),
            ));
        }
        if self.keypairs.len() >= 100 {
            return Err(OsError::fault(
                403,
                "forbidden",
                "Quota exceeded, too many key pairs.",
            ));
        }
        let k = keypair(name, public_key, secs(self.now));
        self.keypairs.push(k.clone());
        Ok(k)
    }

    /// `DELETE /os-keypairs/:name`.
    pub fn delete_keypair(&mut self, name: &str) -> Result<(), OsError> {
        let i = self
            .keypairs
            .iter()
            .position(|k| k.name == name)
            .ok_or_else(|| {
                OsError::not_found(format!("Keypair {name} not found for user operator"))
            })?;
        self.keypairs.remove(i);
        Ok(())
    }

    /// Sets extra specs of a flavor (`POST /flavors/:id/os-extra_specs`).
    pub fn set_extra_specs(
        &mut self,
        flavor: &str,
        specs: BTreeMap<String, String>,
    ) -> Result<(), OsError> {
        let f = self
            .flavors
            .iter_mut()
            .find(|f| f.id == flavor || f.name == flavor)
            .ok_or_else(|| OsError::not_found(format!("Flavor {flavor} could not be found.")))?;
        if specs
            .keys()
            .chain(specs.values())
            .any(|x| x.is_empty() || x.len() > METADATA_LEN)
        {
            return Err(OsError::bad_request(
                "Invalid input for field/attribute extra_specs.",
            ));
        }
        f.extra_specs.extend(specs);
        Ok(())
    }

    /// Replaces (`replace`) or merges a server's metadata (`PUT` / `POST /servers/:id/metadata`).
    pub fn set_metadata(
        &mut self,
        server: &str,
        items: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>, OsError> {
        if items
            .keys()
            .chain(items.values())
            .any(|x| x.len() > METADATA_LEN)
            || items.keys().any(String::is_empty)
        {
            return Err(OsError::bad_request(
                "Invalid input for field/attribute metadata. Keys and values are 1 to 255 characters",
            ));
        }
        let now = self.now;
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.id == server)
            .ok_or_else(|| OsError::not_found(format!("Instance {server} could not be found.")))?;
        let mut next = if replace {
            BTreeMap::new()
        } else {
            s.metadata.clone()
        };
        next.extend(items);
        if next.len() > METADATA_ITEMS {
            return Err(OsError::fault(
                403,
                "forbidden",
                format!(
                    "Quota exceeded for metadata_items: Requested {}, but already used 0 of {METADATA_ITEMS} metadata_items",
                    next.len()
                ),
            ));
        }
        s.metadata = next.clone();
        s.updated_ns = now;
        Ok(next)
    }

    /// Deletes one metadata key.
    pub fn delete_metadata(&mut self, server: &str, key: &str) -> Result<(), OsError> {
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.id == server)
            .ok_or_else(|| OsError::not_found(format!("Instance {server} could not be found.")))?;
        s.metadata
            .remove(key)
            .map(|_| ())
            .ok_or_else(|| OsError::not_found("Metadata item was not found"))
    }

    /// Attaches a volume (`POST /servers/:id/os-volume_attachments`); returns the device.
    pub fn attach_volume(&mut self, server: &str, volume: &str) -> Result<String, OsError> {
        self.server(server)?;
        let used = self
            .volumes
            .iter()
            .filter(|v| v.attached.as_ref().is_some_and(|(s, _)| s == server))
            .count();
        let v = self
            .volumes
            .iter_mut()
            .find(|v| v.id == volume)
            .ok_or_else(|| OsError::not_found(format!("Volume {volume} could not be found.")))?;
        if v.attached.is_some() {
            return Err(OsError::bad_request(format!(
                "Invalid volume: volume {volume} already attached"
            )));
        }
        let device = format!("/dev/vd{}", (b'b' + (used as u8).min(24)) as char);
        v.attached = Some((server.to_owned(), device.clone()));
        if let Some(s) = self.servers.iter_mut().find(|s| s.id == server) {
            s.volumes.push(volume.to_owned());
        }
        Ok(device)
    }

    /// Detaches a volume.
    pub fn detach_volume(&mut self, server: &str, volume: &str) -> Result<(), OsError> {
        let v = self
            .volumes
            .iter_mut()
            .find(|v| v.id == volume && v.attached.as_ref().is_some_and(|(s, _)| s == server))
            .ok_or_else(|| OsError::not_found(format!("volume_id not found: {volume}")))?;
        v.attached = None;
        if let Some(s) = self.servers.iter_mut().find(|s| s.id == server) {
            s.volumes.retain(|x| x != volume);
        }
        Ok(())
    }

    /// `(volume id, device)` attached to a server.
    pub fn attachments(&self, server: &str) -> Vec<(String, String)> {
        self.volumes
            .iter()
            .filter_map(|v| match &v.attached {
                Some((s, d)) if s == server => Some((v.id.clone(), d.clone())),
                _ => None,
            })
            .collect()
    }

    /// `GET /os-quota-sets/:project/detail` body.
    pub fn quota_detail_json(&self) -> Value {
        let q = &self.quotas;
        let (n, cores, ram) = self.used();
        let row = |limit: u64, used: usize| json!({"limit": limit, "in_use": used, "reserved": 0});
        json!({"quota_set": {
            "id": self.config.project_id, "instances": row(q.instances, n as usize), "cores": row(q.cores, cores as usize),
            "ram": row(q.ram_mb, ram as usize), "key_pairs": row(100, self.keypairs.len()),
            "metadata_items": row(METADATA_ITEMS as u64, 0), "server_groups": row(10, 0), "server_group_members": row(10, 0),
        }})
    }

    /// `GET /limits` body.
    pub fn limits_json(&self) -> Value {
        let q = &self.quotas;
        let (n, cores, ram) = self.used();
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalInstances": q.instances, "maxTotalCores": q.cores, "maxTotalRAMSize": q.ram_mb,
            "maxTotalKeypairs": 100, "maxServerMeta": METADATA_ITEMS, "maxImageMeta": 128,
            "maxPersonality": 5, "maxPersonalitySize": 10240, "maxServerGroups": 10, "maxServerGroupMembers": 10,
            "maxTotalFloatingIps": q.floating_ips, "maxSecurityGroups": 10, "maxSecurityGroupRules": 20,
            "totalInstancesUsed": n, "totalCoresUsed": cores, "totalRAMUsed": ram,
            "totalFloatingIpsUsed": self.fips.len(), "totalSecurityGroupsUsed": self.secgroups.len(),
            "totalServerGroupsUsed": 0,
        }}})
    }
}
