//! `hrsi simulate` (in progress).
use std::process::ExitCode;

/// Arguments of `hrsi simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `hrsi simulate`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`hrsi simulate` is not built yet")
}
