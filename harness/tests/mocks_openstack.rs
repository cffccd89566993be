//! Contract tests of the OpenStack mock over HTTP: Keystone tokens and catalog, Nova servers,
//! flavors, images, console and security groups, Neutron floating IPs, Cinder volumes, quota
//! errors with the real status codes, and the link to Nomad for worker VMs.

use std::{sync::Arc, time::Duration};

use hrsi_harness::{
    iac::{Configuration, InMemoryDatabase, Mode, SystemEffects, Terraform, TfState},
    mocks::{
        NomadMock, OpenStackMock, VirtualClock, link_workers, nomad_model::NomadConfig,
        openstack_model::OpenStackConfig,
    },
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "placeholder-os-password";

async fn mock_on(clock: VirtualClock) -> OpenStackMock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    OpenStackMock::spawn(listener, clock, OpenStackConfig::default()).unwrap()
}

fn auth_body(password: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "os-automation", "domain": {"name": "Default"}, "password": password}}}, "scope": {"project": {"id": "prod-project-id"}}}})
}

/// Authenticates and returns (token, compute URL, network URL, volume URL) from the catalog.
async fn login(c: &Client, os: &OpenStackMock) -> (String, String, String, String) {
    let r = c
        .post(format!("{}/auth/tokens", os.auth_url()))
        .json(&auth_body(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = r.headers()["X-Subject-Token"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let url = |t: &str| {
        body["token"]["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == t)
            .unwrap()["endpoints"][0]["url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    (token, url("compute"), url("network"), url("volumev3"))
}

async fn call(
    c: &Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut rb = c
        .request(method, url)
        .header("X-Auth-Token", token)
        .header("X-OpenStack-Nova-API-Version", "2.79");
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let s = r.status();
    let t = r.text().await.unwrap();
    (s, serde_json::from_str(&t).unwrap_or(Value::Null))
}

async fn create(
    c: &Client,
    compute: &str,
    token: &str,
    name: &str,
    image: &str,
    flavor: &str,
) -> (StatusCode, Value) {
    call(c, reqwest::Method::POST, format!("{compute}/servers"), token, Some(json!({"server": {"name": name, "imageRef": image, "flavorRef": flavor, "networks": [{"uuid": "private_magellium"}], "security_groups": [{"name": "default"}], "key_name": "tf-toto-local-keypair"}}))).await
}

async fn ids(c: &Client, compute: &str, token: &str) -> (String, String) {
    let (_, images) = call(
        c,
        reqwest::Method::GET,
        format!("{compute}/images"),
        token,
        None,
    )
    .await;
    let (_, flavors) = call(
        c,
        reqwest::Method::GET,
        format!("{compute}/flavors"),
        token,
        None,
    )
    .await;
    let flavor = flavors["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "hm.medium")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (
        images["images"][0]["id"].as_str().unwrap().to_owned(),
        flavor,
    )
}

#[tokio::test]
async fn keystone_issues_scoped_tokens_with_a_catalog_and_refuses_bad_credentials() {
    let os = mock_on(VirtualClock::default()).await;
    let c = Client::new();
    let r = c.get(os.auth_url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Version documents are public: clients negotiate the Nova microversion before logging in.
    let nova: Value = c
        .get(format!("{}/compute/v2.1/", os.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            nova["version"]["id"].as_str(),
            nova["version"]["version"].as_str()
        ),
        (Some("v2.1"), Some("2.79"))
    );
    let (token, compute, network, volume) = login(&c, &os).await;
    assert!(token.starts_with("gAAAAA"));
    assert_eq!(compute, format!("{}/compute/v2.1", os.url()));
    assert_eq!(network, format!("{}/network", os.url()));
    assert_eq!(volume, format!("{}/volume/v3/prod-project-id", os.url()));
    let r = c
        .post(format!("{}/auth/tokens", os.auth_url()))
        .json(&auth_body("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["title"], "Unauthorized");
    let r = c
        .post(format!("{}/auth/tokens", os.auth_url()))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn calls_need_a_valid_token_and_an_expired_one_gets_401() {
    let os = mock_on(VirtualClock::default()).await;
    let c = Client::new();
    let (token, compute, ..) = login(&c, &os).await;
    assert_eq!(
        c.get(format!("{compute}/servers"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        call(
            &c,
            reqwest::Method::GET,
            format!("{compute}/servers"),
            &token,
            None
        )
        .await
        .0,
        200
    );
    os.expire_tokens();
    let (s, b) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/servers"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(b["error"]["code"], 401);
    let (token, ..) = login(&c, &os).await;
    assert_eq!(
        call(
            &c,
            reqwest::Method::GET,
            format!("{compute}/servers"),
            &token,
            None
        )
        .await
        .0,
        200
    );
    os.advance(Duration::from_secs(3600));
    assert_eq!(
        call(
            &c,
            reqwest::Method::GET,
            format!("{compute}/servers"),
            &token,
            None
        )
        .await
        .0,
        200,
        "a virtual jump (a rehearsal) does not expire a token: its lifetime is on the wall clock"
    );
    os.with_state(|s| assert!(s.token_count() <= 2, "the expired token was dropped"));
}

#[tokio::test]
async fn servers_are_created_listed_filtered_shown_and_deleted_like_nova() {
    let os = mock_on(VirtualClock::default()).await;
    let c = Client::new();
    let (token, compute, ..) = login(&c, &os).await;
    let (image, flavor) = ids(&c, &compute, &token).await;
    let (s, created) = create(&c, &compute, &token, "os-worker-001", &image, &flavor).await;
    assert_eq!(s, 202);
    let id = created["server"]["id"].as_str().unwrap().to_owned();
    create(&c, &compute, &token, "tf-titi", &image, &flavor).await;

    let (_, list) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/servers/detail?name=^os-worker"),
        &token,
        None,
    )
    .await;
    let servers = list["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1);
    let sv = &servers[0];
    assert_eq!(
        (
            sv["name"].as_str(),
            sv["status"].as_str(),
            sv["flavor"]["original_name"].as_str()
        ),
        (Some("os-worker-001"), Some("BUILD"), Some("hm.medium"))
    );
    assert!(sv["addresses"]["private_magellium"][0]["addr"].is_string());
    assert_eq!(sv["security_groups"], json!([{"name": "default"}]));
    assert_eq!(sv["key_name"], "tf-toto-local-keypair");
    assert_eq!(sv["created"], "2026-01-01T00:00:00Z");

    // Old microversions get the flavor as a link.
    let r = c
        .get(format!("{compute}/servers/{id}"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    let old: Value = r.json().await.unwrap();
    assert_eq!(old["server"]["flavor"]["id"], flavor);

    os.advance(Duration::from_secs(30));
    let (_, active) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/servers/detail?status=ACTIVE"),
        &token,
        None,
    )
    .await;
    assert_eq!(active["servers"].as_array().unwrap().len(), 2);
    let (s, console) = call(
        &c,
        reqwest::Method::POST,
        format!("{compute}/servers/{id}/action"),
        &token,
        Some(json!({"os-getConsoleOutput": {"length": 50}})),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        console["output"]
            .as_str()
            .unwrap()
            .contains("init_instance_finished_with_success")
    );
    let (_, groups) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/servers/{id}/os-security-groups"),
        &token,
        None,
    )
    .await;
    assert_eq!(groups["security_groups"][0]["name"], "default");

    let (s, _) = call(
        &c,
        reqwest::Method::DELETE,
        format!("{compute}/servers/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/servers/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        b["itemNotFound"]["message"],
        format!("Instance {id} could not be found.")
    );
    let (s, b) = create(&c, &compute, &token, "x", &image, "nope").await;
    assert_eq!(
        (s.as_u16(), b["badRequest"]["message"].as_str()),
        (400, Some("Flavor nope could not be found."))
    );
    let (s, _) = call(
        &c,
        reqwest::Method::POST,
        format!("{compute}/servers"),
        &token,
        Some(json!({"nothing": 1})),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn the_worker_template_image_is_created_listed_and_deleted() {
    let os = mock_on(VirtualClock::default()).await;
    let c = Client::new();
    let (token, compute, ..) = login(&c, &os).await;
    let (image, flavor) = ids(&c, &compute, &token).await;
    let (_, t) = create(&c, &compute, &token, "tf-titi", &image, &flavor).await;
    let titi = t["server"]["id"].as_str().unwrap().to_owned();
    let name = format!("os-worker-template-{}", &titi[..8]);
    let r = c
        .post(format!("{compute}/servers/{titi}/action"))
        .header("X-Auth-Token", &token)
        .json(&json!({"createImage": {"name": name, "metadata": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        r.headers()["Location"]
            .to_str()
            .unwrap()
            .starts_with(&format!("{compute}/images/"))
    );
    let img: Value = r.json().await.unwrap();
    let img_id = img["image_id"].as_str().unwrap().to_owned();
    let (_, found) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/images?name={name}"),
        &token,
        None,
    )
    .await;
    assert_eq!(found["images"][0]["id"], img_id);
    assert_eq!(found["images"][0]["status"], "ACTIVE");
    assert_eq!(
        call(
            &c,
            reqwest::Method::DELETE,
            format!("{compute}/images/{img_id}"),
            &token,
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &c,
            reqwest::Method::GET,
            format!("{compute}/images/{img_id}"),
            &token,
            None
        )
        .await
        .0,
        404
    );
    let (_, flavors) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/flavors/detail"),
        &token,
        None,
    )
    .await;
    let xl = flavors["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "hm.xlarge")
        .unwrap();
    assert_eq!(
        (xl["vcpus"].as_u64(), xl["ram"].as_u64()),
        (Some(8), Some(66560))
    );
}

#[tokio::test]
async fn quota_errors_have_each_services_status_and_shape() {
    let os = mock_on(VirtualClock::default()).await;
    let c = Client::new();
    let (token, compute, network, volume) = login(&c, &os).await;
    let (image, flavor) = ids(&c, &compute, &token).await;
    os.with_state(|s| {
        s.quotas.instances = 1;
        s.quotas.floating_ips = 1;
        s.quotas.gigabytes = 40;
    });
    assert_eq!(
        create(&c, &compute, &token, "os-worker-001", &image, &flavor)
            .await
            .0,
        202
    );
    let (s, b) = create(&c, &compute, &token, "os-worker-002", &image, &flavor).await;
    assert_eq!(s, 403);
    assert_eq!(
        b["forbidden"]["message"],
        "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
    );
    let (_, q) = call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/os-quota-sets/prod-project-id"),
        &token,
        None,
    )
    .await;
    assert_eq!(q["quota_set"]["instances"], 1);

    let (s, v) = call(
        &c,
        reqwest::Method::POST,
        format!("{volume}/volumes"),
        &token,
        Some(json!({"volume": {"name": "tf-tutu-volume", "size": 32}})),
    )
    .await;
    assert_eq!(s, 202);
    let vid = v["volume"]["id"].as_str().unwrap().to_owned();
    let (s, b) = call(
        &c,
        reqwest::Method::POST,
        format!("{volume}/volumes"),
        &token,
        Some(json!({"volume": {"name": "big", "size": 16}})),
    )
    .await;
    assert_eq!(s, 413);
    assert!(
        b["overLimit"]["message"]
            .as_str()
            .unwrap()
            .contains("Requested 16G, quota is 40G and 32G has been consumed.")
    );
    let (_, list) = call(
        &c,
        reqwest::Method::GET,
        format!("{volume}/volumes/detail"),
        &token,
        None,
    )
    .await;
    assert_eq!(list["volumes"][0]["size"], 32);
    assert_eq!(
        call(
            &c,
            reqwest::Method::DELETE,
            format!("{volume}/volumes/{vid}"),
            &token,
            None
        )
        .await
        .0,
        202
    );

    let (s, f) = call(
        &c,
        reqwest::Method::POST,
        format!("{network}/v2.0/floatingips"),
        &token,
        Some(json!({"floatingip": {"floating_network_id": "external_magellium"}})),
    )
    .await;
    assert_eq!(s, 201);
    assert!(f["floatingip"]["floating_ip_address"].is_string());
    let (s, b) = call(
        &c,
        reqwest::Method::POST,
        format!("{network}/v2.0/floatingips"),
        &token,
        Some(json!({"floatingip": {"floating_network_id": "external_magellium"}})),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["NeutronError"]["type"].as_str()),
        (409, Some("OverQuota"))
    );
    let fid = f["floatingip"]["id"].as_str().unwrap();
    assert_eq!(
        call(
            &c,
            reqwest::Method::DELETE,
            format!("{network}/v2.0/floatingips/{fid}"),
            &token,
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &c,
            reqwest::Method::DELETE,
            format!("{network}/v2.0/floatingips/{fid}"),
            &token,
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn worker_vms_register_with_nomad_after_their_boot_and_leave_when_deleted() {
    let clock = VirtualClock::default();
    let os = mock_on(clock.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nomad =
        Arc::new(NomadMock::spawn(listener, clock.clone(), NomadConfig::default()).unwrap());
    link_workers(&os, nomad.clone(), Duration::from_secs(240));
    let c = Client::new();
    let (token, compute, ..) = login(&c, &os).await;
    let (image, flavor) = ids(&c, &compute, &token).await;
    let (_, t) = create(&c, &compute, &token, "tf-titi", &image, &flavor).await;
    let titi = t["server"]["id"].as_str().unwrap().to_owned();
    let (_, img) = call(
        &c,
        reqwest::Method::POST,
        format!("{compute}/servers/{titi}/action"),
        &token,
        Some(json!({"createImage": {"name": format!("os-worker-template-{}", &titi[..8])}})),
    )
    .await;
    let (_, w) = create(
        &c,
        &compute,
        &token,
        "os-worker-001",
        img["image_id"].as_str().unwrap(),
        &flavor,
    )
    .await;
    let worker = w["server"]["id"].as_str().unwrap().to_owned();
    let nodes = || {
        nomad.with_state(|s| {
            s.nodes()
                .map(|n| {
                    (
                        n.spec.name.clone(),
                        n.status.clone(),
                        n.spec.instance_type.clone(),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    clock.advance(Duration::from_secs(239));
    assert!(
        nodes().is_empty(),
        "tf-titi's agent is not started and the worker is still booting"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        nodes(),
        [(
            "os-worker-001".to_owned(),
            "ready".to_owned(),
            Some("hm.medium".to_owned())
        )]
    );
    call(
        &c,
        reqwest::Method::DELETE,
        format!("{compute}/servers/{worker}"),
        &token,
        None,
    )
    .await;
    assert!(nodes().is_empty(), "a deleted worker's node is gone");
}

#[tokio::test]
async fn terraforms_vms_come_and_go_with_core_while_workers_and_the_template_image_survive() {
    let os = Arc::new(mock_on(VirtualClock::default()).await);
    let effects = SystemEffects::new(Some(Box::new(InMemoryDatabase::default())), None)
        .with_openstack(os.clone());
    let mut tf = Terraform::new(
        Configuration::public_snapshot(),
        TfState::default(),
        Box::new(effects),
    );
    for t in ["module.cold", "module.core"] {
        assert_eq!(tf.run(Mode::Apply, t, Some("yes")).await.exit_code, 0);
    }
    let names = || {
        os.with_state(|s| {
            s.servers()
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(names(), ["tf-tutu", "tf-tete", "tf-tata", "tf-titi"]);
    let (worker_image, flavor) = os.with_state(|s| {
        let titi = s.server_by_name("tf-titi").unwrap().id.clone();
        let img = s
            .create_image(&titi, &format!("os-worker-template-{}", &titi[..8]))
            .unwrap();
        (img.id, s.flavor("hm.medium").unwrap().id.clone())
    });
    os.with_state(|s| {
        s.create_server(hrsi_harness::mocks::openstack_model::ServerRequest {
            name: "os-worker-001".into(),
            image_ref: worker_image,
            flavor_ref: flavor,
            ..Default::default()
        })
    })
    .unwrap();
    let stop = tf.run(Mode::Destroy, "module.core", Some("yes")).await;
    assert_eq!(stop.exit_code, 0);
    assert_eq!(names(), ["os-worker-001"]);
    assert_eq!(
        os.with_state(|s| s.images().len()),
        2,
        "base image and the template image"
    );
    assert_eq!(
        os.with_state(|s| s
            .volumes()
            .iter()
            .map(|v| v.name.clone())
            .collect::<Vec<_>>()),
        ["tf-tutu-volume"]
    );

    // With no room left for tf-tutu, Terraform fails on the provider's 403 and stops there.
    os.with_state(|s| s.quotas.instances = 1);
    let start = tf.run(Mode::Apply, "module.core", Some("yes")).await;
    assert_eq!(start.exit_code, 1);
    let last = start.lines.last().unwrap();
    assert!(last.starts_with("Error: error creating module.core.openstack_compute_instance_v2.database: OpenStack answered 403"), "{last}");
    assert!(
        !tf.state
            .contains("module.core.openstack_compute_instance_v2.database")
    );
}

#[tokio::test]
async fn the_request_log_never_holds_the_password_or_the_token() {
    let os = mock_on(VirtualClock::default()).await;
    let c = Client::new();
    let (token, compute, ..) = login(&c, &os).await;
    call(
        &c,
        reqwest::Method::GET,
        format!("{compute}/servers/detail?name=os-worker"),
        &token,
        None,
    )
    .await;
    let log = format!("{:?}", os.control().requests());
    assert!(!log.contains(PASSWORD) && !log.contains(&token), "{log}");
    let reqs = os.control().requests();
    assert_eq!(reqs[0].path, "/v3/auth/tokens");
    assert_eq!(reqs[1].query_keys, ["name"]);
}
