//! The Terraform configuration as data (infra.md §1.2-1.3) and Terraform's planning rules:
//! `-target` pulls in dependencies for an apply and dependents for a destroy, data sources
//! never count, `prevent_destroy` turns a destroy plan into an error, and the summary line is
//! printed exactly as Terraform prints it. Counts always come from the modelled resources.

use std::collections::{BTreeMap, BTreeSet};

/// What a resource is to the rest of the harness (which ones have real effects).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// tf-tutu: the PostgreSQL server.
    DatabaseInstance,
    /// The cold boot volume of tf-tutu: the PostgreSQL data directory.
    DatabaseVolume,
    /// tf-tete: the Nomad server.
    NomadServer,
    /// tf-tata: the Nomad client running the six services.
    Orchestrator,
    /// tf-titi: the worker template.
    WorkerTemplate,
    /// tf-toto: the admin VM.
    Admin,
    /// The dashboard reverse proxy (only in the runbook-faithful fixture).
    DashboardProxy,
    /// Everything without an effect outside Terraform's state.
    Other,
}

/// One managed resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Module name (`core`, `cold`, `admin`, `buckets`).
    pub module: String,
    /// Resource type (`openstack_compute_instance_v2`).
    pub rtype: String,
    /// Resource name in the configuration (`database`).
    pub name: String,
    /// The cloud-side name when it matters (`tf-tutu`).
    pub cloud_name: Option<String>,
    /// `lifecycle { prevent_destroy = true }`.
    pub prevent_destroy: bool,
    /// Addresses this resource references.
    pub depends_on: Vec<String>,
    /// Its effect outside the state.
    pub role: Role,
}

impl Resource {
    /// `module.<m>.<type>.<name>`.
    pub fn address(&self) -> String {
        format!("module.{}.{}.{}", self.module, self.rtype, self.name)
    }
}

/// The configuration: resources in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    resources: Vec<Resource>,
}

const INSTANCE: &str = "openstack_compute_instance_v2";
const SECGROUP: &str = "openstack_compute_secgroup_v2";
const FIP: &str = "openstack_networking_floatingip_v2";
const FIP_ASSOC: &str = "openstack_compute_floatingip_associate_v2";
const KEYPAIR: &str = "openstack_compute_keypair_v2";

fn r(module: &str, rtype: &str, name: &str, deps: &[&str]) -> Resource {
    Resource {
        module: module.into(),
        rtype: rtype.into(),
        name: name.into(),
        cloud_name: None,
        prevent_destroy: false,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        role: Role::Other,
    }
}

fn named(mut res: Resource, cloud: &str, role: Role) -> Resource {
    res.cloud_name = Some(cloud.into());
    res.role = role;
    res
}

fn protected(mut res: Resource) -> Resource {
    res.prevent_destroy = true;
    res
}

const COLD_ADMIN_KEY: &str = "module.cold.openstack_compute_keypair_v2.admin_local_key";
const COLD_DB_KEY: &str = "module.cold.openstack_compute_keypair_v2.database_local_key";
const COLD_VOLUME: &str = "module.cold.openstack_blockstorage_volume_v2.database";
const COLD_DASHBOARD_IP: &str = "module.cold.openstack_networking_floatingip_v2.dashboard";

impl Configuration {
    /// The public repository's configuration: 25 managed resources, 10 in `core`.
    pub fn public_snapshot() -> Self {
        let mut v = Vec::new();
        for b in [
            "hrsi_products",
            "sip_results",
            "sip_aux",
            "sip_data",
            "infra",
            "backups",
        ] {
            v.push(protected(r(
                "buckets",
                "openstack_objectstorage_container_v1",
                b,
                &[],
            )));
        }
        v.push(protected(r("cold", KEYPAIR, "admin_local_key", &[])));
        v.push(protected(r("cold", KEYPAIR, "database_local_key", &[])));
        v.push(protected(named(
            r("cold", "openstack_blockstorage_volume_v2", "database", &[]),
            "tf-tutu-volume",
            Role::DatabaseVolume,
        )));
        v.push(protected(r("cold", FIP, "dashboard", &[])));
        let c = |n: &str| format!("module.core.{n}");
        v.push(r("core", SECGROUP, "postgrest", &[]));
        v.push(named(
            r(
                "core",
                INSTANCE,
                "database",
                &[
                    &c("openstack_compute_secgroup_v2.postgrest"),
                    COLD_VOLUME,
                    COLD_ADMIN_KEY,
                    COLD_DB_KEY,
                ],
            ),
            "tf-tutu",
            Role::DatabaseInstance,
        ));
        v.push(r("core", FIP, "database", &[]));
        v.push(r(
            "core",
            FIP_ASSOC,
            "database",
            &[
                &c("openstack_networking_floatingip_v2.database"),
                &c("openstack_compute_instance_v2.database"),
            ],
        ));
        v.push(r("core", SECGROUP, "nomad", &[]));
        v.push(named(
            r(
                "core",
                INSTANCE,
                "nomad_server",
                &[
                    &c("openstack_compute_secgroup_v2.nomad"),
                    &c("openstack_compute_instance_v2.database"),
                    COLD_ADMIN_KEY,
                ],
            ),
            "tf-tete",
            Role::NomadServer,
        ));
        v.push(r("core", FIP, "nomad_server", &[]));
        v.push(r(
            "core",
            FIP_ASSOC,
            "nomad_server",
            &[
                &c("openstack_networking_floatingip_v2.nomad_server"),
                &c("openstack_compute_instance_v2.nomad_server"),
            ],
        ));
        v.push(named(
            r(
                "core",
                INSTANCE,
                "orchestrator",
                &[
                    &c("openstack_compute_instance_v2.nomad_server"),
                    COLD_ADMIN_KEY,
                ],
            ),
            "tf-tata",
            Role::Orchestrator,
        ));
        v.push(named(
            r(
                "core",
                INSTANCE,
                "worker_template",
                &[
                    &c("openstack_compute_instance_v2.database"),
                    &c("openstack_compute_instance_v2.nomad_server"),
                    COLD_ADMIN_KEY,
                ],
            ),
            "tf-titi",
            Role::WorkerTemplate,
        ));
        v.push(r("admin", KEYPAIR, "admin_external_key_pair", &[]));
        v.push(r("admin", SECGROUP, "nomad", &[]));
        v.push(named(
            r(
                "admin",
                INSTANCE,
                "admin_server",
                &[
                    "module.admin.openstack_compute_keypair_v2.admin_external_key_pair",
                    "module.admin.openstack_compute_secgroup_v2.nomad",
                    COLD_ADMIN_KEY,
                ],
            ),
            "tf-toto",
            Role::Admin,
        ));
        v.push(r("admin", FIP, "admin_floating_ip", &[]));
        v.push(r(
            "admin",
            FIP_ASSOC,
            "admin_floating_ip_association",
            &[
                "module.admin.openstack_networking_floatingip_v2.admin_floating_ip",
                "module.admin.openstack_compute_instance_v2.admin_server",
            ],
        ));
        Self { resources: v }
    }

    /// The runbook-faithful fixture: the public configuration plus a reconstructed dashboard
    /// proxy in `core` (instance, security group, association of the cold dashboard IP), which
    /// is the most coherent explanation of the runbook's "13" (infra.md §1.3). Not from source.
    pub fn runbook_with_dashboard_proxy() -> Self {
        let mut c = Self::public_snapshot();
        let at = c
            .resources
            .iter()
            .position(|r| r.module == "admin")
            .unwrap_or(c.resources.len());
        let proxy = [
            r("core", SECGROUP, "dashboard", &[]),
            named(
                r(
                    "core",
                    INSTANCE,
                    "dashboard",
                    &[
                        "module.core.openstack_compute_secgroup_v2.dashboard",
                        "module.core.openstack_compute_instance_v2.database",
                        "module.core.openstack_compute_instance_v2.nomad_server",
                        COLD_ADMIN_KEY,
                    ],
                ),
                "tf-proxy",
                Role::DashboardProxy,
            ),
            r(
                "core",
                FIP_ASSOC,
                "dashboard",
                &[
                    COLD_DASHBOARD_IP,
                    "module.core.openstack_compute_instance_v2.dashboard",
                ],
            ),
        ];
        c.resources.splice(at..at, proxy);
        c
    }

    /// Resources in file order.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// One resource by address.
    pub fn resource(&self, address: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.address() == address)
    }

    /// Number of resources in a module.
    pub fn module_len(&self, module: &str) -> usize {
        self.resources.iter().filter(|r| r.module == module).count()
    }

    /// Sets `prevent_destroy` on one resource (procedure P17 edits the file to do this).
    pub fn set_prevent_destroy(&mut self, address: &str, on: bool) -> Result<(), TfError> {
        let res = self
            .resources
            .iter_mut()
            .find(|r| r.address() == address)
            .ok_or_else(|| TfError::UnknownResource(address.into()))?;
        res.prevent_destroy = on;
        Ok(())
    }

    /// Resolves a `-target` to the resources it names.
    pub fn targets(&self, target: &str) -> Result<Vec<String>, TfError> {
        let parts: Vec<&str> = target.split('.').collect();
        let valid = parts.len() >= 2
            && parts[0] == "module"
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
            && (parts.len() == 2 || parts.len() == 4);
        if !valid {
            return Err(TfError::InvalidTarget(target.into()));
        }
        Ok(self
            .resources
            .iter()
            .filter(|r| {
                if parts.len() == 2 {
                    r.module == parts[1]
                } else {
                    r.address() == target
                }
            })
            .map(Resource::address)
            .collect())
    }

    fn closure(&self, start: &[String], follow_dependents: bool) -> BTreeSet<String> {
        let mut set: BTreeSet<String> = start.iter().cloned().collect();
        loop {
            let before = set.len();
            for res in &self.resources {
                let addr = res.address();
                if follow_dependents {
                    if !set.contains(&addr) && res.depends_on.iter().any(|d| set.contains(d)) {
                        set.insert(addr);
                    }
                } else if set.contains(&addr) {
                    for d in &res.depends_on {
                        set.insert(d.clone());
                    }
                }
            }
            if set.len() == before {
                return set;
            }
        }
    }

    /// Orders addresses so that dependencies come first; ties keep file order.
    fn creation_order(&self, set: &BTreeSet<String>) -> Vec<String> {
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        while out.len() < set.len() {
            let before = out.len();
            for res in &self.resources {
                let a = res.address();
                if set.contains(&a)
                    && !done.contains(&a)
                    && res
                        .depends_on
                        .iter()
                        .all(|d| !set.contains(d) || done.contains(d))
                {
                    done.insert(a.clone());
                    out.push(a);
                }
            }
            if out.len() == before {
                break; // a cycle cannot come from the built-in configurations
            }
        }
        out
    }
}

/// A planning or execution error, rendered as Terraform would.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TfError {
    /// `-target` is not a valid address.
    #[error("Error: Invalid target address: {0:?} is not a valid resource or module address")]
    InvalidTarget(String),
    /// An address that is not in the configuration.
    #[error("Error: no resource {0} in the configuration")]
    UnknownResource(String),
}

/// Plan mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `terraform apply`.
    Apply,
    /// `terraform destroy`.
    Destroy,
}

/// A computed plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Apply or destroy.
    pub mode: Mode,
    /// The `-target` given.
    pub target: String,
    /// Addresses to create, in creation order.
    pub to_add: Vec<String>,
    /// Addresses to update in place (none: the model has no drift).
    pub to_change: Vec<String>,
    /// Addresses to destroy, in destruction order.
    pub to_destroy: Vec<String>,
    /// Resources whose `prevent_destroy` forbids this plan.
    pub prevented: Vec<String>,
}

impl Plan {
    /// Whether Terraform would refuse the plan.
    pub fn is_error(&self) -> bool {
        !self.prevented.is_empty()
    }

    /// Whether the plan does nothing.
    pub fn is_empty(&self) -> bool {
        self.to_add.is_empty() && self.to_change.is_empty() && self.to_destroy.is_empty()
    }

    /// `Plan: 10 to add, 0 to change, 0 to destroy.`
    pub fn summary_line(&self) -> String {
        format!(
            "Plan: {} to add, {} to change, {} to destroy.",
            self.to_add.len(),
            self.to_change.len(),
            self.to_destroy.len()
        )
    }

    /// What Terraform prints for this plan, up to (not including) its confirmation prompt.
    pub fn render(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_error() {
            for a in &self.prevented {
                out.push("Error: Instance cannot be destroyed".into());
                out.push(String::new());
                out.push(format!(
                    "Resource {a} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target flag."
                ));
                out.push(String::new());
            }
            return out;
        }
        if self.is_empty() {
            out.push(match self.mode {
                Mode::Apply => "No changes. Your infrastructure matches the configuration.".into(),
                Mode::Destroy => "No changes. No objects need to be destroyed.".into(),
            });
            return out;
        }
        out.push("Terraform will perform the following actions:".into());
        out.push(String::new());
        for a in &self.to_add {
            out.push(format!("  # {a} will be created"));
        }
        for a in &self.to_destroy {
            out.push(format!("  # {a} will be destroyed"));
        }
        out.push(String::new());
        out.push(self.summary_line());
        out.push(String::new());
        out.push("Warning: Resource targeting is in effect".into());
        out
    }

    /// Compares with a summary line a document expects (the runbook's "13"); `None` when equal,
    /// else a sentence naming each count that differs.
    pub fn compare_with_expected(&self, expected: &str) -> Option<String> {
        let nums: Vec<usize> = expected
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        let [add, change, destroy] = nums.as_slice() else {
            return Some(format!(
                "expected line {expected:?} is not a Terraform plan summary"
            ));
        };
        let got = [
            self.to_add.len(),
            self.to_change.len(),
            self.to_destroy.len(),
        ];
        let diffs: Vec<String> = [
            ("to add", *add, got[0]),
            ("to change", *change, got[1]),
            ("to destroy", *destroy, got[2]),
        ]
        .iter()
        .filter(|(_, e, g)| e != g)
        .map(|(what, e, g)| {
            format!(
                "{what}: expected {e}, modelled {g} ({:+})",
                *g as i64 - *e as i64
            )
        })
        .collect();
        if diffs.is_empty() {
            None
        } else {
            Some(format!(
                "plan differs from {expected:?}: {}",
                diffs.join("; ")
            ))
        }
    }
}

/// Terraform's state: which addresses exist, with an ID each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TfState {
    ids: BTreeMap<String, String>,
    serial: u64,
}

impl TfState {
    /// Whether an address is in the state.
    pub fn contains(&self, address: &str) -> bool {
        self.ids.contains_key(address)
    }

    /// Number of resources in the state.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The cloud ID recorded for an address.
    pub fn id(&self, address: &str) -> Option<&str> {
        self.ids.get(address).map(String::as_str)
    }

    pub(crate) fn insert(&mut self, address: &str) -> String {
        self.serial += 1;
        let id = format!("{:08x}-0000-4000-8000-{:012x}", self.serial, self.serial);
        self.ids.insert(address.to_owned(), id.clone());
        id
    }

    pub(crate) fn remove(&mut self, address: &str) {
        self.ids.remove(address);
    }

    /// Every resource of the configuration, as after a complete first deployment.
    pub fn fully_deployed(config: &Configuration) -> Self {
        let mut s = Self::default();
        for r in config.resources() {
            s.insert(&r.address());
        }
        s
    }
}

/// Computes the plan for `terraform <mode> -target <target>`.
pub fn plan(
    config: &Configuration,
    state: &TfState,
    mode: Mode,
    target: &str,
) -> Result<Plan, TfError> {
    let targets = config.targets(target)?;
    let mut p = Plan {
        mode,
        target: target.into(),
        to_add: Vec::new(),
        to_change: Vec::new(),
        to_destroy: Vec::new(),
        prevented: Vec::new(),
    };
    match mode {
        Mode::Apply => {
            let set: BTreeSet<String> = config
                .closure(&targets, false)
                .into_iter()
                .filter(|a| !state.contains(a))
                .collect();
            p.to_add = config.creation_order(&set);
        }
        Mode::Destroy => {
            let set: BTreeSet<String> = config
                .closure(&targets, true)
                .into_iter()
                .filter(|a| state.contains(a))
                .collect();
            let mut order = config.creation_order(&set);
            order.reverse();
            p.prevented = order
                .iter()
                .filter(|a| config.resource(a).is_some_and(|r| r.prevent_destroy))
                .cloned()
                .collect();
            p.to_destroy = order;
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_configuration_has_the_documented_inventory() {
        let c = Configuration::public_snapshot();
        assert_eq!(c.resources().len(), 25);
        let counts: Vec<usize> = ["buckets", "cold", "core", "admin"]
            .iter()
            .map(|m| c.module_len(m))
            .collect();
        assert_eq!(counts, [6, 4, 10, 5]);
        assert_eq!(
            Configuration::runbook_with_dashboard_proxy().module_len("core"),
            13
        );
    }

    #[test]
    fn stop_and_start_plans_count_the_core_module() {
        for c in [
            Configuration::public_snapshot(),
            Configuration::runbook_with_dashboard_proxy(),
        ] {
            let core = c.module_len("core");
            let deployed = TfState::fully_deployed(&c);
            let stop = plan(&c, &deployed, Mode::Destroy, "module.core").unwrap();
            assert_eq!(
                stop.summary_line(),
                format!("Plan: 0 to add, 0 to change, {core} to destroy.")
            );
            assert!(!stop.is_error());
            let mut stopped = deployed.clone();
            for a in &stop.to_destroy {
                stopped.remove(a);
            }
            let start = plan(&c, &stopped, Mode::Apply, "module.core").unwrap();
            assert_eq!(
                start.summary_line(),
                format!("Plan: {core} to add, 0 to change, 0 to destroy.")
            );
        }
    }

    #[test]
    fn a_first_apply_of_core_pulls_in_three_cold_dependencies_but_not_the_dashboard_ip() {
        let c = Configuration::public_snapshot();
        let p = plan(&c, &TfState::default(), Mode::Apply, "module.core").unwrap();
        assert_eq!(p.to_add.len(), 13);
        assert!(p.to_add.contains(&COLD_VOLUME.to_string()));
        assert!(!p.to_add.contains(&COLD_DASHBOARD_IP.to_string()));
        let pos = |a: &str| p.to_add.iter().position(|x| x.ends_with(a)).unwrap();
        assert!(pos("instance_v2.database") < pos("instance_v2.nomad_server"));
        assert!(pos("instance_v2.nomad_server") < pos("instance_v2.orchestrator"));
    }

    #[test]
    fn destroying_cold_is_refused_once_per_protected_resource() {
        let c = Configuration::public_snapshot();
        let p = plan(
            &c,
            &TfState::fully_deployed(&c),
            Mode::Destroy,
            "module.cold",
        )
        .unwrap();
        assert_eq!(p.prevented.len(), 4);
        assert_eq!(
            p.render()
                .iter()
                .filter(|l| *l == "Error: Instance cannot be destroyed")
                .count(),
            4
        );
        // Its dependents would go too: six core resources (the four instances and the two
        // floating-IP associations) and tf-toto with its association (admin uses the cold key).
        assert_eq!(p.to_destroy.len(), 4 + 6 + 2);
    }

    #[test]
    fn destroy_order_takes_dependents_first() {
        let c = Configuration::public_snapshot();
        let p = plan(
            &c,
            &TfState::fully_deployed(&c),
            Mode::Destroy,
            "module.core",
        )
        .unwrap();
        let pos = |a: &str| p.to_destroy.iter().position(|x| x.ends_with(a)).unwrap();
        assert!(pos("instance_v2.orchestrator") < pos("instance_v2.nomad_server"));
        assert!(pos("instance_v2.worker_template") < pos("instance_v2.database"));
        assert!(pos("instance_v2.database") < pos("secgroup_v2.postgrest"));
    }

    #[test]
    fn the_runbook_line_is_compared_not_assumed() {
        let c = Configuration::public_snapshot();
        let p = plan(
            &c,
            &TfState::fully_deployed(&c),
            Mode::Destroy,
            "module.core",
        )
        .unwrap();
        assert_eq!(
            p.compare_with_expected("Plan: 0 to add, 0 to change, 13 to destroy.")
                .unwrap(),
            "plan differs from \"Plan: 0 to add, 0 to change, 13 to destroy.\": to destroy: expected 13, modelled 10 (-3)"
        );
        let c13 = Configuration::runbook_with_dashboard_proxy();
        let p13 = plan(
            &c13,
            &TfState::fully_deployed(&c13),
            Mode::Destroy,
            "module.core",
        )
        .unwrap();
        assert_eq!(
            p13.compare_with_expected("Plan: 0 to add, 0 to change, 13 to destroy."),
            None
        );
    }

    #[test]
    fn targets_are_validated_and_a_missing_module_plans_nothing() {
        let c = Configuration::public_snapshot();
        assert_eq!(
            c.targets("core").unwrap_err(),
            TfError::InvalidTarget("core".into())
        );
        assert_eq!(
            c.targets("module.core.x").unwrap_err(),
            TfError::InvalidTarget("module.core.x".into())
        );
        let p = plan(&c, &TfState::default(), Mode::Apply, "module.nope").unwrap();
        assert!(p.is_empty());
        assert_eq!(
            p.render(),
            ["No changes. Your infrastructure matches the configuration."]
        );
        assert_eq!(c.targets(COLD_VOLUME).unwrap(), [COLD_VOLUME]);
    }
}
