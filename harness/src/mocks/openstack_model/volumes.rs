//! Cinder volumes and the compute quota set.

use super::*;

impl OpenStackState {
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
