//! tf-tutu on a real PostgreSQL cluster: destroying the instance stops the server and keeps
//! its data directory (the cold volume); applying starts it again on the same data; a fresh
//! volume is a fresh cluster holding the empty `cosims` schema (what `init_database.sql` does
//! on a new volume: no backup is restored, infra.md §2.3).

use super::effects::{BoxFuture, DatabaseInstance};
use crate::{postgres::Cluster, schema::Schema};

/// The database instance backed by a throwaway cluster laid out as production (`cosims` in
/// database `postgres`).
pub struct PostgresInstance {
    schema: Schema,
    cluster: Option<Cluster>,
    fresh_pending: bool,
}

impl PostgresInstance {
    /// No volume yet: the first `fresh_volume` + `start` creates the cluster with `schema`.
    pub fn new(schema: Schema) -> Self {
        Self {
            schema,
            cluster: None,
            fresh_pending: false,
        }
    }

    /// The cluster, while a volume exists.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Whether the PostgreSQL server process runs.
    pub fn is_running(&self) -> bool {
        self.cluster.as_ref().is_some_and(Cluster::is_running)
    }

    /// Connects to `dbname` (the connection task runs on the current runtime).
    pub async fn connect(&self, dbname: &str) -> Result<tokio_postgres::Client, String> {
        let cluster = self
            .cluster
            .as_ref()
            .ok_or("the database instance has no volume")?;
        let (client, conn) =
            tokio_postgres::connect(&cluster.conninfo(dbname), tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("failed to connect to the database instance: {e}"))?;
        tokio::spawn(conn);
        Ok(client)
    }
}

impl DatabaseInstance for PostgresInstance {
    fn start(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.fresh_pending {
                self.cluster = Some(
                    Cluster::start()
                        .map_err(|e| format!("failed to initialise a fresh database: {e}"))?,
                );
                self.fresh_pending = false;
                let client = self.connect("postgres").await?;
                self.schema.load(&client).await.map_err(|e| {
                    format!("failed to load the schema into the fresh database: {e}")
                })?;
                return Ok(());
            }
            let cluster = self
                .cluster
                .as_mut()
                .ok_or("no database volume to boot from")?;
            cluster
                .restart()
                .map_err(|e| format!("failed to start PostgreSQL on the kept data directory: {e}"))
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if let Some(c) = self.cluster.as_mut() {
                c.stop_server();
            }
            Ok(())
        })
    }

    fn fresh_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.discard_volume().await?;
            self.fresh_pending = true;
            Ok(())
        })
    }

    fn discard_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.is_running() {
                return Err("cannot destroy the volume of a running instance".into());
            }
            // The volume's data is gone: the cluster directory is removed.
            if let Some(c) = self.cluster.take() {
                c.stop()
                    .map_err(|e| format!("failed to remove the database volume: {e}"))?;
            }
            self.fresh_pending = false;
            Ok(())
        })
    }
}
