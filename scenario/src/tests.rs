use hrsi_sim::time::{DAY, HOUR, MINUTE};
use hrsi_sim::{Action, JobType, Restart, Step};

use super::*;

fn parse(src: &str) -> Scenario {
    Scenario::from_yaml_str(src, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn errors(src: &str) -> Vec<ScenarioError> {
    match Scenario::from_yaml_str(src, "t.yaml") {
        Ok(s) => panic!("expected errors, parsed {s:?}"),
        Err(e) => e.errors().to_vec(),
    }
}

const WAVES: &str = "\
seed: 7
start: 2025-01-06T00:00:00Z
days: 20
steps:
  - advance: 3d
  - stop: { confirm: yes }
  - advance: 5d
  - set_param: { job_types_list: [fsc_rlie_job, rlies1_job] }
  - start: { confirm: yes }
  - run_until: { caught_up: [fsc_rlie_job, rlies1_job], within: 72h }
  - set_param: { job_types_list: [fsc_rlie_job, rlies1_job, sws_wds_job, rlies1s2_job] }
  - run_until: { caught_up: [sws_wds_job, rlies1s2_job], within: 48h }
  - set_param: { job_types_list: [fsc_rlie_job, rlies1_job, sws_wds_job, rlies1s2_job, gfsc_job] }
  - run_until: { caught_up: [gfsc_job], within: 48h }
";

#[test]
fn valid_files_parse() {
    let cases: &[(&str, &str)] = &[
        ("empty file is the nominal scenario", ""),
        ("comments only", "# nothing\n"),
        (
            "header only",
            "name: x\nabout: y\nseed: 3\nstart: 2025-02-03\ndays: 5\nhistory: 2d\n",
        ),
        ("calibration default", "calibration: default\n"),
        ("calibration file", "calibration: calib/winter.yaml\n"),
        (
            "inline calibration",
            "calibration: { fsc_rlie_minutes: 30, worker_boot_minutes: 2 }\n",
        ),
        (
            "parameters, list and null",
            "system_parameters:\n  max_number_of_worker_instances: 40\n  job_types_list: [fsc_rlie_job]\n  rlies1s2_max_search_window_days_absolute: null\n",
        ),
        (
            "job_types_list as JSON text",
            "system_parameters: { job_types_list: '[\"gfsc_job\"]' }\n",
        ),
        ("fidelity", "fidelity: { xl_worker_cap: yes }\n"),
        (
            "outages by day",
            "outages:\n  - { start_day: 2, days: 1 }\n  - { start_day: 5, days: 0.5 }\nrestart: all\n",
        ),
        (
            "outage by dates",
            "outages:\n  - { start: 2025-01-08, end: 2025-01-09T12:00:00Z }\n",
        ),
        ("waves in steps", WAVES),
        (
            "harness-only steps",
            "steps:\n  - backup: {}\n  - advance: 3d\n  - borg_extract: { archive: latest, to: all.sql }\n  - sql: DROP SCHEMA cosims CASCADE\n  - psql_file: { file: all.sql }\n    expect: { errors_only: [\"role .* already exists\"] }\n  - expect:\n      sql:\n        - query: select 1\n          equals: 1\n        - query: select max(id) from cosims.parent_jobs\n          equals_backup: true\n",
        ),
        (
            "refused set_param as expected",
            "steps:\n  - set_param: { job_types_list: \"['fsc_rlie_job']\" }\n    expect: { refused: not a JSON list }\n",
        ),
        (
            "caught_up all",
            "steps:\n  - start: { confirm: yes }\n  - run_until: { caught_up: all }\n",
        ),
    ];
    for (what, src) in cases {
        assert!(
            Scenario::from_yaml_str(src, "t.yaml").is_ok(),
            "{what}: {}",
            Scenario::from_yaml_str(src, "t.yaml").unwrap_err()
        );
    }
}

#[test]
fn each_error_points_at_its_text_with_a_hint() {
    // (what, source, line, column, in message, in hint)
    let cases: &[(&str, &str, u64, u64, &str, &str)] = &[
        (
            "unknown top-level key",
            "name: x\nseeed: 7\n",
            2,
            1,
            "unknown field `seeed`",
            "did you mean `seed`?",
        ),
        (
            "unknown step kind",
            "steps:\n  - stpo: { confirm: yes }\n",
            2,
            5,
            "unknown field `stpo`",
            "did you mean `stop`?",
        ),
        (
            "unknown key in a step",
            "steps:\n  - run_until: { caugth_up: all }\n",
            2,
            18,
            "unknown field `caugth_up`",
            "did you mean `caught_up`?",
        ),
        (
            "wrong type",
            "seed: seven\n",
            1,
            7,
            "invalid u64",
            "whole number",
        ),
        (
            "wrong type of confirm",
            "steps:\n  - stop: { confirm: maybe }\n",
            2,
            22,
            "invalid bool",
            "`yes` or `no`",
        ),
        (
            "unknown job type",
            "steps:\n  - run_until: { caught_up: [fsc_rlie_job, rlie_s1_job] }\n",
            2,
            44,
            "unknown job type `rlie_s1_job`",
            "did you mean `rlies1_job`?",
        ),
        (
            "unknown job type in a list",
            "system_parameters:\n  job_types_list: [fsc_rlie_jb]\n",
            2,
            20,
            "unknown job type `fsc_rlie_jb`",
            "did you mean `fsc_rlie_job`?",
        ),
        (
            "unknown parameter",
            "system_parameters:\n  max_number_of_worker_instance: 40\n",
            2,
            3,
            "unknown system parameter `max_number_of_worker_instance`",
            "did you mean `max_number_of_worker_instances`?",
        ),
        (
            "unknown parameter in set_param",
            "steps:\n  - set_param: { max_workers: 40 }\n",
            2,
            18,
            "unknown system parameter `max_workers`",
            "",
        ),
        (
            "bad parameter value",
            "system_parameters:\n  max_number_of_worker_instances: many\n",
            2,
            35,
            "expected an integer",
            "",
        ),
        (
            "single-quoted job_types_list",
            "steps:\n  - set_param: { job_types_list: \"['fsc_rlie_job']\" }\n",
            2,
            34,
            "not a JSON list",
            "[\"fsc_rlie_job\"]",
        ),
        (
            "bad duration",
            "steps:\n  - advance: 5 days\n",
            2,
            14,
            "`5 days` is not a duration",
            "advance: 5d",
        ),
        (
            "bad within",
            "steps:\n  - run_until: { caught_up: all, within: 3 hours }\n",
            2,
            42,
            "not a duration",
            "72h",
        ),
        (
            "bad history",
            "history: ten days\n",
            1,
            10,
            "not a duration",
            "10d",
        ),
        (
            "both outages and steps",
            "outages:\n  - { start_day: 1, days: 1 }\nsteps:\n  - stop: { confirm: yes }\n",
            4,
            3,
            "not both",
            "as steps",
        ),
        (
            "start not at midnight",
            "start: 2025-01-06T06:00:00Z\n",
            1,
            8,
            "not at 00:00 UTC",
            "write `2025-01-06`",
        ),
        (
            "start not a date",
            "start: 06/01/2025\n",
            1,
            8,
            "not an ISO-8601",
            "",
        ),
        (
            "two actions in a step",
            "steps:\n  - stop: { confirm: yes }\n    advance: 1d\n",
            2,
            5,
            "one action per step",
            "split",
        ),
        (
            "restart plan typo",
            "outages:\n  - { start_day: 1, days: 1 }\nrestart: wave\n",
            3,
            10,
            "unknown restart plan `wave`",
            "did you mean `waves`?",
        ),
        (
            "outage past the horizon",
            "days: 5\noutages:\n  - { start_day: 3, days: 5 }\n",
            3,
            5,
            "after the horizon",
            "at least 8",
        ),
        (
            "unexpected acceptance",
            "steps:\n  - set_param: { max_number_of_worker_instances: 40 }\n    expect: { refused: bad }\n",
            3,
            24,
            "every value is valid",
            "remove",
        ),
        (
            "unknown lost reason",
            "steps:\n  - expect: { lost_reasons: { gfsc_job: { daily_jobs_not_created: 1 } } }\n",
            2,
            43,
            "unknown lost reason",
            "did you mean `daily_job_not_created`?",
        ),
        (
            "bad count",
            "steps:\n  - expect: { lost: { gfsc_job: \"about 3\" } }\n",
            2,
            33,
            "is not a count",
            "> 0",
        ),
        (
            "unknown calibration key",
            "calibration: { fsc_minutes: 3 }\n",
            1,
            16,
            "unknown field `fsc_minutes`",
            "did you mean `fsc_rlie_minutes`?",
        ),
        ("YAML syntax", "steps: [\n", 1, 8, "unclosed bracket", ""),
        (
            "unknown fidelity switch",
            "fidelity: { xl_worker_cp: yes }\n",
            1,
            13,
            "unknown field `xl_worker_cp`",
            "did you mean `xl_worker_cap`?",
        ),
        (
            "timestamp parameter",
            "system_parameters: { gfsc_daily_jobs_creation_start_date: soon }\n",
            1,
            59,
            "invalid value `soon`",
            "2025-01-10",
        ),
        (
            "overlapping outages",
            "outages:\n  - { start_day: 2, days: 3 }\n  - { start_day: 4, days: 1 }\n",
            3,
            5,
            "must not overlap",
            "ends on day 5",
        ),
        (
            "outage after waves",
            "outages:\n  - { start_day: 2, days: 3 }\n  - { start_day: 9, days: 1 }\nrestart: waves\n",
            3,
            5,
            "after a restart in waves",
            "write the scenario as steps",
        ),
    ];
    // Every row is checked before failing, so one run shows every mismatch.
    let mut bad = Vec::new();
    for &(what, src, line, col, msg, hint) in cases {
        let errs = errors(src);
        let e = &errs[0];
        let shown = e.to_string();
        let ok = (e.line, e.column) == (line, col)
            && e.message.contains(msg)
            && e.hint.as_deref().unwrap_or("").contains(hint)
            && !e.text.is_empty()
            && shown.starts_with(&format!("t.yaml:{line}:{col}: error: "))
            && shown.contains(&format!("{line} | "));
        if !ok {
            bad.push(format!(
                "{what}: expected {line}:{col} `{msg}` (hint `{hint}`), got\n{shown}"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}

#[test]
fn all_validation_errors_are_reported_at_once() {
    let src = "\
start: 2025-01-06T06:00:00Z
system_parameters:
  max_number_of_worker_instance: 40
steps:
  - advance: 5 days
  - run_until: { caught_up: [gfsc_jb] }
";
    let errs = errors(src);
    let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, [(1, 8), (3, 3), (5, 14), (6, 30)], "{errs:#?}");
    let shown = Scenario::from_yaml_str(src, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(shown.ends_with("4 errors in `t.yaml`"), "{shown}");
}

#[test]
fn offending_text_is_the_value_as_written() {
    let e = &errors("steps:\n  - advance: 5 days\n")[0];
    assert_eq!(e.text, "5 days");
    let e = &errors("system_parameters:\n  max_number_of_worker_instance: 40\n")[0];
    assert_eq!(e.text, "max_number_of_worker_instance");
    let e = &errors("name: x\nseeed: 7\n")[0];
    assert_eq!(e.text, "seeed");
    let e = &errors("outages:\n  - { start_day: 2, days: -1 }\n")[0];
    assert_eq!(e.text, "{ start_day: 2, days: -1 }");
}

#[test]
fn steps_become_simulator_steps() {
    let cfg = parse(WAVES).to_sim_config();
    let list = |t: &[&str]| Action::SetParam {
        name: "job_types_list".into(),
        value: format!(
            "[{}]",
            t.iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    use JobType::*;
    assert_eq!(
        cfg.steps,
        vec![
            Step {
                caught_up: vec![],
                after: 3 * DAY,
                action: Action::Stop
            },
            Step {
                caught_up: vec![],
                after: 5 * DAY,
                action: list(&["fsc_rlie_job", "rlies1_job"])
            },
            Step {
                caught_up: vec![],
                after: 0,
                action: Action::Start
            },
            Step {
                caught_up: vec![FscRlieJob, Rlies1Job],
                after: 0,
                action: list(&["fsc_rlie_job", "rlies1_job", "sws_wds_job", "rlies1s2_job"]),
            },
            Step {
                caught_up: vec![SwsWdsJob, Rlies1s2Job],
                after: 0,
                action: list(&[
                    "fsc_rlie_job",
                    "rlies1_job",
                    "sws_wds_job",
                    "rlies1s2_job",
                    "gfsc_job"
                ]),
            },
        ]
    );
    assert_eq!(
        (cfg.seed, cfg.horizon, cfg.start.iso().as_str()),
        (7, 20 * DAY, "2025-01-06T00:00:00Z")
    );
}

#[test]
fn waves_written_as_steps_are_the_shorthand_expanded() {
    // The canonical form and `outages:` must give the simulator the same plan (the runbook's
    // three waves), or `hrsi simulate --restart waves` and the scenario file would disagree.
    let short = parse("days: 20\noutages:\n  - { start_day: 3, days: 5 }\nrestart: waves\n")
        .to_sim_config();
    assert_eq!(short.steps, parse(WAVES).to_sim_config().steps);
}

#[test]
fn outages_are_relative_to_the_previous_restart() {
    let cfg = parse("outages:\n  - { start_day: 2, days: 1 }\n  - { start: 2025-01-11, end: 2025-01-11T06:00:00Z }\n")
        .to_sim_config();
    let afters: Vec<_> = cfg
        .steps
        .iter()
        .map(|s| (s.after, s.action.clone()))
        .collect();
    assert_eq!(
        afters,
        [
            (2 * DAY, Action::Stop),
            (DAY, Action::Start),
            (2 * DAY, Action::Stop),
            (6 * HOUR, Action::Start)
        ]
    );
}

#[test]
fn skipped_steps_and_fields() {
    let src = "\
history: 3d
calibration: { gfsc_minutes: 7 }
steps:
  - set_param: { job_types_list: \"['fsc_rlie_job']\" }
    expect: { refused: not a JSON list }
  - sql: select 1
  - advance: 10m
  - stop: { confirm: no }
  - advance: 10m
  - set_param: { max_number_of_worker_instances: 40, job_types_list: [gfsc_job] }
  - start: { confirm: yes }
  - run_until: { caught_up: all }
  - stop: { confirm: yes }
";
    let sc = parse(src);
    assert_eq!(sc.harness_only_steps(), 1);
    let cfg = sc.to_sim_config();
    assert_eq!(cfg.calibration.warm_start_days, 3.0);
    assert_eq!(cfg.calibration.gfsc_minutes, 7.0);
    let set = |n: &str, v: &str| Action::SetParam {
        name: n.into(),
        value: v.into(),
    };
    assert_eq!(
        cfg.steps,
        vec![
            Step {
                caught_up: vec![],
                after: 20 * MINUTE,
                action: set("max_number_of_worker_instances", "40")
            },
            Step {
                caught_up: vec![],
                after: 0,
                action: set("job_types_list", "[\"gfsc_job\"]")
            },
            Step {
                caught_up: vec![],
                after: 0,
                action: Action::Start
            },
            // `all` is what job_types_list enables at that point.
            Step {
                caught_up: vec![JobType::GfscJob],
                after: 0,
                action: Action::Stop
            },
        ]
    );
}

#[test]
fn overrides_are_checked_like_the_file() {
    let mut sc = Scenario::nominal("cli");
    sc.set_param("max_number_of_worker_instances=40").unwrap();
    assert_eq!(sc.params.int("max_number_of_worker_instances"), Some(40));
    let e = sc.set_param("job_types_list=['gfsc_job']").unwrap_err();
    assert!(
        e.contains("not a JSON list") && e.contains("[\"gfsc_job\"]"),
        "{e}"
    );
    assert!(
        sc.set_param("max_number_of_worker_instance=4")
            .unwrap_err()
            .contains("did you mean")
    );
    assert!(
        sc.set_param("max_number_of_worker_instances")
            .unwrap_err()
            .contains("NAME=VALUE")
    );
    sc.set_fidelity("xl_worker_cap").unwrap();
    assert!(sc.fidelity.xl_worker_cap);
    assert!(
        sc.set_fidelity("xl_worker")
            .unwrap_err()
            .contains("did you mean `xl_worker_cap`")
    );
    assert!(
        sc.set_start("2025-01-06T01:00:00Z")
            .unwrap_err()
            .contains("00:00 UTC")
    );
    sc.set_outage(2.0, 5.0, Restart::Waves).unwrap();
    assert_eq!(sc.to_sim_config().steps.len(), 5);
    assert!(
        sc.set_outage(28.0, 5.0, Restart::All)
            .unwrap_err()
            .contains("--days")
    );
    let mut steps = parse(WAVES);
    assert!(
        steps
            .set_outage(1.0, 1.0, Restart::All)
            .unwrap_err()
            .contains("written as steps")
    );
}

#[test]
fn calibration_files_are_checked() {
    let c = parse_calibration("{\"fsc_rlie_minutes\": 30}", "c.json").unwrap();
    assert_eq!(c.fsc_rlie_minutes, 30.0);
    let e =
        parse_calibration("fsc_rlie_minutes: 30\nworker_boot_minute: 2\n", "c.yaml").unwrap_err();
    let e = &e.errors()[0];
    assert_eq!((e.line, e.column), (2, 1));
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean `worker_boot_minutes`?")
    );
    let e = parse_calibration("internal_error_rate: 0.95\n", "c.yaml").unwrap_err();
    assert!(e.to_string().contains("internal_error_rate"), "{e}");
}

#[test]
fn late_waits_compare_the_catch_up_with_within() {
    let sc = parse(
        "steps:\n  - stop: { confirm: yes }\n  - advance: 1d\n  - start: { confirm: yes }\n  - run_until: { caught_up: all, within: 10h }\n",
    );
    let mut report = hrsi_sim::Report::new(
        &sc.to_sim_config(),
        hrsi_sim::run(&sc.to_sim_config(), None),
    );
    let mut catch = std::collections::BTreeMap::new();
    for t in hrsi_sim::job_type::ALL_TYPES {
        catch.insert(t.name(), Some(5.0));
    }
    catch.insert("gfsc_job", Some(12.5));
    catch.insert("rlies1_job", None);
    report.restarts = vec![hrsi_sim::report::RestartReport {
        at: "x".into(),
        recovery_hours: None,
        recovery_hours_by_type: catch.clone(),
        waves: Vec::new(),
        catch_up_hours: catch,
    }];
    let late: Vec<String> = sc
        .late_waits(&report)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        late,
        [
            "line 5: `run_until` rlies1_job: never caught up before the horizon (`within: 10 h`)",
            "line 5: `run_until` gfsc_job: caught up after 12.5 h, later than `within: 10 h`",
        ]
    );
}

#[test]
fn lost_reasons_are_the_simulators() {
    use hrsi_sim::model::LostReason as R;
    // Exhaustive on purpose: a reason added to the simulator fails this test's build until
    // `LostReason::EVERY` lists it (and `ALL` too if a batch run can give it); the validator
    // reads `EVERY`.
    let listed = |r: R| match r {
        R::None => false,
        R::OutsideSearchWindow
        | R::DailyJobNotCreated
        | R::DailyInputNotReady
        | R::Failed
        | R::StuckInExternalError
        | R::InputFailed
        | R::TriggerBeforeWindow
        | R::ClosedByHand => R::ALL.contains(&r) && R::EVERY.contains(&r),
        // Only a rehearsal's fresh volume gives it: not a batch run's (`hrsi plan`'s columns).
        R::DatabaseEmptied => !R::ALL.contains(&r) && R::EVERY.contains(&r),
    };
    assert!(R::EVERY.iter().all(|&r| listed(r)));
    assert_eq!(R::ALL.len(), 8);
    assert_eq!(crate::validate::lost_reasons().count(), R::EVERY.len());
}
