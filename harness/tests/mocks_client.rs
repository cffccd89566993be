//! The clients for real services, tested against wiremock stubs with call expectations (what
//! they send), and against the harness's own mocks (that a real client's view of them holds).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use hrsi_harness::mocks::{
    NomadMock, OpenStackMock, VirtualClock,
    client::{
        CATALOGUE_PAGE, CatalogueClient, ClientError, NomadClient, OpenStackClient, OsCredentials,
    },
    nomad_model::{NodeSpec, NomadConfig},
    openstack_model::OpenStackConfig,
};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path, query_param},
};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

fn meta() -> BTreeMap<String, String> {
    [
        ("job_id".to_owned(), "42".to_owned()),
        ("job_unique_id".to_owned(), "u-42".to_owned()),
    ]
    .into()
}

#[tokio::test]
async fn the_nomad_client_dispatches_like_job_execution_with_its_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/job/si-processing/dispatch"))
        .and(header("X-Nomad-Token", "secret-token"))
        .and(body_json(json!({"Meta": {"job_id": "42", "job_unique_id": "u-42"}, "Payload": null})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"DispatchedJobID": "si-processing/dispatch-1650000000-1a2b3c4d", "EvalID": "e", "Index": 7})))
        .expect(1)
        .mount(&server)
        .await;
    let client = NomadClient::from_env_with(env(&[
        ("NOMAD_ADDR", &server.uri()),
        ("NOMAD_TOKEN", "secret-token"),
    ]))
    .unwrap();
    assert!(!format!("{client:?}").contains("secret-token"));
    let id = client.dispatch("si-processing", &meta()).await.unwrap();
    assert_eq!(id, "si-processing/dispatch-1650000000-1a2b3c4d");
    server.verify().await;
}

#[tokio::test]
async fn the_nomad_client_reports_statuses_and_raw_dispatch_ids_in_paths() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/si-processing/dispatch-1-abcdef12/summary"))
        .respond_with(ResponseTemplate::new(404).set_body_string("job not found"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/job/monitor"))
        .respond_with(ResponseTemplate::new(500).set_body_string("rpc error"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/node/n1/eligibility"))
        .and(body_json(
            json!({"Eligibility": "ineligible", "NodeID": "n1"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"NodeModifyIndex": 3})))
        .expect(1)
        .mount(&server)
        .await;
    let client = NomadClient::new(&server.uri(), None).unwrap();
    let e = client
        .summary("si-processing/dispatch-1-abcdef12")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert_eq!(
        e.to_string(),
        "`GET /v1/job/si-processing/dispatch-1-abcdef12/summary` answered 404: job not found"
    );
    assert_eq!(
        client
            .deregister("monitor", false)
            .await
            .unwrap_err()
            .status(),
        Some(500)
    );
    client.set_eligibility("n1", false).await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn a_slow_nomad_times_out_and_bad_addresses_are_refused_without_panicking() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/nodes"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_millis(500)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client =
        NomadClient::with_timeout(&server.uri(), None, Duration::from_millis(100)).unwrap();
    match client.nodes().await.unwrap_err() {
        ClientError::Transport { message, .. } => assert_eq!(message, "timed out"),
        other => panic!("expected a timeout, got {other}"),
    }
    for bad in [
        "",
        "localhost:4646",
        "http://",
        "https://nomad.example:4646",
        "ftp://x",
    ] {
        let e = NomadClient::new(bad, None).unwrap_err();
        assert!(matches!(e, ClientError::Config(_)), "{bad}: {e}");
    }
    assert!(
        NomadClient::new("https://x", None)
            .unwrap_err()
            .to_string()
            .contains("https is not supported")
    );
    let refused = NomadClient::new("http://127.0.0.1:9", None).unwrap();
    assert!(matches!(
        refused.jobs().await.unwrap_err(),
        ClientError::Transport { .. }
    ));
}

#[tokio::test]
async fn the_openstack_client_authenticates_uses_the_catalog_and_reauthenticates_on_401() {
    let server = MockServer::start().await;
    let catalog = json!({"token": {"catalog": [{"type": "compute", "endpoints": [
        {"interface": "internal", "region": "RegionOne", "url": "http://internal.invalid"},
        {"interface": "public", "region": "RegionOne", "url": format!("{}/compute/v2.1/", server.uri())}]}]}});
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_json(json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "os-automation", "domain": {"name": "Default"}, "password": "pw"}}}, "scope": {"project": {"id": "prod-project-id"}}}})))
        .respond_with(ResponseTemplate::new(201).insert_header("X-Subject-Token", "tok").set_body_json(catalog))
        .expect(2)
        .mount(&server)
        .await;
    // The first listing finds the token expired; the client logs in again and retries once.
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/servers/detail"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/servers/detail"))
        .and(query_param("name", "^os-worker"))
        .and(header("X-Auth-Token", "tok"))
        .and(header("X-OpenStack-Nova-API-Version", "2.47"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"servers": [{"id": "s1", "name": "os-worker-001"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let creds = OsCredentials::from_env_with(env(&[
        ("OS_AUTH_URL", &format!("{}/v3", server.uri())),
        ("OS_USERNAME", "os-automation"),
        ("OS_PASSWORD", "pw"),
        ("OS_PROJECT_ID", "prod-project-id"),
        ("OS_REGION_NAME", "RegionOne"),
    ]))
    .unwrap();
    assert!(!format!("{creds:?}").contains("\"pw\""));
    let client = OpenStackClient::new(creds).unwrap();
    let servers = client.servers(Some("^os-worker")).await.unwrap();
    assert_eq!(servers[0]["name"], "os-worker-001");
    server.verify().await;
}

#[test]
fn missing_openstack_variables_are_named() {
    let e =
        OsCredentials::from_env_with(env(&[("OS_AUTH_URL", "http://x/v3"), ("OS_USERNAME", "u")]))
            .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration: OS_PASSWORD is not set (source the OpenStack RC v3 file)"
    );
}

#[tokio::test]
async fn the_catalogue_client_follows_pages_of_200() {
    let server = MockServer::start().await;
    let feature =
        |i: usize| json!({"properties": {"productIdentifier": format!("/eodata/HRSI/FSC_{i}")}});
    let page = |n: usize, from: usize| {
        Mock::given(method("GET"))
            .and(path("/resto/api/collections/HRSI/search.json"))
            .and(query_param("productType", "FSC"))
            .and(query_param("publishedAfter", "2026-01-01T00:00:00Z"))
            .and(query_param("maxRecords", "200"))
            .and(query_param("page", n.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"features": (from..from + if n == 1 { CATALOGUE_PAGE } else { 3 }).map(feature).collect::<Vec<_>>()})))
            .expect(1)
    };
    page(1, 0).mount(&server).await;
    page(2, 200).mount(&server).await;
    let client = CatalogueClient::new(&format!("{}/resto/api", server.uri())).unwrap();
    let ids = client
        .published("FSC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(ids.len(), 203);
    assert_eq!(ids[202], "/eodata/HRSI/FSC_202");
    server.verify().await;
}

/// The same clients against the harness's mocks: what the system's calls see.
#[tokio::test]
async fn the_clients_work_against_the_mocks_including_an_expired_token() {
    let clock = VirtualClock::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nomad =
        Arc::new(NomadMock::spawn(listener, clock.clone(), NomadConfig::default()).unwrap());
    nomad.power_on_registered_files().unwrap();
    nomad.with_state(|s| {
        s.add_node(
            NodeSpec::worker("os-worker-001", "hm.medium", 2, 16384, "10.0.0.1"),
            Duration::ZERO,
        )
    });
    let nc = NomadClient::new(&nomad.url(), None).unwrap();
    let child = nc.dispatch("rlies1s2-processing", &meta()).await.unwrap();
    let sum = nc.summary(&child).await.unwrap();
    assert_eq!(sum["Summary"]["run-and-log"]["Running"], 1);
    let node_id = nc.nodes().await.unwrap()[0]["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        nc.node_allocations(&node_id).await.unwrap()[0]["JobID"],
        child.as_str()
    );
    let alloc = nc.job_allocations(&child).await.unwrap()[0]["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        nc.allocation(&alloc).await.unwrap()["ClientStatus"],
        "running"
    );
    nc.deregister(&child, false).await.unwrap();
    assert_eq!(nc.job(&child).await.unwrap()["Status"], "dead");
    assert_eq!(nc.jobs().await.unwrap().as_array().unwrap().len(), 13);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let os = OpenStackMock::spawn(listener, clock, OpenStackConfig::default()).unwrap();
    let creds = OsCredentials::from_env_with(env(&[
        ("OS_AUTH_URL", &os.auth_url()),
        ("OS_USERNAME", "os-automation"),
        ("OS_PASSWORD", "placeholder-os-password"),
        ("OS_PROJECT_ID", "prod-project-id"),
    ]))
    .unwrap();
    let oc = OpenStackClient::new(creds).unwrap();
    let flavors = oc.flavors().await.unwrap();
    let medium = flavors.iter().find(|f| f["name"] == "hm.medium").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let image = os.with_state(|s| s.images()[0].id.clone());
    let id = oc
        .create_server("os-worker-001", &image, &medium, &[])
        .await
        .unwrap();
    os.with_state(|s| s.expire_tokens());
    let servers = oc.servers(Some("^os-worker-001$")).await.unwrap();
    assert_eq!(servers[0]["flavor"]["original_name"], "hm.medium");
    os.advance(Duration::from_secs(30));
    assert!(
        oc.console_output(&id)
            .await
            .unwrap()
            .contains("init_instance_finished_with_success")
    );
    oc.delete_server(&id).await.unwrap();
    assert!(oc.servers(None).await.unwrap().is_empty());
    let auths = os
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == "/v3/auth/tokens")
        .count();
    assert_eq!(auths, 2, "one login, one after the token expired");
}
