//! Issue 9 §2: the verdict, measured, with findings an operator can act on.

use std::path::{Path, PathBuf};

use super::{all_text, hrsi, run, run_patch, write};

/// The shipped example patch's flaw: a comma missing between two SET items (line 6 here).
const MISSING_COMMA: &str = "-- raise the worker cap\n\
update cosims.system_parameters\n\
set\n\
    max_number_of_worker_instances = 150,\n\
    worker_init_package_tag = 'no more used'\n\
    docker_image_for_si_processing = 'registry/si:git-1234abcd';\n";

fn json(text: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "p.sql", text);
    let mut args = vec!["--patch", patch.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    let v =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", all_text(&out)));
    (out.status.code(), v)
}

fn kinds(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_missing_comma_fails_with_its_line_and_sqlstate() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "database_patch.sql", MISSING_COMMA);
    let out = run(&["--patch", patch.to_str().unwrap()]);
    let t = all_text(&out);
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
fn a_good_patch_applies_with_each_statement_measured() {
    let (code, r) = json(
        "set lock_timeout = '5s';\nupdate cosims.system_parameters set max_number_of_worker_instances = 150;\n",
        &[],
    );
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["result"], "applies");
    assert_eq!(r["schema_only"]["applied"], true);
    assert_eq!(r["second_application"]["applied"], true);
    assert!(r["disagreement"].is_null());
    let st = &r["statements"][1];
    assert_eq!(
        st["at"].as_str().unwrap().rsplit('/').next(),
        Some("p.sql:2")
    );
    assert_eq!(st["rows"], 1);
    assert!(st["wal_bytes"].as_u64().unwrap() > 0, "{st:#}");
    assert_eq!(st["lock"]["mode"], "ROW EXCLUSIVE");
    assert!(st["lock"]["held_ms"].as_f64().unwrap() >= st["ms"].as_f64().unwrap());
}

#[test]
fn the_json_report_goes_to_a_file_and_the_exit_code_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "p.sql", MISSING_COMMA);
    let out_file = dir.path().join("report.json");
    let out = run(&[
        "--patch",
        patch.to_str().unwrap(),
        "--json",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        all_text(&out).contains("result: FAILED"),
        "the table still goes to stdout"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(
        (r["result"].as_str(), r["exit_code"].as_u64()),
        (Some("fails"), Some(1))
    );
}

#[test]
fn a_patch_that_only_fails_on_data_is_caught_and_the_runbook_test_would_miss_it() {
    // Jobs not yet dispatched have no nomad_id: fine on an empty schema, fails on data.
    let (code, r) = json(
        "alter table cosims.parent_jobs alter column nomad_id set not null;\n",
        &[],
    );
    assert_eq!(code, Some(1), "{r:#}");
    assert_eq!(r["schema_only"]["applied"], true);
    assert!(
        r["disagreement"]
            .as_str()
            .unwrap()
            .contains("fails on data")
    );
    assert_eq!(r["diagnostics"][0]["code"], "23502");
}

#[test]
fn destructive_changes_are_named_with_what_they_destroy_and_exit_4_unless_acknowledged() {
    let (code, r) = json("drop schema cosims cascade;\n", &[]);
    assert_eq!(code, Some(4), "{r:#}");
    // Dropping the schema also takes ACCESS EXCLUSIVE on every table, with no lock_timeout.
    assert_eq!(kinds(&r), ["destructive", "lock-timeout"]);
    let msg = r["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("schema cosims")
            && msg.contains("tables holding")
            && msg.contains("function(s)"),
        "{msg}"
    );
    let (code, _) = json("drop schema cosims cascade;\n", &["--allow-destructive"]);
    assert_eq!(code, Some(0));
    let (code, r) = json(
        "-- hrsi: allow-destructive\ndrop table cosims.system_parameters_history;\n",
        &[],
    );
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["findings"][0]["acknowledged"], true);
    let (code, r) = json("delete from cosims.parent_jobs;\n", &[]);
    assert_eq!(code, Some(4), "{r:#}");
    let msg = r["findings"][0]["message"].as_str().unwrap();
    let n = msg.split_whitespace().nth(1).unwrap();
    assert_eq!(
        msg,
        format!("deletes {n} of the {n} rows of cosims.parent_jobs (no WHERE)")
    );
    let (code, r) = json(
        "alter table cosims.parent_jobs drop column nomad_id cascade;\ntruncate cosims.system_parameters_history;\n",
        &[],
    );
    assert_eq!(code, Some(4), "{r:#}");
    let text = r["findings"].to_string();
    assert!(
        text.contains("column cosims.parent_jobs.nomad_id (")
            && text.contains("rows of cosims.system_parameters_history"),
        "{text}"
    );
    // Setting a parameter (one row, no WHERE) is how production does it: no finding.
    let (code, r) = json(
        "update cosims.system_parameters set max_number_of_worker_instances = 3;\n",
        &[],
    );
    assert_eq!((code, kinds(&r).len()), (Some(0), 0), "{r:#}");
}

#[test]
fn lock_risk_is_measured_against_the_budget() {
    let (code, r) = json(
        "alter table cosims.parent_jobs add column note text;\n",
        &[],
    );
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["statements"][0]["lock"]["mode"], "ACCESS EXCLUSIVE");
    assert_eq!(r["statements"][0]["lock"]["relation"], "cosims.parent_jobs");
    assert_eq!(kinds(&r), ["lock-timeout"]);
    let (code, r) = json(
        "set lock_timeout = '2s';\nalter table cosims.parent_jobs add column r float default random();\nselect pg_sleep(0.05);\n",
        &["--lock-budget", "10ms"],
    );
    assert_eq!(code, Some(4), "{r:#}");
    let k = kinds(&r);
    assert!(
        k.contains(&"lock".to_string()) && k.contains(&"rewrite".to_string()),
        "{k:?}"
    );
    assert!(
        !r["statements"][1]["rewrites"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_single_quoted_job_types_list_is_a_finding() {
    let (code, r) = json(
        "update cosims.system_parameters set job_types_list = '[''fsc_rlie_job'', ''rlies1_job'']';\n",
        &[],
    );
    assert_eq!(code, Some(4), "{r:#}");
    assert_eq!(kinds(&r), ["job-types-list"]);
    assert!(
        r["findings"][0]["at"]
            .as_str()
            .unwrap()
            .ends_with("p.sql:1")
    );
    let (code, _) = json(
        "update cosims.system_parameters set job_types_list = '[\"fsc_rlie_job\", \"rlies1_job\"]';\n",
        &[],
    );
    assert_eq!(code, Some(0));
}

#[test]
fn a_revert_is_checked_by_digests() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(
        dir.path(),
        "p.sql",
        "alter table cosims.parent_jobs add column note text;\n",
    );
    let good = write(
        dir.path(),
        "revert.sql",
        "alter table cosims.parent_jobs drop column note;\n",
    );
    let bad = write(dir.path(), "noop.sql", "select 1;\n");
    let out = run(&[
        "--patch",
        patch.to_str().unwrap(),
        "--revert",
        good.to_str().unwrap(),
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{r:#}");
    assert_eq!(r["revert"]["schema_restored"], true);
    assert_eq!(r["revert"]["reapply_same"], true);
    let out = run(&[
        "--patch",
        patch.to_str().unwrap(),
        "--revert",
        bad.to_str().unwrap(),
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(4), "{r:#}");
    assert!(
        r["revert"]["schema_differs"][0]
            .as_str()
            .unwrap()
            .contains("note"),
        "{r:#}"
    );
}

#[test]
fn statements_that_cannot_run_in_a_transaction_get_their_own_verdict() {
    for text in [
        "vacuum cosims.parent_jobs;\n",
        "create index concurrently parent_jobs_note on cosims.parent_jobs (nomad_id);\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let patch = write(dir.path(), "p.sql", text);
        let out = run(&["--patch", patch.to_str().unwrap()]);
        let t = all_text(&out);
        assert_eq!(out.status.code(), Some(4), "{t}");
        assert!(
            t.contains("non-transactional statement at")
                && t.contains("25001")
                && t.contains("cannot run inside a transaction block"),
            "{t}"
        );
        assert!(
            t.contains("statement by statement instead (as a plain `psql -f`): applies"),
            "{t}"
        );
    }
}

#[test]
fn bad_input_is_reported_with_exit_code_2_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "p.sql", "select 1;\n");
    let empty = write(dir.path(), "empty.sql", "-- nothing yet\n");
    let not_a_dump = write(dir.path(), "notes.txt", "hello\n");
    let bad_schema = write(
        dir.path(),
        "init_database.sql",
        "create schema cosims;\ncreate table cosims.t (a int,);\n",
    );
    let p = patch.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--patch".into(), "/nonexistent/patch.sql".into()],
            "/nonexistent/patch.sql",
        ),
        (
            vec!["--patch".into(), empty.display().to_string()],
            "no SQL statement",
        ),
        (
            vec![
                "--patch".into(),
                p.clone(),
                "--postgres-url".into(),
                "mysql://app:s3cret@db/prod".into(),
            ],
            "postgres:// or postgresql://",
        ),
        (
            vec![
                "--patch".into(),
                p.clone(),
                "--backup".into(),
                "/nonexistent/dump.sql".into(),
            ],
            "invalid --backup `/nonexistent/dump.sql`",
        ),
        (
            vec![
                "--patch".into(),
                p.clone(),
                "--backup".into(),
                not_a_dump.display().to_string(),
            ],
            "does not start like a pg_dumpall",
        ),
        (
            vec![
                "--patch".into(),
                p.clone(),
                "--schema".into(),
                bad_schema.display().to_string(),
            ],
            ":2: ERROR 42601",
        ),
        (
            vec![
                "--patch".into(),
                p.clone(),
                "--lock-budget".into(),
                "soon".into(),
            ],
            "not a duration",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        let t = all_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(needle), "{args:?}: {t}");
        assert!(!t.contains("panicked") && !t.contains("s3cret"), "{t}");
    }
    // A borg repository without that archive: a setup failure with its own message.
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let out = run(&[
        "--patch",
        &p,
        "--backup",
        &format!("{}::pgdump_missing", repo.display()),
    ]);
    let t = all_text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(
        t.contains("could not be extracted") && !t.contains("the patch"),
        "{t}"
    );
}

#[test]
fn a_killed_run_leaves_no_server_behind() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write(dir.path(), "slow.sql", "select pg_sleep(60);\n");
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while dirs().is_empty() || !dirs()[0].join("data/postmaster.pid").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started its cluster"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ours = dirs();
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ours.iter().any(|d| server_alive(d)) {
        assert!(
            std::time::Instant::now() < deadline,
            "a postmaster outlived the harness"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    hrsi_harness::postgres::sweep_stale_dirs(Path::new("/dev/shm"));
    for d in &ours {
        assert!(!d.exists(), "{} was not swept", d.display());
    }
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
    let patch = write(
        dir.path(),
        "fix.sql",
        "update cosims.system_parameters_history set new_flag = true where id < 0;\n",
    );
    let args = [
        "--patch",
        patch.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
    ];
    let out = run(&[&args[..], &["--patches", patches.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let without = run(&args);
    assert_eq!(without.status.code(), Some(1), "{}", all_text(&without));
}

#[test]
fn psql_variables_and_conditionals_work_as_in_psql() {
    let (code, r) = json(
        "\\set cap 42\n\\if true\nupdate cosims.system_parameters set max_number_of_worker_instances = :cap;\n\\else\nselect 1/0;\n\\endif\n\\echo done :cap\n",
        &[],
    );
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["statements"].as_array().unwrap().len(), 1);
    assert_eq!(r["echo"][0], "done 42");
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
    let t = all_text(&out);
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
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(
        !all_text(&out).contains("warning"),
        "the dump loads cleanly: {}",
        all_text(&out)
    );
    // A dump with a shell escape is refused before psql reads it.
    let evil = write(
        dir.path(),
        "evil.sql",
        &(std::fs::read_to_string(&dump).unwrap() + "\\! touch /tmp/hrsi-evil-dump\n"),
    );
    let out = run(&[
        "--patch",
        good.to_str().unwrap(),
        "--backup",
        evil.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", all_text(&out));
    assert!(
        all_text(&out).contains("`\\!` is not one pg_dump writes"),
        "{}",
        all_text(&out)
    );
}

#[test]
fn a_harmless_patch_passes() {
    let (code, out) = run_patch("select 1;\n", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("result: PASSED"), "{out}");
}

/// Without `--jobs` or `--backup` the patch meets the simulator's production-shaped history
/// (here 1 day after the warm start, to keep the test short): the shipped purge example is
/// found destructive against hundreds of thousands of real-shaped status rows, and the
/// report names that data.
#[test]
fn the_default_data_is_the_production_shaped_history() {
    let patch =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/patches/purge-status-changes.sql");
    let out = hrsi()
        .args([
            "patch-test",
            "--patch",
            patch.to_str().unwrap(),
            "--history-days",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    let r: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", all_text(&out)));
    assert_eq!(out.status.code(), Some(4), "{r:#}");
    assert_eq!(kinds(&r), ["destructive"], "{r:#}");
    let msg = r["findings"][0]["message"].as_str().unwrap();
    let n: u64 = msg.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(
        msg,
        format!("deletes {n} of the {n} rows of cosims.job_status_changes (no WHERE)")
    );
    // The generator's 200 jobs hold a few thousand rows; 11 days of simulated production
    // hold far more.
    assert!(n > 100_000, "{msg}");
    assert!(
        r.to_string().contains(
            "the simulator's production-shaped history (warm start + 1 day up to now, seed 1)"
        ),
        "{r:#}"
    );
    // --jobs still gives the small generated data set; both at once is refused.
    let out = hrsi()
        .args([
            "patch-test",
            "--patch",
            patch.to_str().unwrap(),
            "--jobs",
            "5",
            "--history-days",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_text(&out));
}

/// A patched schema the history cannot be bulk-loaded into (a trigger the load would skip)
/// gets the generated data instead, and the report says why: never a history written with a
/// user's trigger silently off.
#[test]
fn a_schema_the_history_cannot_be_loaded_into_falls_back_to_generated_data() {
    let dir = tempfile::tempdir().unwrap();
    let patches = dir.path().join("patch");
    std::fs::create_dir(&patches).unwrap();
    write(
        &patches,
        "001_audit.sql",
        "create function cosims.audit() returns trigger language plpgsql as $$ begin return new; end $$;\n\
         create trigger audit before insert on cosims.parent_jobs for each row execute function cosims.audit();\n",
    );
    let patch = write(dir.path(), "p.sql", "select 1;\n");
    let out = hrsi()
        .args([
            "patch-test",
            "--patch",
            patch.to_str().unwrap(),
            "--patches",
        ])
        .arg(&patches)
        .args(["--history-days", "1"])
        .output()
        .unwrap();
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("could not be written into this schema")
            && text.contains("`audit`")
            && text.contains("tested against 1000 generated jobs instead"),
        "{text}"
    );
}
