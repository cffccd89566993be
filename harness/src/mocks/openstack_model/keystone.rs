//! Keystone: password tokens (expiry on the wall clock), the service catalog.

use super::*;

impl OpenStackState {
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
}
