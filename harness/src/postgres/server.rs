//! A PostgreSQL server the harness talks to: an ephemeral [`Cluster`] it owns, an existing
//! server given by URL, or (feature `docker`) a container.

use std::{
    path::PathBuf,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use tokio_postgres::{Client, NoTls};

use super::{
    binaries::{Binaries, client_program},
    cluster::Cluster,
    error::{Error, Result},
    os_user::{self, OsUser},
    passfile::PassFile,
    url::ConnParams,
};

/// The comment that marks a database as created by the harness. Destructive operations
/// refuse any database without it (on servers the harness does not own as a whole).
pub const OWNERSHIP_MARK: &str = "hrsi-harness: created by the rehearsal harness; safe to drop";

/// A PostgreSQL server and how to reach it.
#[derive(Debug)]
pub struct Server {
    params: ConnParams,
    backend: Backend,
    /// The password, for client tools (only when the server needs one).
    passfile: Option<PassFile>,
}

#[derive(Debug)]
enum Backend {
    /// A throwaway cluster: everything in it belongs to the harness.
    Owned(Box<Cluster>),
    /// An existing server: only databases carrying the ownership mark may be changed.
    External,
    /// A container started through testcontainers; removed when dropped (the handle is
    /// held only for that).
    #[cfg(feature = "docker")]
    Docker(#[expect(dead_code)] Box<super::docker::Container>),
}

impl Server {
    /// Starts an ephemeral cluster (the default backend).
    pub fn ephemeral() -> Result<Server> {
        Ok(Server::from_cluster(Cluster::start()?))
    }

    /// Wraps a cluster the harness started.
    pub fn from_cluster(cluster: Cluster) -> Server {
        let params = ConnParams {
            host: cluster.socket_dir().display().to_string(),
            port: cluster.port(),
            user: "postgres".into(),
            password: None,
            dbname: "postgres".into(),
        };
        Server {
            params,
            backend: Backend::Owned(Box::new(cluster)),
            passfile: None,
        }
    }

    /// An existing server, from a `postgres://` URL. Nothing is changed on it except the
    /// databases the harness creates (they carry [`OWNERSHIP_MARK`]).
    pub fn external(url: &str) -> Result<Server> {
        let params = ConnParams::parse(url)?;
        let passfile = match &params.password {
            Some(pw) => Some(PassFile::new(&params.host, params.port, &params.user, pw)?),
            None => None,
        };
        Ok(Server {
            params,
            backend: Backend::External,
            passfile,
        })
    }

    #[cfg(feature = "docker")]
    pub(crate) fn from_container(params: ConnParams, c: super::docker::Container) -> Server {
        let passfile = params
            .password
            .as_deref()
            .and_then(|pw| PassFile::new(&params.host, params.port, &params.user, pw).ok());
        Server {
            params,
            backend: Backend::Docker(Box::new(c)),
            passfile,
        }
    }

    /// How to reach the server.
    pub fn params(&self) -> &ConnParams {
        &self.params
    }

    /// The maintenance database (`postgres` unless the URL says otherwise).
    pub fn maintenance_db(&self) -> &str {
        &self.params.dbname
    }

    /// The cluster, when the harness owns the whole server.
    pub fn cluster(&self) -> Option<&Cluster> {
        match &self.backend {
            Backend::Owned(c) => Some(c),
            _ => None,
        }
    }

    /// The cluster, mutably (to stop and restart it).
    pub fn cluster_mut(&mut self) -> Option<&mut Cluster> {
        match &mut self.backend {
            Backend::Owned(c) => Some(c),
            _ => None,
        }
    }

    /// Whether the harness owns the whole server (and so may run server-wide operations:
    /// restores, role changes, stop/start).
    pub fn owns_server(&self) -> bool {
        match &self.backend {
            Backend::Owned(_) => true,
            Backend::External => false,
            #[cfg(feature = "docker")]
            Backend::Docker(_) => true,
        }
    }

    /// The URL to show users (password redacted).
    pub fn display_url(&self, dbname: &str) -> String {
        self.params.display_url(dbname)
    }

    /// Connects to a database. The connection task runs on the current tokio runtime.
    pub async fn connect(&self, dbname: &str) -> Result<Client> {
        let (client, conn) = self
            .params
            .config(dbname)
            .connect(NoTls)
            .await
            .map_err(|e| {
                Error::sql(
                    format!("connect to {}", self.params.display_url(dbname)),
                    &e,
                )
            })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// Path of a PostgreSQL client program matching the server when the harness knows it.
    pub fn program(&self, name: &str) -> PathBuf {
        match &self.backend {
            Backend::Owned(c) => c.binaries().program(name),
            _ => client_program(name),
        }
    }

    /// A client tool (`psql`, `pg_dumpall`, `pg_dump`) set up to reach one database, with
    /// a clean environment (the password only through a 0600 `PGPASSFILE`).
    pub fn command(&self, program: &str, dbname: &str) -> Command {
        self.command_as(program, dbname, None)
    }

    /// Like [`Server::command`], run as the OS user `user` (as we are when `None`).
    pub fn command_as(&self, program: &str, dbname: &str, user: Option<OsUser>) -> Command {
        let mut cmd = os_user::command(self.program(program), user, None);
        self.params
            .apply_env(&mut cmd, dbname, self.passfile.as_ref().map(PassFile::path));
        cmd
    }

    /// Like [`Server::command`], but the tool runs as the OS user the owned cluster runs as
    /// (never root), from the cluster's directory, as user `role` of the server. Used for
    /// every psql that reads input we did not write ourselves: a meta-command that slipped
    /// through could then reach no more than the throwaway cluster's own files.
    pub fn sandboxed_command(&self, program: &str, dbname: &str, role: &str) -> Result<Command> {
        let cluster = self.cluster().ok_or_else(|| Error::NotOwned {
            action: "run a client tool on behalf of a patch against".into(),
            database: self.display_url(dbname),
        })?;
        let user = cluster.run_as().map(|(uid, gid)| OsUser { uid, gid });
        let mut cmd = self.command_as(program, dbname, user);
        cmd.env("PGUSER", role)
            .env("HOME", cluster.dir())
            .current_dir(cluster.dir());
        Ok(cmd)
    }

    /// An administration session. On an owned cluster it sits on `template1`, so that
    /// `postgres` (where production keeps `cosims`) can itself be the source of clones; on an
    /// external server it uses the URL's database.
    pub async fn admin(&self) -> Result<Admin<'_>> {
        let db = if self.owns_server() {
            "template1"
        } else {
            self.maintenance_db()
        };
        let client = self.connect(db).await?;
        let version: i32 = client
            .query_one("select current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| Error::sql("read the server version", &e))?
            .get(0);
        Ok(Admin {
            server: self,
            client,
            version,
        })
    }

    /// The binaries of an owned cluster.
    pub fn binaries(&self) -> Option<&Binaries> {
        self.cluster().map(Cluster::binaries)
    }
}

/// A session on the maintenance database, used to create, clone and drop databases.
pub struct Admin<'s> {
    server: &'s Server,
    client: Client,
    version: i32,
}

static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database name, unique in this process and across processes sharing a server.
pub fn unique_db_name(kind: &str) -> String {
    let n = DB_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("hrsi_{kind}_{}_{n}", std::process::id())
}

impl Admin<'_> {
    /// The admin connection, for ad-hoc queries on the maintenance database.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `server_version_num` (150018 for 15.18).
    pub fn server_version(&self) -> i32 {
        self.version
    }

    /// Creates an empty database carrying the ownership mark.
    pub async fn create_database(&self, name: &str) -> Result<()> {
        self.create(name, None).await
    }

    /// Creates a database as a copy of `template` (which must have no open session), with
    /// the ownership mark. On PostgreSQL ≥ 15 the copy uses `STRATEGY FILE_COPY`, about 3×
    /// faster than the default WAL_LOG for small databases.
    pub async fn clone_database(&self, template: &str, name: &str) -> Result<()> {
        self.create(name, Some(template)).await
    }

    async fn create(&self, name: &str, template: Option<&str>) -> Result<()> {
        self.client
            .batch_execute(&create_database_sql(name, template, self.version))
            .await
            .map_err(|e| Error::sql(format!("create database `{name}`"), &e))?;
        self.client
            .batch_execute(&mark_database_sql(name))
            .await
            .map_err(|e| Error::sql(format!("mark database `{name}`"), &e))
    }

    /// Whether a database carries the ownership mark, or lives on a server the harness owns.
    pub async fn is_owned(&self, name: &str) -> Result<bool> {
        if self.server.owns_server() {
            return Ok(true);
        }
        let row = self
            .client
            .query_opt(
                "select shobj_description(oid, 'pg_database') from pg_database where datname = $1",
                &[&name],
            )
            .await
            .map_err(|e| Error::sql(format!("read the comment of `{name}`"), &e))?;
        Ok(row
            .and_then(|r| r.get::<_, Option<String>>(0))
            .is_some_and(|c| c == OWNERSHIP_MARK))
    }

    /// Fails unless the database is owned by the harness.
    pub async fn ensure_owned(&self, name: &str, action: &str) -> Result<()> {
        if self.is_owned(name).await? {
            Ok(())
        } else {
            Err(Error::NotOwned {
                action: action.into(),
                database: name.into(),
            })
        }
    }

    /// Drops a database the harness created (sessions on it are terminated).
    pub async fn drop_database(&self, name: &str) -> Result<()> {
        self.ensure_owned(name, "drop database").await?;
        let force = if self.version >= 130000 {
            " with (force)"
        } else {
            ""
        };
        self.client
            .batch_execute(&format!(
                "drop database if exists {}{force}",
                quote_ident(name)
            ))
            .await
            .map_err(|e| Error::sql(format!("drop database `{name}`"), &e))
    }

    /// Waits until no session is connected to `name` (a template cannot be copied while
    /// someone is connected, and a closed client's backend exits asynchronously).
    pub async fn wait_until_unused(&self, name: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let n: i64 = self
                .client
                .query_one(
                    "select count(*) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
                    &[&name],
                )
                .await
                .map_err(|e| Error::sql("list sessions", &e))?
                .get(0);
            if n == 0 || Instant::now() > deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// `CREATE DATABASE name` as a copy of `template` (`None`: an empty one, from `template0`;
/// the admin session may sit on `template1`), with `STRATEGY FILE_COPY` on PostgreSQL ≥ 15.
pub(super) fn create_database_sql(name: &str, template: Option<&str>, version: i32) -> String {
    let t = template.unwrap_or("template0");
    let mut sql = format!(
        "create database {} template {}",
        quote_ident(name),
        quote_ident(t)
    );
    if version >= 150000 && t != "template0" {
        sql.push_str(" strategy file_copy");
    }
    sql
}

/// The comment that marks a database as the harness's ([`OWNERSHIP_MARK`]).
pub(super) fn mark_database_sql(name: &str) -> String {
    format!(
        "comment on database {} is {}",
        quote_ident(name),
        quote_literal(OWNERSHIP_MARK)
    )
}

/// Quotes an identifier for SQL.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Quotes a string literal for SQL.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
