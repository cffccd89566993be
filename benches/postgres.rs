//! PostgreSQL layer timings: time until an ephemeral cluster accepts connections (target
//! ≤ 1 s) and time to clone the schema template (target p50 ≤ 50 ms).
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

criterion_group!(benches, cluster_ready, clone_template);
criterion_main!(benches);
