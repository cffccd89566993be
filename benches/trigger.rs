//! The cost of one status insert through the real `cosims.check_status_change()` trigger with
//! 10 k, 100 k and 1 M rows of status history (production saw 0.3–0.4 s per insert at 1.2 M
//! rows, database.md §7.12: the trigger aggregates max(id) over the whole table).
//!
//! Each measured insert is `configured` for a job in `initialized` (allowed), in autocommit, as
//! the services post them through PostgREST. Not a first status: for a job without history the
//! trigger's lookup joins against an empty side and PostgreSQL skips the whole-table aggregate,
//! so first statuses stay cheap; every later status pays it. The history is made of 10-status
//! nominal paths, loaded with the triggers off.
//!
//! Run by hand (2 shared cores are noisy): `cargo bench --bench trigger -- --measurement-time 3`.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hrsi_harness::{
    postgres::{Server, Template},
    schema::Schema,
};

const SIZES: [i64; 3] = [10_000, 100_000, 1_000_000];
/// Fresh jobs per size, one per measured insert (more than criterion asks for).
const PROBES: i64 = 20_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::ephemeral().expect("cluster");
    let schema = rt
        .block_on(Template::create(&server, &Schema::builtin()))
        .expect("schema template");
    let mut g = c.benchmark_group("trigger");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    for rows in SIZES {
        let client = rt.block_on(async {
            let admin = server.admin().await.unwrap();
            let db = schema.clone_db(&admin).await.unwrap();
            let client = server.connect(&db).await.unwrap();
            let jobs = rows / 10;
            client
                .batch_execute(&format!(
                    "begin;
                     alter table cosims.job_status_changes disable trigger check_status_change;
                     insert into cosims.parent_jobs (id, name, tile_id, next_log_level, last_status_id)
                       select g, 'bench_' || g, '32TLR', 20, 10 from generate_series(1, {jobs}) g;
                     insert into cosims.job_status_changes (fk_parent_job_id, job_status, time)
                       select j, s, timestamp '2025-01-01' + j * interval '1 s'
                       from generate_series(1, {jobs}) j, generate_series(1, 10) s order by j, s;
                     insert into cosims.parent_jobs (id, name, tile_id, next_log_level, last_status_id)
                       select g, 'probe_' || g, '32TLR', 20, 1 from generate_series({jobs} + 1, {jobs} + {PROBES}) g;
                     insert into cosims.job_status_changes (fk_parent_job_id, job_status, time)
                       select g, 1, timestamp '2025-01-01' from generate_series({jobs} + 1, {jobs} + {PROBES}) g;
                     select setval(pg_get_serial_sequence('cosims.parent_jobs', 'id'), {jobs} + {PROBES});
                     alter table cosims.job_status_changes enable trigger check_status_change;
                     commit;
                     analyze;"
                ))
                .await
                .unwrap();
            client
        });
        let insert = rt
            .block_on(client.prepare(
                "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, 2)",
            ))
            .unwrap();
        let mut next = rows / 10 + 1;
        g.bench_with_input(BenchmarkId::new("status_insert", rows), &rows, |b, _| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        assert!(next <= rows / 10 + PROBES, "out of probe jobs");
                        let t = Instant::now();
                        client.execute(&insert, &[&next]).await.unwrap();
                        total += t.elapsed();
                        next += 1;
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
