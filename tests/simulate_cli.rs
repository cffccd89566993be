//! `hrsi simulate` end to end, through the built binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo, text};

fn hrsi(args: &[&str], dir: &Path) -> Output {
    common::hrsi_in("simulate", args, dir)
}

#[test]
fn waves_scenario_gives_valid_stable_json_that_conserves_units() {
    let args = ["scenarios/outage-5-days-waves.yaml", "--json", "-"];
    let first = hrsi(&args, &repo());
    assert_eq!(
        first.status.code(),
        Some(0),
        "stderr: {}",
        text(&first.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).expect("stdout is JSON");
    let types = report["job_types"].as_object().expect("job_types");
    assert_eq!(types.len(), 5);
    for (name, t) in types {
        let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("{name}.{k}"));
        let buckets = n("published") + n("pending") + n("superseded") + n("cancelled") + n("lost");
        assert_eq!(n("inputs"), buckets, "conservation for {name}");
    }
    assert_eq!(report["steps_not_run"], 0);
    assert_eq!(report["outages"].as_array().map(Vec::len), Some(1));
    // Every wave ran, and GFSC (the last wave) has a catch-up time.
    assert_eq!(report["restarts"].as_array().map(Vec::len), Some(1));
    assert!(
        report["restarts"][0]["catch_up_hours"]["gfsc_job"].is_number(),
        "{}",
        report["restarts"]
    );
    let second = hrsi(&args, &repo());
    assert!(
        first.stdout == second.stdout,
        "two runs of the same scenario differ"
    );
}

#[test]
fn bad_scenario_file_exits_2_with_file_line_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = "name: typo\nseed: 7\nsteps:\n  - advance: 5 days\n  - run_until: { caught_up: [gfsc_jb] }\n";
    std::fs::write(dir.path().join("bad.yaml"), src).expect("write");
    let out = hrsi(&["bad.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.yaml:4:14: error: `5 days` is not a duration"),
        "{err}"
    );
    assert!(
        err.contains(
            "bad.yaml:5:30: error: unknown job type `gfsc_jb` (hint: did you mean `gfsc_job`?)"
        ),
        "{err}"
    );
    assert!(
        // The frame shows the offending token at its column, not the rest of the line.
        err.contains("4 |              5 days\n  |              ^^^^^^"),
        "no code frame: {err}"
    );
    assert!(out.stdout.is_empty());

    std::fs::write(
        dir.path().join("shape.yaml"),
        "seed: 7\nsteps:\n  - stpo: { confirm: yes }\n",
    )
    .expect("write");
    let err = text(&hrsi(&["shape.yaml"], dir.path()).stderr);
    assert!(
        err.contains("shape.yaml:3:5: error: unknown field `stpo`")
            && err.contains("did you mean `stop`?"),
        "{err}"
    );
}

#[test]
fn bad_input_exits_2_without_running() {
    let cases: &[(&[&str], &str)] = &[
        (&["missing.yaml"], "cannot read `missing.yaml`"),
        (
            &["--set", "max_number_of_worker_instance=40"],
            "did you mean `max_number_of_worker_instances`",
        ),
        (&["--set", "job_types_list=['gfsc_job']"], "not a JSON list"),
        (&["--start", "2025-01-06T06:00:00Z"], "00:00 UTC"),
        (&["--start", "06/01/2025"], "not an ISO-8601"),
        (&["--fidelity", "xl_cap"], "unknown fidelity switch"),
        (
            &[
                "--days",
                "5",
                "--outage-start-day",
                "3",
                "--outage-days",
                "5",
            ],
            "after the horizon",
        ),
        (
            &[
                "scenarios/stop-1-day.yaml",
                "--outage-start-day",
                "1",
                "--outage-days",
                "1",
            ],
            "written as steps",
        ),
        (&["--restart", "waves"], "needs an outage"),
        (&["--calibration", "nowhere.yaml"], "cannot read"),
    ];
    for (args, msg) in cases {
        let out = hrsi(args, &repo());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: `{msg}` not in {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn steps_that_never_ran_exit_1() {
    // The restart comes 2.4 h before the horizon, less than the 6-hour window that confirms a
    // catch-up: waves 2 and 3 cannot start, whatever the model's speed.
    let args = [
        "--days",
        "9",
        "--outage-start-day",
        "3",
        "--outage-days",
        "5.9",
        "--restart",
        "waves",
    ];
    let out = hrsi(&args, &repo());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 step(s) of the plan never ran"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("steps not run: 2"));
}

#[test]
fn a_wait_longer_than_within_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = "days: 6\nsteps:\n  - advance: 2d\n  - stop: { confirm: yes }\n  - advance: 2d\n  - start: { confirm: yes }\n  - run_until: { caught_up: [fsc_rlie_job], within: 1m }\n";
    std::fs::write(dir.path().join("hurry.yaml"), src).expect("write");
    let out = hrsi(&["hurry.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "hurry.yaml:7: step `run_until`: expectation `caught up (fsc_rlie_job) within 1 min` \
             not met: observed fsc_rlie_job "
        ),
        "{err}"
    );
}

/// A one-day stop at day 2 of 6, then `tail` (the file's last lines).
fn stop_scenario(dir: &Path, tail: &str) -> PathBuf {
    let src = format!(
        "days: 6\nseed: 3\nsteps:\n  - advance: 2d\n  - stop: {{ confirm: yes }}\n    expect:\n      plan: {{ destroy: 10 }}\n      lost: {{ fsc_rlie_job: 0 }}\n  - advance: 1d\n  - start: {{ confirm: yes }}\n{tail}"
    );
    let p = dir.join("check.yaml");
    std::fs::write(&p, src).expect("write");
    p
}

#[test]
fn false_expectations_exit_1_naming_the_step_the_expectation_and_the_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Line 11: every day loses a few FSC/RLIE to processing errors, so `lost: 0` is false.
    stop_scenario(
        dir.path(),
        "  - expect:\n      lost: { fsc_rlie_job: 0 }\n      catch_up_hours: { rlies1_job: \"< 0.5h\" }\n",
    );
    let out = hrsi(&["check.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "check.yaml:11: step `expect`: expectation `lost.fsc_rlie_job == 0` not met: observed "
        ),
        "{err}"
    );
    assert!(
        err.contains("check.yaml:11: step `expect`: expectation `catch_up_hours.rlies1_job < 0.5 h` not met: observed "),
        "{err}"
    );
    let table = text(&out.stdout);
    // The harness-only expectation and the count before the last step are listed, not passed.
    assert!(
        table.contains("not checked (needs the harness (hrsi rehearse)): line 5 plan"),
        "{table}"
    );
    assert!(table.contains("line 5 lost.fsc_rlie_job"), "{table}");
}

#[test]
fn true_expectations_exit_0_and_outage_losses_are_told_apart_from_daily_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    stop_scenario(
        dir.path(),
        "  - run_until: { caught_up: all, within: 48h }\n  - expect:\n      lost_vs_baseline: { fsc_rlie_job: 0, rlies1_job: 0 }\n      lost: { fsc_rlie_job: \"> 0\" }\n      recovery_hours: { all: \"<= 30h\", fsc_rlie_job: 20 }\n",
    );
    let out = hrsi(&["check.yaml", "--json", "-"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let fsc = &r["job_types"]["fsc_rlie_job"];
    assert!(fsc["lost"].as_u64().unwrap() > 0);
    assert_eq!(fsc["lost_vs_baseline"], 0, "{fsc}");
    assert_eq!(fsc["lost"], fsc["baseline_lost"]);
    // The same scenario with a bound the run cannot meet fails.
    stop_scenario(
        dir.path(),
        "  - expect:\n      recovery_hours: { all: \"< 1h\" }\n",
    );
    let out = hrsi(&["check.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("expectation `recovery_hours.all < 1 h` not met: observed "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn table_for_people_and_timeline_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("t.csv");
    let json = dir.path().join("r.json");
    let args = [
        "--days",
        "4",
        "--outage-start-day",
        "1",
        "--outage-days",
        "1",
        "--set",
        "max_number_of_worker_instances=100",
        "--timeline",
        csv.to_str().expect("utf-8"),
        "--json",
        json.to_str().expect("utf-8"),
    ];
    let out = hrsi(&args, &repo());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for s in [
        "fsc_rlie_job",
        "catch-up h",
        "peak workers: ",
        "restart: ",
        "ASSUMPTIONS",
        "max_number_of_worker_instances=100",
    ] {
        assert!(table.contains(s), "`{s}` not in\n{table}");
    }
    let timeline = std::fs::read_to_string(csv).expect("timeline written");
    assert!(timeline.starts_with("time,workers,fsc_rlie_job_backlog"));
    assert!(
        timeline.lines().count() > 4 * 24 * 6 - 10,
        "one row per 10 minutes"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("json written")).expect("JSON");
    // Worker names run out at os-worker-<max> (orchestration.md §3.6): the sizing's rounding
    // may ask for more, but never more than the cap exist.
    assert_eq!(
        report["peak_workers"].as_i64().map(|p| p <= 100),
        Some(true),
        "{}",
        report["peak_workers"]
    );
}

#[test]
fn help_documents_exit_codes_and_assumptions() {
    let out = hrsi(&["--help"], &repo());
    let help = text(&out.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("Examples:"),
        "{help}"
    );
    assert!(
        help.contains("Calibration defaults are ASSUMPTIONS"),
        "{help}"
    );
}

#[test]
fn calibration_file_is_relative_to_the_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("s/cal")).expect("mkdir");
    std::fs::write(
        dir.path().join("s/short.yaml"),
        "days: 2\ncalibration: cal/fast.yaml\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("s/cal/fast.yaml"), "fsc_rlie_minutes: 30\n").expect("write");
    let out = hrsi(&["s/short.yaml", "--json", "-"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["calibration"]["fsc_rlie_minutes"], 30.0);

    std::fs::write(
        dir.path().join("s/cal/fast.yaml"),
        "fsc_rlie_minutes: 30\nboot_minutes: 2\n",
    )
    .expect("write");
    let out = hrsi(&["s/short.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("s/cal/fast.yaml:2:1: error: unknown field `boot_minutes`"),
        "{err}"
    );
}

#[test]
fn every_scenario_file_runs_and_holds() {
    // The runbook's scenarios must run to the end and meet their own `within` limits: a model
    // change that breaks one is a finding to look at, not noise.
    let dir = repo().join("scenarios");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 4);
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let out = hrsi(&[f.to_str().expect("utf-8"), "--json", "-"], &repo());
            (out.status.code() != Some(0)).then(|| {
                format!(
                    "{}: {:?}\n{}",
                    f.display(),
                    out.status.code(),
                    text(&out.stderr)
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hrsi"))
        .args(["simulate", "--days", "2", "--json", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take()); // the reader goes away, as with `| head -c 0`
    let out = child.wait_with_output().expect("waits");
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_report_for_people_reads_at_100_columns_without_a_terminal() {
    // No TTY here (piped): the table must not fall back to one-character columns or split a
    // number over two lines.
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let args = [
        "--days",
        "12",
        "--outage-start-day",
        "3",
        "--outage-days",
        "4",
        "--restart",
        "waves",
        "--json",
        json.to_str().expect("utf-8"),
    ];
    let out = hrsi(&args, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for l in table.lines() {
        assert!(
            l.chars().count() <= 100,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("json")).expect("JSON");
    let inputs: Vec<String> = [
        "fsc_rlie_job",
        "rlies1_job",
        "rlies1s2_job",
        "sws_wds_job",
        "gfsc_job",
    ]
    .iter()
    .map(|t| r["job_types"][t]["inputs"].to_string())
    .collect();
    let row = table
        .lines()
        .find(|l| l.contains("inputs"))
        .expect("an inputs row");
    let cells: Vec<&str> = row
        .split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells[1..], inputs[..], "{row}");
    assert!(
        table.contains("recovery h") && table.contains("wave 3 at "),
        "{table}"
    );
}
