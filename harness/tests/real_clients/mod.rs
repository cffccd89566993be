//! Runs the real Python clients (python-nomad, openstacksdk, the `openstack` CLI) against the
//! stand-ins: the pinned virtual environments `.ci/python-clients` creates, one Python process
//! per test running a script that makes many calls.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

/// The repository root (tests run from the crate directory).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness sits in the workspace")
        .to_path_buf()
}

/// The Python of venv `name`, checked against its lock file. Missing or out of date, the test
/// fails saying what to run: it never skips.
pub fn python(name: &str) -> PathBuf {
    let root = std::env::var_os("HRSI_PYTHON_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/hrsi-clients"));
    let dir = root.join(name);
    let py = dir.join("bin/python");
    let want = std::fs::read(repo().join(format!(".ci/python-clients-{name}.txt")))
        .expect("lock file of the venv");
    match std::fs::read(dir.join(".hrsi-lock")) {
        Ok(have) if py.exists() && have == want => py,
        Ok(_) if py.exists() => panic!(
            "the real Python clients in {} are out of date: run `bash .ci/python-clients` \
             (HRSI_PYTHON_CLIENTS={} overrides the location)",
            dir.display(),
            root.display()
        ),
        _ => panic!(
            "the real Python clients are missing ({} has no pinned venv): run `bash \
             .ci/python-clients` to create them with pip (.ci/run does it; \
             HRSI_PYTHON_CLIENTS overrides the location)",
            dir.display()
        ),
    }
}

/// Runs `script` (in `harness/tests/real_clients/`) with venv `venv` and `envs`; returns its
/// stdout, or panics with stdout and stderr when it fails or runs over `limit`.
pub async fn run(venv: &str, script: &str, envs: Vec<(String, String)>, limit: Duration) -> String {
    let py = python(venv);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_clients");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut cmd = tokio::process::Command::from(Command::new(py));
    cmd.arg(dir.join(script))
        .current_dir(&dir)
        .env("PYTHONPATH", &dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("HRSI_FIXTURES", &fixtures)
        // The clients must not find an operator's real cloud or Nomad.
        .env_remove("OS_CLOUD")
        .env_remove("NOMAD_TOKEN")
        .env("HOME", std::env::temp_dir())
        .envs(envs)
        .kill_on_drop(true);
    let out = tokio::time::timeout(limit, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} ran over {limit:?}"))
        .expect("start python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout
}

/// The `OK <n>` line a script prints last: the number of steps it checked.
pub fn steps(stdout: &str) -> usize {
    stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("OK "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no OK line in:\n{stdout}"))
}
