//! Unit tests of the job definitions and the HCL parser.

use super::*;

const SERVICE: &str = r#"
# Orchestrator service, as in build/instance_init_packages/nomad_server/src/envsubst/
job "monitor" {
  datacenters = ["dc1"]
  type = "service"
  constraint {
attribute = "${node.class}"
value     = "orchestrator"
  }
  task "monitor" {
driver = "docker"
config {
  image = "registry-ext.magellium.com:443/cosims/cosims/monitor:git-xxxxxxxx"
  auth {
    username = "gitlab+deploy-token-4"
    password = "s3cret"
  }
}
logs {
  max_files     = 29
  max_file_size = 10
}
template {
  data = <<EOH
CSI_SCIHUB_ACCOUNT_PASSWORD=hunter2
EOH
  destination = "${NOMAD_SECRETS_DIR}/csi_secrets.env"
  env = true
}
resources {
  cpu    = 1500 // MHz
  memory = 500
}
  }
}
"#;

#[test]
fn a_task_under_the_job_becomes_its_own_group() {
    let job = parse_hcl(SERVICE).unwrap();
    assert_eq!(job.id, "monitor");
    assert_eq!(job.job_type, "service");
    assert_eq!(job.priority, 50);
    assert_eq!(job.task_groups.len(), 1);
    let g = &job.task_groups[0];
    assert_eq!(
        (g.name.as_str(), g.count, g.cpu(), g.memory_mb()),
        ("monitor", Some(1), 1500, 500)
    );
    assert_eq!(
        job.constraints[0],
        Constraint {
            l_target: "${node.class}".into(),
            r_target: "orchestrator".into(),
            operand: "=".into()
        }
    );
    assert_eq!(
        job.docker_image(),
        Some("registry-ext.magellium.com:443/cosims/cosims/monitor:git-xxxxxxxx")
    );
    assert_eq!(
        g.tasks[0].templates[0].embedded_tmpl,
        "CSI_SCIHUB_ACCOUNT_PASSWORD=hunter2\n"
    );
    assert!(g.tasks[0].templates[0].envvars);
}

#[test]
fn a_parameterized_batch_job_keeps_its_meta_and_default_sidecar_resources() {
    let src = r#"
job "si-processing" {
  datacenters = ["dc1"]
  type = "batch"
  parameterized {
meta_required = ["job_id", "job_unique_id"]
meta_required = ["job_id", "job_unique_id"]
  }
  group "run-and-log" {
task "run-worker" {
  driver = "raw_exec"
  leader = true
  config { command = "run.sh"  args = ["${NOMAD_META_JOB_ID}"] }
  resources { cpu = 50  memory = 10000 }
}
task "upload-nomad-alloc-dir" {
  driver = "raw_exec"
  kill_timeout = "100s"
  config { command = "bash" }
}
  }
}"#;
    let job = parse_hcl(src).unwrap();
    let p = job.parameterized_job.as_ref().unwrap();
    assert_eq!(p.meta_required, ["job_id", "job_unique_id"]);
    let g = &job.task_groups[0];
    // 50 + Nomad's default 100 MHz for the sidecar; 10000 + 300 MB (orchestration.md §4.3).
    assert_eq!((g.cpu(), g.memory_mb()), (150, 10300));
    assert_eq!(g.tasks[1].kill_timeout, 100_000_000_000);
}

#[test]
fn stanzas_the_model_does_not_use_are_kept_as_api_fields() {
    let job = parse_hcl(
        r#"
job "svc" {
  datacenters = ["dc1"]
  update { stagger = "30s" max_parallel = 1 }
  group "g" {
restart { attempts = 3 interval = "24h" delay = "15s" mode = "fail" }
reschedule { attempts = 1 delay = "5s" unlimited = false }
network { port "http" {} }
service { name = "svc" port = "http" }
task "t" {
  driver = "raw_exec"
  logs { max_files = 29 max_file_size = 10 }
}
  }
}
"#,
    )
    .unwrap();
    assert_eq!(job.extra["Update"]["Stagger"], 30_000_000_000i64);
    assert_eq!(job.extra["Update"]["MaxParallel"], 1);
    let g = &job.task_groups[0];
    assert_eq!(g.extra["RestartPolicy"]["Attempts"], 3);
    assert_eq!(g.extra["RestartPolicy"]["Interval"], 86_400_000_000_000i64);
    assert_eq!(g.extra["RestartPolicy"]["Delay"], 15_000_000_000i64);
    assert_eq!(g.extra["RestartPolicy"]["Mode"], "fail");
    assert_eq!(g.extra["ReschedulePolicy"]["Delay"], 5_000_000_000i64);
    assert_eq!(g.extra["Services"][0]["Name"], "svc");
    assert_eq!(g.extra["Services"][0]["PortLabel"], "http");
    assert_eq!(g.extra["Networks"].as_array().unwrap().len(), 1);
    let t = &g.tasks[0];
    assert_eq!(t.extra["LogConfig"]["MaxFiles"], 29);
    assert_eq!(t.extra["LogConfig"]["MaxFileSizeMB"], 10);
    // And they survive the API round trip (GET then POST back).
    let back: Job = serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap();
    assert_eq!(back, job);
}

#[test]
fn errors_name_the_line_and_the_problem() {
    let e = parse_hcl("job \"x\" {\n  datacenters = [\"dc1\"]\n  typo = 3\n}\n").unwrap_err();
    assert_eq!(e.to_string(), "line 1: invalid key in job \"x\": typo");
    let e = parse_hcl("job \"x\" {\n  type = \"service\"\n").unwrap_err();
    assert!(e.message.contains("missing `}`"), "{e}");
    let e = parse_hcl("job \"x\" {\n  name = \"unterminated\n}").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        parse_hcl("")
            .unwrap_err()
            .message
            .contains("exactly one job")
    );
}

#[test]
fn validation_lists_every_problem() {
    let job = Job {
        id: "a b".into(),
        job_type: "nope".into(),
        ..Job::default()
    };
    let e = job.validate().unwrap_err();
    assert!(e.starts_with("4 errors occurred:"), "{e}");
    assert!(
        e.contains("Job ID contains a space")
            && e.contains("Missing job datacenters")
            && e.contains("Invalid job type")
    );
}

#[test]
fn api_json_with_nulls_parses() {
    let v = serde_json::json!({"ID": "x", "Datacenters": ["dc1"], "Constraints": null, "Meta": null,
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker", "Config": null, "Resources": {"CPU": 1000, "MemoryMB": null}}]}]});
    let mut job: Job = serde_json::from_value(v).unwrap();
    job.canonicalize();
    assert_eq!(job.task_groups[0].cpu(), 1000);
    assert_eq!(job.task_groups[0].memory_mb(), 300);
    assert!(job.validate().is_ok());
}
