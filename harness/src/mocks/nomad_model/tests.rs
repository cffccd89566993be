//! Unit tests of the Nomad state machine.

use super::*;
use crate::mocks::nomad_files;

const MIN: u64 = 60_000_000_000;

fn server_with_services(wpm_cpu: u64) -> NomadState {
    let mut s = NomadState::new(NomadConfig::default(), 0);
    for (_, src) in nomad_files::default_job_files(wpm_cpu) {
        s.register(crate::mocks::jobspec::parse_hcl(&src).unwrap())
            .unwrap();
    }
    s
}

fn status(s: &NomadState, id: &str) -> String {
    s.job(id).unwrap().job.status.clone()
}

#[test]
fn services_wait_pending_until_the_orchestrator_registers() {
    let mut s = server_with_services(1000);
    assert_eq!(status(&s, "job-creation"), "pending");
    s.add_node(NodeSpec::orchestrator(), Duration::from_secs(60));
    s.tick(30_000_000_000);
    assert_eq!(status(&s, "job-creation"), "pending");
    s.tick(MIN);
    for id in nomad_files::SERVICE_JOBS.iter().map(|(id, ..)| *id) {
        assert_eq!(status(&s, id), "running", "{id}");
    }
    // Parameterized parents are reported running even with no worker.
    assert_eq!(status(&s, "si-processing"), "running");
}

#[test]
fn worker_pool_management_at_1500_stays_pending_and_1000_places_it() {
    let mut s = server_with_services(1500);
    s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
    assert_eq!(status(&s, "worker-pool-management"), "pending");
    let e = s.job("worker-pool-management").unwrap();
    assert_eq!(e.queued.get("worker-pool-management"), Some(&1));
    assert!(e.blocked["worker-pool-management"].contains("Dimension \"cpu\" exhausted"));
    // The other five fit: 9000 - 1000 = 8000 MHz of the assumed 9200.
    let used: u64 = s
        .node_allocs(&s.nodes().next().unwrap().id.clone())
        .unwrap()
        .iter()
        .filter(|a| a.is_live())
        .map(|a| a.cpu)
        .sum();
    assert_eq!(used, 8000);
    let mut job = e.job.clone();
    job.task_groups[0].tasks[0].resources.cpu = Some(1000);
    s.register(job).unwrap();
    assert_eq!(status(&s, "worker-pool-management"), "running");
    assert_eq!(s.job("worker-pool-management").unwrap().job.version, 1);
}

#[test]
fn a_stopped_service_is_collected_after_the_gc_threshold_and_can_be_run_again() {
    let mut s = server_with_services(1000);
    s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
    s.deregister("job-publication", false).unwrap();
    assert_eq!(status(&s, "job-publication"), "dead");
    s.tick(4 * MIN);
    assert!(s.job("job-publication").is_ok());
    s.tick(5 * MIN);
    assert_eq!(s.job("job-publication").unwrap_err().status, 404);
    let src = nomad_files::default_job_files(1000)
        .into_iter()
        .find(|(f, _)| f == "job_publication.nomad")
        .unwrap()
        .1;
    s.register(crate::mocks::jobspec::parse_hcl(&src).unwrap())
        .unwrap();
    assert_eq!(status(&s, "job-publication"), "running");
}

#[test]
fn dispatch_waits_for_a_worker_of_the_right_flavor() {
    let mut s = server_with_services(1000);
    let meta: BTreeMap<String, String> = [
        ("job_id".into(), "42".into()),
        ("job_unique_id".into(), "u42".into()),
    ]
    .into();
    let (child, _) = s.dispatch("si-processing", meta.clone(), None).unwrap();
    assert!(child.starts_with("si-processing/dispatch-0-"), "{child}");
    assert_eq!(child.len(), "si-processing/dispatch-0-".len() + 8);
    assert_eq!(status(&s, &child), "pending");
    // A GFSC worker (eo2.medium) does not match the hm.medium constraint.
    s.add_node(
        NodeSpec::worker("os-worker-001", "eo2.medium", 1, 4096, "10.0.0.1"),
        Duration::ZERO,
    );
    assert_eq!(status(&s, &child), "pending");
    s.add_node(
        NodeSpec::worker("os-worker-002", "hm.medium", 2, 16384, "10.0.0.2"),
        Duration::ZERO,
    );
    assert_eq!(status(&s, &child), "running");
    // One job per worker: a second dispatch does not fit in the 16 GB left (10300 MB each).
    let (second, _) = s.dispatch("si-processing", meta, None).unwrap();
    assert_eq!(status(&s, &second), "pending");
    let alloc = s.job_allocs(&child).unwrap()[0].id.clone();
    s.finish_alloc(&alloc, 0).unwrap();
    assert_eq!(status(&s, &child), "dead");
    assert_eq!(status(&s, &second), "running");
    let sum = s.summary_json(&child).unwrap();
    assert_eq!(sum["Summary"]["run-and-log"]["Complete"], 1);
}

#[test]
fn served_processing_allocs_end_by_themselves_after_their_drawn_duration() {
    let mut s = NomadState::new(NomadConfig::served(), 0);
    for (_, src) in nomad_files::default_job_files(1000) {
        s.register(crate::mocks::jobspec::parse_hcl(&src).unwrap())
            .unwrap();
    }
    s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
    for i in 0..8 {
        s.add_node(
            NodeSpec::worker(&format!("os-worker-{i}"), "eo2.medium", 1, 4096, "10.0.0.1"),
            Duration::ZERO,
        );
    }
    let meta: BTreeMap<String, String> = [
        ("job_id".into(), "1".into()),
        ("job_unique_id".into(), "u1".into()),
    ]
    .into();
    let children: Vec<String> = (0..8)
        .map(|_| s.dispatch("gfsc-processing", meta.clone(), None).unwrap().0)
        .collect();
    let runs = s.config.runs.clone().unwrap();
    let mut ends = Vec::new();
    for c in &children {
        assert_eq!(status(&s, c), "running");
        let a = s.job_allocs(c).unwrap()[0].id.clone();
        ends.push((a.clone(), runs.draw("gfsc-processing", &a).unwrap()));
    }
    // Services never end by themselves.
    let service_alloc = s.job_allocs("job-creation").unwrap()[0].id.clone();
    s.tick(MIN);
    for (a, (d, _)) in &ends {
        let live = s.alloc(a).unwrap().is_live();
        assert_eq!(live, *d > MIN, "{a} drawn {d} ns");
    }
    ends.sort_by_key(|(_, (d, _))| *d);
    for (a, (d, end)) in ends.iter().filter(|(_, (d, _))| *d > MIN) {
        // Checked right after its end: dead jobs are collected 5 min later.
        s.tick(d + 1);
        let al = s.alloc(a).unwrap();
        let want = match end {
            RunEnd::Complete => "complete",
            RunEnd::Failed => "failed",
            RunEnd::Lost => "lost",
        };
        assert_eq!(al.client_status, want);
        // Ended at its own end time, not at the tick.
        assert_eq!(al.modify_time, *d);
    }
    assert!(s.alloc(&service_alloc).unwrap().is_live());
    // Without a run model (a rehearsal), processing runs until the harness ends it.
    let mut r = server_with_services(1000);
    r.add_node(
        NodeSpec::worker("os-worker-x", "eo2.medium", 1, 4096, "10.0.0.1"),
        Duration::ZERO,
    );
    let (c, _) = r.dispatch("gfsc-processing", meta, None).unwrap();
    r.tick(6000 * MIN);
    assert_eq!(status(&r, &c), "running");
}

#[test]
fn evaluations_are_bounded_and_each_write_records_one() {
    let mut s = server_with_services(1000);
    let n0 = s.eval_count();
    let job = s.job("job-creation").unwrap().job.clone();
    let r = s.register(job.clone()).unwrap();
    assert_eq!(s.eval(&r.eval_id).unwrap().triggered_by, "job-register");
    assert_eq!(s.eval_count(), n0 + 1);
    for _ in 0..MAX_EVALS + 50 {
        s.register(job.clone()).unwrap();
    }
    assert!(s.eval_count() <= MAX_EVALS, "{}", s.eval_count());
    // The blocked evaluations waiting for capacity are kept.
    assert!(s.evals("").iter().any(|e| e.status == "blocked"));
}

#[test]
fn queued_dispatches_are_placed_first_in_first_out_as_workers_register() {
    let mut s = server_with_services(1000);
    let meta: BTreeMap<String, String> = [
        ("job_id".into(), "1".into()),
        ("job_unique_id".into(), "u".into()),
    ]
    .into();
    let children: Vec<String> = (0..300)
        .map(|_| s.dispatch("si-processing", meta.clone(), None).unwrap().0)
        .collect();
    for i in 0..3 {
        s.add_node(
            NodeSpec::worker(
                &format!("os-worker-{i:03}"),
                "hm.medium",
                2,
                16384,
                "10.0.0.1",
            ),
            Duration::from_secs(60),
        );
    }
    s.tick(60_000_000_000);
    let running: Vec<&String> = children
        .iter()
        .filter(|c| status(&s, c) == "running")
        .collect();
    assert_eq!(running, children.iter().take(3).collect::<Vec<_>>());
    assert_eq!(status(&s, &children[3]), "pending");
    assert_eq!(
        s.summary_json("si-processing").unwrap()["Children"],
        json!({"Pending": 297, "Running": 3, "Dead": 0})
    );
}

#[test]
fn dispatch_errors_match_nomad() {
    let mut s = server_with_services(1000);
    let e = s
        .dispatch("job-creation", BTreeMap::new(), None)
        .unwrap_err();
    assert_eq!(
        (e.status, e.message.as_str()),
        (
            400,
            "Specified job \"job-creation\" is not a parameterized job"
        )
    );
    let e = s
        .dispatch(
            "si-processing",
            [("job_id".to_owned(), "1".to_owned())].into(),
            None,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "Dispatch did not provide required meta keys: [\"job_unique_id\"]"
    );
    assert_eq!(
        s.dispatch("nope", BTreeMap::new(), None)
            .unwrap_err()
            .status,
        404
    );
}

#[test]
fn a_failed_batch_alloc_is_rescheduled_once_after_five_seconds() {
    let mut s = server_with_services(1000);
    s.add_node(
        NodeSpec::worker("os-worker-001", "eo2.medium", 1, 4096, "10.0.0.1"),
        Duration::ZERO,
    );
    let meta: BTreeMap<String, String> = [
        ("job_id".into(), "1".into()),
        ("job_unique_id".into(), "u".into()),
    ]
    .into();
    let (child, _) = s.dispatch("gfsc-processing", meta, None).unwrap();
    let first = s.job_allocs(&child).unwrap()[0].id.clone();
    s.finish_alloc(&first, 2).unwrap();
    assert_eq!(s.job_allocs(&child).unwrap().len(), 1);
    s.tick(5_000_000_000);
    let allocs: Vec<String> = s
        .job_allocs(&child)
        .unwrap()
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(allocs.len(), 2);
    s.finish_alloc(&allocs[1], 2).unwrap();
    s.tick(20_000_000_000);
    assert_eq!(
        s.job_allocs(&child).unwrap().len(),
        2,
        "only one reschedule"
    );
    assert_eq!(status(&s, &child), "dead");
    assert_eq!(
        s.summary_json(&child).unwrap()["Summary"]["run-and-log"]["Failed"],
        2
    );
}

#[test]
fn a_lost_node_loses_its_allocs_and_an_ineligible_node_takes_no_work() {
    let mut s = server_with_services(1000);
    let w1 = s.add_node(
        NodeSpec::worker("os-worker-001", "hm.medium", 2, 16384, "10.0.0.1"),
        Duration::ZERO,
    );
    let meta: BTreeMap<String, String> = [
        ("job_id".into(), "1".into()),
        ("job_unique_id".into(), "u".into()),
    ]
    .into();
    let (child, _) = s.dispatch("si-processing", meta, None).unwrap();
    s.node_down(&w1).unwrap();
    assert_eq!(
        s.summary_json(&child).unwrap()["Summary"]["run-and-log"]["Lost"],
        1
    );
    assert_eq!(status(&s, &child), "pending");
    let w2 = s.add_node(
        NodeSpec::worker("os-worker-002", "hm.medium", 2, 16384, "10.0.0.2"),
        Duration::from_secs(10),
    );
    s.tick(1);
    assert_eq!(
        s.set_eligibility(&w2, "ineligible").unwrap_err().status,
        404,
        "not registered yet"
    );
    s.tick(10_000_000_000);
    assert_eq!(status(&s, &child), "running");
    assert_eq!(s.set_eligibility(&w2, "maybe").unwrap_err().status, 400);
}

#[test]
fn the_cached_job_list_follows_every_change() {
    let mut s = server_with_services(1000);
    let meta: BTreeMap<String, String> = [
        ("job_id".into(), "1".into()),
        ("job_unique_id".into(), "u1".into()),
    ]
    .into();
    let fresh = |s: &NomadState| s.job_stubs_body("");
    assert_eq!(s.job_stubs_cached(""), fresh(&s));
    assert_ne!(s.job_stubs_cached("si-"), s.job_stubs_cached(""));
    s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
    assert_eq!(s.job_stubs_cached(""), fresh(&s));
    let (child, _) = s.dispatch("gfsc-processing", meta, None).unwrap();
    assert_eq!(s.job_stubs_cached(""), fresh(&s));
    s.add_node(
        NodeSpec::worker("os-worker-1", "eo2.medium", 1, 4096, "10.0.0.1"),
        Duration::from_secs(60),
    );
    s.tick(2 * MIN);
    assert_eq!(s.job_stubs_cached(""), fresh(&s));
    let alloc = s.job_allocs(&child).unwrap()[0].id.clone();
    s.finish_alloc(&alloc, 1).unwrap();
    assert_eq!(s.job_stubs_cached(""), fresh(&s));
    // The reschedule timer fires with no worker free: the summary changes, so must the list.
    s.node_down(&s.node_by_name("os-worker-1").unwrap().id.clone())
        .unwrap();
    let _ = s.job_stubs_cached("");
    s.tick(3 * MIN);
    assert_eq!(s.job_stubs_cached(""), fresh(&s));
    s.reset();
    assert_eq!(s.job_stubs_cached(""), fresh(&s));
}

#[test]
fn the_cached_evaluation_list_follows_every_change() {
    let mut s = server_with_services(1000);
    let meta: BTreeMap<String, String> = [
        ("job_id".into(), "1".into()),
        ("job_unique_id".into(), "u1".into()),
    ]
    .into();
    let fresh = |s: &NomadState| bytes::Bytes::from(s.evals_body(s.evals("").into_iter()));
    assert_eq!(s.evals_cached(""), fresh(&s));
    s.dispatch("gfsc-processing", meta, None).unwrap();
    assert_eq!(s.evals_cached(""), fresh(&s));
    s.add_node(
        NodeSpec::worker("os-worker-1", "eo2.medium", 1, 4096, "10.0.0.1"),
        Duration::ZERO,
    );
    assert_eq!(s.evals_cached(""), fresh(&s));
    s.reset();
    assert_eq!(s.evals_cached(""), fresh(&s));
}

#[test]
fn a_changed_definition_of_a_running_service_replaces_its_allocation_an_unchanged_one_keeps_it() {
    let mut s = server_with_services(1000);
    s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
    let live = |s: &NomadState| -> Vec<(String, u64, String)> {
        s.job_allocs("job-creation")
            .unwrap()
            .into_iter()
            .filter(|a| a.is_live())
            .map(|a| (a.id.clone(), a.job_version, a.client_status.clone()))
            .collect()
    };
    let first = live(&s);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].1, first[0].2.as_str()), (0, "running"));
    // `nomad job run` of the same file: same version, same allocation.
    let same = s.job("job-creation").unwrap().job.clone();
    s.register(same.clone()).unwrap();
    assert_eq!(s.job("job-creation").unwrap().job.version, 0);
    assert_eq!(live(&s), first);
    // A new image: version 1, the old allocation stopped, one of version 1 running.
    let mut changed = same;
    changed.task_groups[0].tasks[0].config.insert(
        "image".into(),
        serde_json::Value::String("registry/cosims/job_creation:git-b7e71dc4".into()),
    );
    s.register(changed).unwrap();
    assert_eq!(s.job("job-creation").unwrap().job.version, 1);
    let now = live(&s);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].0, first[0].0, "a new allocation");
    assert_eq!((now[0].1, now[0].2.as_str()), (1, "running"));
    let old = s.alloc(&first[0].0).unwrap();
    assert_eq!(
        (old.desired_status.as_str(), old.client_status.as_str()),
        ("stop", "complete")
    );
    assert_eq!(status(&s, "job-creation"), "running");
}
