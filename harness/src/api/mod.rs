//! The database's HTTP API: the subset of PostgREST (v6 as in production, with the error codes
//! of current PostgREST) that the system's services and operator scripts use
//! (database.md §5), over the `cosims` schema or a user's own, served on loopback.
//!
//! # Surface
//! - `GET /<table|view>`: `select` (columns, aliases, to-one embedding, `rel.col=op.v`
//!   filtering the embedding), filters `eq neq gt
//!   gte lt lte like ilike in is` with `not.`, `or=(…)`/`and=(…)`, `order`, `limit`/`offset`,
//!   `Range` headers, `Prefer: count=exact`, `Accept: application/vnd.pgrst.object+json`.
//! - `POST /<table>` (JSON object, JSON array, or an HTML form as the Python client sends),
//!   `PATCH` and `DELETE` with filters, `Prefer: return=representation`.
//! - `POST /rpc/<function>` with named JSON arguments (`GET` for STABLE/IMMUTABLE ones, which
//!   run in a read-only transaction).
//! - Errors: `{code, message, details, hint}`; P0001 and constraint errors 400, 23503/23505
//!   409, unknown table or function 404, unknown column 400 (42703 / PGRST204).
//!
//! # Safety
//! Sessions log in as `authenticator` and run as `web_anonymous` (§5.1), never as a superuser.
//! Identifiers are checked against the schema cache; values are bound parameters. The query
//! string, `in.()` lists, filter counts, bodies and statement durations are bounded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use hrsi_harness::{api::{Api, ApiConfig}, postgres::production_cluster, schema::Schema};
//! let server = production_cluster(&Schema::builtin(), None).await?;
//! let api = Api::start(&server, "postgres", ApiConfig::default()).await?;
//! let body = reqwest::get(format!("{}/system_parameters?id=eq.1", api.url())).await?.text().await?;
//! # Ok(()) }
//! ```

mod catalog;
mod error;
mod handlers;
mod pool;
pub mod query;
mod sql;

use std::{net::SocketAddr, sync::Arc};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use catalog::Catalog;
pub use error::{ApiError, status_for_sqlstate};

use crate::postgres::{ConnParams, Error, Server};

/// Largest request body accepted (a bulk insert of thousands of jobs fits).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// How the API is served.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The exposed schema (`db-schema`).
    pub schema: String,
    /// The role requests run as (`db-anon-role`).
    pub anon_role: String,
    /// The role the pool logs in as (the `db-uri` user).
    pub login_role: String,
    /// Sessions in the pool (PostgREST's default is 10).
    pub pool_size: usize,
    /// Loopback port; 0 picks a free one.
    pub port: u16,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            schema: "cosims".into(),
            anon_role: "web_anonymous".into(),
            login_role: "authenticator".into(),
            pool_size: 10,
            port: 0,
        }
    }
}

/// Shared by the request handlers.
pub(crate) struct State {
    catalog: Catalog,
    pool: pool::Pool,
}

/// A running API; stopped by [`Api::stop`] or when dropped.
pub struct Api {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Api {
    /// Reads the schema cache of `dbname` on `server` and serves the API on 127.0.0.1.
    pub async fn start(server: &Server, dbname: &str, config: ApiConfig) -> Result<Api, Error> {
        let mut params: ConnParams = server.params().clone();
        if params.user != config.login_role {
            // The login role has its own password (if any) on servers we do not own.
            params.password = None;
            params.user = config.login_role.clone();
        }
        let login = pool::Login {
            params,
            dbname: dbname.to_owned(),
            anon_role: config.anon_role.clone(),
            schema: config.schema.clone(),
        };
        let sql_err = |action: &str, e: ApiError| Error::Sql {
            action: action.into(),
            message: format!("{} ({})", e.message, e.code),
            code: Some(e.code),
        };
        let pool = pool::Pool::new(login, config.pool_size)
            .await
            .map_err(|e| {
                sql_err(
                    &format!(
                        "log in as `{}` and switch to `{}` for the API",
                        config.login_role, config.anon_role
                    ),
                    e,
                )
            })?;
        let catalog = {
            let conn = pool
                .get()
                .await
                .map_err(|e| sql_err("open an API session", e))?;
            Catalog::load(&conn.client, &config.schema)
                .await
                .map_err(|e| Error::sql("read the schema cache", &e))?
        };
        if catalog.tables.is_empty() {
            return Err(Error::BadInput {
                what: "API schema".into(),
                value: config.schema.clone(),
                reason: format!(
                    "`{}` has no table visible to `{}`",
                    config.schema, config.anon_role
                ),
                hint: "load the schema first, or pass the schema that holds the tables".into(),
            });
        }
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port)))
            .await
            .map_err(|e| Error::Io {
                action: format!("listen on 127.0.0.1:{}", config.port),
                source: e,
            })?;
        let addr = listener.local_addr().map_err(|e| Error::Io {
            action: "read the API's address".into(),
            source: e,
        })?;
        let state = Arc::new(State { catalog, pool });
        let app = handlers::router(state);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Api {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL (`COSIMS_DB_HTTP_API_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for open requests to finish.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
