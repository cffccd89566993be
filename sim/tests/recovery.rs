//! Recovery and the baseline's NRT state in the report (simulation.md "Recovery").

use hrsi_sim::config::{Restart, outage_steps};
use hrsi_sim::time::DAY;
use hrsi_sim::{Config, simulate};

fn outage(seed: u64, restart: Restart) -> Config {
    let mut cfg = Config::new(seed);
    cfg.horizon = 14 * DAY;
    cfg.steps = outage_steps(3 * DAY, 3 * DAY, restart, 0);
    cfg
}

#[test]
fn waves_recover_no_faster_than_their_last_wave_and_report_each_wave() {
    for seed in [7, 8] {
        let r = simulate(&outage(seed, Restart::Waves));
        let x = &r.restarts[0];
        assert_eq!(x.waves.len(), 3, "seed {seed}: three waves");
        assert_eq!(x.waves[0].after_restart_hours, 0.0);
        assert!(x.waves[0].after_restart_hours < x.waves[1].after_restart_hours);
        assert!(x.waves[1].after_restart_hours < x.waves[2].after_restart_hours);
        assert_eq!(x.waves[2].job_types, vec!["gfsc_job"]);
        let mut worst: f64 = 0.0;
        for w in &x.waves {
            for (t, c) in &w.catch_up_hours {
                let rec = x.recovery_hours_by_type[t].expect("recovered");
                let c = c.expect("caught up");
                // Recovery counts from the system restart, the catch-up from the type's wave.
                assert!(
                    (rec - (w.after_restart_hours + c)).abs() < 0.02,
                    "seed {seed} {t}: recovery {rec} = wave {} + catch-up {c}",
                    w.after_restart_hours
                );
                assert_eq!(r.job_types[t].recovery_hours, Some(rec));
                worst = worst.max(rec);
            }
        }
        assert_eq!(x.recovery_hours, Some(worst));
        assert_eq!(r.recovery_hours, Some(worst));
        // The last wave's types recover after the whole earlier waves: GFSC's recovery is
        // longer than its own catch-up by its wave's delay.
        let g = &r.job_types["gfsc_job"];
        assert!(g.recovery_hours.unwrap() > g.catch_up_hours.unwrap());
    }
}

#[test]
fn restart_all_recovery_equals_the_catch_up() {
    let r = simulate(&outage(9, Restart::All));
    let x = &r.restarts[0];
    assert_eq!(x.waves.len(), 1);
    assert_eq!(x.recovery_hours_by_type.len(), 5);
    for (t, rec) in &x.recovery_hours_by_type {
        assert_eq!(*rec, x.catch_up_hours[t], "{t}");
    }
    assert_eq!(
        r.recovery_hours,
        x.recovery_hours_by_type
            .values()
            .map(|h| h.unwrap())
            .reduce(f64::max)
    );
}

#[test]
fn a_type_whose_baseline_is_not_at_nrt_reports_no_catch_up() {
    // 12 workers cannot carry the nominal load: the backlog of every day adds up.
    let mut cfg = outage(3, Restart::All);
    cfg.params
        .set("max_number_of_worker_instances", "12")
        .unwrap();
    let r = simulate(&cfg);
    let fsc = &r.job_types["fsc_rlie_job"];
    assert!(!fsc.baseline_at_nrt, "{fsc:?}");
    assert!(fsc.nominal_overdue > fsc.nrt_allowance);
    assert_eq!(fsc.catch_up_hours, None, "never 'caught up 0.0 h'");
    assert_eq!(fsc.recovery_hours, None);
    assert!(r.baseline_not_at_nrt.contains(&"fsc_rlie_job"));
    assert_eq!(r.recovery_hours, None);
    assert_eq!(r.restarts[0].recovery_hours_by_type["fsc_rlie_job"], None);
    // With the default cap every type's baseline is at NRT.
    let r = simulate(&outage(3, Restart::All));
    assert!(
        r.baseline_not_at_nrt.is_empty(),
        "{:?}",
        r.baseline_not_at_nrt
    );
    assert!(r.job_types.values().all(|t| t.baseline_at_nrt));
}
