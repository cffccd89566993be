//! Each scenario fails when the thing it rehearses breaks: three of the suite's scenarios,
//! changed the way an operator could get them wrong, must fail at the right expectation.

use std::{path::Path, sync::Arc};

use hrsi_harness::rehearse::{self, ScenarioResult};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Copies `rel` (and the suite's patches) into a temporary suite, edits the scenario, runs it.
fn rehearse_changed(
    rel: &str,
    edit: impl FnOnce(String) -> String,
    patch: Option<(&str, &str)>,
) -> ScenarioResult {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join(rel);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let src = std::fs::read_to_string(repo().join("scenarios").join(rel)).expect("the scenario");
    let changed = edit(src.clone());
    assert_ne!(changed, src, "the edit changed nothing");
    std::fs::write(&dest, changed).unwrap();
    let patches = tmp.path().join("patches");
    std::fs::create_dir_all(&patches).unwrap();
    for e in std::fs::read_dir(repo().join("scenarios/patches")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), patches.join(e.file_name())).unwrap();
    }
    if let Some((name, text)) = patch {
        std::fs::write(patches.join(name), text).unwrap();
    }
    let files = rehearse::discover(&[dest]).expect("loads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(rehearse::run_suite(files, 1, Arc::new(|_| {})));
    report.scenarios.into_iter().next().expect("one scenario")
}

fn failed_checks(r: &ScenarioResult) -> Vec<String> {
    r.steps
        .iter()
        .flat_map(|s| {
            s.checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{}: {}", c.what, c.observed))
        })
        .collect()
}

#[test]
fn a_restore_without_the_drop_fails_the_reset() {
    let r = rehearse_changed(
        "procedures/reset-from-recent-backup.yaml",
        |s| {
            s.replace(
                "- restore: { file: database-all.sql }",
                "- restore: { file: database-all.sql, drop_schema: no }",
            )
        },
        None,
    );
    assert!(!r.passed(), "{}", r.render());
    let f = failed_checks(&r);
    assert!(f.iter().any(|c| c.contains("equals the backup")), "{f:#?}");
    assert!(
        f.iter()
            .any(|c| c.contains("schema \"cosims\" already exists")),
        "{f:#?}"
    );
}

#[test]
fn a_wave_started_early_fails_the_long_downtime_restart() {
    let r = rehearse_changed(
        "procedures/long-downtime-waves.yaml",
        |s| {
            s.replacen(
                "  - run_until: { caught_up: [fsc_rlie_job, rlies1_job], within: 72h }",
                "  - advance: 1h                                 # wave 2 started early",
                1,
            )
        },
        None,
    );
    assert!(!r.passed(), "{}", r.render());
    let f = failed_checks(&r);
    assert!(
        f.iter().any(|c| c.starts_with("caught up fsc_rlie_job")),
        "{f:#?}"
    );
}

#[test]
fn a_patch_with_an_error_fails_the_patch_procedure() {
    let r = rehearse_changed(
        "procedures/patch-database-definition.yaml",
        |s| {
            s.replace("  - psql_file: { file: patches/unique-last-status.sql, on_error_stop: yes }\n", "  - psql_file: { file: patches/unique-last-status.sql, on_error_stop: yes }   # broken\n")
        },
        Some((
            "unique-last-status.sql",
            "alter table cosims.parent_jobs add constraint parent_jobs_one_per_status unique last_status_id;\n",
        )),
    );
    assert!(!r.passed(), "{}", r.render());
    let f = failed_checks(&r);
    assert!(
        f.iter().any(|c| c.starts_with("exit code 0: exit code 3")),
        "{f:#?}"
    );
    assert!(f.iter().any(|c| c.starts_with("no error")), "{f:#?}");
}

#[test]
fn stuck_jobs_patched_straight_to_ready_fail_the_stuck_jobs_procedure() {
    // The operator forgets error_checked: the matrix refuses every job, none is ready again.
    let r = rehearse_changed(
        "procedures/patch-stuck-jobs.yaml",
        |s| {
            s.replacen(
                "  - patch_jobs: { type: fsc_rlie_job, status: [internal_error], post: [error_checked, ready] }\n    expect:\n      exit_code: 0\n      output: ['internal_error",
                "  - patch_jobs: { type: fsc_rlie_job, status: [internal_error], post: [ready] }\n    expect:\n      exit_code: 0\n      output: ['internal_error",
                1,
            )
        },
        None,
    );
    assert!(!r.passed(), "{}", r.render());
    let f = failed_checks(&r);
    assert!(
        f.iter().any(|c| c.starts_with("exit code 0: exit code 1")),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|c| c.contains("where p.last_status_id = 13` = 0: 19")),
        "{f:#?}"
    );
}
