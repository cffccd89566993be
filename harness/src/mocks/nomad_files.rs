//! The system's twelve Nomad job files, rendered as `nomad_server/src/envsubst/*.nomad` would be
//! after `envsubst` on tf-tete (orchestration.md §4.2-4.3, infra.md §2.4). They are the
//! "files" a full restart re-registers, so a change made only through the API (the web UI)
//! is lost at the next restart while a change to these files persists.
//!
//! The env templates hold placeholder secrets on purpose: tests check they never reach a log.

/// Service jobs: (job ID, file, image component, cpu MHz, memory MB). Worker-pool-management's
/// CPU is a parameter: 1000 in the public code, 1500 in the runbook's situation.
pub const SERVICE_JOBS: [(&str, &str, &str, u64, u64); 6] = [
    (
        "job-creation",
        "job_creation.nomad",
        "job_creation",
        2500,
        1500,
    ),
    (
        "job-configuration",
        "job_configuration.nomad",
        "job_configuration",
        2500,
        1500,
    ),
    (
        "job-execution",
        "job_execution.nomad",
        "job_execution",
        1000,
        500,
    ),
    (
        "job-publication",
        "job_publication.nomad",
        "job_publication",
        500,
        500,
    ),
    ("monitor", "monitor.nomad", "monitor", 1500, 500),
    (
        "worker-pool-management",
        "worker_pool_management.nomad",
        "worker_pool",
        1000,
        1000,
    ),
];

/// Processing jobs, in tf-tete's registration order: (job ID, file, flavor, script, run-worker MB).
pub const PROCESSING_JOBS: [(&str, &str, &str, &str, u64); 6] = [
    (
        "si-processing",
        "si_processing.nomad",
        "hm.medium",
        "run.sh",
        10000,
    ),
    (
        "test-job-processing",
        "test_job_processing.nomad",
        "eo1.xsmall",
        "run_test_job.sh",
        500,
    ),
    (
        "rlies1-processing",
        "rlies1_processing.nomad",
        "hm.large",
        "run_rlies1.sh",
        25000,
    ),
    (
        "rlies1s2-processing",
        "rlies1s2_processing.nomad",
        "hm.medium",
        "run_rlies1s2.sh",
        10000,
    ),
    (
        "gfsc-processing",
        "gfsc_processing.nomad",
        "eo2.medium",
        "run_gfsc.sh",
        3000,
    ),
    (
        "ws-processing",
        "ws_processing.nomad",
        "hm.xlarge",
        "run_sws_wds.sh",
        60000,
    ),
];

/// A placeholder secret written into every rendered file's secrets template.
pub const PLACEHOLDER_SECRET: &str = "placeholder-secret-do-not-log";

/// The image tag the default files carry.
pub const DEFAULT_TAG: &str = "git-xxxxxxxx";

/// Renders one service job file.
pub fn service_job(id: &str, component: &str, cpu: u64, memory: u64, tag: &str) -> String {
    format!(
        r#"job "{id}" {{
  datacenters = ["dc1"]
  type = "service"

  constraint {{
    attribute = "${{node.class}}"
    value     = "orchestrator"
  }}

  task "{id}" {{
    driver = "docker"

    config {{
      image = "registry-ext.magellium.com:443/cosims/cosims/{component}:{tag}"
      auth {{
        username = "gitlab+deploy-token-4"
        password = "{secret}"
      }}
    }}

    logs {{
      max_files     = 29
      max_file_size = 10
    }}

    template {{
      data = <<EOH
CSI_ROOT_DIR=/opt/csi
NOMAD_ADDR=http://192.168.0.11:4646
EOH
      destination = "local/csi_config.env"
      env         = true
    }}

    template {{
      data = <<EOH
CSI_SCIHUB_ACCOUNT_PASSWORD={secret}
EOH
      destination = "${{NOMAD_SECRETS_DIR}}/csi_secrets.env"
      env         = true
    }}

    resources {{
      cpu    = {cpu}
      memory = {memory}
    }}
  }}
}}
"#,
        secret = PLACEHOLDER_SECRET
    )
}

/// Renders one parameterized processing job file (meta_required written twice, as upstream).
pub fn processing_job(id: &str, flavor: &str, script: &str, memory: u64) -> String {
    format!(
        r#"job "{id}" {{
  datacenters = ["dc1"]
  type = "batch"

  parameterized {{
    meta_required = ["job_id"]
    meta_required = ["job_id", "job_unique_id"]
  }}

  constraint {{
    attribute = "${{node.class}}"
    value     = "worker"
  }}

  constraint {{
    attribute = "${{attr.platform.aws.instance-type}}"
    value     = "{flavor}"
  }}

  group "run-and-log" {{
    task "run-worker" {{
      driver = "raw_exec"
      leader = true
      config {{
        command = "/opt/csi/worker/components/worker/src/{script}"
        args    = ["${{NOMAD_META_JOB_ID}}"]
      }}
      template {{
        data = <<EOH
CSI_SCIHUB_ACCOUNT_PASSWORD={secret}
EOH
        destination = "${{NOMAD_SECRETS_DIR}}/csi_secrets.env"
        env         = true
      }}
      resources {{
        cpu    = 50
        memory = {memory}
      }}
    }}

    task "upload-nomad-alloc-dir" {{
      driver       = "raw_exec"
      kill_timeout = "100s"
      config {{
        command = "bash"
        args    = ["-c", "while true; do sleep 1; done"]
      }}
    }}
  }}
}}
"#,
        secret = PLACEHOLDER_SECRET
    )
}

/// The twelve files in tf-tete's registration order, as (file name, contents).
pub fn default_job_files(worker_pool_management_cpu: u64) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = SERVICE_JOBS
        .iter()
        .map(|(id, file, component, cpu, mem)| {
            let cpu = if *id == "worker-pool-management" {
                worker_pool_management_cpu
            } else {
                *cpu
            };
            (
                file.to_string(),
                service_job(id, component, cpu, *mem, DEFAULT_TAG),
            )
        })
        .collect();
    files.extend(
        PROCESSING_JOBS
            .iter()
            .map(|(id, file, flavor, script, mem)| {
                (file.to_string(), processing_job(id, flavor, script, *mem))
            }),
    );
    files
}
