//! `hrsi patch-test` (in progress).
use std::process::ExitCode;

/// Arguments of `hrsi patch-test`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `hrsi patch-test`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`hrsi patch-test` is not built yet")
}
