//! Client nodes: registration after boot, eligibility, loss.

use super::*;

impl NomadState {
    // ---- nodes ----------------------------------------------------------------------------

    /// A client agent starts now and registers after `boot`; returns its future node ID.
    pub fn add_node(&mut self, spec: NodeSpec, boot: Duration) -> String {
        let id = self.ids.uuid();
        let node = Node {
            id: id.clone(),
            spec,
            datacenter: self.config.datacenter.clone(),
            status: "ready".into(),
            eligible: true,
            drain: None,
            create_index: 0,
            modify_index: 0,
            status_updated_at: 0,
        };
        self.booting.push((self.now + boot.as_nanos() as u64, node));
        if boot.is_zero() {
            self.tick(self.now);
        }
        id
    }

    /// Registered nodes, by ID.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// One node.
    pub fn node(&self, id: &str) -> Result<&Node, ApiError> {
        self.nodes
            .get(id)
            .ok_or_else(|| ApiError::new(404, "node not found"))
    }

    /// A node by name (the harness knows workers by VM name).
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.nodes.values().find(|n| n.spec.name == name)
    }

    /// Allocations on a node.
    pub fn node_allocs(&self, id: &str) -> Result<Vec<&Alloc>, ApiError> {
        self.node(id)?;
        let mut v: Vec<&Alloc> = self.allocs.values().filter(|a| a.node_id == id).collect();
        v.sort_by_key(|a| a.create_index);
        Ok(v)
    }

    /// Sets scheduling eligibility (`POST /v1/node/:id/eligibility`).
    pub fn set_eligibility(&mut self, id: &str, eligibility: &str) -> Result<u64, ApiError> {
        let eligible = match eligibility {
            "eligible" => true,
            "ineligible" => false,
            other => {
                return Err(ApiError::new(
                    400,
                    format!("invalid scheduling eligibility {other:?}"),
                ));
            }
        };
        if !self.nodes.contains_key(id) {
            return Err(ApiError::new(404, "node not found"));
        }
        let index = self.bump();
        if let Some(n) = self.nodes.get_mut(id) {
            n.eligible = eligible;
            n.modify_index = index;
        }
        self.reconcile();
        Ok(index)
    }

    /// The node's VM is gone (deleted, or its heartbeat lapsed): it goes `down` and its live
    /// allocations become `lost`, which makes Nomad place replacements elsewhere.
    pub fn node_down(&mut self, id: &str) -> Result<(), ApiError> {
        self.booting.retain(|(_, n)| n.id != id);
        if !self.nodes.contains_key(id) {
            return Err(ApiError::new(404, "node not found"));
        }
        let index = self.bump();
        let now = self.now;
        if let Some(n) = self.nodes.get_mut(id) {
            n.status = "down".into();
            n.modify_index = index;
            n.status_updated_at = now / 1_000_000_000;
        }
        for a in self
            .allocs
            .values_mut()
            .filter(|a| a.node_id == id && a.is_live())
        {
            stop_alloc(a, "lost", now, index);
        }
        self.reconcile();
        Ok(())
    }

    /// Removes a node that never registered (its VM was deleted while booting), or forgets a
    /// down node.
    pub fn forget_node(&mut self, id: &str) {
        self.booting.retain(|(_, n)| n.id != id);
        if self.nodes.get(id).is_some_and(|n| n.status == "down") {
            self.nodes.remove(id);
        }
    }
}
