//! `hrsi rehearse` as its users run it: listing, filtering, bad input with file:line:column,
//! exit codes, JUnit, JSON (each step's wall time in it, not in the transcripts), and shards
//! whose merge gives what one machine gives.

mod common;

use common::{hrsi_in, repo, text};

/// Fast scenarios (clones and plans only) for the CLI tests.
const FAST: &str = "traps/plan-13-vs-10.yaml";

#[test]
fn list_shows_the_suite_and_filter_narrows_it() {
    let out = hrsi_in("rehearse", &["--list"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    assert!(list.lines().count() >= 15, "{list}");
    assert!(
        list.contains("scenarios/traps/restore-without-drop.yaml"),
        "{list}"
    );
    let out = hrsi_in("rehearse", &["--list", "--filter", "nomad"], &repo());
    let list = text(&out.stdout);
    assert!(
        list.lines().all(|l| l.to_lowercase().contains("nomad")),
        "{list}"
    );
    assert!(list.lines().count() >= 2, "{list}");
}

#[test]
fn a_bad_scenario_is_refused_with_its_position_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "name: bad\nsteps:\n  - nomad_edit: { job: job-creaton, cpu: 1000 }\n  - expect: { errors: ['(unclosed'] }\n",
    )
    .unwrap();
    let out = hrsi_in("rehearse", &["bad.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.yaml:3:24: error: unknown Nomad job `job-creaton`"),
        "{err}"
    );
    assert!(err.contains("did you mean `job-creation`"), "{err}");
    assert!(
        err.contains("bad.yaml:4:24: error: not a valid pattern: unclosed group"),
        "{err}"
    );
    let out = hrsi_in("rehearse", &["missing.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = hrsi_in("rehearse", &["--shard", "3/2"], &repo());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_expectation_that_does_not_hold_exits_1_with_junit_and_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wrong.yaml"),
        "name: wrong\nseed: 7\ndays: 2\nsteps:\n  - sql: update cosims.system_parameters set max_number_of_worker_instances = 3\n    expect:\n      sql:\n        - query: select max_number_of_worker_instances from cosims.system_parameters\n          equals: 4\n",
    )
    .unwrap();
    let out = hrsi_in(
        "rehearse",
        &["wrong.yaml", "--junit", "r.xml", "--json", "r.json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("✗ expect sql `select max_number_of_worker_instances from cosims.system_parameters` = 4: 3"), "{stdout}");
    let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    assert!(xml.contains("<testsuite name=\"wrong.yaml\""), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    let json = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(json.contains("\"passed\": false"), "{json}");
}

/// The JSON of `hrsi rehearse --json` without the steps' `wall_ms` (the only field that differs
/// between runs), and how many steps had one; panics on a step without it.
fn wall_times_out(json: &[u8]) -> (String, usize) {
    let mut v: serde_json::Value = serde_json::from_slice(json).expect("JSON");
    let mut n = 0;
    for sc in v["scenarios"].as_array_mut().expect("scenarios") {
        for st in sc["steps"].as_array_mut().expect("steps") {
            let ms = st
                .as_object_mut()
                .expect("a step")
                .remove("wall_ms")
                .expect("every step has its wall time");
            assert!(ms.is_u64(), "{ms}");
            n += 1;
        }
    }
    (serde_json::to_string_pretty(&v).unwrap(), n)
}

#[test]
fn the_snapshots_hold_no_wall_time() {
    for e in std::fs::read_dir(repo().join("snapshots")).unwrap() {
        let p = e.unwrap().path();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(
            !t.contains("wall_ms") && !t.contains("wall time"),
            "{}",
            p.display()
        );
    }
}

#[test]
fn shards_merged_give_what_one_machine_gives() {
    let dir = tempfile::tempdir().unwrap();
    let scen = repo().join("scenarios");
    let files = [
        scen.join(FAST),
        scen.join("traps/hostile-sql.yaml"),
        scen.join("procedures/patch-stuck-jobs.yaml"),
    ];
    let args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend_from_slice(extra);
        let out = hrsi_in("rehearse", &a, dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    run(&["--json", "all.json", "--junit", "all.xml"]);
    run(&["--shard", "1/2", "--json", "s1.json"]);
    run(&["--shard", "2/2", "--json", "s2.json"]);
    let out = hrsi_in(
        "rehearse",
        &[
            "merge",
            "s2.json",
            "s1.json",
            "--json",
            "-",
            "--junit",
            "merged.xml",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let all = std::fs::read(dir.path().join("all.json")).unwrap();
    // Every step has its wall time; apart from those, the merge is one machine's, byte for byte.
    let (merged, one) = (wall_times_out(&out.stdout), wall_times_out(&all));
    assert_eq!(merged.1, one.1, "the same steps");
    assert!(one.1 >= 3, "{} steps", one.1);
    assert_eq!(merged.0, one.0);
    assert_eq!(
        std::fs::read(dir.path().join("merged.xml")).unwrap(),
        std::fs::read(dir.path().join("all.xml")).unwrap()
    );
    let out = hrsi_in("rehearse", &["merge", "s1.json", "s1.json"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "a scenario in two shards is refused"
    );
}

#[test]
fn a_hostile_scenario_reaches_neither_the_host_nor_its_files() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("p.sql")).unwrap();
    std::fs::write(
        dir.path().join("hostile.yaml"),
        "name: hostile\nseed: 7\ndays: 2\nsteps:\n  - psql_file: { file: p.sql }\n  - sql: \"\\\\! touch /tmp/hrsi-pwned\"\n",
    )
    .unwrap();
    let out = hrsi_in("rehearse", &["hostile.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("symbolic links are refused"), "{stdout}");
    assert!(
        stdout.contains("runs a shell command on the host"),
        "{stdout}"
    );
    assert!(!stdout.contains("root:x:0"), "{stdout}");
    assert!(!std::path::Path::new("/tmp/hrsi-pwned").exists());
}
