//! `World` as a rehearsal and a planner use it: figures at an instant, actions from outside,
//! catch-up waits, forks, and looks that change nothing.
use hrsi_sim::config::{Restart, WAVES, job_types_json, outage_steps};
use hrsi_sim::status::Status;
use hrsi_sim::time::{DAY, HOUR, MINUTE};
use hrsi_sim::{Action, Config, JobType, Report, Step, World};

fn cfg(days: i64) -> Config {
    let mut c = Config::new(3);
    c.horizon = days * DAY;
    c.calibration.warm_start_days = 2.0;
    c
}

fn bytes(c: &Config, w: World) -> String {
    serde_json::to_string(&Report::new(c, w.finish())).expect("serialises")
}

#[test]
fn figures_follow_a_stop_and_a_restart_in_waves() {
    let mut w = World::new(cfg(4), None);
    assert_eq!(w.horizon(), 4 * DAY);
    assert!(w.now() < 0, "the world starts with its warm start");
    w.run_until(DAY);
    assert_eq!(w.now(), DAY);
    assert!(w.services_up() && w.services_working());
    assert!(w.workers() > 0, "the pool runs workers in production");
    assert!(w.last_restart().is_none());
    w.act(Action::Stop);
    assert!(!w.services_up());
    assert_eq!(w.enabled(), [false; 5]);
    w.run_until(2 * DAY);
    let stopped_backlog = w.backlog()[JobType::FscRlieJob.idx()];
    assert!(
        stopped_backlog > 100,
        "a day stopped piles FSC up: {stopped_backlog}"
    );
    w.act(Action::SetParam {
        name: "job_types_list".into(),
        value: job_types_json(WAVES[0]),
    });
    w.act(Action::Start);
    let r = w.last_restart().expect("a restart happened").clone();
    assert_eq!(r.at, 2 * DAY);
    assert_eq!(r.enabled_at[JobType::FscRlieJob.idx()], Some(2 * DAY));
    assert_eq!(r.enabled_at[JobType::GfscJob.idx()], None, "not in wave 1");
    assert!(w.catching_up()[JobType::FscRlieJob.idx()]);
    let c = w
        .run_until_caught_up(WAVES[0], w.horizon())
        .expect("wave 1 catches up within two days");
    assert!(c > 2 * DAY && c == w.now());
    let caught = w.last_restart().expect("the restart").caught_at;
    let fsc = caught[JobType::FscRlieJob.idx()].expect("FSC caught up");
    // Confirmed over the window W after the instant C it reports.
    assert!(fsc + w.confirm_window() <= c, "C {fsc} + W before {c}");
    assert!(!w.catching_up()[JobType::FscRlieJob.idx()]);
    assert_eq!(w.steps_done(), 3);
    assert_eq!(w.steps().len(), 3);
}

#[test]
fn a_catch_up_that_does_not_come_leaves_the_world_at_the_limit() {
    let mut w = World::new(cfg(3), None);
    w.run_until(DAY);
    w.act(Action::Stop);
    w.act(Action::Start);
    let limit = DAY + 20 * MINUTE;
    assert_eq!(w.run_until_caught_up(&[JobType::FscRlieJob], limit), None);
    assert_eq!(w.now(), limit);
}

#[test]
fn the_outcome_so_far_is_a_look_that_changes_nothing() {
    let c = Config {
        steps: outage_steps(DAY, DAY, Restart::All, 0),
        ..cfg(4)
    };
    let mut w = World::new(c.clone(), None);
    // A look during the warm start, and in the reported window.
    let early = w.report();
    assert_eq!(early.events, 0);
    w.run_until(DAY + 7 * HOUR);
    let so_far = w.outcome();
    assert!(so_far.events > 0 && so_far.events < World::new(c.clone(), None).finish().events);
    assert_eq!(
        so_far.outages,
        vec![(DAY, None)],
        "stopped, not started yet"
    );
    assert_eq!(so_far.steps_not_run, 1);
    let fresh = World::new(c.clone(), None);
    assert_eq!(bytes(&c, w), bytes(&c, fresh));
}

#[test]
fn clones_are_independent() {
    let c = cfg(3);
    let mut a = World::new(c.clone(), None);
    a.run_until(DAY);
    let b = a.clone();
    a.act(Action::Stop);
    assert!(!a.services_up() && b.services_up());
    assert_eq!(bytes(&c, b), bytes(&c, World::new(c.clone(), None)));
}

#[test]
fn a_step_set_late_acts_now_and_one_set_in_time_acts_as_planned() {
    let stop_at = |at| Step {
        caught_up: vec![],
        after: at,
        action: Action::Stop,
    };
    let c = cfg(3);
    let mut w = World::new(c.clone(), None);
    w.run_until(DAY);
    // Planned for 12 h, set at 24 h: it acts now (documented), a fresh run would act at 12 h.
    let mut late = w.clone();
    late.set_steps(vec![stop_at(12 * HOUR)]);
    late.run_until(DAY + 1);
    assert_eq!(late.outcome().outages, vec![(DAY, None)]);
    // Set in time, it is the fresh run's.
    w.set_steps(vec![stop_at(30 * HOUR)]);
    let planned = Config {
        steps: vec![stop_at(30 * HOUR)],
        ..c
    };
    assert_eq!(
        bytes(&planned, w),
        bytes(&planned, World::new(planned.clone(), None))
    );
}

#[test]
fn an_unknown_type_halts_the_services_at_start() {
    let mut w = World::new(cfg(2), None);
    w.run_until(HOUR);
    w.act(Action::Stop);
    w.act(Action::SetParam {
        name: "job_types_list".into(),
        value: "[\"fsc_rlie_job\", \"no_such_job\"]".into(),
    });
    w.act(Action::Start);
    assert!(w.services_up());
    assert!(!w.services_working());
}

#[test]
fn an_action_from_outside_follows_the_events_its_step_would_follow() {
    // A run that ends at the very millisecond of a stop: its end was queued before the step
    // became next, so a batch run processes it first and the job is processed, not reset.
    let c = Config {
        keep_jobs: true,
        keep_history: true,
        ..cfg(3)
    };
    let free = World::new(c.clone(), None).finish();
    let (job, _, end) = *free
        .history
        .iter()
        .find(|(_, s, t)| *s == Status::Processed && *t > DAY)
        .expect("jobs are processed on day 2");
    let nudge = Action::SetParam {
        name: "max_number_of_worker_instances".into(),
        value: "210".into(),
    };
    let steps = vec![
        Step {
            caught_up: vec![],
            after: end - 1,
            action: nudge.clone(),
        },
        Step {
            caught_up: vec![],
            after: 1,
            action: Action::Stop,
        },
    ];
    let planned = Config { steps, ..c.clone() };
    let batch = World::new(planned.clone(), None).finish();
    assert!(
        batch.history.contains(&(job, Status::Processed, end)),
        "the batch run ends the run before it stops"
    );
    let mut w = World::new(c, None);
    w.run_until(end - 1);
    w.act(nudge);
    w.run_until(end);
    w.act(Action::Stop);
    let outside = w.finish();
    assert_eq!(outside.history, batch.history);
    assert_eq!(
        serde_json::to_string(&Report::new(&planned, outside)).expect("serialises"),
        serde_json::to_string(&Report::new(&planned, batch)).expect("serialises")
    );
}

#[test]
fn a_forked_step_keeps_the_place_of_the_fresh_runs_step_among_equal_times() {
    // A stop at the very millisecond a run ends, the run started after the step before: in a
    // fresh run the stop's event was queued first (when the previous step ran), so it comes
    // first. A fork given the stop later must keep that place.
    let c = Config {
        keep_jobs: true,
        keep_history: true,
        ..cfg(3)
    };
    let free = World::new(c.clone(), None).finish();
    let (job, _, end) = *free
        .history
        .iter()
        .find(|(_, s, t)| *s == Status::Processed && *t > DAY)
        .expect("jobs are processed on day 2");
    let start = free
        .history
        .iter()
        .filter(|(j, s, t)| *j == job && *s == Status::Started && *t < end)
        .map(|h| h.2)
        .max()
        .expect("the run started");
    let step = |after, action| Step {
        caught_up: vec![],
        after,
        action,
    };
    let nudge = Action::SetParam {
        name: "max_number_of_worker_instances".into(),
        value: "210".into(),
    };
    let t1 = start - 1;
    let point = Config {
        steps: vec![step(t1, nudge.clone()), step(end - t1, Action::Stop)],
        ..c.clone()
    };
    let fresh = World::new(point.clone(), None).finish();
    assert!(
        !fresh.history.contains(&(job, Status::Processed, end)),
        "the stop comes before the run's end"
    );
    // The prefix belongs to another point (its stop an hour later).
    let other = Config {
        steps: vec![step(t1, nudge), step(end - t1 + HOUR, Action::Stop)],
        ..c
    };
    let mut prefix = World::new(other, None);
    prefix.run_until(start + 1);
    assert_eq!(prefix.steps_done(), 1);
    let mut fork = prefix.clone();
    fork.set_steps(point.steps[1..].to_vec());
    let forked = fork.finish();
    assert_eq!(forked.history, fresh.history);
    assert_eq!(
        serde_json::to_string(&Report::new(&point, forked)).expect("serialises"),
        serde_json::to_string(&Report::new(&point, fresh)).expect("serialises")
    );
}

#[test]
fn the_world_at_an_instant_does_not_depend_on_the_horizon() {
    use hrsi_sim::snapshot::{BuildOptions, Snapshot};
    // A rehearsal's start world is shared by scenarios of any length: what the system did up
    // to an instant may not depend on how many days are simulated after it.
    let at = |days: i64| {
        let mut c = cfg(days);
        (c.keep_jobs, c.keep_history) = (true, true);
        let mut w = World::new(c.clone(), None);
        w.run_until(DAY);
        Snapshot::from_outcome(&c, &w.outcome(), &BuildOptions::default()).expect("builds")
    };
    let (short, long) = (at(2), at(12));
    assert!(
        short
            .jobs
            .iter()
            .any(|j| j.job_type() == Some(JobType::Rlies1s2Job)),
        "the day holds RLIE-S1-S2 jobs"
    );
    assert_eq!(short.jobs.len(), long.jobs.len());
    for (a, b) in short.jobs.iter().zip(&long.jobs) {
        assert_eq!(a, b, "job {} differs with the horizon", a.id);
    }
}
