//! Contract tests of the Nomad mock over HTTP: paths, JSON shapes, status codes, and the
//! runbook's behaviours (pending worker-pool-management, UI edits lost at restart, GC).

use std::time::Duration;

use hrsi_harness::mocks::{
    Fault, FaultKind, NomadMock, VirtualClock,
    nomad_files::{PLACEHOLDER_SECRET, SERVICE_JOBS, default_job_files},
    nomad_model::{NodeSpec, NomadConfig},
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn mock(wpm_cpu: u64) -> NomadMock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nomad =
        NomadMock::spawn(listener, VirtualClock::default(), NomadConfig::default()).unwrap();
    nomad.set_job_files(default_job_files(wpm_cpu));
    nomad.power_on_registered_files().unwrap();
    nomad
}

async fn get(c: &Client, url: String) -> (StatusCode, Value) {
    let r = c.get(url).send().await.unwrap();
    let s = r.status();
    let text = r.text().await.unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(c: &Client, url: String, body: Value) -> (StatusCode, Value) {
    let r = c.post(url).json(&body).send().await.unwrap();
    let s = r.status();
    let text = r.text().await.unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn boot_orchestrator(n: &NomadMock) {
    n.with_state(|s| s.add_node(NodeSpec::orchestrator(), Duration::from_secs(90)));
    n.advance(Duration::from_secs(90));
}

fn status_of(jobs: &Value, id: &str) -> String {
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["ID"] == id)
        .map(|j| j["Status"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| "absent".into())
}

#[tokio::test]
async fn the_job_list_has_the_twelve_jobs_with_nomads_fields() {
    let n = mock(1000).await;
    let c = Client::new();
    let r = c.get(format!("{}/v1/jobs", n.url())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("X-Nomad-Index").is_some());
    let jobs: Value = r.json().await.unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 12);
    let si = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["ID"] == "si-processing")
        .unwrap();
    assert_eq!(si["Type"], "batch");
    assert_eq!(si["ParameterizedJob"], true);
    assert_eq!(si["Status"], "running");
    assert_eq!(
        status_of(&jobs, "monitor"),
        "pending",
        "no orchestrator node yet"
    );
    assert!(si["JobSummary"]["Children"].is_object());
    let (_, filtered) = get(&c, format!("{}/v1/jobs?prefix=job-", n.url())).await;
    assert_eq!(filtered.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_job_reads_back_with_task_groups_and_resources() {
    let n = mock(1000).await;
    let c = Client::new();
    let (s, job) = get(&c, format!("{}/v1/job/monitor", n.url())).await;
    assert_eq!(s, 200);
    assert_eq!(job["ID"], "monitor");
    assert_eq!(job["Datacenters"], json!(["dc1"]));
    assert_eq!(
        job["Constraints"][0],
        json!({"LTarget": "${node.class}", "RTarget": "orchestrator", "Operand": "="})
    );
    let task = &job["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Resources"], json!({"CPU": 1500, "MemoryMB": 500}));
    assert_eq!(task["Driver"], "docker");
    let (s, body) = get(&c, format!("{}/v1/job/nope", n.url())).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, json!("job not found")));
}

#[tokio::test]
async fn bad_registrations_get_400_with_nomads_messages() {
    let n = mock(1000).await;
    let c = Client::new();
    let r = c
        .post(format!("{}/v1/jobs", n.url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .starts_with("failed to decode request body")
    );
    let (s, b) = post(&c, format!("{}/v1/jobs", n.url()), json!({})).await;
    assert_eq!(
        (s, b),
        (StatusCode::BAD_REQUEST, json!("Job must be specified"))
    );
    let (s, b) = post(
        &c,
        format!("{}/v1/jobs", n.url()),
        json!({"Job": {"ID": "x", "TaskGroups": []}}),
    )
    .await;
    assert_eq!(s, 400);
    let msg = b.as_str().unwrap();
    assert!(
        msg.contains("Missing job datacenters") && msg.contains("Missing job task groups"),
        "{msg}"
    );
    let (_, monitor) = get(&c, format!("{}/v1/job/monitor", n.url())).await;
    let (s, b) = post(
        &c,
        format!("{}/v1/job/other", n.url()),
        json!({"Job": monitor}),
    )
    .await;
    assert_eq!(
        (s, b),
        (StatusCode::BAD_REQUEST, json!("Job ID does not match name"))
    );
    let (s, b) = post(
        &c,
        format!("{}/v1/jobs/parse", n.url()),
        json!({"JobHCL": "job \"x\" {\n  bogus = 1\n}"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!("error parsing job: line 1: invalid key in job \"x\": bogus")
    );
    let r = c
        .patch(format!("{}/v1/job/monitor", n.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = c
        .get(format!("{}/v2/whatever", n.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The runbook's "Ensure that all the services are properly started": worker-pool-management
/// at cpu 1500 stays pending on the orchestrator; the UI edit to 1000 places it; the edit is
/// lost at the next full restart unless the `.nomad` file changes too (trap 7 and 8).
#[tokio::test]
async fn the_runbook_cpu_fix_works_in_the_ui_and_reverts_at_restart() {
    let n = mock(1500).await;
    let c = Client::new();
    boot_orchestrator(&n);
    let (_, jobs) = get(&c, format!("{}/v1/jobs", n.url())).await;
    assert_eq!(status_of(&jobs, "worker-pool-management"), "pending");
    for (id, ..) in SERVICE_JOBS
        .iter()
        .filter(|(id, ..)| *id != "worker-pool-management")
    {
        assert_eq!(status_of(&jobs, id), "running", "{id}");
    }
    let (_, sum) = get(
        &c,
        format!("{}/v1/job/worker-pool-management/summary", n.url()),
    )
    .await;
    assert_eq!(sum["Summary"]["worker-pool-management"]["Queued"], 1);
    let (_, evals) = get(
        &c,
        format!("{}/v1/job/worker-pool-management/evaluations", n.url()),
    )
    .await;
    // The registration's evaluation is complete and hands the unplaced group to a blocked one.
    let list = evals.as_array().unwrap();
    let blocked = list.iter().find(|e| e["Status"] == "blocked").unwrap();
    let register = list
        .iter()
        .find(|e| e["TriggeredBy"] == "job-register")
        .unwrap();
    assert_eq!(register["Status"], "complete");
    assert_eq!(register["BlockedEval"], blocked["ID"]);
    assert_eq!(blocked["PreviousEval"], register["ID"]);
    assert_eq!(
        blocked["FailedTGAllocs"]["worker-pool-management"]["DimensionExhausted"],
        json!({"cpu": 1})
    );

    // Edit the definition "in the web UI": GET, change CPU, POST it back.
    let (_, mut job) = get(&c, format!("{}/v1/job/worker-pool-management", n.url())).await;
    let plan_url = format!("{}/v1/job/worker-pool-management/plan", n.url());
    let (s, plan) = post(&c, plan_url.clone(), json!({"Job": job.clone()})).await;
    assert_eq!(s, 200);
    assert_eq!(
        plan["FailedTGAllocs"]["worker-pool-management"]["DimensionExhausted"],
        json!({"cpu": 1})
    );
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"] = json!(1000);
    // The UI's "Plan" button: a dry run that places the group, without changing anything.
    let (_, plain) = post(&c, plan_url.clone(), json!({"Job": job.clone()})).await;
    assert_eq!(plain["Diff"], Value::Null, "no diff unless asked, as Nomad");
    let (_, plan) = post(&c, plan_url, json!({"Job": job.clone(), "Diff": true})).await;
    assert_eq!(plan["FailedTGAllocs"], Value::Null);
    assert_eq!(plan["Diff"]["Type"], "Edited");
    let task = &plan["Diff"]["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Type"], "Edited");
    let res = task["Objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["Name"] == "Resources")
        .unwrap();
    assert_eq!(
        res["Fields"],
        json!([{"Type": "Edited", "Name": "CPU", "Old": "1500", "New": "1000", "Annotations": null}])
    );
    assert_eq!(
        plan["Annotations"]["DesiredTGUpdates"]["worker-pool-management"]["Place"],
        1
    );
    let (_, jobs) = get(&c, format!("{}/v1/jobs", n.url())).await;
    assert_eq!(
        status_of(&jobs, "worker-pool-management"),
        "pending",
        "a plan changes nothing"
    );
    let (s, r) = post(
        &c,
        format!("{}/v1/job/worker-pool-management", n.url()),
        json!({"Job": job}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(r["EvalID"].is_string());
    let (_, jobs) = get(&c, format!("{}/v1/jobs", n.url())).await;
    assert_eq!(status_of(&jobs, "worker-pool-management"), "running");

    // Full restart: the Nomad server and the orchestrator are recreated, files re-registered.
    n.power_off().await;
    assert!(
        c.get(format!("{}/v1/jobs", n.url())).send().await.is_err(),
        "connection refused while down"
    );
    n.power_on().await.unwrap();
    boot_orchestrator(&n);
    let (_, jobs) = get(&c, format!("{}/v1/jobs", n.url())).await;
    assert_eq!(
        status_of(&jobs, "worker-pool-management"),
        "pending",
        "the UI edit did not survive"
    );

    // The persistent fix: change the file, restart again.
    assert!(n.edit_job_file("worker_pool_management.nomad", |s| {
        s.replace("cpu    = 1500", "cpu    = 1000")
    }));
    n.power_off().await;
    n.power_on().await.unwrap();
    boot_orchestrator(&n);
    let (_, jobs) = get(&c, format!("{}/v1/jobs", n.url())).await;
    assert_eq!(status_of(&jobs, "worker-pool-management"), "running");
}

#[tokio::test]
async fn an_image_patched_in_the_ui_reverts_at_the_next_restart() {
    let n = mock(1000).await;
    let c = Client::new();
    boot_orchestrator(&n);
    let (_, mut job) = get(&c, format!("{}/v1/job/job-execution", n.url())).await;
    let new_image = "registry-ext.magellium.com:443/cosims/cosims/job_execution:git-patched1";
    job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!(new_image);
    assert_eq!(
        post(
            &c,
            format!("{}/v1/job/job-execution", n.url()),
            json!({"Job": job})
        )
        .await
        .0,
        200
    );
    let (_, job) = get(&c, format!("{}/v1/job/job-execution", n.url())).await;
    assert_eq!(
        job["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        new_image
    );
    assert_eq!(job["Version"], 1);
    // The new image replaced the allocation: one stopped, one running.
    let (_, allocs) = get(&c, format!("{}/v1/job/job-execution/allocations", n.url())).await;
    let statuses: Vec<&str> = allocs
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ClientStatus"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["complete", "running"]);
    n.power_off().await;
    n.power_on().await.unwrap();
    let (_, job) = get(&c, format!("{}/v1/job/job-execution", n.url())).await;
    assert_eq!(
        job["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "registry-ext.magellium.com:443/cosims/cosims/job_execution:git-xxxxxxxx"
    );
}

#[tokio::test]
async fn a_stopped_service_vanishes_after_five_minutes_and_nomad_job_run_brings_it_back() {
    let n = mock(1000).await;
    let c = Client::new();
    boot_orchestrator(&n);
    let r = c
        .delete(format!("{}/v1/job/job-publication", n.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert!(b["EvalID"].is_string() && b["JobModifyIndex"].is_u64());
    let (_, job) = get(&c, format!("{}/v1/job/job-publication", n.url())).await;
    assert_eq!(
        (job["Status"].as_str(), job["Stop"].as_bool()),
        (Some("dead"), Some(true))
    );
    n.advance(Duration::from_secs(299));
    assert_eq!(
        get(&c, format!("{}/v1/job/job-publication", n.url()))
            .await
            .0,
        200
    );
    n.advance(Duration::from_secs(1));
    assert_eq!(
        get(&c, format!("{}/v1/job/job-publication", n.url()))
            .await
            .0,
        404
    );
    let r = c
        .delete(format!("{}/v1/job/job-publication", n.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // `nomad job run job_publication.nomad`: parse, then register.
    let src = n
        .job_files()
        .into_iter()
        .find(|(f, _)| f == "job_publication.nomad")
        .unwrap()
        .1;
    let (s, parsed) = post(
        &c,
        format!("{}/v1/jobs/parse", n.url()),
        json!({"JobHCL": src, "Canonicalize": true}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        post(&c, format!("{}/v1/jobs", n.url()), json!({"Job": parsed}))
            .await
            .0,
        200
    );
    let (_, job) = get(&c, format!("{}/v1/job/job-publication", n.url())).await;
    assert_eq!(job["Status"], "running");
}

#[tokio::test]
async fn dispatch_summary_allocations_and_deregister_follow_the_monitors_calls() {
    let n = mock(1000).await;
    let c = Client::new();
    let body = json!({"Meta": {"job_id": "1234", "job_unique_id": "abc"}, "Payload": null});
    let (s, d) = post(
        &c,
        format!("{}/v1/job/si-processing/dispatch", n.url()),
        body.clone(),
    )
    .await;
    assert_eq!(s, 200);
    for k in ["Index", "JobCreateIndex", "EvalCreateIndex", "EvalID"] {
        assert!(!d[k].is_null(), "{k}");
    }
    let child = d["DispatchedJobID"].as_str().unwrap().to_owned();
    let secs = n.clock().now_secs();
    assert!(
        child.starts_with(&format!("si-processing/dispatch-{secs}-")),
        "{child}"
    );
    let (s, sum) = get(&c, format!("{}/v1/job/{child}/summary", n.url())).await;
    assert_eq!(s, 200);
    assert_eq!(
        sum["Summary"]["run-and-log"],
        json!({"Queued": 1, "Starting": 0, "Running": 0, "Complete": 0, "Failed": 0, "Lost": 0, "Unknown": 0})
    );
    let (_, parent) = get(&c, format!("{}/v1/job/si-processing/summary", n.url())).await;
    assert_eq!(
        parent["Children"],
        json!({"Pending": 1, "Running": 0, "Dead": 0})
    );

    // A worker of the right flavour boots: the dispatch is placed on it.
    n.with_state(|s| {
        s.add_node(
            NodeSpec::worker("os-worker-001", "hm.medium", 2, 16384, "10.0.0.5"),
            Duration::from_secs(240),
        )
    });
    n.advance(Duration::from_secs(240));
    let (_, sum) = get(&c, format!("{}/v1/job/{child}/summary", n.url())).await;
    assert_eq!(sum["Summary"]["run-and-log"]["Running"], 1);
    let (_, allocs) = get(&c, format!("{}/v1/job/{child}/allocations", n.url())).await;
    let alloc_id = allocs[0]["ID"].as_str().unwrap().to_owned();
    let (s, alloc) = get(&c, format!("{}/v1/allocation/{alloc_id}", n.url())).await;
    assert_eq!(s, 200);
    assert_eq!(alloc["TaskStates"]["run-worker"]["State"], "running");
    assert_eq!(alloc["NodeID"], allocs[0]["NodeID"]);
    assert_eq!(alloc["Job"]["ParentID"], "si-processing");
    assert_eq!(alloc["Job"]["Meta"]["job_id"], "1234");
    assert_eq!(
        alloc["AllocatedResources"]["Tasks"]["upload-nomad-alloc-dir"]["Memory"]["MemoryMB"],
        300
    );

    // The monitor's notify_database_of_error: DELETE without purge.
    let r = c
        .delete(format!("{}/v1/job/{child}", n.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, job) = get(&c, format!("{}/v1/job/{child}", n.url())).await;
    assert_eq!(job["Status"], "dead");
    assert_eq!(
        get(&c, format!("{}/v1/allocation/nope", n.url())).await,
        (StatusCode::NOT_FOUND, json!("alloc not found"))
    );

    let (s, e) = post(
        &c,
        format!("{}/v1/job/si-processing/dispatch", n.url()),
        json!({"Meta": {"job_id": "1"}}),
    )
    .await;
    assert_eq!(
        (s, e),
        (
            StatusCode::BAD_REQUEST,
            json!("Dispatch did not provide required meta keys: [\"job_unique_id\"]")
        )
    );
    let (s, _) = post(&c, format!("{}/v1/job/nope/dispatch", n.url()), body).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn nodes_eligibility_and_node_allocations_have_the_fields_worker_pool_management_reads() {
    let n = mock(1000).await;
    let c = Client::new();
    let id = n.with_state(|s| {
        s.add_node(
            NodeSpec::worker("os-worker-007", "eo2.medium", 1, 4096, "10.0.0.7"),
            Duration::from_secs(180),
        )
    });
    let (_, nodes) = get(&c, format!("{}/v1/nodes", n.url())).await;
    assert_eq!(nodes, json!([]), "not registered before its boot time");
    n.advance(Duration::from_secs(180));
    let (_, nodes) = get(&c, format!("{}/v1/nodes", n.url())).await;
    let node = &nodes[0];
    assert_eq!(
        (
            node["ID"].as_str(),
            node["Name"].as_str(),
            node["Status"].as_str(),
            node["Address"].as_str(),
            node["SchedulingEligibility"].as_str()
        ),
        (
            Some(id.as_str()),
            Some("os-worker-007"),
            Some("ready"),
            Some("10.0.0.7"),
            Some("eligible")
        )
    );
    let (_, full) = get(&c, format!("{}/v1/node/{id}", n.url())).await;
    assert_eq!(
        full["Attributes"]["platform.aws.instance-type"],
        "eo2.medium"
    );
    assert_eq!(full["NodeClass"], "worker");

    let meta = json!({"Meta": {"job_id": "9", "job_unique_id": "u9"}});
    post(
        &c,
        format!("{}/v1/job/gfsc-processing/dispatch", n.url()),
        meta,
    )
    .await;
    let (_, allocs) = get(&c, format!("{}/v1/node/{id}/allocations", n.url())).await;
    assert_eq!(allocs[0]["ClientStatus"], "running");
    assert_eq!(allocs[0]["ModifyTime"], n.clock().now_ns());

    let (s, r) = post(
        &c,
        format!("{}/v1/node/{id}/eligibility", n.url()),
        json!({"Eligibility": "ineligible", "NodeID": id}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(r["NodeModifyIndex"].is_u64());
    let (_, nodes) = get(&c, format!("{}/v1/nodes", n.url())).await;
    assert_eq!(nodes[0]["SchedulingEligibility"], "ineligible");
    let (s, b) = post(
        &c,
        format!("{}/v1/node/{id}/eligibility", n.url()),
        json!({"Eligibility": "sometimes"}),
    )
    .await;
    assert_eq!(
        (s, b),
        (
            StatusCode::BAD_REQUEST,
            json!("invalid scheduling eligibility \"sometimes\"")
        )
    );
    assert_eq!(
        get(&c, format!("{}/v1/node/unknown", n.url())).await,
        (StatusCode::NOT_FOUND, json!("node not found"))
    );
    assert_eq!(
        get(&c, format!("{}/v1/node/unknown/allocations", n.url()))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn injected_faults_answer_and_expire_and_the_log_holds_no_bodies() {
    let n = mock(1000).await;
    let c = Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    n.control().inject(
        Fault::always(FaultKind::Status(503))
            .on_path("/v1/nodes")
            .times(1),
    );
    assert_eq!(get(&c, format!("{}/v1/nodes", n.url())).await.0, 503);
    assert_eq!(get(&c, format!("{}/v1/nodes", n.url())).await.0, 200);
    n.control().inject(
        Fault::always(FaultKind::Timeout(Duration::from_secs(2)))
            .on_path("/v1/job/")
            .times(1),
    );
    let err = c
        .get(format!("{}/v1/job/monitor/summary", n.url()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    n.control().inject(
        Fault::always(FaultKind::Slow(Duration::from_millis(50)))
            .on_path("/v1/jobs")
            .times(1),
    );
    let t = std::time::Instant::now();
    assert_eq!(
        get(&c, format!("{}/v1/jobs?prefix=si", n.url())).await.0,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(50));

    // A registration carries secrets in its templates: none of it may reach the log.
    let (_, job) = get(&c, format!("{}/v1/job/monitor", n.url())).await;
    assert!(
        job.to_string().contains(PLACEHOLDER_SECRET),
        "the API itself returns the definition"
    );
    post(
        &c,
        format!("{}/v1/job/monitor", n.url()),
        json!({"Job": job}),
    )
    .await;
    let log = n.control().requests();
    assert!(!format!("{log:?}").contains(PLACEHOLDER_SECRET));
    let statuses: Vec<(String, u16)> = log.iter().map(|r| (r.path.clone(), r.status)).collect();
    assert_eq!(statuses[0], ("/v1/nodes".into(), 503));
    assert_eq!(log[0].fault, Some(FaultKind::Status(503)));
    let slow = log.iter().find(|r| r.path == "/v1/jobs").unwrap();
    assert_eq!(slow.query_keys, ["prefix"]);
    assert!(
        log.iter()
            .any(|r| r.method == "POST" && r.path == "/v1/job/monitor" && r.status == 200)
    );
}

#[tokio::test]
async fn a_lost_node_shows_lost_allocations_to_the_monitor() {
    let n = mock(1000).await;
    let c = Client::new();
    n.with_state(|s| {
        s.add_node(
            NodeSpec::worker("os-worker-001", "hm.large", 4, 32768, "10.0.0.1"),
            Duration::ZERO,
        )
    });
    let (_, d) = post(
        &c,
        format!("{}/v1/job/rlies1-processing/dispatch", n.url()),
        json!({"Meta": {"job_id": "1", "job_unique_id": "u"}}),
    )
    .await;
    let child = d["DispatchedJobID"].as_str().unwrap().to_owned();
    assert!(n.lose_node("os-worker-001"));
    assert!(!n.lose_node("os-worker-999"));
    let (_, sum) = get(&c, format!("{}/v1/job/{child}/summary", n.url())).await;
    assert_eq!(
        (
            sum["Summary"]["run-and-log"]["Lost"].as_u64(),
            sum["Summary"]["run-and-log"]["Queued"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let (_, nodes) = get(&c, format!("{}/v1/nodes", n.url())).await;
    assert_eq!(nodes[0]["Status"], "down");
}
