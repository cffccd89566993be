//! Backups into a real borg repository and the runbook's restore, on real clusters.

use hrsi_harness::{
    backup::{self, Borg, RestoreOptions, expected_kept, fingerprint_schema},
    dataset::{self, DatasetSpec},
    postgres::Server,
    schema::Schema,
    timefmt::UnixTime,
};

/// A cluster laid out as production: `cosims` with data in database `postgres`.
async fn production_like() -> Server {
    let server = Server::ephemeral().unwrap();
    let client = server.connect("postgres").await.unwrap();
    Schema::builtin().load(&client).await.unwrap();
    dataset::generate(
        &client,
        &DatasetSpec {
            jobs: 300,
            ..DatasetSpec::default()
        },
    )
    .await
    .unwrap();
    server
}

#[tokio::test(flavor = "current_thread")]
async fn backup_damage_restore_gives_back_every_row() {
    let server = production_like().await;
    let dir = tempfile::tempdir().unwrap();
    let borg = Borg::new(dir.path().join("repo"), dir.path().join("borg-base"));
    assert!(borg.init().await.unwrap(), "a new repository");
    assert!(
        !borg.init().await.unwrap(),
        "exit code 2: already initialised"
    );

    let client = server.connect("postgres").await.unwrap();
    let before = fingerprint_schema(&client, "cosims").await.unwrap();
    let max_id: i64 = client
        .query_one("select max(id) from cosims.parent_jobs", &[])
        .await
        .unwrap()
        .get(0);
    let archive = borg.backup_dumpall(&server, None).await.unwrap();
    assert!(archive.starts_with("pgdump_"));
    assert_eq!(borg.list().await.unwrap().len(), 1);

    // Damage: lose jobs (and their histories by cascade), change a parameter, drop a function.
    client
        .batch_execute(
            "delete from cosims.parent_jobs where id % 3 = 0;
             update cosims.system_parameters set max_number_of_worker_instances = 3;
             drop function cosims.empty_table();",
        )
        .await
        .unwrap();
    assert_ne!(fingerprint_schema(&client, "cosims").await.unwrap(), before);
    drop(client);

    let dump = dir.path().join("database-all.sql");
    borg.extract(&archive, &dump).await.unwrap();
    let text = std::fs::read_to_string(&dump).unwrap();
    let roles_in_dump = text
        .lines()
        .filter(|l| l.starts_with("CREATE ROLE "))
        .count();

    let report = backup::restore(&server, &dump, RestoreOptions::default())
        .await
        .unwrap();
    assert!(report.restored(), "{}", report.summary());
    assert_eq!(report.load.exit_code, Some(0));
    // One harmless "role already exists" per role in the dump (3: postgres, authenticator,
    // web_anonymous, as database.md §6.4 observed).
    assert_eq!(
        report.harmless.len(),
        roles_in_dump,
        "{}\n{}",
        report.summary(),
        report.load.stderr
    );
    assert_eq!(roles_in_dump, 3);

    let client = server.connect("postgres").await.unwrap();
    assert_eq!(fingerprint_schema(&client, "cosims").await.unwrap(), before);
    // Sequences continue past the restored ids.
    let new_id: i64 = client
        .query_one(
            "insert into cosims.parent_jobs (name, tile_id, next_log_level) values ('after_restore', '32TLR', 20) returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(new_id > max_id, "{new_id} <= {max_id}");
    // The transition trigger is back: a done job cannot be started again.
    let done_job: i64 = client
        .query_one(
            "select id from cosims.parent_jobs where last_status_id = 12 limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let err = client
        .execute(
            "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, 5)",
            &[&done_job],
        )
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "P0001");
    assert!(
        client
            .query_one("select cosims.empty_table()", &[])
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn restoring_without_dropping_first_is_detected_and_changes_nothing() {
    let server = production_like().await;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("database-all.sql");
    backup::dumpall(&server, false, &dump).await.unwrap();
    let client = server.connect("postgres").await.unwrap();
    client
        .batch_execute("delete from cosims.parent_jobs where id % 2 = 0")
        .await
        .unwrap();
    let damaged = fingerprint_schema(&client, "cosims").await.unwrap();
    drop(client);

    let report = backup::restore(
        &server,
        &dump,
        RestoreOptions {
            drop_schema_first: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(report.load.exit_code, Some(0), "psql exits 0 all the same");
    assert!(report.schema_not_dropped, "{}", report.summary());
    assert!(!report.restored());
    assert!(report.real.len() > 10, "{}", report.summary());
    let client = server.connect("postgres").await.unwrap();
    assert_eq!(
        fingerprint_schema(&client, "cosims").await.unwrap(),
        damaged
    );
}

#[tokio::test(flavor = "current_thread")]
async fn prune_keeps_what_the_production_policy_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let borg = Borg::new(dir.path().join("repo"), dir.path().join("borg-base"));
    borg.init().await.unwrap();
    let now = UnixTime::now();
    // Nightly-looking archives at chosen ages (days), away from the 7-day boundary.
    let ages = [0, 2, 5, 9, 13, 20, 27, 34, 41, 75, 110, 200, 320, 420];
    let mut archives = Vec::new();
    for age in ages {
        let t = now.plus(-age * 86_400 - 600);
        let name = borg.backup_bytes(b"select 1;\n", t).await.unwrap();
        archives.push((name, t));
    }
    let pruned = borg.prune().await.unwrap();
    let kept: std::collections::BTreeSet<String> = borg
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(kept, expected_kept(&archives, now), "pruned: {pruned:?}");
    assert!(!pruned.is_empty());
    // Everything within 7 days survives.
    for (name, t) in &archives {
        if t.0 > now.0 - 7 * 86_400 {
            assert!(kept.contains(name), "{name}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn copies_of_one_empty_repository_are_independent_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let empty = Borg::new(dir.path().join("empty"), dir.path().join("base-empty"));
    assert!(empty.init().await.unwrap());
    let a = Borg::new(dir.path().join("a"), dir.path().join("base-a"));
    let b = Borg::new(dir.path().join("b"), dir.path().join("base-b"));
    a.init_from(&dir.path().join("empty")).await.unwrap();
    b.init_from(&dir.path().join("empty")).await.unwrap();
    assert!(
        !a.init().await.unwrap(),
        "a copy is an initialised repository"
    );
    let at = UnixTime(1_736_000_000);
    let name = a.backup_bytes(b"only in a", at).await.unwrap();
    b.backup_bytes(b"only in b", UnixTime(at.0 + 60))
        .await
        .unwrap();
    let names = |l: Vec<backup::Archive>| l.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(names(a.list().await.unwrap()), [name.clone()]);
    assert_eq!(b.list().await.unwrap().len(), 1);
    assert!(
        empty.list().await.unwrap().is_empty(),
        "the original stays empty"
    );
    let out = dir.path().join("out");
    a.extract(&name, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"only in a");
    assert!(
        a.init_from(&dir.path().join("missing")).await.is_err(),
        "no empty repository to copy: an error, not a half repository"
    );
}
