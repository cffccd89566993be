//! The status trigger's cost (fidelity `status_trigger_cost`, database.md §7.12): every status
//! insert pays for an aggregate over the whole history, so the services' serial loops slow down
//! as the history grows.

use hrsi_sim::config::{Restart, outage_steps};
use hrsi_sim::time::DAY;
use hrsi_sim::{Config, Report, simulate};

/// Five days down from day 3, restart in waves, 16 days.
fn long_downtime(seed: u64) -> Config {
    let mut cfg = Config::new(seed);
    cfg.horizon = 16 * DAY;
    cfg.steps = outage_steps(3 * DAY, 5 * DAY, Restart::Waves, 0);
    cfg
}

fn with_trigger(mut cfg: Config, rows: f64) -> Config {
    cfg.fidelity.status_trigger_cost = true;
    cfg.calibration.status_history_rows = rows;
    cfg
}

fn recovery(r: &Report) -> f64 {
    r.restarts[0].recovery_hours.expect("recovered")
}

fn catch_up(r: &Report, t: &str) -> f64 {
    r.job_types[t].catch_up_hours.expect("caught up")
}

#[test]
fn the_trigger_slows_the_catch_up_after_a_long_downtime_and_more_with_a_larger_history() {
    let off = simulate(&long_downtime(7));
    let prod = simulate(&with_trigger(long_downtime(7), 1.2e6));
    let large = simulate(&with_trigger(long_downtime(7), 1.2e7));
    let (a, b, c) = (recovery(&off), recovery(&prod), recovery(&large));
    let g = |r: &Report| catch_up(r, "gfsc_job");
    // Measured: recovery 46.5 / 46.5 / 55.83 h (the GFSC night pass sets it at 1.2 M rows),
    // the GFSC wave's own catch-up 12.33 / 13.33 / 19.67 h.
    assert!(
        b >= a,
        "the trigger's cost never speeds the recovery: {a} h → {b} h"
    );
    assert!(
        g(&prod) > g(&off),
        "the last wave catches up later: {} h → {} h",
        g(&off),
        g(&prod)
    );
    assert!(c > b, "a larger history slows the recovery: {b} h → {c} h");
    assert!(g(&large) > g(&prod));
    // The serial loops lose no job and break no transition.
    assert_eq!(prod.illegal_transitions, 0);
    assert_eq!(large.illegal_transitions, 0);
    for t in ["fsc_rlie_job", "rlies1_job"] {
        assert_eq!(
            off.job_types[t].published, prod.job_types[t].published,
            "{t}: every unit is published with or without the trigger"
        );
    }
}

#[test]
fn off_the_trigger_calibration_changes_nothing_and_is_not_in_the_report() {
    let base = long_downtime(8);
    let mut other = base.clone();
    other.calibration.status_history_rows = 9e9;
    other.calibration.status_insert_base_ms = 1_000.0;
    let (a, b) = (simulate(&base), simulate(&other));
    let ja = a.to_json();
    assert!(
        !ja.contains("status_trigger_cost"),
        "off: not in the report"
    );
    assert!(
        !ja.contains("status_insert_"),
        "defaults: not in the report"
    );
    assert!(!ja.contains("status_history_rows"));
    // The same run, but for the calibration it echoes.
    let mut jb: serde_json::Value = serde_json::from_str(&b.to_json()).unwrap();
    let mut ja: serde_json::Value = serde_json::from_str(&ja).unwrap();
    ja["calibration"] = serde_json::Value::Null;
    jb["calibration"] = serde_json::Value::Null;
    assert_eq!(ja, jb);
    // On, the report says so and which calibration it used.
    let on = simulate(&with_trigger(base, 2e6)).to_json();
    assert!(on.contains("\"status_trigger_cost\": true"));
    assert!(on.contains("\"status_history_rows\": 2000000.0"));
}

#[test]
fn the_trigger_calibration_is_bounded() {
    let mut cal = hrsi_sim::Calibration::default();
    assert!(cal.set("status_history_rows", 3e6).is_ok());
    assert_eq!(cal.status_history_rows, 3e6);
    let e = cal.set("status_insert_base_ms", -1.0).unwrap_err();
    assert!(e.contains("status_insert_base_ms"), "{e}");
    assert_eq!(
        cal.status_insert_base_ms, 16.5,
        "a refused value changes nothing"
    );
    let e = cal
        .set("status_insert_ms_per_million_rows", 1e12)
        .unwrap_err();
    assert!(e.contains("status_insert_ms_per_million_rows"), "{e}");
    let mut f = hrsi_sim::Fidelity::default();
    assert!(f.set("status_trigger_cost", true).is_ok());
    assert!(f.status_trigger_cost);
    assert!(f.set("status_trigger", true).unwrap_err().len() == 5);
}
