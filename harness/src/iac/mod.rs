//! The infrastructure as a model: the Terraform layout (modules `core`, `cold`, `admin`,
//! `buckets`), plans with `-target`, `prevent_destroy`, the summary line as Terraform prints
//! it, the deployment scripts' confirmations, and the real effects of creating and destroying
//! the database instance and the Nomad VMs.
//!
//! ```no_run
//! # async fn demo() {
//! use hrsi_harness::iac::{Configuration, InMemoryDatabase, ScriptEnv, SystemEffects, Terraform, TfState, prod_env_destroy};
//! let config = Configuration::public_snapshot();
//! let state = TfState::fully_deployed(&config);
//! let effects = SystemEffects::new(Some(Box::new(InMemoryDatabase::default())), None);
//! let mut tf = Terraform::new(config, state, Box::new(effects));
//! let run = prod_env_destroy(&mut tf, &ScriptEnv::default(), &["module.core"], &["yes"], 0).await;
//! assert!(run.lines.contains(&"Plan: 0 to add, 0 to change, 10 to destroy.".to_string()));
//! # }
//! ```

pub mod effects;
pub mod model;
pub mod postgres;
pub mod scripts;
pub mod terraform;

pub use effects::{
    DatabaseInstance, EffectError, Effects, InMemoryDatabase, NoEffects, SystemEffects,
};
pub use model::{Configuration, Mode, Plan, Resource, Role, TfError, TfState};
pub use scripts::{ScriptEnv, ScriptRun, prod_env_apply, prod_env_destroy};
pub use terraform::{CommandRun, Terraform};
