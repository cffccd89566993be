//! `deploy/hrsi-plan.nomad` against the harness's Nomad stand-in: the job file parses and
//! registers as a parameterized batch job, N dispatches get placed, each allocation's task runs
//! (this test plays the Nomad client: it interpolates `${NOMAD_META_*}` and runs the command),
//! and `hrsi plan merge` of the shards gives the same bytes as one machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hrsi_harness::mocks::nomad_model::{NodeSpec, NomadConfig};
use hrsi_harness::mocks::{NomadMock, VirtualClock};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a Nomad client does to a task's strings: `${NOMAD_META_key}` from the job's meta.
fn interpolate(s: &str, meta: &serde_json::Map<String, Value>) -> String {
    let mut out = s.to_owned();
    for (k, v) in meta {
        out = out.replace(&format!("${{NOMAD_META_{k}}}"), v.as_str().unwrap_or(""));
    }
    assert!(!out.contains("${"), "uninterpolated: {out}");
    out
}

const PLAN_ARGS: &str = "--days 6 --outage-start-day 2 --outage-days 2 --sweep \
                         param.max_number_of_worker_instances=60,210 --sweep \
                         scenario.restart=all,waves --replications 2 --goal restart";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nomad_job_dispatched_in_shards_then_merged_equals_one_machine() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let nomad = NomadMock::spawn(listener, VirtualClock::default(), NomadConfig::default())
        .expect("nomad mock");
    nomad.with_state(|s| {
        s.add_node(
            NodeSpec::worker("plan-worker", "eo1.xlarge", 4, 16_000, "10.0.0.7"),
            Duration::ZERO,
        )
    });
    let url = nomad.url();
    let http = reqwest::Client::new();
    let hcl = std::fs::read_to_string(repo().join("deploy/hrsi-plan.nomad")).expect("job file");
    let resp = http
        .post(format!("{url}/v1/jobs/parse"))
        .json(&json!({ "JobHCL": hcl }))
        .send()
        .await
        .expect("parse");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let job: Value = resp.json().await.expect("job JSON");
    assert_eq!(job["Type"], "batch");
    assert_eq!(job["ParameterizedJob"]["MetaRequired"], json!(["shard"]));
    let resp = http
        .post(format!("{url}/v1/jobs"))
        .json(&json!({ "Job": job }))
        .send()
        .await
        .expect("register");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );

    let shards = 3;
    let mut children = Vec::new();
    for i in 1..=shards {
        let resp = http
            .post(format!("{url}/v1/job/hrsi-plan/dispatch"))
            .json(&json!({ "Meta": {
                "shard": i.to_string(),
                "shards": shards.to_string(),
                "plan_args": PLAN_ARGS,
                "out_dir": out_dir.path().display().to_string(),
            }}))
            .send()
            .await
            .expect("dispatch");
        assert_eq!(
            resp.status(),
            200,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let v: Value = resp.json().await.expect("dispatch JSON");
        children.push(v["DispatchedJobID"].as_str().expect("child id").to_owned());
    }
    nomad.advance(Duration::from_secs(5));

    let bin_dir = Path::new(env!("CARGO_BIN_EXE_hrsi"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for child in &children {
        let job: Value = http
            .get(format!("{url}/v1/job/{child}"))
            .send()
            .await
            .expect("get child")
            .json()
            .await
            .expect("child JSON");
        let allocs: Value = http
            .get(format!("{url}/v1/job/{child}/allocations"))
            .send()
            .await
            .expect("allocations")
            .json()
            .await
            .expect("allocations JSON");
        let alloc = &allocs[0];
        assert_eq!(alloc["NodeName"], "plan-worker", "{allocs}");
        let meta = job["Meta"].as_object().expect("meta").clone();
        let task = &job["TaskGroups"][0]["Tasks"][0];
        assert_eq!(task["Driver"], "raw_exec");
        let command = task["Config"]["command"].as_str().expect("command");
        let args: Vec<String> = task["Config"]["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| interpolate(a.as_str().expect("string arg"), &meta))
            .collect();
        let status = Command::new(command)
            .args(&args)
            .env("PATH", &path)
            .output()
            .expect("the task runs");
        assert!(
            status.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let id = alloc["ID"].as_str().expect("alloc id").to_owned();
        nomad
            .with_state(|s| s.finish_alloc(&id, 0))
            .expect("finish alloc");
        let allocs: Value = http
            .get(format!("{url}/v1/job/{child}/allocations"))
            .send()
            .await
            .expect("allocations")
            .json()
            .await
            .expect("allocations JSON");
        assert_eq!(allocs[0]["ClientStatus"], "complete");
    }

    let mut files: Vec<PathBuf> = std::fs::read_dir(out_dir.path())
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), shards, "{files:?}");
    let hrsi = env!("CARGO_BIN_EXE_hrsi");
    let merged = Command::new(hrsi)
        .args(["plan", "merge"])
        .args(&files)
        .args(["--json", "-"])
        .output()
        .expect("merge");
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let single = Command::new(hrsi)
        .arg("plan")
        .args(PLAN_ARGS.split_whitespace())
        .args(["--json", "-"])
        .output()
        .expect("single");
    assert!(single.status.success());
    assert!(
        merged.stdout == single.stdout,
        "merged shards differ from one machine"
    );
}
