//! A small connection pool: at most `size` sessions, each logged in as the authenticator role
//! and switched to the anonymous role (as PostgREST does), each with its own cache of
//! prepared statements (requests of one shape share one statement; values are parameters).

use std::{collections::HashMap, sync::Mutex, time::Duration};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, NoTls, Statement};

use super::error::ApiError;
use crate::postgres::{ConnParams, quote_ident, quote_literal};

/// Most prepared statements kept per session before the cache is cleared.
const STATEMENT_CACHE: usize = 512;
/// Longest a statement may run (PostgREST's clients time out after 60 s).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One session.
pub struct Conn {
    /// The session.
    pub client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// A prepared statement for `sql`, from the cache when possible.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement, ApiError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let text_params = vec![tokio_postgres::types::Type::TEXT; count_params(sql)];
        let st = self.client.prepare_typed(sql, &text_params).await?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

/// Highest `$n` in the SQL (every parameter the builders emit is `$n::text`).
fn count_params(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            let mut n = 0usize;
            while j < b.len() && b[j].is_ascii_digit() {
                n = n * 10 + usize::from(b[j] - b'0');
                j += 1;
            }
            max = max.max(n);
            i = j;
        } else {
            i += 1;
        }
    }
    max
}

/// How the pool logs in.
#[derive(Debug, Clone)]
pub struct Login {
    /// Where and as whom (the user is the login role).
    pub params: ConnParams,
    /// The database holding the schema.
    pub dbname: String,
    /// The role every request runs as.
    pub anon_role: String,
    /// The exposed schema (first on the search path, as PostgREST sets it).
    pub schema: String,
}

/// The pool.
pub struct Pool {
    login: Login,
    idle: Mutex<Vec<Conn>>,
    permits: std::sync::Arc<Semaphore>,
}

/// A checked-out session, returned to the pool on drop (unless it broke).
pub struct Lease<'p> {
    pool: &'p Pool,
    conn: Option<Conn>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("leased")
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("leased")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take()
            && !c.client.is_closed()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(c);
        }
    }
}

impl Pool {
    /// A pool of at most `size` sessions; opens one now to check the login works.
    pub async fn new(login: Login, size: usize) -> Result<Pool, ApiError> {
        let pool = Pool {
            login,
            idle: Mutex::new(Vec::new()),
            permits: std::sync::Arc::new(Semaphore::new(size.max(1))),
        };
        let first = pool.open().await?;
        pool.idle.lock().expect("pool lock").push(first);
        Ok(pool)
    }

    async fn open(&self) -> Result<Conn, ApiError> {
        let (client, conn) = self
            .login
            .params
            .config(&self.login.dbname)
            .application_name("hrsi-api")
            .connect(NoTls)
            .await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
            .batch_execute(&format!(
                "set role {}; set search_path = {}, public; set statement_timeout = {}; set timezone = 'UTC'",
                quote_ident(&self.login.anon_role),
                quote_ident(&self.login.schema),
                quote_literal(&format!("{}ms", STATEMENT_TIMEOUT.as_millis())),
            ))
            .await?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    /// A session, waiting for one to be free.
    pub async fn get(&self) -> Result<Lease<'_>, ApiError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::from_closed())?;
        let idle = self.idle.lock().expect("pool lock").pop();
        let conn = match idle {
            Some(c) if !c.client.is_closed() => c,
            _ => self.open().await?,
        };
        Ok(Lease {
            pool: self,
            conn: Some(conn),
            _permit: permit,
        })
    }
}

impl ApiError {
    fn from_closed() -> ApiError {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "PGRST000",
            "Database connection pool closed",
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_are_counted() {
        assert_eq!(super::count_params("select $1::text, $12::text, $3"), 12);
        assert_eq!(super::count_params("select 1"), 0);
    }
}
