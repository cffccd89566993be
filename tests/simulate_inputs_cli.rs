//! `hrsi simulate` and `hrsi params` with the inputs a user gets wrong: limits, parameters
//! set at the wrong time, near-miss names, files that are not scenarios.

mod common;

use std::path::Path;
use std::process::Output;

use common::text;

fn hrsi(args: &[&str], dir: &Path) -> Output {
    common::hrsi_in("simulate", args, dir)
}

#[test]
fn limits_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = hrsi(&["--days", "36500"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("more than the 3660 (10 years)") && err.contains("GB"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("cal.yaml"),
        "availability_max_hours: 3e12\n",
    )
    .expect("write");
    let out = hrsi(&["--calibration", "cal.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "cal.yaml:1:1: error: calibration `availability_max_hours` must be at most 240"
        ),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        dir.path().join("h.yaml"),
        "seed: 1\nhistory: 400d\ndays: 99999\n",
    )
    .expect("write");
    let out = hrsi(&["h.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("h.yaml:2:10: error: `history` is more than 60 days"),
        "{err}"
    );
    assert!(
        err.contains("h.yaml:3:7: error: `days`: 99999 days is more than"),
        "{err}"
    );
    for e in [&err, &text(&out.stdout)] {
        assert!(!e.contains("panicked"));
    }
}

#[test]
fn set_at_restart_sets_the_parameter_as_the_operator_does_and_set_at_start_warns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outage = [
        "--days",
        "12",
        "--outage-start-day",
        "3",
        "--outage-days",
        "5",
        "--json",
        "-",
    ];
    let lost = |extra: &[&str]| -> (u64, String) {
        let args: Vec<&str> = outage.iter().chain(extra).copied().collect();
        let out = hrsi(&args, dir.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let g = &r["job_types"]["gfsc_job"]["lost_reasons"]["daily_job_not_created"];
        (g.as_u64().unwrap_or(0), text(&out.stderr))
    };
    let (without, _) = lost(&[]);
    let (at_restart, err) = lost(&[
        // The stop at 2025-01-09 00:00 comes before the night pass of 2025-01-08: the first day
        // to create again.
        "--set-at-restart",
        "gfsc_daily_jobs_creation_start_date=2025-01-08",
    ]);
    assert!(without > 500, "a 5-day outage loses daily jobs: {without}");
    assert_eq!(
        at_restart, 0,
        "the restart walks from the outage's first day"
    );
    assert!(!err.contains("warning"), "{err}");
    // The same value from the start suppresses the daily jobs of every day before it.
    let out = hrsi(
        &[
            "--days",
            "6",
            "--set",
            "gfsc_daily_jobs_creation_start_date=2025-01-09",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "warning: `gfsc_daily_jobs_creation_start_date` = 2025-01-09 is set from the start"
        ) && err.contains("--set-at-restart"),
        "{err}"
    );
    let out = hrsi(
        &[
            "--set-at-restart",
            "gfsc_daily_jobs_creation_start_date=2025-01-09",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--set-at-restart needs a restart"));
}

#[test]
fn params_defaults_list_every_knob_and_near_misses_suggest_the_right_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = common::hrsi_in("params", &["--defaults", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let list = list.as_array().expect("a list");
    for c in hrsi_sim::params::COLUMNS {
        assert!(list.iter().any(|e| e["name"] == c.name), "{}", c.name);
    }
    let cal = serde_json::to_value(hrsi_sim::Calibration::default()).expect("json");
    for k in cal.as_object().expect("map").keys() {
        assert!(
            list.iter()
                .any(|e| e["name"] == *k && e["group"] == "calibration"),
            "{k}"
        );
    }
    let w = list
        .iter()
        .find(|e| e["name"] == "max_number_of_worker_instances")
        .unwrap();
    assert_eq!(
        (&w["default"], &w["model_reads"]),
        (&"210".into(), &"yes".into())
    );
    let out = common::hrsi_in("params", &["--defaults"], dir.path());
    let table = text(&out.stdout);
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    assert!(table.contains("max_number_of_vcpus (smallint, default 920)"));
    let out = hrsi(&["--set", "max_number_of_workers=40"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean `max_number_of_worker_instances`?"),
        "{}",
        text(&out.stderr)
    );
    let help = text(&hrsi(&["--help"], dir.path()).stdout);
    for d in ["[default: 30", "[default: 1,", "[default: 2025-01-06"] {
        assert!(help.contains(d), "{d} not in --help");
    }
    let nominal = hrsi_scenario::Scenario::nominal("x");
    assert_eq!(
        (nominal.days, nominal.seed),
        (30, 1),
        "--help states these defaults"
    );
}

#[test]
fn errors_never_echo_more_than_the_offending_token_of_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("notes.txt"),
        "the vault password is hunter2-Secret\n",
    )
    .expect("w");
    std::fs::write(dir.path().join("keys.txt"), "password: hunter2-Secret\n").expect("w");
    std::fs::write(dir.path().join("s.yaml"), "calibration: notes.txt\n").expect("w");
    for args in [
        vec!["--calibration", "notes.txt"],
        vec!["--calibration", "keys.txt"],
        vec!["s.yaml"],
        vec!["notes.txt"],
    ] {
        let out = hrsi(&args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(!err.contains("hunter2"), "{args:?} leaks: {err}");
        assert!(err.contains(":1:"), "{args:?}: still says where: {err}");
    }
    let err = text(&hrsi(&["--calibration", "keys.txt"], dir.path()).stderr);
    assert!(err.contains("unknown field `password`"), "{err}");
}
