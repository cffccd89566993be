//! The API's speed on the 1000-job data set, loopback: latency percentiles of a single-row GET
//! and of a status-change POST (the monitor's 13 -> 15 -> 3 chain, through the trigger), then
//! 16 concurrent clients for 10 s (bounded), then criterion on the two requests.
//!
//! `cargo bench --bench api -- --measurement-time 3`

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use criterion::Criterion;
use hrsi_harness::{
    api::{Api, ApiConfig},
    dataset::DatasetSpec,
    postgres::{Server, production_cluster},
    schema::Schema,
};
use serde_json::json;

struct Setup {
    _server: Server,
    api: Api,
    ids: Vec<i64>,
    /// Jobs cycling through 3 -> 13 -> 15 -> 3 (all allowed), with their next index.
    cycling: Vec<(i64, AtomicU64)>,
}

const CYCLE: [i64; 3] = [13, 15, 3];

async fn setup() -> Setup {
    let server = production_cluster(&Schema::builtin(), Some(&DatasetSpec::default()))
        .await
        .unwrap();
    let c = server.connect("postgres").await.unwrap();
    let ids: Vec<i64> = c
        .query("select id from cosims.parent_jobs order by id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Done jobs: 12 -> 13 starts the cycle (13 -> 15 -> 3 -> 13 …).
    let ready: Vec<i64> = c
        .query(
            "select id from cosims.parent_jobs where last_status_id = 12 order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(ready.len() >= 64, "too few done jobs in the data set");
    let api = Api::start(&server, "postgres", ApiConfig::default())
        .await
        .unwrap();
    Setup {
        _server: server,
        api,
        ids,
        cycling: ready
            .into_iter()
            .map(|id| (id, AtomicU64::new(0)))
            .collect(),
    }
}

async fn get_one(http: &reqwest::Client, base: &str, id: i64) {
    let r = http
        .get(format!("{base}/parent_jobs?id=eq.{id}"))
        .header("Accept", "application/vnd.pgrst.object+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
}

async fn post_status(http: &reqwest::Client, base: &str, s: &Setup, n: u64) {
    let (job, next) = &s.cycling[(n as usize) % s.cycling.len()];
    let i = next.fetch_add(1, Ordering::Relaxed);
    let status = CYCLE[(i % 3) as usize];
    let r = http
        .post(format!("{base}/job_status_changes"))
        .json(&json!({"fk_parent_job_id": job, "job_status": status}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    format!(
        "n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        v.len(),
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = Arc::new(rt.block_on(setup()));
    let base = s.api.url();
    let http = reqwest::Client::new();

    // Sequential latencies (one client, keep-alive), after a warm-up.
    rt.block_on(async {
        for i in 0..200 {
            get_one(&http, &base, s.ids[i % s.ids.len()]).await;
        }
        let mut lat = Vec::new();
        for i in 0..3000 {
            let t = Instant::now();
            get_one(&http, &base, s.ids[(i * 7) % s.ids.len()]).await;
            lat.push(t.elapsed());
        }
        println!(
            "single-row GET /parent_jobs?id=eq.N (object): {}",
            percentiles(lat)
        );
        let mut lat = Vec::new();
        for n in 0..3000 {
            let t = Instant::now();
            post_status(&http, &base, &s, n).await;
            lat.push(t.elapsed());
        }
        println!(
            "status-change POST /job_status_changes: {}",
            percentiles(lat)
        );
        // The same inserts straight into PostgreSQL: the trigger's own cost (its
        // `last_job_status_id()` aggregates the whole history, database.md §7.12).
        let db = s._server.connect("postgres").await.unwrap();
        let insert = db
            .prepare("insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, $2)")
            .await
            .unwrap();
        let mut lat = Vec::new();
        for n in 3000..6000u64 {
            let (job, next) = &s.cycling[(n as usize) % s.cycling.len()];
            let i = next.fetch_add(1, Ordering::Relaxed);
            let t = Instant::now();
            db.execute(&insert, &[job, &(CYCLE[(i % 3) as usize] as i16)])
                .await
                .unwrap();
            lat.push(t.elapsed());
        }
        println!("the same status insert in SQL (no HTTP): {}", percentiles(lat));
        // A single-row write without the status trigger.
        let mut lat = Vec::new();
        for i in 0..3000 {
            let id = s.ids[(i * 7) % s.ids.len()];
            let t = Instant::now();
            let r = http
                .patch(format!("{base}/parent_jobs?id=eq.{id}"))
                .json(&json!({"nomad_id": format!("bench-{i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
            lat.push(t.elapsed());
        }
        println!("single-row PATCH /parent_jobs?id=eq.N: {}", percentiles(lat));
    });

    // 16 concurrent clients for 10 s: 3 GETs for 1 POST each.
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let lats = rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..16u64 {
            let (s, base, stop, errors) = (s.clone(), base.clone(), stop.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut lat = Vec::new();
                let mut n = c;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = if n % 4 == 3 {
                        // Each client cycles its own jobs: no two clients race on one job.
                        let per = s.cycling.len() / 16;
                        let (job, next) = &s.cycling[c as usize + 16 * ((n as usize / 16) % per)];
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        http.post(format!("{base}/job_status_changes"))
                            .json(&json!({"fk_parent_job_id": job, "job_status": CYCLE[(i % 3) as usize]}))
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                    } else {
                        http.get(format!("{base}/parent_jobs?id=eq.{}", s.ids[(n as usize * 13) % s.ids.len()]))
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                    };
                    match ok {
                        Ok(200 | 201) => lat.push(t.elapsed()),
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n += 16;
                }
                lat
            }));
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "16 clients x 10 s: {} requests, {:.0} req/s, {} errors, {}",
        lats.len(),
        lats.len() as f64 / secs,
        errors.load(Ordering::Relaxed),
        percentiles(lats)
    );

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("api");
    let mut i = 0usize;
    g.bench_function("GET one parent job", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(get_one(&http, &base, s.ids[i % s.ids.len()]))
        })
    });
    let mut n = 0u64;
    g.bench_function("POST one status change", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(post_status(&http, &base, &s, n))
        })
    });
    g.finish();
    c.final_summary();
}
