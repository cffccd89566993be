//! Helpers shared by the end-to-end tests of the `hrsi` binary.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `scenarios/` lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `hrsi SUBCOMMAND ARGS…` in `dir`.
pub fn hrsi_in(subcommand: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hrsi"))
        .arg(subcommand)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the hrsi binary runs")
}

/// Bytes as text, lossily.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
