//! Optional backend (cargo feature `docker`): PostgreSQL in a container through
//! testcontainers. Without a Docker daemon it fails at once with a clear error.

use testcontainers_modules::{
    postgres::Postgres,
    testcontainers::{ContainerAsync, ImageExt, runners::AsyncRunner},
};

use super::{
    error::{Error, Result},
    server::Server,
    url::ConnParams,
};

/// The running container; removed when dropped.
pub type Container = ContainerAsync<Postgres>;

/// The image tag used: the major version the harness is tested with.
pub const IMAGE_TAG: &str = "15-alpine";

impl Server {
    /// Starts PostgreSQL in a container (needs a Docker daemon).
    pub async fn docker() -> Result<Server> {
        let container = Postgres::default()
            .with_tag(IMAGE_TAG)
            .start()
            .await
            .map_err(|e| Error::Docker(e.to_string()))?;
        let host = container
            .get_host()
            .await
            .map_err(|e| Error::Docker(e.to_string()))?
            .to_string();
        let port = container
            .get_host_port_ipv4(5432)
            .await
            .map_err(|e| Error::Docker(e.to_string()))?;
        let params = ConnParams {
            host,
            port,
            user: "postgres".into(),
            password: Some("postgres".into()),
            dbname: "postgres".into(),
        };
        Ok(Server::from_container(params, container))
    }
}
