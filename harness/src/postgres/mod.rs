//! Real PostgreSQL for rehearsals and tests.
//!
//! # Brief overview
//! - [`Cluster`]: an ephemeral cluster from the system's binaries ([`Binaries::find`]), on
//!   `/dev/shm`, with a free loopback port and a unix socket; stopped on drop, and with the
//!   harness (death signal) if it dies.
//! - [`Server`]: what the harness talks to: an owned cluster, an existing server
//!   ([`Server::external`], `--postgres-url`), or a container (feature `docker`).
//! - [`Admin`]: creates, clones and drops databases; every database it creates carries
//!   [`OWNERSHIP_MARK`], and destructive operations refuse databases without it.
//! - [`Template`]: a database holding a schema, cloned per test or scenario.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), hrsi_harness::postgres::Error> {
//! use hrsi_harness::{postgres::{Server, Template}, schema::Schema};
//! let server = Server::ephemeral()?;
//! let template = Template::create(&server, &Schema::builtin()).await?;
//! let admin = server.admin().await?;
//! let db = template.clone_db(&admin).await?;
//! let client = server.connect(&db).await?;
//! client.batch_execute("update cosims.system_parameters set max_number_of_worker_instances = 3").await.ok();
//! # Ok(()) }
//! ```

mod binaries;
mod cluster;
#[cfg(feature = "docker")]
mod docker;
mod error;
pub(crate) mod os_user;
mod passfile;
mod pool;
mod production;
mod server;
mod template;
mod url;

pub use binaries::{Binaries, client_program};
pub use cluster::{Cluster, ClusterOptions, sweep_stale_dirs};
pub(crate) use error::tail;
pub use error::{Error, Result};
pub use os_user::OsUser;
pub use passfile::{PassFile, Scratch};
pub use pool::MAX_POOL;
pub use production::production_cluster;
pub use server::{Admin, OWNERSHIP_MARK, Server, quote_ident, quote_literal, unique_db_name};
pub use template::{PoolStatus, Template};
#[cfg(test)]
pub(crate) use url::SAFE_PATH;
pub use url::{ConnParams, redact_url};
