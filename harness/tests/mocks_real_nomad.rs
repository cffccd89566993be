//! python-nomad 2.1.0 and 1.2.1 (the version the real system pins) against the served Nomad
//! stand-in: every call listed in issue 10 and orchestration.md §4.6, the error paths, and the
//! answer shapes against fixtures from the public API reference (tests/fixtures/nomad).

mod real_clients;

use std::time::Duration;

use hrsi_harness::mocks::{
    nomad_model::{NodeSpec, NomadConfig},
    nomad_runs::RunModel,
    served::{ServeOptions, ServedWorld},
};

/// The script's steps (its `step(...)` calls): a script that stops early fails the test.
const STEPS: usize = 9;

/// A served world at 600x with short processing (GFSC 1 virtual minute: 0.1 s of wall time)
/// and, for the outcomes to be seen, 30 % failed and 20 % lost runs; RLIE-S1 runs 10 virtual
/// hours so a drain can be watched. Dead jobs stay 4 virtual hours (Nomad's default).
async fn world() -> ServedWorld {
    let mut runs = RunModel::from_calibration(&Default::default(), 11);
    runs.median_secs.insert("gfsc-processing".into(), 60.0);
    runs.median_secs
        .insert("rlies1-processing".into(), 36_000.0);
    runs.failed_rate = 0.3;
    runs.lost_rate = 0.2;
    let config = NomadConfig {
        gc_threshold: Duration::from_secs(4 * 3600),
        runs: Some(runs),
        ..NomadConfig::default()
    };
    let nl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ol = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let w = ServedWorld::start_with(nl, ol, ServeOptions { speed: 600 }, config).unwrap();
    w.nomad.with_state(|s| {
        for i in 1..=3 {
            let ip = format!("192.168.0.{}", 100 + i);
            s.add_node(
                NodeSpec::worker(&format!("os-worker-{i:03}"), "eo2.medium", 1, 4096, &ip),
                Duration::ZERO,
            );
        }
        s.add_node(
            NodeSpec::worker("os-worker-large", "hm.large", 4, 32768, "192.168.0.110"),
            Duration::ZERO,
        );
    });
    w
}

async fn check(venv: &str) {
    let w = world().await;
    let out = real_clients::run(
        venv,
        "nomad_calls.py",
        vec![
            ("NOMAD_ADDR".into(), w.nomad.url()),
            ("HRSI_SPEED".into(), "600".into()),
        ],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(real_clients::steps(&out), STEPS, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_nomad_2_1_0_works_against_the_stand_in() {
    check("main").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_nomad_1_2_1_works_against_the_stand_in() {
    check("nomad-1.2.1").await;
}
