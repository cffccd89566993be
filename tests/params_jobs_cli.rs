//! `hrsi params get/set` and `hrsi jobs patch` as an operator runs them, against a real
//! cluster holding the 1000-job data set, through the API and through a database URL.

mod common;

use std::process::{Command, Output};

use common::text;
use hrsi_harness::{
    api::{Api, ApiConfig},
    dataset::DatasetSpec,
    postgres::{Server, production_cluster},
    schema::Schema,
};

struct World {
    server: Server,
    api: Api,
}

impl World {
    async fn start() -> World {
        let server = production_cluster(&Schema::builtin(), Some(&DatasetSpec::default()))
            .await
            .unwrap();
        let api = Api::start(&server, "postgres", ApiConfig::default())
            .await
            .unwrap();
        World { server, api }
    }

    fn db_url(&self) -> String {
        let p = self.server.params();
        format!("postgres://postgres@127.0.0.1:{}/postgres", p.port)
    }

    async fn sql(&self, sql: &str) -> i64 {
        let c = self.server.connect("postgres").await.unwrap();
        c.query_one(sql, &[]).await.unwrap().get(0)
    }
}

/// Runs `hrsi ARGS…` with the API in the environment (as after `eval "$(hrsi up)"`), stdin
/// not a terminal.
async fn hrsi(env_api: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hrsi"));
    cmd.args(args)
        .env_remove("COSIMS_DB_HTTP_API_BASE_URL")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null());
    if let Some(a) = env_api {
        cmd.env("COSIMS_DB_HTTP_API_BASE_URL", a);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_set_validates_confirms_writes_history_and_reads_back() {
    let w = World::start().await;
    let api = w.api.url();
    let history = w
        .sql("select count(*) from cosims.system_parameters_history")
        .await;

    // The runbook's single-quoted list: refused with the fix, nothing written.
    let out = hrsi(
        Some(&api),
        &[
            "params",
            "set",
            "job_types_list=['fsc_rlie_job', 'rlies1_job']",
            "--yes",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(r#"job_types_list='["fsc_rlie_job", "rlies1_job"]'"#),
        "{}",
        text(&out.stderr)
    );
    // A near-miss name.
    let out = hrsi(
        Some(&api),
        &["params", "set", "max_number_of_worker_instance=3"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean `max_number_of_worker_instances`"));

    // Dry run: the UPDATE, nothing changed.
    let out = hrsi(
        Some(&api),
        &[
            "params",
            "set",
            "max_number_of_worker_instances=3",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(
        "update\n    cosims.system_parameters\nset\n    max_number_of_worker_instances = 3;\n"
    ));
    assert!(text(&out.stdout).contains("PATCH http://"));
    // Not interactive without --yes: refused.
    let out = hrsi(
        Some(&api),
        &["params", "set", "max_number_of_worker_instances=3"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--yes"));
    assert_eq!(
        w.sql("select count(*) from cosims.system_parameters_history")
            .await,
        history,
        "a refused or dry-run set wrote history"
    );

    // Through the API: two values in one change, one history row.
    let out = hrsi(
        Some(&api),
        &[
            "params",
            "set",
            "max_number_of_worker_instances=3",
            r#"job_types_list=["fsc_rlie_job", "rlies1_job"]"#,
            "--yes",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("changed 2 parameter(s); history row"));
    assert!(text(&out.stderr).contains("max_number_of_worker_instances: "));
    assert_eq!(
        w.sql("select count(*) from cosims.system_parameters_history")
            .await,
        history + 1
    );
    let out = hrsi(Some(&api), &["params", "get", "job_types_list"]).await;
    assert_eq!(text(&out.stdout), "[\"fsc_rlie_job\", \"rlies1_job\"]\n");
    // Through a database URL, NULL included; the API sees it.
    let url = w.db_url();
    let out = hrsi(
        None,
        &[
            "params",
            "set",
            "gfsc_daily_jobs_creation_start_date=2026-10-20T00:00:00",
            "--database-url",
            &url,
            "--yes",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = hrsi(
        Some(&api),
        &["params", "get", "gfsc_daily_jobs_creation_start_date"],
    )
    .await;
    assert_eq!(text(&out.stdout), "2026-10-20T00:00:00\n");
    let out = hrsi(
        None,
        &[
            "params",
            "set",
            "gfsc_daily_jobs_creation_start_date=null",
            "--database-url",
            &url,
            "--yes",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = hrsi(Some(&api), &["params", "get"]).await;
    let all = text(&out.stdout);
    assert!(all.contains("max_number_of_worker_instances"), "{all}");
    assert!(
        all.lines()
            .any(|l| l.starts_with("max_number_of_worker_instances")
                && l.contains(" 3   (default 210)")),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| l.starts_with("gfsc_daily_jobs_creation_start_date")
                && l.trim_end().ends_with("NULL")),
        "{all}"
    );
    assert_eq!(
        w.sql("select count(*) from cosims.system_parameters_history")
            .await,
        history + 3
    );
    // Unreachable API: exit 3, clear message.
    let out = hrsi(Some("http://127.0.0.1:9"), &["params", "get"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("unreachable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_patch_runs_the_stuck_job_procedure_paged_and_reports_refusals() {
    let w = World::start().await;
    let api = w.api.url();
    let stuck = w
        .sql("select count(*) from cosims.fsc_rlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id where p.last_status_id = 14")
        .await;
    assert!(stuck >= 3, "the data set has {stuck} stuck FSC/RLIE jobs");

    // Dry run with a tiny page size: every stuck job is found, nothing changes.
    let out = hrsi(
        Some(&api),
        &[
            "jobs",
            "patch",
            "--type",
            "fsc_rlie",
            "--status",
            "external_error",
            "--post",
            "error_checked,ready",
            "--dry-run",
            "--page-size",
            "2",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert_eq!(
        report.lines().filter(|l| l.starts_with("job ")).count() as i64,
        stuck,
        "{report}"
    );
    assert!(report.contains("external_error -> error_checked -> ready"));
    assert!(report.contains(&format!(
        "dry run: {stuck} job(s) would change, 0 would be refused"
    )));
    // Without --yes and not on a terminal: refused, nothing changed.
    let out = hrsi(
        Some(&api),
        &[
            "jobs",
            "patch",
            "--type",
            "fsc_rlie",
            "--status",
            "14",
            "--post",
            "error_checked,ready",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        w.sql("select count(*) from cosims.parent_jobs where last_status_id = 14 and id in (select fk_parent_job_id from cosims.fsc_rlie_jobs)").await,
        stuck
    );

    // The real run, paged.
    let out = hrsi(
        Some(&api),
        &[
            "jobs",
            "patch",
            "--type",
            "fsc_rlie_job",
            "--status",
            "external_error",
            "--post",
            "error_checked,ready",
            "--yes",
            "--page-size",
            "2",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!(
        "changed {stuck} job(s) ({stuck} fully), 0 refused"
    )));
    assert_eq!(
        w.sql("select count(*) from cosims.parent_jobs where last_status_id = 14 and id in (select fk_parent_job_id from cosims.fsc_rlie_jobs)").await,
        0
    );

    // Refusals: `ready` on done jobs, selected by a time window and ids, through the database.
    let (id, parent): (i64, i64) = {
        let c = w.server.connect("postgres").await.unwrap();
        let r = c
            .query_one(
                "select c.id, c.fk_parent_job_id from cosims.fsc_rlie_jobs c join cosims.parent_jobs p on p.id = c.fk_parent_job_id where p.last_status_id = 12 order by c.id limit 1",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    let ids = id.to_string();
    let out = hrsi(
        None,
        &[
            "jobs",
            "patch",
            "--type",
            "fsc_rlie",
            "--date-column",
            "measurement_date",
            "--from",
            "2000-01-01",
            "--ids",
            &ids,
            "--post",
            "ready",
            "--database-url",
            &w.db_url(),
            "--yes",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains(&format!("job {id} (parent {parent}): done: refused done -> ready: Error : invalid job status transition 12 to 3! (P0001); the matrix allows done -> internal_error, external_error only (not ready)")),
        "{report}"
    );
    assert!(report.contains("changed 0 job(s) (0 fully), 1 refused, of 1 selected"));

    // Bad input.
    for (args, needle) in [
        (
            vec!["--type", "fscrlie", "--status", "14", "--post", "ready"],
            "did you mean `fsc_rlie`",
        ),
        (
            vec![
                "--type",
                "gfsc",
                "--status",
                "error_check",
                "--post",
                "ready",
            ],
            "did you mean `error_checked`",
        ),
        (vec!["--type", "gfsc", "--post", "ready"], "no selection"),
        (
            vec![
                "--type",
                "gfsc",
                "--date-column",
                "measurement_date;drop",
                "--from",
                "2020-01-01",
                "--post",
                "ready",
            ],
            "not a column name",
        ),
        (
            vec![
                "--type",
                "gfsc",
                "--date-column",
                "product_date",
                "--from",
                "yesterday",
                "--post",
                "ready",
            ],
            "ISO-8601",
        ),
    ] {
        let mut full = vec!["jobs", "patch"];
        full.extend(args);
        let out = hrsi(Some(&api), &full).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{full:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{full:?}: {}",
            text(&out.stderr)
        );
    }
    // An unknown date column: the API's 42703, reported.
    let out = hrsi(
        Some(&api),
        &[
            "jobs",
            "patch",
            "--type",
            "gfsc",
            "--date-column",
            "measurment_date",
            "--from",
            "2020-01-01",
            "--post",
            "ready",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("column gfsc_jobs.measurment_date does not exist"),
        "{}",
        text(&out.stderr)
    );
}
