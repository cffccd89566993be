//! A cluster laid out as production: `cosims` in database `postgres`.

use super::{Error, Result, Server};
use crate::{
    dataset::{self, DatasetSpec},
    schema::Schema,
};

/// Starts a throwaway cluster holding `schema` in database `postgres`, as on the database
/// VM, with a generated data set when `data` is given. For scenarios that act on the whole
/// server: stop/start, `pg_dumpall`, restores, roles.
pub async fn production_cluster(schema: &Schema, data: Option<&DatasetSpec>) -> Result<Server> {
    let server = Server::ephemeral()?;
    let client = server.connect("postgres").await?;
    schema
        .load(&client)
        .await
        .map_err(|e| Error::Script(Box::new(e)))?;
    if let Some(spec) = data {
        dataset::generate(&client, spec).await?;
    }
    Ok(server)
}
