//! PostgreSQL layer timings: time until an ephemeral cluster accepts connections (target
//! ≤ 1 s), time to clone the schema template (target p50 ≤ 50 ms), and `hrsi patch-test`
//! end to end on a small patch and the 1000-job data set (target ≤ 1 s).
//!
//! Run by hand (2 cores are noisy): `cargo bench --bench postgres -- --measurement-time 5`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hrsi_harness::{
    postgres::{Cluster, Server, Template},
    schema::Schema,
};

fn cluster_ready(c: &mut Criterion) {
    let mut g = c.benchmark_group("postgres");
    g.sample_size(10);
    g.bench_function("cluster_ready", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let cluster = Cluster::start().expect("cluster");
                total += t.elapsed();
                drop(cluster);
            }
            total
        })
    });
    g.finish();
}

fn clone_template(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::ephemeral().expect("cluster");
    let template = rt
        .block_on(Template::create(&server, &Schema::builtin()))
        .expect("template");
    let mut g = c.benchmark_group("postgres");
    g.sample_size(30);
    g.bench_function("clone_cosims_template", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let admin = server.admin().await.expect("admin");
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    let db = template.clone_db(&admin).await.expect("clone");
                    total += t.elapsed();
                    admin.drop_database(&db).await.expect("drop");
                }
                total
            })
        })
    });
    g.finish();
}

fn patch_test_small_patch(c: &mut Criterion) {
    use hrsi_harness::{
        dataset::DatasetSpec,
        patch::{self, DataSource, PatchTestOptions, Policy},
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let patch_file = dir.path().join("raise-worker-cap.sql");
    std::fs::write(
        &patch_file,
        "update cosims.system_parameters set max_number_of_worker_instances = 150;\n",
    )
    .unwrap();
    let options = PatchTestOptions {
        patch: patch_file,
        schema: Schema::builtin(),
        data: DataSource::Generated(DatasetSpec {
            jobs: 1000,
            ..DatasetSpec::default()
        }),
        postgres_url: None,
        revert: None,
        policy: Policy {
            allow_destructive: false,
            allow_server_programs: false,
            lock_budget_ms: 5000,
        },
        timeout: Duration::from_secs(600),
        statement_timeout: Duration::from_secs(120),
    };
    let mut g = c.benchmark_group("patch_test");
    g.sample_size(10);
    g.bench_function("small_patch_1000_jobs", |b| {
        b.iter(|| {
            let report = rt.block_on(patch::run(&options)).expect("patch test");
            assert_eq!(report.exit_code, 0);
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    cluster_ready,
    clone_template,
    patch_test_small_patch
);
criterion_main!(benches);
