//! What a rehearsal starts from: the run's template and prepared data directories hold the
//! simulated world at the start of the most common scenarios, which then need no first export;
//! a scenario whose world differs (another seed) still gets its own world written. Either way
//! the jobs in its database are the world's, read back with the import.

use std::path::{Path, PathBuf};

use hrsi_harness::{
    postgres::Server,
    rehearse::{
        self,
        bases::{Choice, Prepared},
        truth::{Truth, world_snapshot},
        world::World,
    },
    world as dbworld,
};

/// A scenario of one warm-start day: `own` adds a backup (a step on the whole server, so its
/// own cluster).
fn scenario(dir: &Path, name: &str, seed: u64, own: bool) {
    let backup = if own { "  - backup: {}\n" } else { "" };
    std::fs::write(
        dir.join(format!("{name}.yaml")),
        format!("seed: {seed}\ndays: 1\nhistory: 1d\nsteps:\n{backup}  - advance: 1h\n"),
    )
    .unwrap();
}

async fn check(f: &rehearse::ScenarioFile, prepared: &Prepared, nothing_written: bool) {
    let mut setup = Vec::new();
    let mut w = World::build(&f.scenario, PathBuf::from("."), prepared, &mut setup)
        .await
        .unwrap();
    // A scenario that clones stays a clone, whether its world runs or not.
    assert_eq!(
        setup[0].starts_with("a clone of the run's template"),
        f.rel.contains("clone"),
        "{}: {setup:?}",
        f.rel
    );
    if f.rel.contains("no-world") {
        w.teardown().await;
        return;
    }
    let line = Truth::first_export(&mut w).await.unwrap();
    let skipped = line.contains("nothing written");
    assert_eq!(skipped, nothing_written, "{}: {line}\n{setup:?}", f.rel);
    if !nothing_written {
        assert!(line.contains("written into cosims"), "{}: {line}", f.rel);
    }
    // The database holds the world's jobs, whichever way they got there.
    let (epoch, at) = (w.start, w.now);
    let back = w
        .with_server(async |srv: &Server, db: &str| {
            let mut c = srv.connect(db).await.unwrap();
            dbworld::import(&mut c, epoch, at).await.unwrap()
        })
        .await
        .unwrap();
    // With the planner's statistics, as production's autovacuum keeps them after a bulk load
    // (without them the status trigger costs twice what it costs in production).
    let analyzed: i64 = w
        .with_server(async |srv: &Server, db: &str| {
            let c = srv.connect(db).await.unwrap();
            c.query_one(
                "select count(*) from pg_stats where schemaname = 'cosims' and tablename = 'job_status_changes'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
        })
        .await
        .unwrap();
    assert!(
        analyzed > 0,
        "{}: no statistics on the status history",
        f.rel
    );
    let want = world_snapshot(&w.course).unwrap();
    assert!(!want.jobs.is_empty());
    assert_eq!(back.snapshot.jobs.len(), want.jobs.len(), "{}", f.rel);
    assert!(back.snapshot.jobs == want.jobs, "{}: jobs differ", f.rel);
    assert_eq!(back.snapshot.resume, want.resume, "{}", f.rel);
    w.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_common_start_world_is_prepared_and_another_seed_is_written() {
    let dir = tempfile::tempdir().unwrap();
    // Two clones and two own clusters on seed 7, one of each on seed 8, a clone whose world
    // does not run.
    std::fs::write(
        dir.path().join("clone-no-world.yaml"),
        "seed: 7\ndays: 1\nhistory: 1d\nsteps:\n  - sql: select 1\n",
    )
    .unwrap();
    scenario(dir.path(), "clone-a", 7, false);
    scenario(dir.path(), "clone-b", 7, false);
    scenario(dir.path(), "clone-other-seed", 8, false);
    scenario(dir.path(), "own-a", 7, true);
    scenario(dir.path(), "own-b", 7, true);
    scenario(dir.path(), "own-other-seed", 8, true);
    let files = rehearse::discover(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(files.len(), 7);
    let prepared = Prepared::start(Choice::of(&files));
    for f in &files {
        check(f, &prepared, !f.rel.contains("other-seed")).await;
    }
    assert!(prepared.failures().is_empty(), "{:?}", prepared.failures());
    // The clone scenarios take clones the main template's pool makes ahead of them (it keeps
    // two ready and copies the next whenever one is taken; a take before the first is ready
    // copies in the caller).
    let shared = prepared.shared().await.expect("some scenario clones");
    let pool = shared.main.template.pool_status().expect("a pool");
    assert!(pool.failed.is_none(), "{pool:?}");
    assert!(pool.made >= 1, "clones made ahead: {pool:?}");
}
