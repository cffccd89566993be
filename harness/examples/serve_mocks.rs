//! Serves the Nomad and OpenStack stand-ins for poking with real tools (curl, python-nomad, the
//! nomad CLI, openstacksdk, the openstack CLI), as `hrsi up` does: the twelve job files
//! registered, tf-tata ready, Terraform's VMs in the project, worker VMs created through
//! OpenStack registering with Nomad after the calibrated boot. Virtual time starts at the wall
//! clock's now and runs at `SPEED` times the wall clock (default 1).
//!
//! `SPEED=60 cargo run -p hrsi-harness --example serve_mocks -- [NOMAD_PORT] [OPENSTACK_PORT]`

use hrsi_harness::mocks::served::{ServeOptions, ServedWorld};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let nomad_port: u16 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4646);
    let os_port: u16 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let speed: u64 = match std::env::var("SPEED") {
        Ok(s) => s
            .parse()
            .map_err(|_| format!("SPEED={s:?}: give a whole factor such as 1 or 60"))?,
        Err(_) => 1,
    };
    let world = ServedWorld::start(
        tokio::net::TcpListener::bind(("127.0.0.1", nomad_port)).await?,
        tokio::net::TcpListener::bind(("127.0.0.1", os_port)).await?,
        ServeOptions { speed },
    )?;
    for line in world.env_lines() {
        println!("{line}");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
