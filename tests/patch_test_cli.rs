//! `hrsi patch-test` end to end: the real binary, real clusters, real psql.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn hrsi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hrsi"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(args: &[&str]) -> Output {
    hrsi()
        .arg("patch-test")
        .args(args)
        .args(["--jobs", "200"])
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The shipped example patch's flaw: a comma missing between two SET items (line 6 here).
const MISSING_COMMA: &str = "-- raise the worker cap\n\
update cosims.system_parameters\n\
set\n\
    max_number_of_worker_instances = 150,\n\
    worker_init_package_tag = 'no more used'\n\
    docker_image_for_si_processing = 'registry/si:git-1234abcd';\n";

#[test]
fn a_missing_comma_fails_with_its_line_and_sqlstate() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "database_patch.sql", MISSING_COMMA);
    let out = run(&["--patch", patch.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!(
            "{}:6: ERROR 42601: syntax error at or near \"docker_image_for_si_processing\"",
            patch.display()
        )),
        "{t}"
    );
}

#[test]
fn a_good_patch_applies_and_its_json_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(
        dir.path(),
        "good.sql",
        "update cosims.system_parameters set max_number_of_worker_instances = 150;\n",
    );
    let out = run(&["--patch", patch.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"]["clean"], true);
    assert_eq!(report["schema_only"]["clean"], true);
    assert_eq!(report["second_application"]["clean"], true);
    assert!(report["disagreement"].is_null());
}

#[test]
fn a_patch_that_only_fails_on_data_is_caught_and_the_runbook_test_would_miss_it() {
    let dir = tempfile::tempdir().unwrap();
    // Jobs not yet dispatched have no nomad_id: fine on an empty schema, fails on data.
    let patch = write(
        dir.path(),
        "not_null.sql",
        "alter table cosims.parent_jobs alter column nomad_id set not null;\n",
    );
    let out = run(&["--patch", patch.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_only"]["clean"], true);
    assert!(
        report["disagreement"]
            .as_str()
            .unwrap()
            .contains("fails on data")
    );
    assert_eq!(report["diagnostics"][0]["code"], "23502");
}

#[test]
fn bad_input_is_reported_with_exit_code_2_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "p.sql", "select 1;\n");
    let bad_schema = write(
        dir.path(),
        "init_database.sql",
        "create schema cosims;\ncreate table cosims.t (a int,);\n",
    );
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--patch".into(), "/nonexistent/patch.sql".into()],
            "/nonexistent/patch.sql",
        ),
        (
            vec![
                "--patch".into(),
                patch.display().to_string(),
                "--postgres-url".into(),
                "mysql://app:s3cret@db/prod".into(),
            ],
            "postgres:// or postgresql://",
        ),
        (
            vec![
                "--patch".into(),
                patch.display().to_string(),
                "--backup".into(),
                "/nonexistent/dump.sql".into(),
            ],
            "/nonexistent/dump.sql",
        ),
        (
            vec![
                "--patch".into(),
                patch.display().to_string(),
                "--schema".into(),
                bad_schema.display().to_string(),
            ],
            ":2: ERROR 42601",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(needle), "{args:?}: {t}");
        assert!(!t.contains("panicked") && !t.contains("s3cret"), "{t}");
    }
}

#[test]
fn a_killed_run_leaves_no_server_behind() {
    let dir = tempfile::tempdir().unwrap();
    // A patch that sleeps, so that the run is killed while both clusters are up.
    let patch = write(dir.path(), "slow.sql", "select pg_sleep(30);\n");
    let mut child = hrsi()
        .args([
            "patch-test",
            "--jobs",
            "50",
            "--patch",
            patch.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let dirs = || -> Vec<PathBuf> {
        std::fs::read_dir("/dev/shm")
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with(&format!("pgh-{pid}-"))
            })
            .collect()
    };
    while dirs().len() < 2 || !sleeping_backend_exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached the patch"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ours = dirs();
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    // The postmasters got their death signal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ours.iter().any(|d| server_alive(d)) {
        assert!(
            std::time::Instant::now() < deadline,
            "a postmaster outlived the harness"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The next start sweeps the stale directories.
    hrsi_harness::postgres::sweep_stale_dirs(Path::new("/dev/shm"));
    for d in &ours {
        assert!(!d.exists(), "{} was not swept", d.display());
    }
}

fn sleeping_backend_exists() -> bool {
    Command::new("pgrep")
        .args(["-f", "postgres: .*SELECT"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn server_alive(dir: &Path) -> bool {
    let Ok(pidfile) = std::fs::read_to_string(dir.join("data/postmaster.pid")) else {
        return false;
    };
    let Some(pid) = pidfile
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
    else {
        return false;
    };
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn a_users_schema_and_patch_directory_are_the_starting_point() {
    let dir = tempfile::tempdir().unwrap();
    let schema = write(
        dir.path(),
        "init_database.sql",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/harness/sql/cosims.sql"
        ))
        .unwrap(),
    );
    let patches = dir.path().join("patch");
    std::fs::create_dir(&patches).unwrap();
    write(
        &patches,
        "001_add_column.sql",
        "alter table cosims.system_parameters add column new_flag boolean;\n",
    );
    write(
        &patches,
        "002_set_it.sql",
        "alter table cosims.system_parameters_history add column new_flag boolean;\n",
    );
    // Only valid once both directory patches are in.
    let patch = write(
        dir.path(),
        "fix.sql",
        "update cosims.system_parameters_history set new_flag = true;\n",
    );
    let out = run(&[
        "--patch",
        patch.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
        "--patches",
        patches.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let without = run(&[
        "--patch",
        patch.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
    ]);
    assert_eq!(without.status.code(), Some(1), "{}", text(&without));
}

#[test]
fn an_existing_server_is_used_through_its_url_and_left_as_it_was() {
    let cluster = hrsi_harness::postgres::Cluster::start().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port());
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "p.sql", MISSING_COMMA);
    let out = run(&["--patch", patch.to_str().unwrap(), "--postgres-url", &url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(":6: ERROR 42601"), "{}", text(&out));
    let left = Command::new("psql")
        .args([
            "-X",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port().to_string(),
            "-U",
            "postgres",
        ])
        .args([
            "-c",
            "select count(*) from pg_database where datname like 'hrsi_%'",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "0");
}

#[test]
fn a_patch_that_switches_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(
        dir.path(),
        "p.sql",
        "select 1;\n\\connect postgres\ndrop schema cosims cascade;\n",
    );
    let out = run(&["--patch", patch.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("p.sql:2"), "{}", text(&out));
}

#[test]
fn a_patch_is_tested_against_a_borg_archive_and_against_a_dump() {
    use hrsi_harness::{
        backup::Borg, dataset::DatasetSpec, postgres::production_cluster, schema::Schema,
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("tf-tutu");
    let dump = dir.path().join("database-all.sql");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let archive = rt.block_on(async {
        let spec = DatasetSpec {
            jobs: 200,
            ..DatasetSpec::default()
        };
        let server = production_cluster(&Schema::builtin(), Some(&spec))
            .await
            .unwrap();
        let borg = Borg::new(&repo, dir.path().join("borg-base"));
        borg.init().await.unwrap();
        let archive = borg.backup_dumpall(&server, None).await.unwrap();
        borg.extract(&archive, &dump).await.unwrap();
        archive
    });
    let data_only = write(
        dir.path(),
        "not_null.sql",
        "alter table cosims.parent_jobs alter column nomad_id set not null;\n",
    );
    let from_borg = format!("{}::{archive}", repo.display());
    let out = run(&[
        "--patch",
        data_only.to_str().unwrap(),
        "--backup",
        &from_borg,
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("fails on data") && t.contains(&archive), "{t}");

    let good = write(
        dir.path(),
        "good.sql",
        "update cosims.system_parameters set max_number_of_worker_instances = 150;\n",
    );
    let out = run(&[
        "--patch",
        good.to_str().unwrap(),
        "--backup",
        dump.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !text(&out).contains("warning"),
        "the dump loads cleanly: {}",
        text(&out)
    );
}
