//! The infrastructure model end to end: the runbook's stop and start through the deployment
//! scripts, their refusals, prevent_destroy, a fresh database volume, and the effects on the
//! database instance and the Nomad mock.

use std::{sync::Arc, time::Duration};

use hrsi_harness::{
    iac::{
        Configuration, InMemoryDatabase, Mode, ScriptEnv, SystemEffects, Terraform, TfState,
        prod_env_apply, prod_env_destroy,
    },
    mocks::{
        NomadMock, VirtualClock,
        nomad_model::{NodeSpec, NomadConfig},
    },
};
use tokio::sync::Mutex;

type Db = Arc<Mutex<InMemoryDatabase>>;

async fn running_system(config: Configuration) -> (Terraform, Db, Arc<NomadMock>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nomad = Arc::new(
        NomadMock::spawn(listener, VirtualClock::default(), NomadConfig::default()).unwrap(),
    );
    let db: Db = Arc::new(Mutex::new(InMemoryDatabase::default()));
    let effects = SystemEffects::new(Some(Box::new(db.clone())), Some(nomad.clone()));
    let mut tf = Terraform::new(config, TfState::default(), Box::new(effects));
    // First deployment: buckets, cold, core and the admin VM (as the system was built).
    for target in [
        "module.buckets",
        "module.cold",
        "module.core",
        "module.admin",
    ] {
        let run = tf.run(Mode::Apply, target, Some("yes")).await;
        assert_eq!(run.exit_code, 0, "{:?}", run.lines);
    }
    nomad.advance(Duration::from_secs(180));
    db.lock().await.insert("job 1").unwrap();
    (tf, db, nomad)
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

#[tokio::test]
async fn stop_then_start_keeps_the_database_and_rebuilds_nomad_from_its_files() {
    let (mut tf, db, nomad) = running_system(Configuration::public_snapshot()).await;
    let env = ScriptEnv::default();
    let jobs_url = format!("{}/v1/jobs", nomad.url());
    assert_eq!(reqwest::get(&jobs_url).await.unwrap().status(), 200);

    let stop = prod_env_destroy(&mut tf, &env, &["module.core"], &["yes"], 0).await;
    assert_eq!(stop.exit_code, 0, "{:#?}", stop.lines);
    assert!(
        stop.lines
            .contains(&"Plan: 0 to add, 0 to change, 10 to destroy.".to_owned())
    );
    assert!(
        stop.lines
            .contains(&"Destroy complete! Resources: 10 destroyed.".to_owned())
    );
    assert!(
        stop.lines[0]
            .starts_with("[prod_env_destroy.sh] [1970-01-01 00:00:00] go to terraform directory")
    );
    {
        let d = db.lock().await;
        assert!(!d.running);
        assert_eq!(d.rows, ["job 1"], "the cold volume keeps the data");
    }
    assert!(
        reqwest::get(&jobs_url).await.is_err(),
        "the Nomad server is gone"
    );
    assert_eq!(tf.state.len(), 25 - 10);

    let start = prod_env_apply(&mut tf, &env, &["module.core"], &["yes", "yes"], 60).await;
    assert_eq!(start.exit_code, 0, "{:#?}", start.lines);
    assert!(has(
        &start.lines,
        "use the following tag for the packages: git-hash-1234abcd"
    ));
    assert!(has(
        &start.lines,
        "init packages with tag git-hash-1234abcd found on the foo bucket"
    ));
    assert!(
        start
            .lines
            .contains(&"Plan: 10 to add, 0 to change, 0 to destroy.".to_owned())
    );
    assert!(
        start
            .lines
            .contains(&"Apply complete! Resources: 10 added, 0 changed, 0 destroyed.".to_owned())
    );
    assert!(db.lock().await.running);
    assert_eq!(db.lock().await.rows, ["job 1"]);
    assert_eq!(
        db.lock().await.fresh_volumes,
        1,
        "no new volume at a restart"
    );
    let jobs: serde_json::Value = reqwest::get(&jobs_url).await.unwrap().json().await.unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 12);
    nomad.advance(Duration::from_secs(180));
    let monitor: serde_json::Value = reqwest::get(format!("{}/v1/job/monitor", nomad.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        monitor["Status"], "running",
        "placed once tf-tata registered"
    );
    assert!(tf.effect_errors().is_empty(), "{:?}", tf.effect_errors());
}

#[tokio::test]
async fn workers_are_not_terraforms_and_their_nomad_agents_do_not_come_back() {
    let (mut tf, _db, nomad) = running_system(Configuration::public_snapshot()).await;
    nomad.with_state(|s| {
        s.add_node(
            NodeSpec::worker("os-worker-001", "hm.medium", 2, 16384, "10.0.0.9"),
            Duration::ZERO,
        )
    });
    let env = ScriptEnv::default();
    let stop = prod_env_destroy(&mut tf, &env, &["module.core"], &["yes"], 0).await;
    assert!(!stop.lines.iter().any(|l| l.contains("os-worker")));
    prod_env_apply(&mut tf, &env, &["module.core"], &["yes", "yes"], 0).await;
    nomad.advance(Duration::from_secs(180));
    let names: Vec<String> = nomad.with_state(|s| s.nodes().map(|n| n.spec.name.clone()).collect());
    assert_eq!(
        names,
        ["tf-tata"],
        "the worker's agent points at the old server"
    );
}

#[tokio::test]
async fn refusals_print_and_return_what_the_scripts_and_terraform_do() {
    let (mut tf, db, _nomad) = running_system(Configuration::public_snapshot()).await;
    let env = ScriptEnv::default();

    let r = prod_env_apply(&mut tf, &env, &["module.core"], &["no"], 0).await;
    assert_eq!(r.exit_code, 0, "the script's own refusal exits 0");
    assert!(r.lines.last().unwrap().ends_with("Terraform apply aborted"));
    assert!(r.terraform.is_none());

    let stop = prod_env_destroy(&mut tf, &env, &["module.core"], &["no"], 0).await;
    assert_eq!(stop.exit_code, 1);
    assert_eq!(stop.lines.last().unwrap(), "Destroy cancelled.");
    assert!(db.lock().await.running, "nothing was destroyed");

    prod_env_destroy(&mut tf, &env, &["module.core"], &["yes"], 0).await;
    let r = prod_env_apply(&mut tf, &env, &["module.core"], &["yes", "nope"], 0).await;
    assert_eq!(r.exit_code, 1);
    assert_eq!(r.lines.last().unwrap(), "Apply cancelled.");
    assert!(!db.lock().await.running);

    let wrong = ScriptEnv {
        os_project_id: Some("test-project".into()),
        ..ScriptEnv::default()
    };
    for r in [
        prod_env_apply(&mut tf, &wrong, &["module.core"], &["yes", "yes"], 0).await,
        prod_env_destroy(&mut tf, &wrong, &["module.core"], &["yes"], 0).await,
    ] {
        assert_eq!(r.exit_code, 1);
        assert!(has(
            &r.lines,
            "Error: bad OpenStack project (OS_PROJECT_ID must be prod-project-id)"
        ));
    }
    let r = prod_env_destroy(&mut tf, &env, &[], &[], 0).await;
    assert_eq!(r.exit_code, 1);
    assert!(has(&r.lines, "Error: wrong number of arguments."));
    let r = prod_env_apply(&mut tf, &env, &["a", "b", "c"], &[], 0).await;
    assert_eq!(r.exit_code, 1);
    assert!(has(
        &r.lines,
        "usage: prod_env_apply.sh terraform_target [packages_tag]"
    ));
    let no_bucket = ScriptEnv {
        main_env_has_infra_bucket: false,
        ..ScriptEnv::default()
    };
    assert_eq!(
        prod_env_apply(&mut tf, &no_bucket, &["module.core"], &["yes", "yes"], 0)
            .await
            .exit_code,
        1
    );
    assert_eq!(tf.state.len(), 15, "no refusal changed the state");
}

#[tokio::test]
async fn missing_init_packages_only_warn_and_a_dirty_tree_changes_the_tag() {
    let (mut tf, _db, _nomad) = running_system(Configuration::public_snapshot()).await;
    let env = ScriptEnv {
        git_dirty: true,
        ..ScriptEnv::default()
    };
    prod_env_destroy(&mut tf, &env, &["module.core"], &["yes"], 0).await;
    let r = prod_env_apply(&mut tf, &env, &["module.core"], &["yes", "yes"], 0).await;
    assert_eq!(r.exit_code, 0);
    assert!(has(
        &r.lines,
        "use the following tag for the packages: git-hash-1234abcd-changed"
    ));
    assert!(has(
        &r.lines,
        "can't find the init packages with tag git-hash-1234abcd-changed on the foo bucket"
    ));
}

#[tokio::test]
async fn destroying_cold_is_refused_by_prevent_destroy_and_touches_nothing() {
    let (mut tf, db, nomad) = running_system(Configuration::public_snapshot()).await;
    let r = prod_env_destroy(
        &mut tf,
        &ScriptEnv::default(),
        &["module.cold"],
        &["yes"],
        0,
    )
    .await;
    assert_eq!(r.exit_code, 1);
    assert_eq!(
        r.lines
            .iter()
            .filter(|l| *l == "Error: Instance cannot be destroyed")
            .count(),
        4
    );
    assert!(has(
        &r.lines,
        "Resource module.cold.openstack_blockstorage_volume_v2.database has lifecycle.prevent_destroy set"
    ));
    assert!(db.lock().await.running);
    assert!(nomad.is_up());
    assert_eq!(tf.state.len(), 25);
}

/// Procedure P17: lift prevent_destroy on the volume, destroy it, start again: the database is
/// a fresh, empty one (trap 3: nothing restores a backup automatically).
#[tokio::test]
async fn a_fresh_volume_is_an_empty_database() {
    let (mut tf, db, _nomad) = running_system(Configuration::public_snapshot()).await;
    let volume = "module.cold.openstack_blockstorage_volume_v2.database";
    tf.config.set_prevent_destroy(volume, false).unwrap();
    let r = tf.run(Mode::Destroy, volume, Some("yes")).await;
    assert_eq!(r.exit_code, 0, "{:#?}", r.lines);
    let destroyed = &r.plan.as_ref().unwrap().to_destroy;
    assert!(
        destroyed.contains(&"module.core.openstack_compute_instance_v2.database".to_owned()),
        "dependents go first"
    );
    assert_eq!(destroyed.last().unwrap(), volume);
    tf.config.set_prevent_destroy(volume, true).unwrap();
    let r = prod_env_apply(
        &mut tf,
        &ScriptEnv::default(),
        &["module.core"],
        &["yes", "yes"],
        0,
    )
    .await;
    assert_eq!(r.exit_code, 0);
    let d = db.lock().await;
    assert!(d.running);
    assert!(d.rows.is_empty(), "a fresh volume holds an empty database");
    assert_eq!(d.fresh_volumes, 2);
}

#[tokio::test]
async fn the_runbook_fixture_gives_13_and_the_public_one_reports_the_difference() {
    let expected_stop = "Plan: 0 to add, 0 to change, 13 to destroy.";
    let expected_start = "Plan: 13 to add, 0 to change, 0 to destroy.";
    let (mut public, ..) = running_system(Configuration::public_snapshot()).await;
    let stop = prod_env_destroy(
        &mut public,
        &ScriptEnv::default(),
        &["module.core"],
        &["yes"],
        0,
    )
    .await;
    let diff = stop
        .terraform
        .unwrap()
        .plan
        .unwrap()
        .compare_with_expected(expected_stop);
    assert_eq!(
        diff.as_deref(),
        Some(
            "plan differs from \"Plan: 0 to add, 0 to change, 13 to destroy.\": to destroy: expected 13, modelled 10 (-3)"
        )
    );

    let (mut runbook, ..) = running_system(Configuration::runbook_with_dashboard_proxy()).await;
    let stop = prod_env_destroy(
        &mut runbook,
        &ScriptEnv::default(),
        &["module.core"],
        &["yes"],
        0,
    )
    .await;
    assert!(stop.lines.contains(&expected_stop.to_owned()));
    let start = prod_env_apply(
        &mut runbook,
        &ScriptEnv::default(),
        &["module.core"],
        &["yes", "yes"],
        0,
    )
    .await;
    assert!(start.lines.contains(&expected_start.to_owned()));
    assert_eq!(
        start
            .terraform
            .unwrap()
            .plan
            .unwrap()
            .compare_with_expected(expected_start),
        None
    );
}
