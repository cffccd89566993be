//! The neighbours' faults as the simulated services feel them (orchestration.md §1.3, §3.6,
//! §7; database.md §2.3): an OpenStack instance quota, the Nomad API answering 5xx, the
//! database unreachable. Each test compares the world with and without the fault.
use hrsi_sim::status::Status;
use hrsi_sim::time::{DAY, HOUR, MINUTE, Ms};
use hrsi_sim::{Action, Config, JobType, Report, World};

const FSC: JobType = JobType::FscRlieJob;

fn cfg() -> Config {
    let mut c = Config::new(7);
    c.horizon = 6 * DAY;
    c.calibration.warm_start_days = 2.0;
    c.keep_jobs = true;
    c.keep_history = true;
    c
}

/// A 2-day stop from day 1; `at_start` acts right after the restart.
fn restarted(at_start: &[Action]) -> World {
    let mut w = World::new(cfg(), None);
    w.run_until(DAY);
    w.act(Action::Stop);
    w.run_until(3 * DAY);
    w.act(Action::Start);
    for a in at_start {
        w.act(a.clone());
    }
    w
}

/// Runs to `until` in 5-minute steps: the most workers seen.
fn peak_until(w: &mut World, until: Ms) -> i64 {
    let mut peak = w.workers();
    while w.now() < until {
        w.run_until(w.now() + 5 * MINUTE);
        peak = peak.max(w.workers());
    }
    peak
}

fn fsc_caught(w: &World) -> Option<Ms> {
    w.last_restart().and_then(|r| r.caught_at[FSC.idx()])
}

#[test]
fn a_worker_quota_holds_the_pool_at_it_and_the_catch_up_comes_later() {
    let mut free = restarted(&[]);
    let free_peak = peak_until(&mut free, 3 * DAY + 12 * HOUR);
    free.run_until(6 * DAY);
    let free_caught = fsc_caught(&free).expect("caught up without the quota");

    let mut q = restarted(&[Action::WorkerQuota(Some(40))]);
    let held = peak_until(&mut q, 3 * DAY + 12 * HOUR);
    assert!(
        free_peak > 40,
        "without the quota the pool grows past 40: {free_peak}"
    );
    assert_eq!(held, 40, "with a quota of 40 the pool stays at 40");
    let refused = q.faults().refused_since.expect("Nova refused creations");
    assert!(
        (3 * DAY..3 * DAY + HOUR).contains(&refused),
        "refused at once: {refused}"
    );
    // The operator's recovery: the quota raised, the pool grows on its next loops.
    q.act(Action::WorkerQuota(None));
    assert_eq!(q.faults().refused_since, None);
    let grown = peak_until(&mut q, 3 * DAY + 13 * HOUR);
    assert!(grown > 40, "the pool grows once the quota allows: {grown}");
    q.run_until(6 * DAY);
    let caught = fsc_caught(&q).expect("caught up after the quota is lifted");
    assert!(
        caught > free_caught + HOUR,
        "12 h at 40 workers delay the FSC catch-up: {caught} vs {free_caught}"
    );
}

#[test]
fn nomad_5xx_puts_the_dispatched_jobs_in_internal_error_and_freezes_the_pool() {
    let internal = |w: &World| {
        w.outcome()
            .jobs
            .iter()
            .filter(|j| j.status == Status::InternalError)
            .count()
    };
    // From the restart on, when the pool grows from what the stop left.
    let mut free = restarted(&[]);
    let workers = free.workers();
    free.run_until(3 * DAY + 30 * MINUTE);
    let free_internal = internal(&free);
    assert!(
        free.workers() > workers + 20,
        "without the fault the pool grows"
    );

    let mut n = restarted(&[Action::NomadUnavailable]);
    let mut seen = Vec::new();
    while n.now() < 3 * DAY + 30 * MINUTE {
        n.run_until(n.now() + 5 * MINUTE);
        seen.push(n.workers());
    }
    // The worker pool's loop fails on its first Nomad call: nothing created or deleted.
    assert!(
        seen.iter().all(|&x| x == workers),
        "{workers} then {seen:?}"
    );
    let failed = n.faults().failed_dispatches;
    assert!(
        failed > 50,
        "the jobs readied in 30 min fail to dispatch: {failed}"
    );
    // They stay in internal_error (no automatic retry): the operator's patch brings them back.
    assert!(
        internal(&n) + 5 >= free_internal + failed as usize,
        "{} internal_error vs {free_internal} without the fault",
        internal(&n)
    );
    n.act(Action::NomadAvailable);
    n.run_until(6 * DAY);
    assert_eq!(
        n.faults().failed_dispatches,
        failed,
        "dispatches work again"
    );
    free.run_until(6 * DAY);
    let (lost_n, lost_f) = (lost(n, FSC), lost(free, FSC));
    assert!(
        lost_n > lost_f + 20,
        "lost until patched: {lost_n} vs {lost_f}"
    );
}

#[test]
fn without_the_database_nothing_is_written_and_the_window_is_done_after() {
    let mut free = restarted(&[]);
    free.run_until(6 * DAY);
    let free_jobs = free.outcome().jobs.len();
    let free_caught = fsc_caught(&free).expect("caught up");

    let mut d = restarted(&[]);
    d.run_until(3 * DAY + 2 * HOUR);
    d.act(Action::DatabaseUnavailable);
    assert!(
        !d.services_working(),
        "the services do nothing without the database"
    );
    let before = (d.outcome().jobs.len(), d.outcome().history.len());
    d.run_until(3 * DAY + 4 * HOUR);
    // Two hours: no job created, no status written (creation aborts, workers' posts fail).
    assert_eq!((d.outcome().jobs.len(), d.outcome().history.len()), before);
    let unrecorded = d.faults().unrecorded_runs;
    assert!(unrecorded > 0, "runs ended without their statuses");
    d.act(Action::DatabaseAvailable);
    d.run_until(3 * DAY + 5 * HOUR);
    let after = d.outcome();
    assert!(
        after.jobs.len() > before.0,
        "the window's inputs are created after"
    );
    // The runs the database did not see are dispatched again by the monitor (inconsistent
    // with Nomad): internal_error → error_checked → ready in the hour after.
    let checked = |h: &[(u32, Status, Ms)]| {
        h.iter()
            .filter(|(_, s, t)| {
                *s == Status::ErrorChecked && (3 * DAY + 4 * HOUR..3 * DAY + 5 * HOUR).contains(t)
            })
            .count()
    };
    let mut free_then = restarted(&[]);
    free_then.run_until(3 * DAY + 5 * HOUR);
    let (redone, usual) = (
        checked(&after.history),
        checked(&free_then.outcome().history),
    );
    assert!(
        redone >= usual + 100,
        "{redone} re-dispatched vs {usual} without the fault ({unrecorded} runs not written)"
    );
    d.run_until(6 * DAY);
    let jobs = d.outcome().jobs.len();
    assert!(
        jobs.abs_diff(free_jobs) * 200 < free_jobs,
        "nothing lost to the window: {jobs} jobs vs {free_jobs}"
    );
    let caught = fsc_caught(&d).expect("caught up after the database is back");
    assert!(
        caught > free_caught,
        "two hours later: {caught} vs {free_caught}"
    );
    let (lost_d, lost_f) = (lost(d, FSC), lost(free, FSC));
    assert!(lost_d <= lost_f + 5, "{lost_d} vs {lost_f}");
}

#[test]
fn unused_faults_change_nothing_and_an_available_without_unavailable_is_nothing() {
    let mut a = restarted(&[]);
    let mut b = restarted(&[Action::NomadAvailable, Action::DatabaseAvailable]);
    a.run_until(4 * DAY);
    b.run_until(4 * DAY);
    assert_eq!(a.outcome().history, b.outcome().history);
    assert_eq!(b.faults().failed_dispatches + b.faults().unrecorded_runs, 0);
}

fn lost(w: World, t: JobType) -> u64 {
    w_report(w).job_types[t.name()].lost
}

fn w_report(w: World) -> Report {
    let c = w.config().clone();
    Report::new(&c, w.finish())
}

#[test]
fn a_dispatch_nomad_refused_is_written_with_its_subtype_nomad_command_error() {
    use hrsi_sim::snapshot::BuildOptions;
    let mut n = restarted(&[Action::NomadUnavailable]);
    n.run_until(3 * DAY + 30 * MINUTE);
    let failed = n.faults().failed_dispatches as usize;
    assert!(failed > 50, "{failed}");
    let snap = n.snapshot(&BuildOptions::default()).expect("kept");
    let (mut nomad, mut processing) = (0, 0);
    for j in &snap.jobs {
        for w in j.history.windows(2) {
            if w[1].status != Status::InternalError {
                continue;
            }
            match w[1].error_subtype.as_deref() {
                // orchestration.md §1.3: any other BaseNomadException (5xx).
                Some("Nomad Command Error") => {
                    assert_eq!(w[0].status, Status::Ready, "job {}", j.id);
                    nomad += 1;
                }
                Some("Processing Error") => processing += 1,
                other => panic!("job {}: subtype {other:?}", j.id),
            }
        }
    }
    assert_eq!(nomad, failed, "each failed dispatch, and only those");
    assert!(processing > 0, "the workers' own errors keep theirs");
    // The trigger copies the last row's subtype into parent_jobs: the jobs left there show it.
    let left = snap
        .jobs
        .iter()
        .filter(|j| {
            j.history.last().is_some_and(|c| {
                c.status == Status::InternalError
                    && c.error_subtype.as_deref() == Some("Nomad Command Error")
            })
        })
        .count();
    assert_eq!(
        left, failed,
        "no automatic retry: they stay in internal_error"
    );
}
