//! Unit tests of the OpenStack project state.

use super::*;

fn project() -> OpenStackState {
    OpenStackState::new(OpenStackConfig::default(), 0)
}

fn worker(os: &OpenStackState, name: &str, flavor: &str) -> ServerRequest {
    ServerRequest {
        name: name.into(),
        image_ref: os.images()[0].id.clone(),
        flavor_ref: os.flavor(flavor).unwrap().id.clone(),
        ..ServerRequest::default()
    }
}

#[test]
fn a_server_builds_then_becomes_active_with_the_success_key_on_its_console() {
    let mut os = project();
    let s = os
        .create_server(worker(&os, "os-worker-001", "hm.medium"))
        .unwrap();
    assert_eq!(s.status, "BUILD");
    os.tick(29_000_000_000);
    assert_eq!(os.server(&s.id).unwrap().status, "BUILD");
    os.tick(30_000_000_000);
    let s = os.server(&s.id).unwrap();
    assert_eq!(s.status, "ACTIVE");
    assert!(s.console.contains("init_instance_finished_with_success"));
    assert_eq!(s.addresses[0].0, "private_magellium");
}

#[test]
fn quotas_answer_like_nova_cinder_and_neutron() {
    let mut os = project();
    os.quotas.cores = 5;
    os.create_server(worker(&os, "os-worker-001", "hm.large"))
        .unwrap();
    let e = os
        .create_server(worker(&os, "os-worker-002", "hm.medium"))
        .unwrap_err();
    assert_eq!(e.status, 403);
    assert_eq!(
        e.body["forbidden"]["message"],
        "Quota exceeded for cores: Requested 2, but already used 4 of 5 cores"
    );
    os.quotas.gigabytes = 40;
    os.create_volume("tf-tutu-volume", 32).unwrap();
    let e = os.create_volume("more", 16).unwrap_err();
    assert_eq!(e.status, 413);
    assert!(
        e.body["overLimit"]["message"]
            .as_str()
            .unwrap()
            .starts_with("VolumeSizeExceedsAvailableQuota")
    );
    os.quotas.floating_ips = 0;
    let e = os.create_floating_ip().unwrap_err();
    assert_eq!(
        (e.status, e.body["NeutronError"]["type"].as_str()),
        (409, Some("OverQuota"))
    );
}

#[test]
fn bad_requests_name_what_is_missing() {
    let mut os = project();
    let mut r = worker(&os, "x", "hm.medium");
    r.flavor_ref = "999".into();
    assert_eq!(
        os.create_server(r).unwrap_err().body["badRequest"]["message"],
        "Flavor 999 could not be found."
    );
    let mut r = worker(&os, "x", "hm.medium");
    r.name.clear();
    assert_eq!(os.create_server(r).unwrap_err().status, 400);
    let mut r = worker(&os, "x", "hm.medium");
    r.security_groups = vec!["nope".into()];
    assert_eq!(os.create_server(r).unwrap_err().status, 400);
    assert_eq!(os.delete_server("nope").unwrap_err().status, 404);
}

#[test]
fn tokens_expire_with_the_wall_clock_and_on_demand() {
    let mut os = project();
    let wall = 1_800_000_000_000_000_000;
    assert_eq!(
        os.issue_token("os-automation", "wrong", "", wall)
            .unwrap_err()
            .status,
        401
    );
    let (t, exp) = os
        .issue_token("os-automation", "placeholder-os-password", "csi_prod", wall)
        .unwrap();
    assert_eq!(exp, wall + 3_600_000_000_000);
    // Virtual time does not expire a token: a rehearsal may jump days ahead.
    os.tick(u64::MAX / 2);
    assert!(os.check_token(Some(&t), wall).is_ok());
    assert!(os.check_token(Some(&t), exp - 1).is_ok());
    assert_eq!(os.check_token(Some(&t), exp).unwrap_err().status, 401);
    // The expired token is dropped at the next issue.
    assert_eq!(os.token_count(), 1);
    let (t2, _) = os
        .issue_token("os-automation", "placeholder-os-password", "", exp)
        .unwrap();
    assert_eq!(os.token_count(), 1);
    os.expire_tokens();
    assert!(os.check_token(Some(&t2), exp).is_err());
    assert!(os.check_token(None, exp).is_err());
}

#[test]
fn the_token_table_is_bounded() {
    let mut os = project();
    let wall = 1_800_000_000_000_000_000;
    for i in 0..MAX_TOKENS as u64 + 5 {
        os.issue_token("os-automation", "placeholder-os-password", "", wall + i)
            .unwrap();
    }
    assert_eq!(os.token_count(), MAX_TOKENS);
}
