//! The PostgreSQL layer on real servers: clusters, clones, ownership, the schema and the
//! script loader on a realistic schema file.

use std::time::{Duration, Instant};

use hrsi_harness::{
    postgres::{Cluster, OWNERSHIP_MARK, Server, Template},
    schema::{Schema, Script},
};

#[tokio::test(flavor = "current_thread")]
async fn a_cluster_is_ready_fast_and_leaves_nothing_behind() {
    let start = Instant::now();
    let cluster = Cluster::start().unwrap();
    let ready = start.elapsed();
    // Speed is measured by `cargo bench --bench postgres`; here only "it does not hang", with room
    // for a loaded CI machine.
    assert!(
        ready < Duration::from_secs(30),
        "cluster ready in {ready:?}"
    );
    let dir = cluster.dir().to_path_buf();
    assert!(dir.starts_with("/dev/shm"));
    let server = Server::from_cluster(cluster);
    let c = server.connect("postgres").await.unwrap();
    let (tz, user): (String, String) = {
        let r = c
            .query_one(
                "select current_setting('TimeZone'), current_user::text",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    // Timestamps without time zone assume a UTC server (database.md §7.14).
    assert_eq!((tz.as_str(), user.as_str()), ("UTC", "postgres"));
    let pid: i32 = std::fs::read_to_string(dir.join("data/postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    drop(c);
    drop(server);
    assert!(!dir.exists());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "postmaster {pid} survived"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn clones_are_independent_marked_and_fast() {
    let server = Server::ephemeral().unwrap();
    let template = Template::create(&server, &Schema::builtin()).await.unwrap();
    let admin = server.admin().await.unwrap();
    let mut times = Vec::new();
    let mut names = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        names.push(template.clone_db(&admin).await.unwrap());
        times.push(t.elapsed());
    }
    times.sort();
    assert!(
        times[4] < Duration::from_millis(200),
        "clone p50 {:?}",
        times[4]
    );
    let a = server.connect(&names[0]).await.unwrap();
    let b = server.connect(&names[1]).await.unwrap();
    a.batch_execute("update cosims.system_parameters set max_number_of_worker_instances = 3")
        .await
        .unwrap();
    let in_b: i16 = b
        .query_one(
            "select max_number_of_worker_instances from cosims.system_parameters",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_b, 210, "a clone's change leaked into another clone");
    let comment: String = admin
        .client()
        .query_one(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = $1",
            &[&names[0]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(comment, OWNERSHIP_MARK);
    drop((a, b));
    admin.drop_database(&names[0]).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_external_server_only_lets_the_harness_drop_what_it_marked() {
    let owned = Server::ephemeral().unwrap();
    let c = owned.connect("postgres").await.unwrap();
    c.batch_execute("create database precious").await.unwrap();
    drop(c);
    let p = owned.params();
    // Over TCP, as an existing server would be reached.
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", p.port);
    let external = Server::external(&url).unwrap();
    assert!(!external.owns_server());
    let admin = external.admin().await.unwrap();
    let err = admin.drop_database("precious").await.unwrap_err();
    assert!(err.to_string().contains("ownership mark"), "{err}");
    let mine = hrsi_harness::postgres::unique_db_name("x");
    admin.create_database(&mine).await.unwrap();
    admin.drop_database(&mine).await.unwrap();
    // A restore is server-wide: refused on a server the harness does not own.
    let dump = tempfile::NamedTempFile::new().unwrap();
    let err = hrsi_harness::backup::restore(&external, dump.path(), Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_schema_has_the_documented_inventory_and_rules() {
    let server = Server::ephemeral().unwrap();
    let c = server.connect("postgres").await.unwrap();
    Schema::builtin().load(&c).await.unwrap();
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    // database.md §1: 19 tables, 6 views, 40 functions, 3 triggers, 16 explicit indexes.
    assert_eq!(
        count("select count(*) from pg_tables where schemaname = 'cosims'").await,
        19
    );
    assert_eq!(
        count("select count(*) from pg_views where schemaname = 'cosims'").await,
        6
    );
    assert_eq!(
        count("select count(*) from pg_proc where pronamespace = 'cosims'::regnamespace").await,
        40
    );
    assert_eq!(
        count("select count(*) from pg_trigger where not tgisinternal").await,
        3
    );
    assert_eq!(
        count("select count(*) from pg_indexes i where schemaname = 'cosims' and not exists (select 1 from pg_constraint k where k.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)").await,
        16
    );
    // uuid-ossp lands in public, so it survives a schema drop.
    assert_eq!(count("select count(*) from pg_extension e join pg_namespace n on n.oid = e.extnamespace where extname = 'uuid-ossp' and nspname = 'public'").await, 1);
    // One row; the seed wrote history row #1; each update adds one.
    assert_eq!(
        count("select count(*) from cosims.system_parameters_history").await,
        1
    );
    c.batch_execute("update cosims.system_parameters set max_number_of_worker_instances = 3")
        .await
        .unwrap();
    assert_eq!(
        count("select count(*) from cosims.system_parameters_history").await,
        2
    );
    let code = |sql: &'static str| {
        let c = &c;
        async move {
            c.batch_execute(sql)
                .await
                .unwrap_err()
                .as_db_error()
                .unwrap()
                .code()
                .code()
                .to_string()
        }
    };
    assert_eq!(
        code("insert into cosims.system_parameters (id) values (2)").await,
        "23514"
    );
    assert_eq!(
        code("insert into cosims.system_parameters default values").await,
        "23505"
    );
    assert_eq!(
        code(
            "insert into cosims.parent_jobs (name, tile_id, next_log_level) values ('a b', '', 20)"
        )
        .await,
        "P0001"
    );
    assert_eq!(
        code("select * from cosims.job_creation_messages()").await,
        "42804"
    );
    assert_eq!(
        code("select * from cosims.messages_with_body('x')").await,
        "42P01"
    );
    // Unknown status after error_checked passes the trigger, then fails the foreign key.
    c.batch_execute(
        "insert into cosims.parent_jobs (id, name, tile_id, next_log_level) values (1, 'j', '', 20);
         insert into cosims.job_status_changes (fk_parent_job_id, job_status) values (1, 13), (1, 15);",
    )
    .await
    .unwrap();
    assert_eq!(
        code("insert into cosims.job_status_changes (fk_parent_job_id, job_status) values (1, 17)")
            .await,
        "23503"
    );
    // A job's status row for a job that does not exist: the trigger's own message.
    let err = c
        .batch_execute(
            "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values (999, 1)",
        )
        .await
        .unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("Fail to update parent_jobs status with id 999 to status 1")
    );
}

/// A schema file written the way real ones are: an extension, comments of both kinds,
/// dollar-quoted bodies with semicolons, several statements per line, a COPY block and
/// psql meta-commands.
const REALISTIC: &str = r#"-- init_database.sql (shape of a production init script)
\set ON_ERROR_STOP on
CREATE SCHEMA app; CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
/* lookup table; values must match the client enum */
CREATE TABLE app.levels (id smallint NOT NULL UNIQUE, name text NOT NULL);
COPY app.levels (id, name) FROM stdin;
10	DEBUG
20	INFO; not a statement end
\.
CREATE FUNCTION app.f(x int) RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
    -- a semicolon; inside a comment inside a body
    RETURN x + 1; -- 'quote
END
$body$;
CREATE FUNCTION app.g() RETURNS text AS $$ SELECT 'a;b' || E'\';' $$ LANGUAGE sql;
\connect postgres
INSERT INTO app.levels VALUES (30, 'WARNING'); INSERT INTO app.levels VALUES (40, 'ERR;OR')
"#;

#[tokio::test(flavor = "current_thread")]
async fn the_loader_runs_a_realistic_schema_file_and_pinpoints_errors() {
    let server = Server::ephemeral().unwrap();
    let c = server.connect("postgres").await.unwrap();
    let script = Script::parse("init_database.sql", REALISTIC).unwrap();
    let summary = script.run(&c).await.unwrap();
    assert_eq!(summary.copied_rows, 2);
    assert_eq!(summary.notes.len(), 2, "{:?}", summary.notes);
    let n: i64 = c
        .query_one("select count(*) from app.levels", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
    let v: i32 = c.query_one("select app.f(1)", &[]).await.unwrap().get(0);
    assert_eq!(v, 2);
    let g: String = c.query_one("select app.g()", &[]).await.unwrap().get(0);
    assert_eq!(g, "a;b';");

    // Roles are cluster-wide: loading again into another database keeps going past them.
    let roles = Script::parse("roles.sql", "create role app_reader nologin;\n").unwrap();
    roles.run(&c).await.unwrap();
    let again = roles.run(&c).await.unwrap();
    assert_eq!(
        again.notes,
        vec!["roles.sql:1: role already exists, kept as is".to_string()]
    );

    let broken = "create table app.t (\n  a int,\n  b int\n  c int\n);\n";
    let err = Script::parse("patch.sql", broken)
        .unwrap()
        .run(&c)
        .await
        .unwrap_err();
    assert_eq!((err.line, err.code.as_deref()), (4, Some("42601")), "{err}");
}

#[cfg(feature = "docker")]
#[tokio::test(flavor = "current_thread")]
async fn the_docker_backend_works_or_fails_at_once_with_a_clear_message() {
    let start = Instant::now();
    match Server::docker().await {
        Ok(server) => {
            let c = server.connect("postgres").await.unwrap();
            c.batch_execute("select 1").await.unwrap();
        }
        Err(e) => {
            assert!(
                !std::path::Path::new("/var/run/docker.sock").exists(),
                "a daemon runs, yet: {e}"
            );
            assert!(start.elapsed() < Duration::from_secs(5));
            assert!(e.to_string().contains("Docker daemon"), "{e}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_generated_data_is_what_the_trigger_would_have_produced() {
    use hrsi_harness::dataset::{DatasetSpec, generate};
    use hrsi_sim::status::{Status, check_path};

    let server = Server::ephemeral().unwrap();
    let c = server.connect("postgres").await.unwrap();
    Schema::builtin().load(&c).await.unwrap();
    let summary = generate(&c, &DatasetSpec::default()).await.unwrap();
    // parent_jobs.last_status_* agree with the history (the production repair RPC finds
    // nothing to repair).
    let unsynced: i64 = c
        .query_one("select count(*) from cosims.jobs_satus_unsync_jobs()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unsynced, 0);
    // Every job's history is a path the status table allows.
    let rows = c
        .query(
            "select fk_parent_job_id, array_agg(job_status order by id) from cosims.job_status_changes group by 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, summary.parent_jobs);
    for r in rows {
        let path: Vec<Status> = r
            .get::<_, Vec<i16>>(1)
            .into_iter()
            .map(|s| Status::from_id(s as u8).unwrap())
            .collect();
        assert_eq!(check_path(&path), Ok(()), "job {}", r.get::<_, i64>(0));
    }
    // error_raised is set exactly for jobs that went through 13..15.
    let wrong: i64 = c
        .query_one(
            "select count(*) from cosims.parent_jobs p where error_raised is distinct from exists (select 1 from cosims.job_status_changes c where c.fk_parent_job_id = p.id and c.job_status between 13 and 15)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
    // Every job type and the six services are there; parameter changes went through the
    // history trigger (seed + 2 updates).
    for table in [
        "fsc_rlie_jobs",
        "rlies1_jobs",
        "rlies1s2_jobs",
        "sws_wds_jobs",
        "gfsc_jobs",
    ] {
        let n: i64 = c
            .query_one(&format!("select count(*) from cosims.{table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert!(n > 0, "{table}");
    }
    let services: i64 = c
        .query_one("select count(*) from cosims.other_jobs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(services, 6);
    let history: i64 = c
        .query_one("select count(*) from cosims.system_parameters_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(history, 3);
    // New status inserts go through the trigger on top of the generated history.
    let queued: i64 = c
        .query_one(
            "select id from cosims.parent_jobs where last_status_id = 4 limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    c.execute(
        "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, 5)",
        &[&queued],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_stopped_server_keeps_its_data_like_the_cold_volume() {
    let mut server = hrsi_harness::postgres::production_cluster(&Schema::builtin(), None)
        .await
        .unwrap();
    let c = server.connect("postgres").await.unwrap();
    c.batch_execute("update cosims.system_parameters set max_number_of_worker_instances = 3")
        .await
        .unwrap();
    drop(c);
    let cluster = server.cluster_mut().unwrap();
    let pid = cluster.pid().unwrap();
    cluster.stop_server();
    assert!(!cluster.is_running());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    // A clean (fast) shutdown, as a VM stop does: no crash recovery at the next start.
    let control = std::process::Command::new(
        hrsi_harness::postgres::Binaries::find()
            .unwrap()
            .bin_dir()
            .join("pg_controldata"),
    )
    .arg(cluster.data_dir())
    .env("LC_ALL", "C")
    .output()
    .unwrap();
    let control = String::from_utf8_lossy(&control.stdout);
    assert!(
        control.contains("Database cluster state:               shut down\n"),
        "{control}"
    );
    assert!(
        server.connect("postgres").await.is_err(),
        "the database is down"
    );
    server.cluster_mut().unwrap().restart().unwrap();
    // Same address as before the stop.
    let c = server.connect("postgres").await.unwrap();
    let v: i16 = c
        .query_one(
            "select max_number_of_worker_instances from cosims.system_parameters",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 3);
}

#[tokio::test(flavor = "current_thread")]
async fn the_stored_procedures_answer_on_production_shaped_data() {
    use hrsi_harness::dataset::DatasetSpec;
    let server = hrsi_harness::postgres::production_cluster(
        &Schema::builtin(),
        Some(&DatasetSpec::default()),
    )
    .await
    .unwrap();
    let c = server.connect("postgres").await.unwrap();
    let one = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    // Work-queue selectors read the denormalised last status.
    assert_eq!(
        one("select count(*) from cosims.fsc_rlie_jobs_with_last_status(array[12]::smallint[])").await,
        one("select count(*) from cosims.fsc_rlie_jobs f join cosims.parent_jobs p on p.id = f.fk_parent_job_id where p.last_status_id = 12").await
    );
    assert!(
        one("select count(*) from cosims.gfsc_jobs_with_last_status(array[4,5,6,7,8]::smallint[])")
            .await
            > 0
    );
    // Date windows: [start, end) for FSC/RLIE, [start, end] for SWS/WDS.
    let fsc_date: String = c
        .query_one(
            "select measurement_date::text from cosims.fsc_rlie_jobs order by id limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let n: i64 = c
        .query_one(
            "select count(*) from cosims.select_date_fsc_rlie_measurement_date($1::text::timestamp, $1::text::timestamp)",
            &[&fsc_date],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the end bound is exclusive");
    let sws_date: String = c
        .query_one(
            "select measurement_date::text from cosims.sws_wds_jobs order by id limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let n: i64 = c
        .query_one(
            "select count(*) from cosims.select_date_sws_wds_measurement_date($1::text::timestamp, $1::text::timestamp)",
            &[&sws_date],
        )
        .await
        .unwrap()
        .get(0);
    assert!(n >= 1, "the SWS/WDS end bound is inclusive");
    // History and the last-status lookup agree with parent_jobs.
    assert_eq!(
        one("select count(*) from cosims.last_job_status_id() l join cosims.parent_jobs p on p.id = l.parent_job_id where p.last_status_id = l.status").await,
        one("select count(*) from cosims.parent_jobs").await
    );
    assert!(
        one("select count(*) from cosims.job_status_history(array[366200]::bigint[])").await >= 1
    );
    // A job with no status is invisible in the dashboard views (inner joins).
    c.batch_execute(
        "insert into cosims.parent_jobs (name, tile_id, next_log_level) values ('no_status', '32TLR', 20);
         insert into cosims.rlies1_jobs (fk_parent_job_id, s1grd_id) select max(id), 'S1_NO_STATUS' from cosims.parent_jobs;",
    )
    .await
    .unwrap();
    assert_eq!(
        one("select count(*) from cosims.rlies1_jobs_view where s1grd_id = 'S1_NO_STATUS'").await,
        0
    );
    // empty_database keeps sequences, parameters and lookups.
    c.batch_execute("select cosims.empty_database()")
        .await
        .unwrap();
    assert_eq!(one("select count(*) from cosims.parent_jobs").await, 0);
    assert_eq!(
        one("select count(*) from cosims.system_parameters").await,
        1
    );
    let next: i64 = one("select nextval(pg_get_serial_sequence('cosims.parent_jobs', 'id'))").await;
    assert!(next > 366_200);
}
