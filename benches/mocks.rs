//! Mock timings: time from binding a listener to the first answer (target ≤ 50 ms) and request
//! latency on loopback through a real HTTP client (target p99 ≤ 1 ms). Criterion reports the
//! means; p50/p99 come from 2000 timed requests per call, printed before criterion runs.
//!
//! Run by hand (2 cores are noisy): `cargo bench --bench mocks -- --measurement-time 3`.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use hrsi_harness::mocks::{
    NomadMock, OpenStackMock, VirtualClock,
    client::{NomadClient, OpenStackClient, OsCredentials},
    nomad_model::{NodeSpec, NomadConfig},
    openstack_model::{OpenStackConfig, ServerRequest},
    served::{ServeOptions, ServedWorld},
};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn nomad() -> NomadMock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let n =
        NomadMock::spawn(listener, VirtualClock::default(), NomadConfig::default()).expect("spawn");
    n.power_on_registered_files().expect("job files");
    n
}

async fn openstack() -> OpenStackMock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    OpenStackMock::spawn(
        listener,
        VirtualClock::default(),
        OpenStackConfig::default(),
    )
    .expect("spawn")
}

/// Bind, spawn, register the twelve job files, and wait for the first 200 from `/v1/jobs`.
async fn nomad_ready(client: &reqwest::Client) -> (NomadMock, Duration) {
    let t = Instant::now();
    let n = nomad().await;
    let r = client
        .get(format!("{}/v1/jobs", n.url()))
        .send()
        .await
        .expect("first answer");
    assert_eq!(r.status(), 200);
    (n, t.elapsed())
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{name}: p50 = {:?}, p99 = {:?}, max = {:?} (n = {})",
        at(0.50),
        at(0.99),
        samples[samples.len() - 1],
        samples.len()
    );
}

fn meta() -> BTreeMap<String, String> {
    [
        ("job_id".to_owned(), "1".to_owned()),
        ("job_unique_id".to_owned(), "u".to_owned()),
    ]
    .into()
}

fn startup(c: &mut Criterion) {
    let rt = runtime();
    let http = reqwest::Client::new();
    let starts: Vec<Duration> = (0..200)
        .map(|_| rt.block_on(nomad_ready(&http)).1)
        .collect();
    percentiles("mocks/nomad_start_to_first_answer", starts);
    // What `hrsi up` starts: both stand-ins, the job files, tf-tata, Terraform's VMs.
    let served: Vec<Duration> = (0..200)
        .map(|_| {
            rt.block_on(async {
                let t = Instant::now();
                let nl = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let ol = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let w = ServedWorld::start(nl, ol, ServeOptions::default()).expect("served");
                let r = http
                    .get(format!("{}/v1/jobs", w.nomad.url()))
                    .send()
                    .await
                    .expect("first answer");
                assert_eq!(r.status(), 200);
                let r = http
                    .get(w.openstack.auth_url())
                    .send()
                    .await
                    .expect("first answer");
                assert_eq!(r.status(), 200);
                t.elapsed()
            })
        })
        .collect();
    percentiles("mocks/served_world_start_to_first_answers", served);
    let mut g = c.benchmark_group("mocks");
    g.bench_function("nomad_start_to_first_answer", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(nomad_ready(&http)).1;
            }
            total
        })
    });
    g.bench_function("openstack_start_to_first_answer", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(async {
                    let t = Instant::now();
                    let os = openstack().await;
                    let r = http.get(os.auth_url()).send().await.expect("first answer");
                    assert_eq!(r.status(), 200);
                    t.elapsed()
                });
            }
            total
        })
    });
    g.finish();
}

/// GET `url` and read the whole body: the mock's answer as any client receives it.
async fn get_bytes(http: &reqwest::Client, url: &str) -> Duration {
    let t = Instant::now();
    let r = http.get(url).send().await.expect("answer");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.bytes().await.expect("body");
    t.elapsed()
}

fn latency(c: &mut Criterion) {
    // The mocks run on their own runtime (as in the harness); the client on another.
    let server_rt = runtime();
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n = server_rt.block_on(nomad());
    n.with_state(|s| {
        for i in 0..20 {
            s.add_node(
                NodeSpec::worker(
                    &format!("os-worker-{i:03}"),
                    "hm.medium",
                    2,
                    16384,
                    "10.0.0.1",
                ),
                Duration::ZERO,
            );
        }
    });
    let nc = NomadClient::new(&n.url(), None).expect("client");
    let child = client_rt
        .block_on(nc.dispatch("si-processing", &meta()))
        .expect("dispatch");
    // A realistic queue: 500 dispatches waiting for GFSC workers (eo2.medium) that do not exist.
    for _ in 0..500 {
        client_rt
            .block_on(nc.dispatch("gfsc-processing", &meta()))
            .expect("dispatch");
    }
    let os = server_rt.block_on(openstack());
    let image = os.with_state(|s| s.images()[0].id.clone());
    os.with_state(|s| {
        let flavor = s.flavor("hm.medium").expect("flavor").id.clone();
        for i in 0..50 {
            s.create_server(ServerRequest {
                name: format!("os-worker-{i:03}"),
                image_ref: image.clone(),
                flavor_ref: flavor.clone(),
                ..ServerRequest::default()
            })
            .expect("server");
        }
    });
    let creds = OsCredentials::from_env_with(|k| match k {
        "OS_AUTH_URL" => Some(os.auth_url()),
        "OS_USERNAME" => Some("os-automation".into()),
        "OS_PASSWORD" => Some("placeholder-os-password".into()),
        "OS_PROJECT_ID" => Some("prod-project-id".into()),
        _ => None,
    })
    .expect("creds");
    let oc = OpenStackClient::new(creds).expect("client");
    client_rt.block_on(oc.servers(None)).expect("warm-up login");
    let token = os.with_state(|s| {
        s.issue_token(
            "os-automation",
            "placeholder-os-password",
            "",
            hrsi_harness::mocks::common::wall_now_ns(),
        )
        .expect("token")
        .0
    });

    let http = reqwest::Client::new();
    let summary_url = format!("{}/v1/job/{child}/summary", n.url());
    let urls = [
        ("mocks/nomad_get_summary", summary_url.clone()),
        ("mocks/nomad_get_nodes_20", format!("{}/v1/nodes", n.url())),
        (
            "mocks/nomad_get_jobs_prefix_monitor",
            format!("{}/v1/jobs?prefix=monitor", n.url()),
        ),
        ("mocks/nomad_get_jobs_513", format!("{}/v1/jobs", n.url())),
        (
            "mocks/nomad_get_allocations",
            format!("{}/v1/allocations", n.url()),
        ),
        (
            "mocks/nomad_get_evaluations_513",
            format!("{}/v1/evaluations", n.url()),
        ),
        (
            "mocks/nomad_get_job_versions",
            format!("{}/v1/job/monitor/versions", n.url()),
        ),
        (
            "mocks/nomad_agent_self",
            format!("{}/v1/agent/self", n.url()),
        ),
    ];
    for (name, url) in &urls {
        let samples = (0..2000)
            .map(|_| client_rt.block_on(get_bytes(&http, url)))
            .collect();
        percentiles(name, samples);
    }
    let detail = format!("{}/compute/v2.1/servers/detail", os.url());
    let samples = (0..2000)
        .map(|_| {
            client_rt.block_on(async {
                let t = Instant::now();
                let r = http
                    .get(&detail)
                    .header("X-Auth-Token", &token)
                    .send()
                    .await
                    .expect("answer");
                r.bytes().await.expect("body");
                t.elapsed()
            })
        })
        .collect();
    percentiles("mocks/openstack_servers_detail_50", samples);
    for (name, path) in [
        (
            "mocks/openstack_floatingips_json",
            "/network/v2.0/floatingips.json",
        ),
        ("mocks/openstack_ports_50", "/network/v2.0/ports"),
        ("mocks/openstack_keypairs", "/compute/v2.1/os-keypairs"),
        ("mocks/openstack_projects", "/v3/projects"),
    ] {
        let url = format!("{}{path}", os.url());
        let samples = (0..2000)
            .map(|_| {
                client_rt.block_on(async {
                    let t = Instant::now();
                    let r = http
                        .get(&url)
                        .header("X-Auth-Token", &token)
                        .send()
                        .await
                        .expect("answer");
                    assert!(r.status().is_success(), "{url}: {}", r.status());
                    r.bytes().await.expect("body");
                    t.elapsed()
                })
            })
            .collect();
        percentiles(name, samples);
    }

    let mut g = c.benchmark_group("mocks");
    g.bench_function("nomad_get_summary", |b| {
        b.iter(|| client_rt.block_on(get_bytes(&http, &summary_url)))
    });
    g.bench_function("nomad_get_jobs_513", |b| {
        b.iter(|| client_rt.block_on(get_bytes(&http, &urls[3].1)))
    });
    g.bench_function("nomad_dispatch_with_500_queued", |b| {
        b.iter(|| {
            client_rt
                .block_on(nc.dispatch("gfsc-processing", &meta()))
                .expect("dispatch")
        })
    });
    g.bench_function("openstack_servers_detail_50_parsed", |b| {
        b.iter(|| client_rt.block_on(oc.servers(None)).expect("servers"))
    });
    g.finish();
}

criterion_group!(benches, startup, latency);
criterion_main!(benches);
