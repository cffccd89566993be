//! The world takes what an operator changed in the database between two steps, as the real
//! services take it: patched job statuses, parameters, refused transitions.
use hrsi_sim::model::Bucket;
use hrsi_sim::snapshot::{BuildOptions, Change, Snapshot};
use hrsi_sim::status::Status;
use hrsi_sim::time::{DAY, HOUR};
use hrsi_sim::world::Skipped;
use hrsi_sim::{Config, Report, World};

fn cfg(days: i64) -> Config {
    let mut c = Config::new(5);
    c.horizon = days * DAY;
    c.calibration.warm_start_days = 2.0;
    c.keep_jobs = true;
    c.keep_history = true;
    c
}

const OPTS: BuildOptions = BuildOptions { first_id: 1 };

/// Appends rows written by hand (at the snapshot's instant) to the jobs `ids`.
fn patch(s: &mut Snapshot, ids: &[i64], rows: &[Status]) {
    for &id in ids {
        let i = s.jobs.binary_search_by_key(&id, |j| j.id).expect("job");
        for &st in rows {
            std::sync::Arc::make_mut(&mut s.jobs[i])
                .history
                .push(Change {
                    status: st,
                    at: s.at,
                    error_subtype: None,
                });
        }
    }
}

fn conservation(r: &Report) {
    for (name, t) in &r.job_types {
        assert_eq!(
            t.inputs,
            t.published + t.pending + t.superseded + t.cancelled + t.lost,
            "{name}: {t:?}"
        );
    }
}

#[test]
fn fifty_failed_jobs_patched_back_to_ready_run_again_and_publish_once() {
    let c = cfg(4);
    let mut w = World::new(c.clone(), None);
    w.run_until(DAY + 13 * HOUR);
    // Step 1: the operator (or the system) leaves 50 jobs in internal_error.
    let mut s = w.snapshot(&OPTS).expect("recorded");
    let ids: Vec<i64> = s
        .jobs
        .iter()
        .filter(|j| {
            j.job_type().is_some()
                && matches!(
                    j.status(),
                    Some(Status::Configured | Status::Ready | Status::Queued | Status::Processing)
                )
        })
        .map(|j| j.id)
        .take(50)
        .collect();
    assert_eq!(
        ids.len(),
        50,
        "a production day has 50 jobs on their way: {:?}",
        s.by_status()
    );
    patch(&mut s, &ids, &[Status::InternalError]);
    let sum = w.import(&s, &OPTS);
    assert_eq!(sum.statuses.len(), 50, "{sum:?}");
    assert!(sum.skipped.is_empty() && sum.missing_jobs == 0, "{sum:?}");
    w.run_until(DAY + 16 * HOUR);
    let failed = w.report().job_types.values().map(|t| t.lost).sum::<u64>();
    let mut s = w.snapshot(&OPTS).expect("recorded");
    for &id in &ids {
        assert_eq!(
            s.job(id).and_then(|j| j.status()),
            Some(Status::InternalError)
        );
    }
    // Step 2: patched `internal_error → error_checked → ready` between two steps.
    patch(&mut s, &ids, &[Status::ErrorChecked, Status::Ready]);
    let sum = w.import(&s, &OPTS);
    assert_eq!(sum.statuses.len(), 50, "{sum:?}");
    assert!(sum.statuses.iter().all(
        |p| p.from == Status::InternalError && p.rows == [Status::ErrorChecked, Status::Ready]
    ));
    let mid = w.report();
    conservation(&mid);
    let lost_after = mid.job_types.values().map(|t| t.lost).sum::<u64>();
    assert!(
        lost_after + 50 <= failed + 5,
        "the 50 are pending again: lost {failed} → {lost_after}"
    );
    w.run_until(3 * DAY);
    let end = w.snapshot(&OPTS).expect("recorded");
    let out = w.outcome();
    let mut published = 0;
    for &id in &ids {
        let j = end.job(id).expect("job");
        let after: Vec<Status> = j
            .history
            .iter()
            .skip_while(|c| c.status != Status::ErrorChecked)
            .map(|c| c.status)
            .collect();
        assert!(
            after.contains(&Status::Queued),
            "job {id} was dispatched again: {after:?}"
        );
        let k = (id - 7) as usize;
        let units: Vec<_> = out.units.iter().filter(|u| u.job == k as u32).collect();
        assert!(!units.is_empty() || out.jobs[k].first_unit == u32::MAX);
        if j.status() == Some(Status::Done) {
            published += 1;
            assert!(
                units.iter().all(|u| u.bucket == Bucket::Published),
                "job {id}: {units:?}"
            );
        }
    }
    assert!(
        published >= 45,
        "run again and published: {published} of 50"
    );
    // Counted once: every unit in one bucket, as many inputs as a world left alone.
    let r = w.report();
    conservation(&r);
    let mut alone = World::new(c, None);
    alone.run_until(3 * DAY);
    let a = alone.report();
    for (name, t) in &r.job_types {
        if *name != "gfsc_job" {
            assert_eq!(t.inputs, a.job_types[name].inputs, "{name}");
        }
    }
}

#[test]
fn a_parameter_changed_in_the_database_changes_the_world() {
    let mut w = World::new(cfg(3), None);
    w.run_until(DAY + 12 * HOUR);
    assert!(
        w.workers() > 20,
        "nominal production runs more than 20 workers"
    );
    let mut s = w.snapshot(&OPTS).expect("recorded");
    let before = w.clone();
    // Nothing changed: nothing to do.
    assert!(w.import(&s, &OPTS).is_empty());
    s.params
        .as_mut()
        .expect("row")
        .insert("max_number_of_worker_instances".into(), Some("20".into()));
    let sum = w.import(&s, &OPTS);
    assert_eq!(sum.params_set.len(), 1, "{sum:?}");
    assert_eq!(sum.params_set[0].to.as_deref(), Some("20"));
    assert_eq!(w.params().int("max_number_of_worker_instances"), Some(20));
    let mut alone = before;
    w.run_until(2 * DAY + 12 * HOUR);
    alone.run_until(2 * DAY + 12 * HOUR);
    assert!(w.workers() <= 20, "capped: {}", w.workers());
    assert!(alone.workers() > 20, "not capped: {}", alone.workers());
    // A value the model refuses is reported, not set.
    let mut s = w.snapshot(&OPTS).expect("recorded");
    s.params
        .as_mut()
        .expect("row")
        .insert("max_number_of_worker_instances".into(), Some("many".into()));
    let sum = w.import(&s, &OPTS);
    assert_eq!(sum.params_refused.len(), 1, "{sum:?}");
    assert_eq!(w.params().int("max_number_of_worker_instances"), Some(20));
}

#[test]
fn a_transition_the_status_table_refuses_is_reported_and_not_taken() {
    let mut w = World::new(cfg(2), None);
    w.run_until(DAY);
    let mut s = w.snapshot(&OPTS).expect("recorded");
    let done = s
        .jobs
        .iter()
        .find(|j| j.job_type().is_some() && j.status() == Some(Status::Done))
        .map(|j| j.id)
        .expect("a done job");
    patch(&mut s, &[done], &[Status::Ready]);
    let sum = w.import(&s, &OPTS);
    assert_eq!(
        sum.skipped,
        [Skipped::RefusedTransition {
            id: done,
            from: Some(Status::Done),
            to: Status::Ready
        }]
    );
    assert!(sum.statuses.is_empty());
    let again = w.snapshot(&OPTS).expect("recorded");
    assert_eq!(again.job(done).and_then(|j| j.status()), Some(Status::Done));
    // A snapshot of another world is refused job by job, not patched.
    let mut other = World::new(Config { seed: 9, ..cfg(2) }, None);
    other.run_until(DAY);
    let o = other.snapshot(&OPTS).expect("recorded");
    let sum = w.import(&o, &OPTS);
    assert!(
        sum.skipped
            .iter()
            .any(|s| matches!(s, Skipped::Mismatch { .. })),
        "{sum:?}"
    );
}

#[test]
fn rows_the_world_cannot_take_are_reported_and_change_nothing() {
    let mut w = World::new(cfg(2), None);
    w.run_until(DAY + 12 * HOUR);
    let mut s = w.snapshot(&OPTS).expect("recorded");
    // The parameters row deleted by hand: the world keeps its own.
    s.params = None;
    // A job inserted by hand (not one of the world's inputs), and a job without history.
    let mut extra = (**s.jobs.last().expect("jobs")).clone();
    extra.id += 1_000;
    let mut bare = extra.clone();
    bare.id += 1;
    bare.history.clear();
    s.jobs.push(extra.clone().into());
    s.jobs.push(bare.clone().into());
    let before = w.snapshot(&OPTS).expect("recorded");
    let sum = w.import(&s, &OPTS);
    assert!(sum.params_missing);
    assert!(sum.params_set.is_empty() && sum.statuses.is_empty());
    assert_eq!(
        sum.skipped,
        [
            Skipped::Unknown { id: extra.id },
            Skipped::Unknown { id: bare.id }
        ]
    );
    assert_eq!(w.snapshot(&OPTS).expect("recorded"), before);
    // Jobs deleted by hand are counted, not deleted from the world.
    let mut s = w.snapshot(&OPTS).expect("recorded");
    s.jobs.truncate(s.jobs.len() - 10);
    assert_eq!(w.import(&s, &OPTS).missing_jobs, 10);
}
