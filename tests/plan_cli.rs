//! `hrsi plan` end to end, through the built binary: small sweeps (≤ 10-day horizons, few
//! seeds) so the suite stays fast.

mod common;

use std::path::Path;
use std::process::Output;

use common::{repo, text};

fn hrsi(args: &[&str], dir: &Path) -> Output {
    common::hrsi_in("plan", args, dir)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}, stderr: {}",
        out.status.code(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

const BASE: [&str; 8] = [
    "--days",
    "6",
    "--outage-start-day",
    "2",
    "--outage-days",
    "2",
    "--replications",
    "2",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = BASE.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn gfsc_goal_says_the_date_must_be_set_after_a_two_day_outage() {
    let out = hrsi(
        &args(&["--goal", "gfsc-start-date", "--json", "-"]),
        &repo(),
    );
    let v = json(&out);
    let points = v["points"].as_array().expect("points");
    assert_eq!(points.len(), 2, "unset and set");
    let lost = |i: usize| {
        points[i]["lost_by_reason"]["daily_job_not_created"]
            .as_f64()
            .unwrap_or(0.0)
    };
    // Unset: the restart covers only the days just before it (runbook: "two past days"), so a
    // two-day outage starting at midnight loses daily GFSC jobs; set: none.
    assert_eq!(points[0]["values"]["scenario.gfsc_start_date"], "unset");
    assert!(lost(0) > 0.0, "{}", points[0]);
    assert_eq!(lost(1), 0.0, "{}", points[1]);
    let answer = &v["goal"]["answers"][0];
    assert_eq!(answer["value"], "set", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("must be set"),
        "{answer}"
    );
}

#[test]
fn same_bytes_whatever_the_thread_count_and_csv_has_every_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("runs.csv");
    let csv_s = csv.to_str().expect("utf-8 path");
    let sweep = [
        "--sweep",
        "param.max_number_of_worker_instances=40,210",
        "--goal",
        "worker-cap",
        "--within",
        "48",
        "--json",
        "-",
    ];
    let one = hrsi(
        &args(&[&sweep[..], &["--threads", "1", "--csv", csv_s]].concat()),
        &repo(),
    );
    // As many threads as the machine has (more are refused), at most 2.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let threads = cores.to_string();
    let two = hrsi(
        &args(&[&sweep[..], &["--threads", threads.as_str()]].concat()),
        &repo(),
    );
    let v = json(&one);
    assert!(one.stdout == two.stdout, "1 and 2 threads differ");
    let rows = std::fs::read_to_string(&csv).expect("csv written");
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 2, "header + points × seeds:\n{rows}");
    assert!(lines[0].starts_with("point,param.max_number_of_worker_instances,seed,"));
    assert!(lines[1].starts_with("0,40,1,true,"), "{}", lines[1]);
    assert!(
        lines[0].contains(",lost_gfsc_job,lost_vs_baseline_gfsc_job,"),
        "{}",
        lines[0]
    );
    // The answer is one of the swept caps (or none), with its evidence.
    let a = &v["goal"]["answers"][0];
    assert!(
        a["value"].is_null() || a["value"] == "40" || a["value"] == "210",
        "{a}"
    );
    assert_eq!(a["confidence"]["n"], 2, "{a}");
    let within = &v["points"][1]["within"];
    assert_eq!(within["n"], 2, "{within}");
    // Exit code follows the answer: 1 when no swept cap meets the deadline.
    let code = if a["value"].is_null() { 1 } else { 0 };
    assert_eq!(one.status.code(), Some(code));
}

#[test]
fn shards_merged_give_the_same_bytes_as_one_machine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sweep = [
        "--sweep",
        "scenario.restart=all,waves",
        "--sweep",
        "param.max_number_of_worker_instances=60,210",
        "--goal",
        "restart",
    ];
    let single = hrsi(&args(&[&sweep[..], &["--json", "-"]].concat()), &repo());
    let single_json = json(&single);
    let mut files = Vec::new();
    for i in 1..=3 {
        let f = dir.path().join(format!("shard-{i}.json"));
        let spec = format!("{i}/3");
        let out = hrsi(
            &args(
                &[
                    &sweep[..],
                    &["--shard", &spec, "--out", f.to_str().expect("utf-8")],
                ]
                .concat(),
            ),
            &repo(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        files.push(f);
    }
    let mut merge_args = vec!["merge"];
    // In reverse order: the merge must not depend on it.
    let names: Vec<String> = files
        .iter()
        .rev()
        .map(|f| f.display().to_string())
        .collect();
    merge_args.extend(names.iter().map(String::as_str));
    merge_args.extend(["--json", "-"]);
    let merged = hrsi(&merge_args, &repo());
    assert_eq!(
        merged.status.code(),
        single.status.code(),
        "{}",
        text(&merged.stderr)
    );
    assert!(
        merged.stdout == single.stdout,
        "merged:\n{}\nsingle:\n{}",
        text(&merged.stdout),
        text(&single.stdout)
    );
    assert!(
        single_json["goal"]["answers"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("sooner"))
    );
    // A missing slice is refused.
    let out = hrsi(&["merge", &names[0], &names[1]], &repo());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("missing shard(s): 1/3"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plots_and_report_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let plots = format!("{d}/plots");
    let report = format!("{d}/report");
    let out = hrsi(
        &args(&[
            "--sweep",
            "param.max_number_of_worker_instances=60,210",
            "--sweep",
            "scenario.outage_days=1,2",
            "--goal",
            "worker-cap",
            "--within",
            "72",
            "--plots",
            &plots,
            "--report",
            &report,
        ]),
        &repo(),
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    for stem in ["backlog", "recovery_vs_value", "lost_vs_outage_gfsc_job"] {
        let svg = std::fs::read_to_string(format!("{plots}/{stem}.svg")).expect("svg");
        assert!(
            svg.contains("@font-face") && svg.contains("<text"),
            "{stem}.svg"
        );
        let png = std::fs::read(format!("{plots}/{stem}.png")).expect("png");
        assert_eq!(&png[..4], b"\x89PNG", "{stem}.png");
    }
    let html = std::fs::read_to_string(format!("{report}/index.html")).expect("report");
    for needle in [
        "<h1>What is the smallest max_number_of_worker_instances",
        "class=\"answer\"",
        "<svg",
        "fsc_rlie_minutes",
        "ASSUMPTIONS",
        "hrsi plan --days 6 --outage-start-day 2 --outage-days 2",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    assert!(!html.contains("<script"), "self-contained, no script");
    assert!(!html.contains("src=\"http"), "no external resource");
}

#[test]
fn bad_input_exits_2_with_a_hint() {
    let cases: [(&[&str], &str); 14] = [
        (&["--csv", "/nonexistent-dir/runs.csv"], "does not exist"),
        (&["--json", "/"], "is a directory"),
        (&["--report", "/dev/null"], "is a file, not a directory"),
        (&["--json", "-", "--timeline", "-"], "standard output"),
        (&["--threads", "100000"], "more than the"),
        (
            &["--sweep", "scenario.outage_days=1..2:1e-300"],
            "at most 10000",
        ),
        (&["--sweep", "workers=1,2"], "hint: an axis is"),
        (
            &["--sweep", "param.max_number_of_worker_instance=1,2"],
            "did you mean `max_number_of_worker_instances`",
        ),
        (
            &["--sweep", "calib.fsc_rlie_minute=30"],
            "did you mean `fsc_rlie_minutes`",
        ),
        (
            &["--sweep", "param.max_number_of_worker_instances=50..10"],
            "goes down",
        ),
        (&["--shard", "4/3", "--out", "x.json"], "is not `I/N`"),
        (
            &[
                "--sweep",
                "param.max_number_of_worker_instances=-9223372036854775808..9223372036854775807",
            ],
            "at most 10000",
        ),
        (
            &["--goal", "worker-cap"],
            "hint: add --sweep param.max_number_of_worker_instances",
        ),
        (
            &[
                "--sweep",
                "param.max_number_of_worker_instances=20,40",
                "--goal",
                "worker-cap",
            ],
            "hint: add --within 48",
        ),
    ];
    for (extra, needle) in cases {
        let out = hrsi(&args(extra), &repo());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // Counts and seeds refused before anything is allocated or run.
    let own: [(&[&str], &str); 5] = [
        (
            &["--seed", "18446744073709551615", "--replications", "3"],
            "would pass the largest seed",
        ),
        (&["--replications", "4294967295"], "more than 200000 runs"),
        (&["--seeds", "0..18446744073709551615"], "more than the"),
        (&["--replications", "auto"], "needs a --goal"),
        (&["--days", "4294967295"], "more than the 3660"),
    ];
    for (extra, needle) in own {
        let mut v = if extra.contains(&"--days") {
            BASE[2..6].to_vec()
        } else {
            BASE[..6].to_vec()
        };
        v.extend_from_slice(extra);
        let out = hrsi(&v, &repo());
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A scenario whose steps do more than one stop and restart cannot be compared.
    let dir = tempfile::tempdir().expect("tempdir");
    let sc = dir.path().join("two-stops.yaml");
    std::fs::write(
        &sc,
        "days: 6\nsteps:\n  - advance: 1d\n  - stop: { confirm: yes }\n  - advance: 1d\n  \
         - start: { confirm: yes }\n  - advance: 1d\n  - stop: { confirm: yes }\n",
    )
    .expect("write");
    let out = hrsi(&[sc.to_str().expect("utf-8"), "--goal", "restart"], &repo());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is written as steps (hint:"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(dir.path().join("junk.json"), "{}").expect("write");
    let out = hrsi(&["merge", "junk.json"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a shard file"),
        "{}",
        text(&out.stderr)
    );
}
