//! Template databases and cheap clones.
//!
//! A template holds a schema (and later the warm history); every database-level test or
//! scenario gets its own copy (`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY`, ≈ 10 ms)
//! instead of loading the schema again.

use tokio_postgres::Client;

use super::{
    error::{Error, Result},
    server::{Admin, Server, unique_db_name},
};
use crate::schema::Schema;

/// A database holding a loaded schema, used only as a source of clones.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
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
        Ok(Template { name })
    }

    /// Uses an existing database as a template (it must have no open session when cloned).
    pub fn existing(name: impl Into<String>) -> Template {
        Template { name: name.into() }
    }

    /// The template database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates a fresh, marked copy and returns its name.
    pub async fn clone_db(&self, admin: &Admin<'_>) -> Result<String> {
        let name = unique_db_name("c");
        admin.clone_database(&self.name, &name).await?;
        Ok(name)
    }

    /// Drops the template (it must be owned by the harness).
    pub async fn drop(self, admin: &Admin<'_>) -> Result<()> {
        admin.drop_database(&self.name).await
    }
}
