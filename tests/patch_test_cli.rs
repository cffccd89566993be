//! `hrsi patch-test` end to end: the real binary, real clusters.
//!
//! `security`: every reproducer of issue 9 (host commands, secrets, the external server,
//! leftovers, time limits); `verdict`: what the report measures and finds.

#[path = "patch_test/security.rs"]
mod security;
#[path = "patch_test/verdict.rs"]
mod verdict;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

pub fn hrsi() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hrsi"));
    c.env_remove("HRSI_POSTGRES_URL");
    c
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `hrsi patch-test ARGS --jobs 200`.
pub fn run(args: &[&str]) -> Output {
    hrsi()
        .arg("patch-test")
        .args(args)
        .args(["--jobs", "200"])
        .output()
        .unwrap()
}

/// Runs a patch given as text and returns (exit code, stdout + stderr).
pub fn run_patch(text: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "p.sql", text);
    let mut args = vec!["--patch", patch.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(&args);
    (out.status.code(), all_text(&out))
}

pub fn all_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A path no other test uses, that must never appear.
pub fn unique_path(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("hrsi-pwned-{tag}-{}-{n}", std::process::id()))
}
