//! Serves the Nomad and OpenStack mocks for poking with real tools (curl, python-nomad, the
//! nomad CLI, openstacksdk): the twelve job files registered, tf-tata registered, worker VMs
//! created through OpenStack registering with Nomad after 4 virtual minutes. Virtual time runs
//! at `SPEED` times the wall clock (default 60: one minute per second).
//!
//! `cargo run -p hrsi-harness --example serve_mocks -- [NOMAD_PORT] [OPENSTACK_PORT]`

use std::{sync::Arc, time::Duration};

use hrsi_harness::mocks::{
    NomadMock, OpenStackMock, VirtualClock, link_workers,
    nomad_model::{NodeSpec, NomadConfig},
    openstack_model::OpenStackConfig,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let nomad_port: u16 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4646);
    let os_port: u16 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let speed: u64 = std::env::var("SPEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let clock = VirtualClock::default();
    let nomad = Arc::new(NomadMock::spawn(
        tokio::net::TcpListener::bind(("127.0.0.1", nomad_port)).await?,
        clock.clone(),
        NomadConfig::default(),
    )?);
    nomad.power_on_registered_files()?;
    nomad.with_state(|s| s.add_node(NodeSpec::orchestrator(), Duration::ZERO));
    let os = OpenStackMock::spawn(
        tokio::net::TcpListener::bind(("127.0.0.1", os_port)).await?,
        clock.clone(),
        OpenStackConfig::default(),
    )?;
    link_workers(&os, nomad.clone(), Duration::from_secs(240));
    let c = OpenStackConfig::default();
    println!("export NOMAD_ADDR={}", nomad.url());
    println!(
        "export OS_AUTH_URL={} OS_USERNAME={} OS_PASSWORD={} OS_PROJECT_ID={} OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_ID=default OS_REGION_NAME=RegionOne OS_IDENTITY_API_VERSION=3",
        os.auth_url(),
        c.username,
        c.password,
        c.project_id
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                nomad.advance(Duration::from_secs(speed));
                os.advance(Duration::ZERO);
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
