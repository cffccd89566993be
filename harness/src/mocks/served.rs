//! The served world: the Nomad and OpenStack stand-ins as `hrsi up` offers them to people and
//! to real clients (python-nomad, openstacksdk, the `openstack` and `nomad` CLIs, curl).
//!
//! Time rule: virtual time starts at the wall clock's now and runs at 1x unless asked
//! (`speed`), so every timestamp a client compares with its own clock (`ModifyTime`,
//! `SubmitTime`, `created`, `updated`) is coherent; Keystone tokens expire 1 h after issue on
//! the wall clock whatever the speed. Inside a rehearsal the harness builds the mocks on a
//! [`VirtualClock`] it jumps itself instead (see [`super::NomadMock::spawn`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use hrsi_harness::mocks::served::{ServedWorld, ServeOptions};
//! let nomad = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
//! let os = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
//! let world = ServedWorld::start(nomad, os, ServeOptions { speed: 1 })?;
//! println!("NOMAD_ADDR={} OS_AUTH_URL={}", world.nomad.url(), world.openstack.auth_url());
//! # Ok(()) }
//! ```

use std::{sync::Arc, time::Duration};

use tokio::net::TcpListener;

use super::{
    NomadMock, OpenStackMock, VirtualClock, link_workers,
    nomad_model::{NodeSpec, NomadConfig},
    openstack_model::{OpenStackConfig, ServerRequest},
};

/// What `hrsi up` lets its user choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// Virtual seconds per wall second (`--speed N`), 1 to [`super::common::MAX_SPEED`].
    pub speed: u64,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { speed: 1 }
    }
}

/// Minutes a worker VM takes from its creation to a ready Nomad node (the calibration's
/// `worker_boot_minutes`, an assumption).
fn worker_boot() -> Duration {
    let minutes = hrsi_sim::calibration::Calibration::default().worker_boot_minutes;
    Duration::from_secs_f64(minutes * 60.0)
}

/// Terraform's instances as they stand once the system is up (infra.md §1.2-1.3, flavors and
/// networks of §2.1), in creation order.
const INSTANCES: &[(&str, &str, &[&str])] = &[
    ("tf-toto", "eo1.small", &["private_magellium", "eodata"]),
    ("tf-tutu", "eo2.2xlarge", &["private_magellium"]),
    ("tf-tete", "eo2.2xlarge", &["private_magellium"]),
    ("tf-tata", "eo1.large", &["private_magellium"]),
    (
        "tf-titi",
        "eo1.xsmall",
        &["private_magellium", "eodata_magellium"],
    ),
];

/// The Nomad server (tf-tete) with the system's twelve jobs registered, the orchestrator node
/// (tf-tata) ready, and an OpenStack project holding Terraform's VMs; worker VMs created
/// through OpenStack from the template image register with Nomad after the calibrated boot.
pub struct ServedWorld {
    /// The Nomad stand-in (`NOMAD_ADDR`).
    pub nomad: Arc<NomadMock>,
    /// The OpenStack stand-in (`OS_AUTH_URL` = [`OpenStackMock::auth_url`]).
    pub openstack: Arc<OpenStackMock>,
    /// The clock both follow.
    pub clock: VirtualClock,
}

impl ServedWorld {
    /// Starts both stand-ins on the given loopback listeners, on a clock starting at the wall
    /// clock's now and running at `options.speed`. Must run inside a tokio runtime. Errors
    /// (bad speed, a job file that does not register) say what to change.
    pub fn start(
        nomad_listener: TcpListener,
        openstack_listener: TcpListener,
        options: ServeOptions,
    ) -> Result<Self, String> {
        Self::start_with(
            nomad_listener,
            openstack_listener,
            options,
            NomadConfig::served(),
        )
    }

    /// [`ServedWorld::start`] with another Nomad configuration (tests shorten the calibrated
    /// durations or lengthen the GC threshold so that a fast clock stays observable).
    pub fn start_with(
        nomad_listener: TcpListener,
        openstack_listener: TcpListener,
        options: ServeOptions,
        nomad_config: NomadConfig,
    ) -> Result<Self, String> {
        let clock = VirtualClock::served(options.speed).map_err(|e| format!("--speed: {e}"))?;
        let nomad = Arc::new(
            NomadMock::spawn(nomad_listener, clock.clone(), nomad_config)
                .map_err(|e| format!("cannot serve the Nomad stand-in: {e}"))?,
        );
        let openstack = Arc::new(
            OpenStackMock::spawn(
                openstack_listener,
                clock.clone(),
                OpenStackConfig::default(),
            )
            .map_err(|e| format!("cannot serve the OpenStack stand-in: {e}"))?,
        );
        let orchestrator_ip = openstack.with_state(|s| -> Result<String, String> {
            let image = s
                .images()
                .iter()
                .find(|i| i.name == "image_name")
                .map(|i| i.id.clone())
                .unwrap_or_default();
            let mut ip = String::new();
            for (name, flavor, nets) in INSTANCES {
                let flavor_ref = s
                    .flavor(flavor)
                    .map_err(|e| format!("flavor {flavor}: {}", e.body))?
                    .id
                    .clone();
                let server = s
                    .create_server(ServerRequest {
                        name: (*name).into(),
                        image_ref: image.clone(),
                        flavor_ref,
                        networks: nets.iter().map(|n| (*n).to_owned()).collect(),
                        security_groups: vec!["default".into(), "allow_ping_ssh_rdp".into()],
                        key_name: Some("tf-toto-local-keypair".into()),
                        metadata: Default::default(),
                    })
                    .map_err(|e| format!("creating {name}: {}", e.body))?;
                if *name == "tf-tata" {
                    ip = server
                        .addresses
                        .first()
                        .map(|a| a.1.clone())
                        .unwrap_or_default();
                }
            }
            Ok(ip)
        })?;
        // The VMs are up already when the world is served: their builds are over.
        openstack.with_state(|s| s.finish_builds());
        nomad
            .power_on_registered_files()
            .map_err(|e| format!("registering the job files: {e}"))?;
        let mut tata = NodeSpec::orchestrator();
        if !orchestrator_ip.is_empty() {
            tata.address = orchestrator_ip;
        }
        nomad.with_state(|s| s.add_node(tata, Duration::ZERO));
        link_workers(&openstack, nomad.clone(), worker_boot());
        Ok(Self {
            nomad,
            openstack,
            clock,
        })
    }

    /// The environment a real client needs, one `export` line per service. The OpenStack
    /// password is the stand-in's placeholder, not a secret of the real system.
    pub fn env_lines(&self) -> Vec<String> {
        let c = self.openstack.with_state(|s| s.config.clone());
        vec![
            format!("export NOMAD_ADDR={}", self.nomad.url()),
            format!(
                "export OS_AUTH_URL={} OS_USERNAME={} OS_PASSWORD={} OS_PROJECT_ID={} OS_PROJECT_NAME={} OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_ID=default OS_REGION_NAME=RegionOne OS_INTERFACE=public OS_IDENTITY_API_VERSION=3",
                self.openstack.auth_url(),
                c.username,
                c.password,
                c.project_id,
                c.project_name
            ),
        ]
    }
}
