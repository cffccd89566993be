//! A reset of the database to a backup: the world rebuilt from the backup as the real system is
//! after a restore (jobs created since are created again, counted under `reprocessed`, never
//! twice; RLIE-S1-S2 tile-days beyond the backward window lost).
use std::collections::BTreeMap;

use hrsi_sim::snapshot::{BuildOptions, Detail, Snapshot};
use hrsi_sim::time::{DAY, HOUR};
use hrsi_sim::world::ResetError;
use hrsi_sim::{Action, Config, Report, World};

const OPTS: BuildOptions = BuildOptions { first_id: 1 };

fn cfg(days: i64) -> Config {
    let mut c = Config::new(11);
    c.horizon = days * DAY;
    c.calibration.warm_start_days = 2.0;
    c.keep_jobs = true;
    c.keep_history = true;
    c
}

fn conservation(r: &Report) {
    for (name, t) in &r.job_types {
        assert_eq!(
            t.inputs,
            t.published + t.pending + t.superseded + t.cancelled + t.lost,
            "{name}: {t:?}"
        );
        assert!(t.reprocessed <= t.published, "{name}: {t:?}");
    }
}

/// FSC/RLIE jobs per L1C id.
fn fsc_jobs(s: &Snapshot) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for j in &s.jobs {
        if let Detail::FscRlie(f) = &j.detail
            && f.nrt
        {
            *m.entry(f.l1c_id.clone()).or_default() += 1;
        }
    }
    m
}

#[test]
fn a_reset_to_a_three_day_old_backup_creates_the_last_three_days_again_counted_once() {
    let c = cfg(9);
    let mut w = World::new(c.clone(), None);
    w.run_until(3 * DAY + 12 * HOUR);
    let backup = w.snapshot(&OPTS).expect("recorded");
    let at_backup = w.report();
    w.run_until(6 * DAY + 12 * HOUR);
    let before = w.report();
    let had = w.snapshot(&OPTS).expect("recorded").jobs.len();
    // The runbook: stop, restore, start.
    w.act(Action::Stop);
    let sum = w.reset(&backup, &OPTS).expect("reset");
    assert!(
        sum.import.is_empty(),
        "an untouched backup: {:?}",
        sum.import
    );
    assert_eq!(sum.jobs_removed, had - backup.jobs.len());
    assert!(
        sum.jobs_removed > 3_000,
        "three days of jobs: {}",
        sum.jobs_removed
    );
    assert!(sum.in_flight > 0 && sum.units_to_redo > 2_000, "{sum:?}");
    // The world is the database's: the backup's jobs, statuses and histories, nothing more.
    let now = w.snapshot(&OPTS).expect("recorded");
    assert_eq!(now.jobs, backup.jobs);
    assert_eq!(now.resume, backup.resume);
    assert!(
        !w.services_up(),
        "the services stay stopped until the start"
    );
    // Counters of what happened before stay: the outage and the jobs already created.
    assert_eq!(
        w.report().job_types["fsc_rlie_job"].jobs_created,
        before.job_types["fsc_rlie_job"].jobs_created
    );
    w.act(Action::Start);
    w.run_until(9 * DAY);
    let end = w.snapshot(&OPTS).expect("recorded");
    let r = w.report();
    conservation(&r);
    // Every L1C of the last three days has its job again, once.
    let jobs = fsc_jobs(&end);
    let before_reset = fsc_jobs(&w_alone(&c, 6 * DAY + 12 * HOUR));
    let missing: Vec<_> = before_reset
        .keys()
        .filter(|k| !jobs.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} L1C without a job after the reset",
        missing.len()
    );
    assert!(jobs.values().all(|&n| n == 1), "one job per L1C");
    // The jobs in flight at the backup instant were reset by the monitor and ran again.
    let flying: Vec<i64> = backup.in_flight().map(|j| j.id).collect();
    let ended = flying
        .iter()
        .filter(|&&id| {
            end.job(id)
                .and_then(|j| j.status())
                .is_some_and(|s| s == hrsi_sim::status::Status::Done)
        })
        .count();
    assert!(
        ended + 3 >= flying.len(),
        "{ended} of {} done",
        flying.len()
    );
    let fsc = &r.job_types["fsc_rlie_job"];
    assert!(
        fsc.reprocessed > 1_000,
        "the FSC/RLIE published in the 3 days are done again: {}",
        fsc.reprocessed
    );
    // Never twice: as many units as a world never reset, published at most once each.
    let alone = {
        let mut a = World::new(c.clone(), None);
        a.run_until(9 * DAY);
        a.report()
    };
    for name in ["fsc_rlie_job", "rlies1_job", "rlies1s2_job"] {
        assert_eq!(
            r.job_types[name].inputs, alone.job_types[name].inputs,
            "{name}"
        );
        assert!(
            r.job_types[name].published <= alone.job_types[name].inputs,
            "{name}"
        );
    }
    assert_eq!(alone.job_types["fsc_rlie_job"].reprocessed, 0);
    // GFSC triggers and WDS parts are created again from the products published again (and
    // GFSC daily tile-days by the night pass): they count under `reprocessed` too, at most as
    // many as the world had published between the backup and the reset.
    for name in ["gfsc_job", "sws_wds_job"] {
        let redone = r.job_types[name].reprocessed;
        let published_since =
            before.job_types[name].published - at_backup.job_types[name].published;
        assert!(
            redone * 2 > published_since && redone <= published_since,
            "{name}: {redone} reprocessed of the {published_since} published since the backup"
        );
    }
    assert_eq!(r.restarts.len(), 1, "the restore's start is a restart");
}

fn w_alone(c: &Config, at: i64) -> Snapshot {
    let mut a = World::new(c.clone(), None);
    a.run_until(at);
    a.snapshot(&OPTS).expect("recorded")
}

/// RLIE-S1-S2 tile-days lost outside the backward window after a reset to a backup `age` days
/// old, with a 3-day window.
fn lost_outside_window(age: i64) -> (u64, u64) {
    let mut c = cfg(10);
    c.params
        .set("rlies1s2_max_search_window_days", "3")
        .expect("valid");
    let mut w = World::new(c, None);
    let t = 7 * DAY + 6 * HOUR;
    w.run_until(t - age * DAY);
    let backup = w.snapshot(&OPTS).expect("recorded");
    w.run_until(t);
    w.act(Action::Stop);
    w.reset(&backup, &OPTS).expect("reset");
    w.act(Action::Start);
    w.run_until(10 * DAY);
    let r = w.report();
    conservation(&r);
    let s = &r.job_types["rlies1s2_job"];
    (
        s.lost_reasons
            .get("outside_search_window")
            .copied()
            .unwrap_or(0),
        s.reprocessed,
    )
}

#[test]
fn a_backup_older_than_the_rlies1s2_window_loses_the_tile_days_beyond_it() {
    let (old, _) = lost_outside_window(5);
    assert!(old > 50, "5-day-old backup, 3-day window: {old} lost");
    let (young, redone) = lost_outside_window(2);
    assert_eq!(young, 0, "2-day-old backup, 3-day window");
    assert!(
        redone > 50,
        "the tile-days of the 2 days are done again: {redone}"
    );
}

#[test]
fn a_backup_the_world_cannot_restore_is_refused() {
    let mut w = World::new(cfg(3), None);
    w.run_until(DAY);
    let later = {
        let mut f = w.clone();
        f.run_until(2 * DAY);
        f.snapshot(&OPTS).expect("recorded")
    };
    assert!(matches!(
        w.reset(&later, &OPTS),
        Err(ResetError::FromTheFuture { .. })
    ));
    let mut other = later.clone();
    other.epoch = hrsi_sim::time::Instant(other.epoch.0 + DAY);
    other.at = 0;
    let e = w.reset(&other, &OPTS).expect_err("another calendar");
    assert!(e.to_string().contains("hint"), "{e}");
    // A backup of another world (another seed) is refused, the world left as it was.
    let mut other_seed = World::new(Config { seed: 12, ..cfg(3) }, None);
    other_seed.run_until(DAY / 2);
    let foreign = other_seed.snapshot(&OPTS).expect("recorded");
    let e = w.reset(&foreign, &OPTS).expect_err("another world");
    assert!(matches!(e, ResetError::OtherWorld { .. }), "{e}");
    assert!(w.services_up());
    assert_eq!(w.now(), DAY, "nothing changed");
}

#[test]
fn a_backup_patched_by_hand_is_taken_with_its_patches_and_a_running_world_restarts() {
    use hrsi_sim::snapshot::Change;
    use hrsi_sim::status::Status;
    let c = cfg(5);
    let mut w = World::new(c, None);
    w.run_until(DAY + 12 * HOUR);
    let mut backup = w.snapshot(&OPTS).expect("recorded");
    // Ten jobs on their way put in internal_error in the backup, patched back to ready before the restore.
    let ids: Vec<i64> = backup
        .jobs
        .iter()
        .filter(|j| {
            j.job_type().is_some()
                && matches!(j.status(), Some(Status::Configured | Status::Queued))
        })
        .map(|j| j.id)
        .take(10)
        .collect();
    assert_eq!(ids.len(), 10);
    for &id in &ids {
        let i = backup.jobs.binary_search_by_key(&id, |j| j.id).unwrap();
        for st in [Status::InternalError, Status::ErrorChecked, Status::Ready] {
            std::sync::Arc::make_mut(&mut backup.jobs[i])
                .history
                .push(Change {
                    status: st,
                    at: backup.at,
                    error_subtype: None,
                });
        }
    }
    w.run_until(3 * DAY);
    // Restored while the services run: stopped, reset and started at the same instant.
    assert!(w.services_up());
    let sum = w.reset(&backup, &OPTS).expect("reset");
    assert_eq!(sum.import.statuses.len(), 10, "{:?}", sum.import);
    assert!(w.services_up());
    assert_eq!(w.restarts().len(), 1);
    w.run_until(5 * DAY);
    let end = w.snapshot(&OPTS).expect("recorded");
    for id in ids {
        let h = &end.job(id).expect("job").history;
        assert!(
            h.iter().rev().any(|c| c.status == Status::Queued),
            "job {id} dispatched again"
        );
    }
    conservation(&w.report());
}
