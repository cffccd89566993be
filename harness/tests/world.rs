//! The world in PostgreSQL, on real throwaway clusters: a snapshot exported and imported back is
//! the same world; an incremental export writes only what changed; a hand patch made with SQL
//! through the real trigger is seen by the import; what the trigger would refuse is refused
//! before anything is written; the template holds the history and its clones read it back; a
//! world exported, imported into a fresh world and continued gives the report of the world
//! continued in memory.

use std::sync::Arc;

use hrsi_harness::{
    postgres::{Server, Template},
    schema::Schema,
    world::{self, Error},
};
use hrsi_sim::{
    Config, Restart, World,
    config::outage_steps,
    snapshot::{BuildOptions, Change, Detail, Snapshot, SnapshotError},
    status::Status,
    time::{DAY, HOUR},
};
use tokio_postgres::Client;

/// A small world: one warm-start day and `horizon` of production.
fn config(horizon: i64) -> Config {
    let mut c = Config::new(3);
    c.calibration.warm_start_days = 1.0;
    c.horizon = horizon;
    c
}

fn record(horizon: i64) -> Snapshot {
    Snapshot::record(&config(horizon), &BuildOptions::default()).unwrap()
}

struct Db {
    server: Server,
    template: Template,
}

impl Db {
    async fn start() -> Db {
        let server = Server::ephemeral().unwrap();
        let template = Template::create(&server, &Schema::builtin()).await.unwrap();
        Db { server, template }
    }

    async fn fresh(&self) -> Client {
        let admin = self.server.admin().await.unwrap();
        let name = self.template.clone_db(&admin).await.unwrap();
        self.server.connect(&name).await.unwrap()
    }
}

async fn count(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// The trigger is on (enabled for origin sessions) after every export.
async fn trigger_enabled(c: &Client) -> bool {
    let state: i8 = c
        .query_one(
            "select tgenabled::\"char\" from pg_trigger where tgname = 'check_status_change'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    state == b'O' as i8
}

#[tokio::test(flavor = "current_thread")]
async fn export_then_import_gives_the_same_world_and_leaves_the_trigger_on() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    let mut s = record(DAY);
    // Hostile text survives the COPY escaping.
    Arc::make_mut(&mut s.jobs[7]).name = "quote'back\\slash\"x".into();
    Arc::make_mut(&mut s.jobs[8]).nomad_id = Some("tab\tnew\nline".into());
    let indexes = "select string_agg(indexdef, '; ' order by indexname) from pg_indexes where schemaname = 'cosims'";
    let before: String = c.query_one(indexes, &[]).await.unwrap().get(0);
    let sum = world::export(&mut c, &s).await.unwrap();
    let after: String = c.query_one(indexes, &[]).await.unwrap().get(0);
    assert_eq!(after, before, "the secondary indexes are built again");
    assert_eq!(sum.jobs_inserted as usize, s.jobs.len());
    assert_eq!(sum.status_changes as usize, s.status_changes());
    assert!(trigger_enabled(&c).await);
    // The denormalised columns agree with the history, by the schema's own check.
    assert_eq!(
        count(&c, "select count(*) from cosims.jobs_satus_unsync_jobs()").await,
        0
    );
    let back = world::import(&mut c, s.epoch, s.at).await.unwrap();
    assert!(
        back.drift.is_empty(),
        "{:?}",
        &back.drift[..3.min(back.drift.len())]
    );
    assert_eq!(back.problem, None);
    assert!(back.ignored_params.is_empty(), "{:?}", back.ignored_params);
    assert_eq!(back.snapshot.resume, s.resume, "the services' own queries");
    assert_eq!(back.snapshot, s);
    // The trigger is really on again: an illegal status is refused by PostgreSQL.
    let done = s
        .jobs
        .iter()
        .find(|j| j.status() == Some(Status::Done))
        .unwrap();
    let e = c
        .execute(
            "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, 3)",
            &[&done.id],
        )
        .await
        .unwrap_err();
    assert!(
        e.as_db_error()
            .unwrap()
            .message()
            .contains("invalid job status transition 12 to 3"),
        "{e}"
    );
    // A second whole export into the same database is refused.
    assert!(matches!(
        world::export(&mut c, &s).await,
        Err(Error::NotEmpty { .. })
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn an_incremental_export_writes_only_what_changed() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    let a = record(DAY);
    let b = record(DAY + HOUR);
    world::export(&mut c, &a).await.unwrap();
    let before = count(&c, "select count(*) from cosims.job_status_changes").await;
    let delta = b.delta_since(&a).unwrap();
    let sum = world::export_delta(&mut c, &a, &b).await.unwrap();
    assert_eq!(sum.jobs_inserted as usize, delta.new_jobs.len());
    assert_eq!(sum.jobs_updated as usize, delta.changed.len());
    assert_eq!(sum.status_changes as usize, delta.status_changes());
    assert_eq!(
        count(&c, "select count(*) from cosims.job_status_changes").await,
        before + delta.status_changes() as i64
    );
    assert!(trigger_enabled(&c).await);
    assert_eq!(
        count(&c, "select count(*) from cosims.jobs_satus_unsync_jobs()").await,
        0
    );
    let back = world::import(&mut c, b.epoch, b.at).await.unwrap();
    assert_eq!(back.snapshot, b);
    // Nothing changed: nothing written.
    assert_eq!(
        world::export_delta(&mut c, &b, &b).await.unwrap(),
        world::ExportSummary::default()
    );
    // A stale base (the database moved on to b) is refused.
    let e = world::export_delta(&mut c, &a, &b).await.unwrap_err();
    assert!(matches!(e, Error::Moved { .. }), "{e}");
    assert!(e.to_string().contains("import it first"), "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_hand_patch_through_the_real_trigger_is_seen_by_the_import() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    // Small: each status insert through the real trigger scans the whole history.
    let s = record(DAY / 4);
    world::export(&mut c, &s).await.unwrap();
    // The operator's patch, as the runbook does it: 50 finished FSC/RLIE jobs put in
    // internal_error, checked, and made ready again, one statement at a time.
    let ids: Vec<i64> = s
        .jobs
        .iter()
        .filter(|j| matches!(j.detail, Detail::FscRlie(_)) && j.status() == Some(Status::Done))
        .map(|j| j.id)
        .take(50)
        .collect();
    assert_eq!(ids.len(), 50);
    for status in [13i16, 15, 3] {
        c.execute(
            "insert into cosims.job_status_changes (fk_parent_job_id, job_status, error_subtype)
             select id, $2::smallint, case when $2::smallint = 13 then 'Manual' end from unnest($1::bigint[]) id",
            &[&ids, &status],
        )
        .await
        .unwrap();
    }
    let back = world::import(&mut c, s.epoch, s.at).await.unwrap();
    assert_eq!(back.problem, None);
    assert!(back.drift.is_empty());
    for j in &back.snapshot.jobs {
        let was = s.job(j.id).unwrap();
        if ids.contains(&j.id) {
            assert_eq!(j.status(), Some(Status::Ready), "job {}", j.id);
            assert_eq!(j.history.len(), was.history.len() + 3);
            assert_eq!(j.history[..was.history.len()], was.history[..]);
            assert!(j.error_raised());
        } else {
            assert_eq!(**j, *was);
        }
    }
    // The world carries on from the database: the patched jobs are dispatched again, and the
    // incremental export appends after the operator's rows.
    let mut next = back.snapshot.clone();
    for j in next.jobs.iter_mut().filter(|j| ids.contains(&j.id)) {
        Arc::make_mut(j).history.push(Change {
            status: Status::Queued,
            at: s.at + HOUR,
            error_subtype: None,
        });
    }
    let sum = world::export_delta(&mut c, &back.snapshot, &next)
        .await
        .unwrap();
    assert_eq!((sum.jobs_updated, sum.status_changes), (50, 50));
    assert_eq!(
        count(
            &c,
            "select count(*) from cosims.parent_jobs where last_status_id = 4 and error_raised"
        )
        .await,
        50
    );
    assert_eq!(
        count(&c, "select count(*) from cosims.jobs_satus_unsync_jobs()").await,
        0
    );
    // Exporting from the stale pre-patch world is refused: the database moved.
    let mut stale = s.clone();
    stale.at += HOUR;
    let k = stale.jobs.iter().position(|j| j.id == ids[0]).unwrap();
    Arc::make_mut(&mut stale.jobs[k]).history.push(Change {
        status: Status::InternalError,
        at: s.at + HOUR,
        error_subtype: None,
    });
    assert!(matches!(
        world::export_delta(&mut c, &s, &stale).await,
        Err(Error::Moved { .. })
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn an_illegal_transition_is_refused_before_anything_is_written() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    let mut s = record(DAY / 2);
    let k = s
        .jobs
        .iter()
        .position(|j| j.status() == Some(Status::Queued))
        .unwrap();
    let at = s.jobs[k].last_change().unwrap();
    // queued → ready: the trigger refuses it.
    Arc::make_mut(&mut s.jobs[k]).history.push(Change {
        status: Status::Ready,
        at,
        error_subtype: None,
    });
    let e = world::export(&mut c, &s).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Invalid(SnapshotError::IllegalTransition {
                from: Some(Status::Queued),
                to: Status::Ready,
                ..
            })
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("nothing was written") && text.contains("queued → ready"),
        "{text}"
    );
    assert_eq!(
        count(&c, "select count(*) from cosims.parent_jobs").await,
        0
    );
    assert_eq!(
        count(&c, "select count(*) from cosims.job_status_changes").await,
        0
    );
    assert!(trigger_enabled(&c).await);
    // The same in an incremental export, and a failure inside the transaction (a job the
    // operator inserted by hand under an id the world wants) rolls everything back.
    Arc::make_mut(&mut s.jobs[k]).history.pop();
    world::export(&mut c, &s).await.unwrap();
    let statuses = count(&c, "select count(*) from cosims.job_status_changes").await;
    let mut bad = s.clone();
    Arc::make_mut(&mut bad.jobs[k]).history.push(Change {
        status: Status::Ready,
        at,
        error_subtype: None,
    });
    assert!(matches!(
        world::export_delta(&mut c, &s, &bad).await,
        Err(Error::Invalid(SnapshotError::IllegalTransition { .. }))
    ));
    let new_id = s.jobs.last().unwrap().id + 1;
    c.execute(
        "insert into cosims.parent_jobs (id, name, tile_id, next_log_level) values ($1, 'by_hand', '', 20)",
        &[&new_id],
    )
    .await
    .unwrap();
    let mut more = s.clone();
    let mut extra = (*s.jobs[k]).clone();
    extra.id = new_id;
    extra.detail = Detail::Unclassified;
    more.jobs.push(Arc::new(extra));
    Arc::make_mut(&mut more.jobs[k]).history.push(Change {
        status: Status::Started,
        at,
        error_subtype: None,
    });
    let e = world::export_delta(&mut c, &s, &more).await.unwrap_err();
    assert!(
        matches!(e, Error::Moved { job, .. } if job == new_id),
        "{e}"
    );
    assert_eq!(
        count(&c, "select count(*) from cosims.job_status_changes").await,
        statuses
    );
    assert!(trigger_enabled(&c).await);
}

#[tokio::test(flavor = "current_thread")]
async fn the_history_template_is_cloned_with_its_history() {
    let server = Server::ephemeral().unwrap();
    let cfg = config(DAY / 2);
    let t = world::history_template(&server, &Schema::builtin(), &cfg)
        .await
        .unwrap();
    let admin = server.admin().await.unwrap();
    let a = t.template.clone_db(&admin).await.unwrap();
    let b = t.template.clone_db(&admin).await.unwrap();
    let mut ca = server.connect(&a).await.unwrap();
    let back = world::import(&mut ca, t.snapshot.epoch, t.snapshot.at)
        .await
        .unwrap();
    assert_eq!(back.snapshot, t.snapshot);
    // Clones are independent.
    ca.batch_execute("delete from cosims.parent_jobs")
        .await
        .unwrap();
    let cb = server.connect(&b).await.unwrap();
    assert_eq!(
        count(&cb, "select count(*) from cosims.parent_jobs").await as usize,
        t.snapshot.jobs.len()
    );
    // Bounded: an absurd history is refused before anything runs.
    let mut huge = cfg.clone();
    huge.horizon = 10_000 * DAY;
    assert!(matches!(
        world::history_template(&server, &Schema::builtin(), &huge).await,
        Err(Error::TooManyDays { .. })
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn a_table_with_a_trigger_the_load_would_skip_is_refused() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    c.batch_execute(
        "create function cosims.audit() returns trigger language plpgsql as $$ begin return new; end $$;
         create trigger audit before insert on cosims.parent_jobs for each row execute function cosims.audit();",
    )
    .await
    .unwrap();
    let e = world::export(&mut c, &record(DAY / 4)).await.unwrap_err();
    assert!(
        matches!(&e, Error::UnknownTrigger { table, name } if table == "parent_jobs" && name == "audit"),
        "{e}"
    );
    assert_eq!(
        count(&c, "select count(*) from cosims.parent_jobs").await,
        0
    );
}

/// The round trip: export at T, import into a fresh world, continue to T + 5 d.
#[tokio::test(flavor = "current_thread")]
async fn a_world_exported_and_imported_into_a_fresh_world_continues_as_in_memory() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    let opts = BuildOptions::default();
    let mut cfg = config(7 * DAY);
    cfg.keep_jobs = true;
    cfg.keep_history = true;
    // A day down after T: the continuation has a restart, its catch-up and a recovery.
    cfg.steps = outage_steps(3 * DAY, DAY, Restart::All, 0);
    let t = 2 * DAY;
    let mut memory = World::new(cfg.clone(), None);
    memory.run_until(t);
    let exported = memory.snapshot(&opts).unwrap();
    world::export(&mut c, &exported).await.unwrap();
    let back = world::import(&mut c, exported.epoch, exported.at)
        .await
        .unwrap();
    assert_eq!(back.problem, None);
    assert!(back.drift.is_empty());
    assert_eq!(back.snapshot, exported);
    // A fresh world at T (the same seed and steps: inputs and catalogues are regenerated, not
    // imported), given what the database holds: nothing to take, nothing skipped.
    let mut fresh = World::new(cfg.clone(), None);
    fresh.run_until(t);
    let sum = fresh.import(&back.snapshot, &opts);
    assert!(sum.is_empty(), "{sum:?}");
    memory.run_until(t + 5 * DAY);
    fresh.run_until(t + 5 * DAY);
    let (a, b) = (memory.report(), fresh.report());
    assert!(a.restarts.len() == 1 && a.recovery_hours.is_some(), "{a:?}");
    assert_eq!(b.to_json(), a.to_json(), "every field of the report");
    assert_eq!(
        fresh.snapshot(&opts).unwrap(),
        memory.snapshot(&opts).unwrap()
    );

    // The same database restored into a fresh world (`World::reset`, what a rehearsal does
    // after a restore), without a plan (the restore's stop and start are steps, and the plan's
    // delays count from the last step). Listed differences, each explained: the restore
    // restarts the services at T (`restarts`, a zero-length entry in `outages`); the monitor
    // resets the jobs in flight, whose Nomad runs the restart lost (`redispatches`, hence
    // `status_changes`, `events`, `worker_hours` and the latencies). Nothing is lost, created
    // twice or counted as reprocessed: the backup is the world's own instant.
    cfg.steps.clear();
    let mut memory = World::new(cfg.clone(), None);
    memory.run_until(t);
    let backup = memory.snapshot(&opts).unwrap();
    let mut c = db.fresh().await;
    world::export(&mut c, &backup).await.unwrap();
    let back = world::import(&mut c, backup.epoch, backup.at)
        .await
        .unwrap();
    let mut restored = World::new(cfg.clone(), None);
    restored.run_until(t);
    let sum = restored.reset(&back.snapshot, &opts).unwrap();
    assert_eq!((sum.jobs_removed, sum.units_to_redo), (0, 0), "{sum:?}");
    assert!(sum.in_flight > 0 && sum.import.is_empty(), "{sum:?}");
    memory.run_until(t + 5 * DAY);
    restored.run_until(t + 5 * DAY);
    let (a, r) = (memory.report(), restored.report());
    assert!(a.restarts.is_empty() && a.outages.is_empty());
    assert_eq!(r.restarts.len(), 1);
    assert_eq!(
        r.restarts[0].at, "2025-01-08T00:00:00Z",
        "the restore's start, at T"
    );
    assert_eq!(
        (r.outages[0].start.as_str(), r.outages[0].end.as_deref()),
        ("2025-01-08T00:00:00Z", Some("2025-01-08T00:00:00Z"))
    );
    let mut differ: Vec<&str> = Vec::new();
    for (name, x) in &a.job_types {
        let y = &r.job_types[name];
        assert_eq!(
            (y.inputs, y.reprocessed, y.lost),
            (x.inputs, 0, x.lost),
            "{name}"
        );
        assert!(
            y.published.abs_diff(x.published) * 200 <= x.published,
            "{name}: {x:?} / {y:?}"
        );
        if y.redispatches > x.redispatches {
            differ.push(name);
        }
    }
    assert!(
        !differ.is_empty(),
        "the monitor re-dispatches the jobs in flight at the restore"
    );
}

/// Databases of the server whose name starts with `prefix`.
async fn databases(admin: &hrsi_harness::postgres::Admin<'_>, prefix: &str) -> Vec<String> {
    admin
        .client()
        .query(
            "select datname::text from pg_database where starts_with(datname, $1) order by 1",
            &[&prefix],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn pooled_clones_are_whole_independent_marked_copies_and_none_is_left_behind() {
    let server = Server::ephemeral().unwrap();
    let t = world::history_template(&server, &Schema::builtin(), &config(DAY / 2))
        .await
        .unwrap();
    let pooled = t.template.clone().pooled(&server, 2).await.unwrap();
    let admin = server.admin().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while pooled.pool_status().unwrap().ready < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the pool made no clones"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let prefix = format!("hrsi_c_{}_", std::process::id());
    let made = databases(&admin, &prefix).await;
    assert_eq!(made.len(), 2, "{made:?}");
    let a = pooled.clone_db(&admin).await.unwrap();
    let b = pooled.clone_db(&admin).await.unwrap();
    assert!(
        made.contains(&a) && made.contains(&b),
        "taken from the pool"
    );
    for db in [&a, &b] {
        let mark: Option<String> = admin
            .client()
            .query_one(
                "select shobj_description(oid, 'pg_database') from pg_database where datname = $1",
                &[db],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            mark.as_deref(),
            Some(hrsi_harness::postgres::OWNERSHIP_MARK)
        );
    }
    // Whole: the history reads back; independent: a change in one is in no other database.
    let mut ca = server.connect(&a).await.unwrap();
    let back = world::import(&mut ca, t.snapshot.epoch, t.snapshot.at)
        .await
        .unwrap();
    assert_eq!(back.snapshot, t.snapshot);
    ca.batch_execute("delete from cosims.parent_jobs")
        .await
        .unwrap();
    let mut cb = server.connect(&b).await.unwrap();
    let back = world::import(&mut cb, t.snapshot.epoch, t.snapshot.at)
        .await
        .unwrap();
    assert_eq!(back.snapshot, t.snapshot);
    // The pool refills; the next clone (pooled or not) still holds the whole history.
    let c = pooled.clone_db(&admin).await.unwrap();
    let mut cc = server.connect(&c).await.unwrap();
    let back = world::import(&mut cc, t.snapshot.epoch, t.snapshot.at)
        .await
        .unwrap();
    assert_eq!(back.snapshot, t.snapshot);
    drop((ca, cb, cc));
    // Dropping the last handle stops the pool and drops the clones nobody took, only those.
    drop(pooled);
    let left = databases(&admin, &prefix).await;
    let mut taken = vec![a, b, c];
    taken.sort();
    assert_eq!(left, taken);
}

/// Drops every view of `cosims` (they pin the types of the columns they show).
const DROP_VIEWS: &str = "do $$ declare v text; begin
     for v in select format('%I.%I', schemaname, viewname) from pg_views where schemaname = 'cosims' loop
       execute 'drop view if exists ' || v || ' cascade';
     end loop; end $$";

#[tokio::test(flavor = "current_thread")]
async fn a_column_type_the_binary_load_does_not_write_goes_as_text() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    // A patched schema: a bounded varchar (its length check is the server's, in text) and a
    // numeric with a scale (the views over the job tables are dropped to allow it).
    c.batch_execute(DROP_VIEWS).await.unwrap();
    c.batch_execute(
        "alter table cosims.parent_jobs alter column nomad_id type varchar(200);
         alter table cosims.fsc_rlie_jobs alter column l1c_cloud_cover type numeric(5, 1)",
    )
    .await
    .unwrap();
    let s = record(DAY / 2);
    world::export(&mut c, &s).await.unwrap();
    let back = world::import(&mut c, s.epoch, s.at).await.unwrap();
    assert_eq!(back.problem, None);
    assert_eq!(back.snapshot, s);
    // And a tile id too long for its column is refused by the server, nothing written.
    let mut c = db.fresh().await;
    c.batch_execute(DROP_VIEWS).await.unwrap();
    c.batch_execute("alter table cosims.parent_jobs alter column tile_id type varchar(3)")
        .await
        .unwrap();
    let e = world::export(&mut c, &s).await.unwrap_err();
    assert!(e.to_string().contains("too long"), "{e}");
    assert_eq!(
        count(&c, "select count(*) from cosims.parent_jobs").await,
        0
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_status_time_out_of_range_fails_the_streamed_load_and_leaves_nothing() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    let mut s = record(DAY / 2);
    // Far beyond PostgreSQL's timestamps (an earlier row of a job: the job's own last status
    // stays valid, so only the streamed status rows meet it).
    let j = s.jobs.iter_mut().find(|j| j.history.len() >= 2).unwrap();
    Arc::make_mut(j).history[0].at = i64::MAX / 4;
    let e = world::export(&mut c, &s).await.unwrap_err();
    assert!(e.to_string().contains("job_status_changes"), "{e}");
    for table in ["parent_jobs", "job_status_changes", "fsc_rlie_jobs"] {
        assert_eq!(
            count(&c, &format!("select count(*) from cosims.{table}")).await,
            0,
            "{table}"
        );
    }
    assert!(trigger_enabled(&c).await);
    // The same connection exports the valid world afterwards.
    let s = record(DAY / 2);
    world::export(&mut c, &s).await.unwrap();
    let back = world::import(&mut c, s.epoch, s.at).await.unwrap();
    assert_eq!(back.snapshot, s);
}

/// `[jobs, sum of last_status_id, status rows, largest status id, sum of job_status]`, as the
/// rehearsal's fingerprint reads them.
async fn sums(c: &Client) -> [i64; 5] {
    let r = c
        .query_one(
            "select (select count(*) from cosims.parent_jobs),
                    (select coalesce(sum(coalesce(last_status_id, 0)), 0)::bigint from cosims.parent_jobs),
                    (select count(*) from cosims.job_status_changes),
                    (select coalesce(max(id), 0) from cosims.job_status_changes),
                    (select coalesce(sum(job_status), 0)::bigint from cosims.job_status_changes)",
            &[],
        )
        .await
        .unwrap();
    [r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)]
}

#[tokio::test(flavor = "current_thread")]
async fn the_pipelined_incremental_export_is_all_or_nothing_and_says_what_it_wrote() {
    let db = Db::start().await;
    let mut c = db.fresh().await;
    let a = record(DAY);
    let b = record(DAY + HOUR);
    world::export(&mut c, &a).await.unwrap();
    let before = sums(&c).await;
    let seq = "select last_value from cosims.parent_jobs_id_seq";
    let seq_before = count(&c, seq).await;
    // A constraint the server checks on the last table copied (the status rows, after the
    // parent and child rows of the new jobs went through): the whole export is refused.
    c.batch_execute(
        "alter table cosims.job_status_changes add constraint no_queued check (job_status <> 3) not valid",
    )
    .await
    .unwrap();
    let opts = world::DeltaOptions {
        job_ids_from: Some(1_000_000_000),
    };
    let e = world::export_delta_with(&mut c, &a, &b, &opts)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no_queued"), "{e}");
    assert_eq!(sums(&c).await, before, "nothing written");
    assert_eq!(count(&c, seq).await, seq_before, "the sequence not moved");
    // The session is usable again (no transaction left open), and the trigger is on.
    assert!(trigger_enabled(&c).await);
    c.batch_execute("alter table cosims.job_status_changes drop constraint no_queued")
        .await
        .unwrap();
    let w = world::export_delta_with(&mut c, &a, &b, &opts)
        .await
        .unwrap();
    let delta = b.delta_since(&a).unwrap();
    assert_eq!(w.summary.status_changes as usize, delta.status_changes());
    // What it says it wrote is what the tables' sums moved by.
    let after = sums(&c).await;
    assert_eq!(after[0] - before[0], w.summary.jobs_inserted as i64);
    assert_eq!(after[1] - before[1], w.last_status_sum);
    assert_eq!(after[2] - before[2], w.summary.status_changes as i64);
    assert_eq!(Some(after[3]), w.last_status_row);
    assert_eq!(after[4] - before[4], w.status_sum);
    // The jobs' sequence is in the range kept for hand inserts, in the same transaction.
    let next: i64 = c
        .query_one("select nextval('cosims.parent_jobs_id_seq')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 1_000_000_000);
    assert_eq!(
        world::import(&mut c, b.epoch, b.at).await.unwrap().snapshot,
        b
    );
    // Nothing to write: the sequence is still moved past a hand insert's id.
    c.batch_execute("select setval('cosims.parent_jobs_id_seq', 5)")
        .await
        .unwrap();
    assert_eq!(
        world::export_delta_with(&mut c, &b, &b, &opts)
            .await
            .unwrap(),
        world::DeltaWritten::default()
    );
    let next: i64 = c
        .query_one("select nextval('cosims.parent_jobs_id_seq')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 1_000_000_000);
}
