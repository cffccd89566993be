//! The infrastructure model wired to a real PostgreSQL cluster: a stop keeps the data, a
//! start serves it again, and a fresh volume is an empty `cosims` (trap 3).

use std::sync::Arc;

use hrsi_harness::{
    iac::{
        Configuration, Mode, ScriptEnv, SystemEffects, Terraform, TfState,
        postgres::PostgresInstance, prod_env_apply, prod_env_destroy,
    },
    schema::Schema,
};
use tokio::sync::Mutex;

async fn max_workers(db: &Arc<Mutex<PostgresInstance>>) -> Result<i16, String> {
    let client = db.lock().await.connect("postgres").await?;
    let row = client
        .query_one(
            "SELECT max_number_of_worker_instances FROM cosims.system_parameters",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn tf_tutu_is_the_postgres_server_and_the_cold_volume_its_data() {
    let db = Arc::new(Mutex::new(PostgresInstance::new(Schema::builtin())));
    let effects = SystemEffects::new(Some(Box::new(db.clone())), None);
    let mut tf = Terraform::new(
        Configuration::public_snapshot(),
        TfState::default(),
        Box::new(effects),
    );
    for t in ["module.cold", "module.core"] {
        let r = tf.run(Mode::Apply, t, Some("yes")).await;
        assert_eq!(r.exit_code, 0, "{:#?}", r.lines);
    }
    assert!(tf.effect_errors().is_empty(), "{:?}", tf.effect_errors());
    assert_eq!(max_workers(&db).await.unwrap(), 210, "the schema's default");
    {
        let client = db.lock().await.connect("postgres").await.unwrap();
        // Procedure P8: patch a system parameter.
        client
            .execute(
                "UPDATE cosims.system_parameters SET max_number_of_worker_instances = 3",
                &[],
            )
            .await
            .unwrap();
    }

    let env = ScriptEnv::default();
    let stop = prod_env_destroy(&mut tf, &env, &["module.core"], &["yes"], 0).await;
    assert_eq!(stop.exit_code, 0);
    let data_dir = db.lock().await.cluster().unwrap().data_dir();
    assert!(!db.lock().await.is_running());
    assert!(
        data_dir.join("PG_VERSION").exists(),
        "the volume (data directory) is kept"
    );
    assert!(
        max_workers(&db).await.is_err(),
        "nothing answers while tf-tutu is destroyed"
    );

    let start = prod_env_apply(&mut tf, &env, &["module.core"], &["yes", "yes"], 0).await;
    assert_eq!(start.exit_code, 0, "{:#?}", start.lines);
    assert!(tf.effect_errors().is_empty(), "{:?}", tf.effect_errors());
    assert_eq!(
        max_workers(&db).await.unwrap(),
        3,
        "the same data after a restart"
    );

    // Procedure P17: a fresh volume gives an empty database with the defaults.
    let volume = "module.cold.openstack_blockstorage_volume_v2.database";
    tf.config.set_prevent_destroy(volume, false).unwrap();
    assert_eq!(
        tf.run(Mode::Destroy, volume, Some("yes")).await.exit_code,
        0
    );
    assert!(!data_dir.exists(), "the old volume is gone");
    tf.config.set_prevent_destroy(volume, true).unwrap();
    assert_eq!(
        prod_env_apply(&mut tf, &env, &["module.core"], &["yes", "yes"], 0)
            .await
            .exit_code,
        0
    );
    assert!(tf.effect_errors().is_empty(), "{:?}", tf.effect_errors());
    assert_eq!(
        max_workers(&db).await.unwrap(),
        210,
        "no backup is restored automatically"
    );
}
