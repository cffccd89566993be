//! Domain checks of the simulator against the facts (../shared/domain) and the definitions
//! (../shared/design/simulation.md).

use hrsi_sim::config::{Restart, outage_steps};
use hrsi_sim::job_type::ALL_TYPES;
use hrsi_sim::model::Bucket;
use hrsi_sim::status::Status;
use hrsi_sim::time::{DAY, HOUR};
use hrsi_sim::{Config, JobType, Report, run_with_baseline, simulate};

fn outage(seed: u64, start_day: i64, days: i64, restart: Restart, horizon_days: i64) -> Config {
    let mut cfg = Config::new(seed);
    cfg.horizon = horizon_days * DAY;
    cfg.steps = outage_steps(start_day * DAY, days * DAY, restart, 0);
    cfg
}

fn assert_conserved(r: &Report) {
    for (name, t) in &r.job_types {
        assert_eq!(
            t.inputs,
            t.published + t.pending + t.superseded + t.cancelled + t.lost,
            "{name}: inputs {} ≠ published {} + pending {} + superseded {} + cancelled {} + lost {}",
            t.inputs,
            t.published,
            t.pending,
            t.superseded,
            t.cancelled,
            t.lost
        );
        assert_eq!(
            t.lost,
            t.lost_reasons.values().sum::<u64>(),
            "{name}: every lost unit has a reason"
        );
        assert!(t.no_product <= t.published);
    }
    assert_eq!(
        r.illegal_transitions, 0,
        "every status change is allowed by cosims.check_status_change()"
    );
}

#[test]
fn nominal_daily_counts_match_the_calibration_targets() {
    // simulation.md: 500 / 100 / 115 / 225 / 1000 jobs per day, within ±10 % over 30 days;
    // RLIE-S1-S2 and GFSC emerge from their rules.
    let cfg = Config::new(3);
    let r = simulate(&cfg);
    let targets = [
        ("fsc_rlie_job", 500.0),
        ("rlies1_job", 100.0),
        ("rlies1s2_job", 115.0),
        ("sws_wds_job", 225.0),
        ("gfsc_job", 1000.0),
    ];
    for (name, target) in targets {
        let per_day = r.job_types[name].jobs_created as f64 / 30.0;
        assert!(
            (per_day - target).abs() <= 0.1 * target,
            "{name}: {per_day:.1} jobs/day, target {target} ± 10 %"
        );
    }
    assert_conserved(&r);
    // Nominal operation is near-real-time: FSC/RLIE well within the 3-hour target.
    assert!(r.job_types["fsc_rlie_job"].latency_hours.p95.unwrap() < 3.0);
}

#[test]
fn same_seed_same_bytes_and_other_seed_other_bytes() {
    let a = simulate(&outage(11, 3, 2, Restart::Waves, 12)).to_json();
    let b = simulate(&outage(11, 3, 2, Restart::Waves, 12)).to_json();
    let c = simulate(&outage(12, 3, 2, Restart::Waves, 12)).to_json();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn the_timeline_does_not_change_the_run() {
    let mut cfg = outage(5, 3, 2, Restart::All, 10);
    let plain = simulate(&cfg).to_json();
    cfg.timeline = true;
    let out = run_with_baseline(&cfg);
    assert_eq!(out.timeline.len(), 10 * 24 * 6);
    assert_eq!(Report::new(&cfg, out).to_json(), plain);
}

#[test]
fn a_ten_day_outage_in_waves_loses_rlies1s2_days_with_a_7_day_window_and_none_with_31() {
    let lost = |window: &str| {
        let mut cfg = outage(7, 3, 10, Restart::Waves, 26);
        cfg.params
            .set("rlies1s2_max_search_window_days", window)
            .unwrap();
        let r = simulate(&cfg);
        assert_conserved(&r);
        assert_eq!(r.steps_not_run, 0, "all three waves ran");
        r.job_types["rlies1s2_job"]
            .lost_reasons
            .get("outside_search_window")
            .copied()
            .unwrap_or(0)
    };
    assert!(
        lost("7") > 100,
        "a 7-day window cannot reach back over a 10-day outage"
    );
    assert_eq!(lost("31"), 0, "a 31-day window covers it");
}

#[test]
fn a_five_day_outage_loses_gfsc_daily_jobs_unless_the_start_date_is_set() {
    let daily_lost = |start_date: Option<&str>| {
        let mut cfg = outage(9, 4, 5, Restart::All, 16);
        if let Some(d) = start_date {
            cfg.params
                .set("gfsc_daily_jobs_creation_start_date", d)
                .unwrap();
        }
        let r = simulate(&cfg);
        assert_conserved(&r);
        r.job_types["gfsc_job"]
            .lost_reasons
            .get("daily_job_not_created")
            .copied()
            .unwrap_or(0)
    };
    assert!(
        daily_lost(None) > 500,
        "without the date only the two past days are covered"
    );
    // The outage starts 2025-01-10 (day 4 of a run starting 2025-01-06): the day before.
    assert_eq!(daily_lost(Some("2025-01-09")), 0);
}

#[test]
fn a_small_worker_cap_catches_up_later_than_the_default() {
    let mean_catch_up = |cap: &str| {
        let mut total = 0.0;
        for seed in 1..=5 {
            let mut cfg = outage(seed, 3, 3, Restart::All, 14);
            cfg.params
                .set("max_number_of_worker_instances", cap)
                .unwrap();
            let r = simulate(&cfg);
            assert_conserved(&r);
            // Never caught up counts as the whole remaining horizon.
            total += r.job_types["fsc_rlie_job"]
                .catch_up_hours
                .unwrap_or(8.0 * 24.0);
        }
        total / 5.0
    };
    let (small, default) = (mean_catch_up("40"), mean_catch_up("210"));
    assert!(
        small > default,
        "cap 40: {small:.1} h, cap 210: {default:.1} h"
    );
}

#[test]
fn fsc_reference_jobs_of_a_tile_are_processed_in_measurement_order() {
    let mut cfg = outage(4, 3, 2, Restart::All, 10);
    cfg.keep_jobs = true;
    let out = run_with_baseline(&cfg);
    let mut by_tile: std::collections::BTreeMap<u16, Vec<&hrsi_sim::model::Job>> =
        Default::default();
    for j in out
        .jobs
        .iter()
        .filter(|j| j.ty == JobType::FscRlieJob && !j.reprocessing)
    {
        by_tile.entry(j.tile).or_default().push(j);
    }
    let mut checked = 0;
    for jobs in by_tile.values_mut() {
        jobs.sort_by_key(|j| j.meas);
        for w in jobs.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b.linked_past_error || a.processed_at == i64::MIN || b.processed_at == i64::MIN {
                // As coded, a predecessor in an error status does not block its successor.
                continue;
            }
            assert!(
                a.processed_at <= b.run_start,
                "tile {}: {} processed after its successor started",
                a.tile,
                a.meas
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} pairs checked");
}

#[test]
fn waves_enable_the_types_in_the_runbook_order() {
    let r = simulate(&outage(2, 3, 3, Restart::Waves, 16));
    assert_conserved(&r);
    assert_eq!(r.restarts.len(), 1);
    let cu = &r.restarts[0].catch_up_hours;
    for t in ALL_TYPES {
        assert!(
            cu.contains_key(t.name()),
            "{} enabled after the restart",
            t.name()
        );
    }
    assert_eq!(r.steps_not_run, 0);
}

#[test]
fn nothing_is_lost_in_a_one_day_stop_but_failures() {
    // Stopped from noon to noon: the GFSC night passes before and after cover every day.
    let mut cfg = Config::new(6);
    cfg.horizon = 8 * DAY;
    cfg.steps = outage_steps(3 * DAY + 12 * HOUR, DAY, Restart::All, 0);
    let r = simulate(&cfg);
    assert_conserved(&r);
    for (name, t) in &r.job_types {
        for reason in t.lost_reasons.keys() {
            assert!(
                matches!(
                    *reason,
                    "failed" | "input_failed" | "stuck_in_external_error" | "daily_input_not_ready"
                ),
                "{name} lost units for {reason} after a 1-day stop"
            );
        }
    }
}

#[test]
fn units_and_jobs_end_in_consistent_states() {
    let mut cfg = outage(8, 2, 2, Restart::All, 6);
    cfg.keep_jobs = true;
    let out = run_with_baseline(&cfg);
    for u in &out.units {
        if u.bucket == Bucket::Published {
            let j = &out.jobs[u.job as usize];
            assert_eq!(j.status, Status::Done, "a published unit's job is done");
        }
    }
}

/// A waiting FSC/RLIE job must have an earlier job of its tile still on its way (not processed,
/// not in an error status): otherwise its tile's time series is deadlocked.
fn assert_no_fsc_chain_deadlock(out: &hrsi_sim::Outcome) {
    let fsc: Vec<_> = out
        .jobs
        .iter()
        .filter(|j| j.ty == JobType::FscRlieJob && !j.reprocessing)
        .collect();
    for w in fsc
        .iter()
        .filter(|j| j.waiting && j.status == Status::Configured)
    {
        let blocker = fsc.iter().any(|p| {
            p.tile == w.tile
                && p.meas < w.meas
                && !matches!(
                    p.status,
                    Status::Processed
                        | Status::StartPublication
                        | Status::Published
                        | Status::Done
                        | Status::InternalError
                        | Status::ExternalError
                        | Status::Cancelled
                )
        });
        assert!(
            blocker,
            "tile {} job measured at {} waits for nothing",
            w.tile, w.meas
        );
    }
    // An SWS/WDS job waiting for its assembly's master: the master must still be on its way.
    for w in out
        .jobs
        .iter()
        .filter(|j| j.ty == JobType::SwsWdsJob && j.waiting && j.status == Status::Configured)
    {
        let m = &out.jobs[w.master as usize];
        assert!(
            !matches!(
                m.status,
                Status::Processed | Status::Published | Status::Done
            ),
            "an SWS/WDS dependent waits for a master that is {:?}",
            m.status
        );
    }
}

mod conservation {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn every_unit_ends_in_exactly_one_bucket(
            seed in 0u64..1000,
            start_h in 24i64..120,
            len_h in 1i64..96,
            waves in any::<bool>(),
        ) {
            let mut cfg = Config::new(seed);
            cfg.horizon = 9 * DAY;
            let restart = if waves { Restart::Waves } else { Restart::All };
            cfg.steps = outage_steps(start_h * HOUR, len_h * HOUR, restart, 0);
            let r = simulate(&cfg);
            assert_conserved(&r);
            cfg.keep_jobs = true;
            assert_no_fsc_chain_deadlock(&run_with_baseline(&cfg));
        }
    }
}

#[test]
fn the_extra_large_cap_is_read_by_no_code_unless_the_fidelity_switch_is_on() {
    let run_with = |switch: bool, cap: &str| {
        let mut cfg = outage(10, 2, 2, Restart::All, 8);
        cfg.params
            .set("max_number_of_extra_large_worker_instances", cap)
            .unwrap();
        cfg.fidelity.xl_worker_cap = switch;
        simulate(&cfg)
    };
    // As coded: the parameter changes nothing at all.
    let as_coded = run_with(false, "2");
    let mut other = run_with(false, "50");
    other.system_parameters = as_coded.system_parameters.clone();
    assert_eq!(as_coded.to_json(), other.to_json());
    // The documented intent: two extra-large workers cannot keep up with ~225 one-hour jobs a
    // day, so the SWS/WDS backlog grows without end (jobs.md §1.4).
    let capped = run_with(true, "2");
    let (p_capped, p_coded) = (
        capped.job_types["sws_wds_job"].pending,
        as_coded.job_types["sws_wds_job"].pending,
    );
    assert!(
        p_capped > 10 * p_coded.max(10),
        "pending SWS/WDS: capped {p_capped}, as coded {p_coded}"
    );
    assert!(capped.peak_workers <= as_coded.peak_workers);
}
