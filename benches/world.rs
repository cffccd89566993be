//! The world in PostgreSQL: export of 30 days of production (target ≤ 3 s), an incremental
//! export after a 1-hour step of the world (≤ 50 ms: the snapshot built again where the world
//! moved and the delta written, as a rehearsal does after `advance: 1h`; beside it the delta of
//! two independent records, whose every job is compared), the import of that database (≤ 1 s) and the clone of a
//! template holding that history (p50 ≤ 20 ms), unpooled (the copy) and pooled (what a caller
//! of `Template::clone_db` waits for when the pool made the clone ahead).
//!
//! Run by hand (2 shared cores are noisy): `cargo bench --bench world -- --measurement-time 3`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hrsi_harness::{
    postgres::{Server, Template},
    schema::Schema,
    world::{self, ExportSummary},
};
use hrsi_sim::{
    Config, World,
    snapshot::{BuildOptions, KeptSnapshot, Snapshot},
    time::{DAY, HOUR},
};

/// 30 days in the database: the 10-day warm start and 20 days of the reported period.
fn thirty_days(extra: i64) -> Snapshot {
    let mut c = Config::new(1);
    c.horizon = 20 * DAY + extra;
    Snapshot::record(&c, &BuildOptions::default()).expect("recorded")
}

/// Hours a stepped world can run on past its 30 days (its horizon).
const STEPS: i64 = 96;

/// A rehearsal's world after 30 days: the world, its kept snapshot builder and the snapshot it
/// built (what the database was last given).
#[derive(Clone)]
struct Stepped {
    world: World,
    kept: KeptSnapshot,
    base: Snapshot,
}

fn stepped() -> Stepped {
    let mut cfg = Config::new(1);
    cfg.horizon = 20 * DAY + STEPS * HOUR;
    cfg.keep_jobs = true;
    cfg.keep_history = true;
    let baseline = hrsi_sim::baseline(&cfg);
    let mut world = World::new(cfg, Some(&baseline));
    world.run_until(20 * DAY);
    let mut kept = KeptSnapshot::default();
    let base = kept
        .build(world.config(), &world.outcome(), &BuildOptions::default())
        .expect("recorded");
    Stepped { world, kept, base }
}

impl Stepped {
    /// The world runs one more hour (not timed: the simulation), then what the rehearsal does
    /// after the step, timed: the world's outcome, its snapshot built again where it moved, the
    /// incremental export of what changed (found by pointer). Returns the time taken and the
    /// delta's figures.
    async fn step(&mut self, client: &mut tokio_postgres::Client) -> (Duration, ExportSummary) {
        self.world.run_until(self.world.now() + HOUR);
        let t = Instant::now();
        let next = self
            .kept
            .build(
                self.world.config(),
                &self.world.outcome(),
                &BuildOptions::default(),
            )
            .expect("recorded");
        let s = world::export_delta(client, &self.base, &next)
            .await
            .unwrap();
        let took = t.elapsed();
        self.base = next;
        (took, s)
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let a = thirty_days(0);
    let b = thirty_days(HOUR);
    let t_rows = Instant::now();
    let delta = b.delta_since(&a).unwrap();
    let by_rows = t_rows.elapsed();
    eprintln!(
        "30 days: {} jobs, {} status changes (recorded twice in {:?}); the 1-hour step: {} new jobs, {} changed, {} status changes; the delta of two records (no job shared) found in {by_rows:?}",
        a.jobs.len(),
        a.status_changes(),
        t.elapsed() - by_rows,
        delta.new_jobs.len(),
        delta.changed.len(),
        delta.status_changes()
    );
    let world = stepped();
    let server = Server::ephemeral().expect("cluster");
    let schema = rt
        .block_on(Template::create(&server, &Schema::builtin()))
        .expect("schema template");
    // The history template: the 30 days exported once.
    let history = rt.block_on(async {
        let admin = server.admin().await.unwrap();
        let name = schema.clone_db(&admin).await.unwrap();
        let mut client = server.connect(&name).await.unwrap();
        world::export(&mut client, &a).await.unwrap();
        client.batch_execute("analyze").await.unwrap();
        drop(client);
        admin.wait_until_unused(&name).await.unwrap();
        let size: String = admin
            .client()
            .query_one("select pg_size_pretty(pg_database_size($1))", &[&name])
            .await
            .unwrap()
            .get(0);
        eprintln!("history template: {size}");
        Template::existing(name)
    });
    // The stepped world's 30 days, as a rehearsal's database holds them before the step.
    let stepped_history = rt.block_on(async {
        let admin = server.admin().await.unwrap();
        let name = schema.clone_db(&admin).await.unwrap();
        let mut client = server.connect(&name).await.unwrap();
        world::export(&mut client, &world.base).await.unwrap();
        client.batch_execute("analyze").await.unwrap();
        drop(client);
        admin.wait_until_unused(&name).await.unwrap();
        Template::existing(name)
    });
    // On a shared machine wall time mostly measures the queue for a core: CPU time (client and
    // server backend) says what the work itself costs.
    rt.block_on(async {
        let (mut client, pid) = clone_session(&server, &schema).await;
        let all0 = server_cpu(&server);
        let (w, c0, s0) = (Instant::now(), cpu("self"), cpu(&pid.to_string()));
        world::export(&mut client, &a).await.unwrap();
        let (we, c1, s1) = (w.elapsed(), cpu("self"), cpu(&pid.to_string()));
        let all1 = server_cpu(&server);
        world::import(&mut client, a.epoch, a.at).await.unwrap();
        let (wi, c2, s2) = (w.elapsed() - we, cpu("self"), cpu(&pid.to_string()));
        eprintln!(
            "export once: wall {we:?}, CPU client {:.2} s + server {:.2} s (backend; all server processes, parallel workers included: {:.2} s); import once: wall {wi:?}, CPU client {:.2} s + server {:.2} s",
            c1 - c0,
            s1 - s0,
            all1 - all0,
            c2 - c1,
            s2 - s1
        );
        // The incremental export once, on a clone of the history, with its CPU: the
        // rehearsal's (built again where the world moved, found by pointer), then the one of
        // two records (every job compared).
        let (mut client, pid) = clone_session(&server, &stepped_history).await;
        let mut run = world.clone();
        let (c0, s0) = (cpu("self"), cpu(&pid.to_string()));
        let (wd, d) = run.step(&mut client).await;
        let (c1, s1) = (cpu("self"), cpu(&pid.to_string()));
        eprintln!(
            "delta once, after the world's step of an hour: {} jobs, {} new, {} updated, {} status changes; wall {wd:?}, CPU client {:.3} s + server {:.3} s (10 ms ticks; the builder's first build after a clone, cold)",
            world.base.jobs.len(),
            d.jobs_inserted,
            d.jobs_updated,
            d.status_changes,
            c1 - c0,
            s1 - s0
        );
        let (mut client, pid) = clone_session(&server, &history).await;
        let (w, c0, s0) = (Instant::now(), cpu("self"), cpu(&pid.to_string()));
        world::export_delta(&mut client, &a, &b).await.unwrap();
        let (wd, c1, s1) = (w.elapsed(), cpu("self"), cpu(&pid.to_string()));
        eprintln!(
            "delta once, between two records: wall {wd:?}, CPU client {:.3} s + server {:.3} s (10 ms ticks)",
            c1 - c0,
            s1 - s0
        );
    });
    let mut g = c.benchmark_group("world");
    g.sample_size(10);
    g.bench_function("export_30_days", |bch| {
        bch.iter_custom(|iters| {
            rt.block_on(async {
                let admin = server.admin().await.unwrap();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let db = schema.clone_db(&admin).await.unwrap();
                    let mut client = server.connect(&db).await.unwrap();
                    let t = Instant::now();
                    world::export(&mut client, &a).await.unwrap();
                    total += t.elapsed();
                    drop(client);
                    admin.drop_database(&db).await.unwrap();
                }
                total
            })
        })
    });
    // A rehearsal's session is warm: load the catalogue caches first.
    const WARM: &str =
        "select 1 from cosims.parent_jobs, cosims.job_status_changes, cosims.fsc_rlie_jobs,
         cosims.rlies1_jobs, cosims.rlies1s2_jobs, cosims.sws_wds_jobs, cosims.gfsc_jobs,
         cosims.other_jobs, cosims.system_parameters limit 1";
    // Hour after hour on one database, as a rehearsal's `advance` steps do (a fresh clone of
    // the history and of the world every `STEPS` hours).
    g.bench_function("export_delta_1_hour", |bch| {
        bch.iter_custom(|iters| {
            rt.block_on(async {
                let admin = server.admin().await.unwrap();
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let db = stepped_history.clone_db(&admin).await.unwrap();
                    let mut client = server.connect(&db).await.unwrap();
                    client.batch_execute(WARM).await.unwrap();
                    let mut run = world.clone();
                    for _ in 0..left.min(STEPS as u64) {
                        total += run.step(&mut client).await.0;
                        left -= 1;
                    }
                    drop(client);
                    admin.drop_database(&db).await.unwrap();
                }
                total
            })
        })
    });
    g.bench_function("export_delta_1_hour_of_two_records", |bch| {
        bch.iter_custom(|iters| {
            rt.block_on(async {
                let admin = server.admin().await.unwrap();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let db = history.clone_db(&admin).await.unwrap();
                    let mut client = server.connect(&db).await.unwrap();
                    client.batch_execute(WARM).await.unwrap();
                    let t = Instant::now();
                    world::export_delta(&mut client, &a, &b).await.unwrap();
                    total += t.elapsed();
                    drop(client);
                    admin.drop_database(&db).await.unwrap();
                }
                total
            })
        })
    });
    let (import_db, mut import_client) = rt.block_on(async {
        let admin = server.admin().await.unwrap();
        let db = history.clone_db(&admin).await.unwrap();
        let client = server.connect(&db).await.unwrap();
        (db, client)
    });
    g.bench_function("import_30_days", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let back = rt
                    .block_on(world::import(&mut import_client, a.epoch, a.at))
                    .unwrap();
                total += t.elapsed();
                assert_eq!(back.snapshot.jobs.len(), a.jobs.len());
            }
            total
        })
    });
    drop(import_client);
    let _ = import_db;
    g.sample_size(30);
    g.bench_function("clone_history_template", |bch| {
        bch.iter_custom(|iters| {
            rt.block_on(async {
                let admin = server.admin().await.unwrap();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    let db = history.clone_db(&admin).await.unwrap();
                    total += t.elapsed();
                    admin.drop_database(&db).await.unwrap();
                }
                total
            })
        })
    });
    g.finish();
    pooled_clones(&rt, &server, &history);
}

/// What a caller of `Template::clone_db` on a pooled template waits for, taking a clone every
/// `pause` (a rehearsal works seconds on each clone; the copy for the next one is made
/// meanwhile), and what the pool costs (server and client CPU per clone). Not a criterion
/// bench: the pauses between takes are not timed, and criterion would plan its iterations from
/// the timed part alone.
fn pooled_clones(rt: &tokio::runtime::Runtime, server: &Server, history: &Template) {
    for (pause, takes) in [(Duration::from_millis(400), 30), (Duration::ZERO, 10)] {
        let pooled = rt
            .block_on(history.clone().pooled(server, 2))
            .expect("pool");
        rt.block_on(async {
            let admin = server.admin().await.unwrap();
            // Start from a full pool, as after the first scenario.
            while pooled.pool_status().unwrap().ready < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let (c0, s0) = (cpu("self"), server_cpu(server));
            let mut waits = Vec::new();
            for _ in 0..takes {
                tokio::time::sleep(pause).await;
                let t = Instant::now();
                let db = pooled.clone_db(&admin).await.unwrap();
                waits.push(t.elapsed());
                admin.drop_database(&db).await.unwrap();
            }
            let made = pooled.pool_status().unwrap().made;
            let (c1, s1) = (cpu("self"), server_cpu(server));
            waits.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            eprintln!(
                "pooled clone (pool of 2, a take every {pause:?}, {takes} takes): wait p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms; {made} clones made in the background; CPU per take: server {:.3} s (copies, drops), client {:.3} s",
                ms(waits[waits.len() / 2]),
                ms(waits[waits.len() * 9 / 10]),
                ms(waits[waits.len() - 1]),
                (s1 - s0) / takes as f64,
                (c1 - c0) / takes as f64,
            );
        });
        drop(pooled);
    }
}

/// A session on a fresh clone of `template`, and its backend's pid (for its CPU time).
async fn clone_session(server: &Server, template: &Template) -> (tokio_postgres::Client, i32) {
    let admin = server.admin().await.unwrap();
    let db = template.clone_db(&admin).await.unwrap();
    let client = server.connect(&db).await.unwrap();
    let pid: i32 = client
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (client, pid)
}

/// CPU seconds of every process of the server: the live children of the postmaster (backends,
/// parallel workers, checkpointer …) and those it reaped.
fn server_cpu(server: &Server) -> f64 {
    let Some(pm) = server.cluster().and_then(|c| c.pid()) else {
        return 0.0;
    };
    let fields = |pid: &str| -> Vec<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
        rest.split_whitespace().map(str::to_owned).collect()
    };
    let ticks =
        |f: &[String], i: usize| -> f64 { f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0.0) };
    let own = fields(&pm.to_string());
    // utime, stime, cutime, cstime (fields 14-17, 11-14 after the state).
    let mut total = ticks(&own, 11) + ticks(&own, 12) + ticks(&own, 13) + ticks(&own, 14);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let f = fields(&name);
            if f.get(1).is_some_and(|pp| *pp == pm.to_string()) {
                total += ticks(&f, 11) + ticks(&f, 12);
            }
        }
    }
    total / clock_ticks()
}

/// User + system CPU seconds of a process (`self` or a pid), from /proc.
fn cpu(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state field.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

criterion_group!(benches, bench);
criterion_main!(benches);
