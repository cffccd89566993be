//! openstacksdk 4.22 and the `openstack` CLI (python-openstackclient 10.5) against the served
//! OpenStack stand-in: the calls of issue 10 and orchestration.md §5, the error paths (404,
//! 400, quota 403/413/409, an expired token), shapes against fixtures from the public API
//! references (tests/fixtures/openstack), and keystoneauth reusing its token.

mod real_clients;

use std::time::Duration;

use hrsi_harness::mocks::served::{ServeOptions, ServedWorld};

/// The script's steps: a script that stops early fails the test.
const STEPS: usize = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openstacksdk_and_the_cli_work_against_the_stand_in() {
    let nl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ol = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // 60x: a VM build (30 virtual seconds) takes half a wall second.
    let w = ServedWorld::start(nl, ol, ServeOptions { speed: 60 }).unwrap();
    let c = w.openstack.with_state(|s| s.config.clone());
    let env = vec![
        ("OS_AUTH_URL".into(), w.openstack.auth_url()),
        ("OS_USERNAME".into(), c.username.clone()),
        ("OS_PASSWORD".into(), c.password.clone()),
        ("OS_PROJECT_ID".into(), c.project_id.clone()),
        ("OS_PROJECT_NAME".into(), c.project_name.clone()),
        ("OS_USER_DOMAIN_NAME".into(), "Default".into()),
        ("OS_PROJECT_DOMAIN_ID".into(), "default".into()),
        ("OS_REGION_NAME".into(), "RegionOne".into()),
        ("OS_INTERFACE".into(), "public".into()),
        ("OS_IDENTITY_API_VERSION".into(), "3".into()),
        ("HRSI_SPEED".into(), "60".into()),
    ];
    w.openstack.control().clear_requests();
    let out = real_clients::run("main", "openstack_calls.py", env, Duration::from_secs(240)).await;
    assert_eq!(real_clients::steps(&out), STEPS, "{out}");
    // keystoneauth keeps its token (expiry on the wall clock): one per CLI command (each is a
    // new session), a handful for the SDK (its first, the re-authentication after the revoke).
    let cli: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("CLI "))
        .and_then(|n| n.trim().parse().ok())
        .expect("CLI count line");
    let reqs = w.openstack.control().requests();
    let tokens = reqs
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v3/auth/tokens")
        .count();
    eprintln!(
        "{tokens} token requests of {} requests, {cli} CLI commands",
        reqs.len()
    );
    assert!(
        tokens <= cli + 3,
        "{tokens} token requests for {cli} CLI commands and one SDK connection ({} requests)",
        reqs.len()
    );
    w.openstack
        .with_state(|s| assert!(s.token_count() <= tokens, "expired tokens are dropped"));
}
