//! One orchestrator service stopped by hand (`nomad job stop SERVICE`) and started again
//! (orchestration.md §1, §7): what it does waits for it, the other services carry on. Each test
//! compares the world with and without the stop.
use hrsi_sim::status::Status;
use hrsi_sim::time::{DAY, HOUR, MINUTE, Ms};
use hrsi_sim::{Action, Config, Service, World};

fn cfg() -> Config {
    let mut c = Config::new(7);
    c.horizon = 5 * DAY;
    c.calibration.warm_start_days = 2.0;
    c.keep_jobs = true;
    c.keep_history = true;
    c
}

/// The world at `at`, with its baseline (what the backlog and the catch-up are measured on).
fn world_at(at: Ms) -> World {
    let c = cfg();
    let b = hrsi_sim::baseline(&c);
    let mut w = World::new(c, Some(&b));
    w.run_until(at);
    w
}

fn world() -> World {
    world_at(DAY)
}

/// Status changes to `to` in `[from, until)`.
fn changes(w: &World, to: Status, from: Ms, until: Ms) -> usize {
    w.outcome()
        .history
        .iter()
        .filter(|(_, s, t)| *s == to && (from..until).contains(t))
        .count()
}

fn with_status(w: &World, s: Status) -> usize {
    w.outcome().jobs.iter().filter(|j| j.status == s).count()
}

#[test]
fn job_execution_stopped_dispatches_nothing_and_its_ready_jobs_wait_for_it() {
    let mut free = world();
    let mut x = world();
    x.act(Action::StopService(Service::JobExecution));
    assert!(!x.service_running(Service::JobExecution));
    assert_eq!(x.stopped_services(), vec![Service::JobExecution]);
    free.run_until(DAY + 6 * HOUR);
    x.run_until(DAY + 6 * HOUR);
    let window = (DAY, DAY + 6 * HOUR);
    assert!(changes(&free, Status::Queued, window.0, window.1) > 200);
    assert_eq!(
        changes(&x, Status::Queued, window.0, window.1),
        0,
        "nothing is dispatched without job execution"
    );
    // Creation and configuration carry on: the jobs wait in `ready`.
    let (ready, usual) = (
        with_status(&x, Status::Ready),
        with_status(&free, Status::Ready),
    );
    assert!(ready > usual + 200, "{ready} ready vs {usual}");
    x.act(Action::StartService(Service::JobExecution));
    assert!(x.stopped_services().is_empty());
    x.run_until(DAY + 6 * HOUR + MINUTE);
    assert!(
        changes(&x, Status::Queued, window.1, window.1 + MINUTE) >= ready - 5,
        "started again, it dispatches every ready job in its first loop"
    );
}

#[test]
fn the_monitor_stopped_leaves_the_jobs_in_flight_at_a_restart_where_the_stop_left_them() {
    // Stopped at midday, when many jobs run.
    let restarted = |monitor_stopped: bool| {
        let mut w = world_at(DAY + 12 * HOUR);
        w.act(Action::Stop);
        w.run_until(2 * DAY + 12 * HOUR);
        w.act(Action::Start);
        if monitor_stopped {
            w.act(Action::StopService(Service::Monitor));
        }
        w.run_until(2 * DAY + 18 * HOUR);
        w
    };
    let free = restarted(false);
    let mut m = restarted(true);
    let window = (2 * DAY + 12 * HOUR, 2 * DAY + 18 * HOUR);
    // The Nomad of the restart does not know the jobs in flight at the stop: the monitor
    // re-dispatches them (internal_error, error_checked, ready) at its first loop.
    let checked = |w: &World| changes(w, Status::ErrorChecked, window.0, window.1);
    assert!(
        checked(&free) > checked(&m) + 20,
        "{} vs {} (the workers' own retries)",
        checked(&free),
        checked(&m)
    );
    let stuck = |w: &World| {
        w.outcome()
            .jobs
            .iter()
            .filter(|j| j.status == Status::Queued || j.status.is_running())
            .filter(|j| j.last_change < window.0)
            .count()
    };
    assert!(stuck(&m) > 20, "still as the stop left them: {}", stuck(&m));
    assert_eq!(stuck(&free), 0);
    m.act(Action::StartService(Service::Monitor));
    m.run_until(window.1 + 2 * MINUTE);
    assert_eq!(stuck(&m), 0, "its first loop re-dispatches them");
}

#[test]
fn worker_pool_management_stopped_creates_and_deletes_no_worker() {
    let mut w = world();
    w.act(Action::Stop);
    w.run_until(2 * DAY);
    w.act(Action::Start);
    w.act(Action::StopService(Service::WorkerPoolManagement));
    let before = w.workers();
    let mut seen = Vec::new();
    while w.now() < 2 * DAY + 3 * HOUR {
        w.run_until(w.now() + 10 * MINUTE);
        seen.push(w.workers());
    }
    assert!(seen.iter().all(|&n| n == before), "{before} then {seen:?}");
    w.act(Action::StartService(Service::WorkerPoolManagement));
    w.run_until(2 * DAY + 4 * HOUR);
    assert!(w.workers() > before + 20, "it scales up once started");
}

#[test]
fn job_creation_stopped_creates_nothing_then_everything_it_missed() {
    let mut free = world();
    let mut c = world();
    c.act(Action::StopService(Service::JobCreation));
    let jobs0 = c.outcome().jobs.len();
    c.run_until(DAY + 4 * HOUR);
    assert_eq!(c.outcome().jobs.len(), jobs0, "no job created");
    c.act(Action::StartService(Service::JobCreation));
    c.run_until(3 * DAY);
    free.run_until(3 * DAY);
    let (n, f) = (c.outcome().jobs.len(), free.outcome().jobs.len());
    assert!(
        n.abs_diff(f) * 100 < f,
        "resumed from the last inserted jobs: {n} vs {f}"
    );
}

#[test]
fn a_full_start_runs_every_service_again_and_unused_stops_change_nothing() {
    let mut w = world();
    w.act(Action::StopService(Service::Monitor));
    w.act(Action::StopService(Service::JobPublication));
    w.act(Action::Stop);
    w.run_until(DAY + HOUR);
    w.act(Action::Start);
    assert!(
        w.stopped_services().is_empty(),
        "prod_env_apply.sh runs every job file"
    );
    // Starting a running service, or stopping and starting at once, is nothing.
    let mut a = world();
    let mut b = world();
    b.act(Action::StartService(Service::Monitor));
    b.act(Action::StopService(Service::JobExecution));
    b.act(Action::StartService(Service::JobExecution));
    a.run_until(3 * DAY);
    b.run_until(3 * DAY);
    let (oa, ob) = (a.outcome(), b.outcome());
    assert_eq!(oa.history, ob.history);
    assert_eq!(oa.jobs.len(), ob.jobs.len());
    assert_eq!(a.workers(), b.workers());
}

/// worker-pool-management left pending by Nomad at a start (tf-tata's CPU, infra.md trap 8):
/// the VMs left from before the stop never register with the new Nomad, and no worker is
/// created, so every dispatched job waits in `queued`; after 60 min there the monitor sends it
/// back (internal_error, error_checked, ready) and it is dispatched again (orchestration.md §3,
/// §7). Placed, the pool scales up and the jobs run. What `worker-pool-cpu.yaml` shows.
#[test]
fn worker_pool_management_pending_at_a_start_leaves_every_job_queued_and_the_monitor_churning() {
    let stop = DAY + 9 * HOUR;
    let start = stop + HOUR;
    let mut w = world_at(stop);
    w.act(Action::Stop);
    w.run_until(start);
    w.act(Action::Start);
    w.act(Action::StopService(Service::WorkerPoolManagement));
    let placed = start + 2 * HOUR;
    w.run_until(placed);
    assert_eq!(
        changes(&w, Status::Started, start, placed),
        0,
        "no worker takes a job"
    );
    assert!(with_status(&w, Status::Queued) > 20, "dispatched, waiting");
    // Those in flight at the stop are unknown to the new Nomad: sent back after 5 min. The
    // ones dispatched after the start are sent back once 60 min in `queued`.
    let sent_back = changes(&w, Status::InternalError, start + HOUR, placed);
    assert!(
        sent_back > 0,
        "the monitor re-dispatches the jobs queued too long"
    );
    assert!(changes(&w, Status::Queued, start + HOUR, placed) >= sent_back);
    let before = w.workers();
    w.act(Action::StartService(Service::WorkerPoolManagement));
    w.run_until(placed + HOUR);
    assert!(w.workers() > before, "{} then {}", before, w.workers());
    assert!(changes(&w, Status::Started, placed, placed + HOUR) > 20);
}
