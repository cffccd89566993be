//! Template databases and cheap clones.
//!
//! A template holds a schema (and later the warm history); every database-level test or
//! scenario gets its own copy (`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY`, ≈ 10 ms)
//! instead of loading the schema again. A template holding a long history can keep clones
//! made ahead ([`Template::pooled`], module `pool`).

use std::sync::Arc;

use tokio_postgres::Client;

use super::{
    error::{Error, Result},
    pool::Pool,
    server::{Admin, Server, unique_db_name},
};
use crate::schema::Schema;

/// A database holding a loaded schema, used only as a source of clones.
///
/// Clones of a `Template` share its pool (if any): the pool stops, and drops the clones
/// nobody took, when the last of them is dropped.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    pool: Option<Arc<Pool>>,
}

/// What a template's pool did so far ([`Template::pool_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    /// Clones ready to be taken now.
    pub ready: usize,
    /// Clones made in the background since the pool started.
    pub made: u64,
    /// Why the background stopped making clones, if it did (takes then copy in the caller).
    pub failed: Option<String>,
}

impl Template {
    /// Creates a template database on the server and loads the schema into it.
    pub async fn create(server: &Server, schema: &Schema) -> Result<Template> {
        Template::create_with(server, schema, |_| async { Ok(()) }).await
    }

    /// Creates a template, loads the schema, then lets `fill` add data through a session
    /// that is closed before the template is used.
    pub async fn create_with<F, Fut>(server: &Server, schema: &Schema, fill: F) -> Result<Template>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let admin = server.admin().await?;
        let name = unique_db_name(&format!("t{}", schema.fingerprint()));
        admin.create_database(&name).await?;
        let client = server.connect(&name).await?;
        schema
            .load(&client)
            .await
            .map_err(|e| Error::Script(Box::new(e)))?;
        fill(client).await?;
        admin.wait_until_unused(&name).await?;
        Ok(Template { name, pool: None })
    }

    /// Uses an existing database as a template (it must have no open session when cloned).
    pub fn existing(name: impl Into<String>) -> Template {
        Template {
            name: name.into(),
            pool: None,
        }
    }

    /// The same template with `size` clones (at most [`MAX_POOL`](super::pool::MAX_POOL))
    /// kept ready by a background thread: [`Template::clone_db`] then hands out a ready one
    /// (no copy while the caller waits) and the thread copies the next. The template must not
    /// change while the pool lives. `size` 0 returns the template without a pool.
    pub async fn pooled(self, server: &Server, size: usize) -> Result<Template> {
        if size == 0 {
            return Ok(Template { pool: None, ..self });
        }
        let admin = server.admin().await?;
        let maintenance = if server.owns_server() {
            "template1"
        } else {
            server.maintenance_db()
        };
        let pool = Pool::start(
            server,
            maintenance,
            &self.name,
            admin.server_version(),
            size,
        )?;
        Ok(Template {
            name: self.name,
            pool: Some(Arc::new(pool)),
        })
    }

    /// What the pool did so far (`None`: no pool).
    pub fn pool_status(&self) -> Option<PoolStatus> {
        self.pool.as_ref().map(|p| {
            let (made, failed) = p.made();
            PoolStatus {
                ready: p.ready(),
                made,
                failed,
            }
        })
    }

    /// The template database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates a fresh, marked copy and returns its name (a clone the pool made ahead, when
    /// one is ready).
    pub async fn clone_db(&self, admin: &Admin<'_>) -> Result<String> {
        if let Some(name) = self.pool.as_ref().and_then(|p| p.take()) {
            return Ok(name);
        }
        let name = unique_db_name("c");
        admin.clone_database(&self.name, &name).await?;
        Ok(name)
    }

    /// Drops the template (it must be owned by the harness).
    pub async fn drop(self, admin: &Admin<'_>) -> Result<()> {
        if let Some(p) = &self.pool {
            // No copy may be in progress from a template being dropped.
            p.stop();
        }
        admin.drop_database(&self.name).await
    }
}
