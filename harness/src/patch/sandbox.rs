//! The sandbox a patch runs in: one throwaway cluster hrsi starts (never the user's server),
//! database `postgres` holding the data as production does (the template of every clone),
//! and `hrsi_patch`, the role the patch runs as: owner of every object of the data, but no
//! superuser, so server programs, server files, roles and other databases are out of reach.
//!
//! Data comes from our generator, a `pg_dumpall` file, a borg archive, or a `--postgres-url`
//! server used as a **read-only source**: `pg_dumpall --roles-only --no-role-passwords` and
//! `pg_dump` of its database (in read-only transactions) are loaded into the sandbox; no
//! patch statement, role or database ever reaches that server.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use tokio_postgres::{Client, NoTls};

use super::DataSource;
use crate::{
    backup::Borg,
    dataset,
    postgres::{Cluster, ClusterOptions, Error, Result, Scratch, Server},
    psql::{self, PsqlRun},
    schema::{Schema, StatementKind, split},
};

/// Bound on a dump read into memory for its meta-command check.
pub const MAX_DUMP_BYTES: u64 = 4 << 30;

/// The role patches run as unless `--allow-server-programs`.
pub const PATCH_ROLE: &str = "hrsi_patch";
/// The database holding the data (production keeps `cosims` in `postgres`).
pub const TEMPLATE_DB: &str = "postgres";

/// The throwaway cluster and its scratch space.
pub struct Sandbox {
    /// The cluster.
    pub server: Server,
    /// Private files (dumps), 0700, owned by the server's OS user.
    pub scratch: Scratch,
    /// The role the patch runs as.
    pub role: String,
}

impl Sandbox {
    /// Starts the cluster: WAL as production writes it (`wal_level=replica`, full page
    /// writes), so that the WAL figures mean something.
    pub fn start() -> Result<Sandbox> {
        let cluster = Cluster::start_with(ClusterOptions {
            settings: vec![
                "wal_level=replica".into(),
                "full_page_writes=on".into(),
                // The patch's own settings may not exceed these, whatever it asks.
                "max_connections=20".into(),
            ],
            immediate_stop: true,
            reuse_initdb: true,
            ..ClusterOptions::default()
        })?;
        let scratch = Scratch::new()?;
        if let Some((uid, gid)) = cluster.run_as() {
            scratch.chown(uid, gid)?;
        }
        Ok(Sandbox {
            server: Server::from_cluster(cluster),
            scratch,
            role: PATCH_ROLE.into(),
        })
    }

    /// Fills database `postgres` from the data source, and makes the runbook's schema-only
    /// database beside it ([`Sandbox::schema_only_db`]). Returns warnings and that
    /// database's name.
    pub async fn load(
        &self,
        data: &DataSource,
        schema: &Schema,
        source_url: Option<&str>,
    ) -> Result<(Vec<String>, String)> {
        let admin = self.server.admin().await?;
        let warnings = match (source_url, data) {
            (Some(url), _) => self.load_from_server(url).await?,
            (None, DataSource::Generated(spec)) => {
                let client = self.server.connect(TEMPLATE_DB).await?;
                schema
                    .load(&client)
                    .await
                    .map_err(|e| Error::Script(Box::new(e)))?;
                // The schema-only dump needs no data: it is taken while the data is
                // generated (pg_dump is another process, on the other core).
                let (generated, so) = tokio::join!(
                    dataset::generate(&client, spec),
                    self.schema_only_db(&admin)
                );
                generated?;
                return Ok((Vec::new(), so?));
            }
            (None, DataSource::History(spec)) => {
                let mut client = self.server.connect(TEMPLATE_DB).await?;
                let cfg = spec.config_ending_at(hrsi_sim::time::Instant(
                    crate::timefmt::UnixTime::now().0 * 1000,
                ));
                // The simulation (this process, another core) runs while the schema loads and
                // the schema-only dump is taken (pg_dump, another process).
                let record = tokio::task::spawn_blocking(move || {
                    hrsi_sim::snapshot::Snapshot::record(&cfg, &Default::default())
                });
                schema
                    .load(&client)
                    .await
                    .map_err(|e| Error::Script(Box::new(e)))?;
                let so = self.schema_only_db(&admin).await?;
                let snapshot = record
                    .await
                    .map_err(|e| Error::Io {
                        action: "simulate the history".into(),
                        source: std::io::Error::other(e.to_string()),
                    })?
                    .map_err(|e| Error::BadInput {
                        what: "history".into(),
                        value: format!("{} days", spec.days),
                        reason: e.to_string(),
                        hint: "give fewer --history-days, or --jobs N for generated data".into(),
                    })?;
                let warnings = match crate::world::export(&mut client, &snapshot).await {
                    Ok(_) => Vec::new(),
                    // A user's schema the export cannot write (another trigger, other
                    // columns): the generator's data, and a warning saying why.
                    Err(e) => {
                        let spec = dataset::DatasetSpec::default();
                        dataset::generate(&client, &spec).await?;
                        vec![format!(
                            "the production-shaped history could not be written into this schema ({e}); tested against {} generated jobs instead",
                            spec.jobs
                        )]
                    }
                };
                client
                    .batch_execute("analyze")
                    .await
                    .map_err(|e| Error::sql("analyze the data", &e))?;
                return Ok((warnings, so));
            }
            (None, _) => self.load_backup(data).await?,
        };
        let so = self.schema_only_db(&admin).await?;
        Ok((warnings, so))
    }

    async fn load_backup(&self, data: &DataSource) -> Result<Vec<String>> {
        let dump = match data {
            DataSource::Generated(_) | DataSource::History(_) => {
                unreachable!("generated data is not a backup")
            }
            DataSource::Dump(p) => p.clone(),
            DataSource::BorgArchive { repo, archive } => {
                let borg = Borg::new(repo, self.scratch.path().join("borg-base"));
                let out = self.scratch.path().join("database-all.sql");
                borg.extract(archive, &out).await.map_err(|e| Error::Tool {
                    command: format!("borg extract {}::{archive}", repo.display()),
                    status: "the backup could not be extracted".into(),
                    stderr: e.to_string(),
                })?;
                out
            }
        };
        check_dump(&dump, &data.describe())?;
        let warnings = self
            .load_dump_into_template(&dump, "the backup")
            .await?
            .into_iter()
            .collect();
        self.require_cosims(&data.describe()).await?;
        Ok(warnings)
    }

    async fn require_cosims(&self, what: &str) -> Result<()> {
        let client = self.server.connect(TEMPLATE_DB).await?;
        let n: i64 = client
            .query_one(
                "select count(*) from pg_namespace where nspname = 'cosims'",
                &[],
            )
            .await
            .map_err(|e| Error::sql("look for the cosims schema", &e))?
            .get(0);
        if n == 0 {
            return Err(Error::BadInput {
                what: "backup".into(),
                value: what.into(),
                reason: "once loaded, database `postgres` holds no `cosims` schema".into(),
                hint: "give a pg_dumpall of the production database (`database-all.sql`)".into(),
            });
        }
        Ok(())
    }

    /// `--postgres-url`: roles (without passwords) and the URL's database, dumped in
    /// read-only transactions and loaded here.
    async fn load_from_server(&self, url: &str) -> Result<Vec<String>> {
        let source = Server::external(url)?;
        let db = source.maintenance_db().to_string();
        let roles = self.scratch.path().join("source-roles.sql");
        let data = self.scratch.path().join("source-db.sql");
        let read_only = "-c default_transaction_read_only=on";
        let mut cmd = source.command("pg_dumpall", &db);
        cmd.args(["--roles-only", "--no-role-passwords", "-f"])
            .arg(&roles)
            .env("PGOPTIONS", read_only);
        run_tool(
            cmd,
            &format!("pg_dumpall --roles-only of {}", source.display_url(&db)),
        )
        .await?;
        let mut cmd = source.command("pg_dump", &db);
        cmd.args(["--no-subscriptions", "--no-publications", "-f"])
            .arg(&data)
            .env("PGOPTIONS", read_only);
        run_tool(cmd, &format!("pg_dump of {}", source.display_url(&db))).await?;
        let mut warnings = Vec::new();
        for (file, what) in [(&roles, "roles"), (&data, "database")] {
            check_dump(file, &format!("the {what} dump of the source server"))?;
            let label = format!("the source's {what} dump");
            warnings.extend(self.load_dump_into_template(file, &label).await?);
        }
        let _ = std::fs::remove_file(&data);
        Ok(warnings)
    }

    /// Loads a dump into the template database; a warning names its errors, if any. A dump
    /// recreates the roles the sandbox already has: "role … already exists" is not an error.
    async fn load_dump_into_template(&self, dump: &Path, label: &str) -> Result<Option<String>> {
        let run = self.load_dump(dump, TEMPLATE_DB).await?;
        let real: Vec<String> = run
            .errors
            .iter()
            .filter(|e| !(e.code.as_deref() == Some("42710") && e.message.starts_with("role ")))
            .map(|e| e.to_string())
            .collect();
        Ok(real.first().map(|first| {
            format!(
                "{label} loaded with {} error(s), first: {first}",
                real.len()
            )
        }))
    }

    /// Loads a dump with psql as the server's OS user (never root), reading it from a file
    /// descriptor we opened, as superuser `postgres` of the sandbox (a dump recreates roles).
    pub async fn load_dump(&self, dump: &Path, db: &str) -> Result<PsqlRun> {
        let file = std::fs::File::open(dump).map_err(|source| Error::ReadInput {
            path: dump.to_path_buf(),
            source,
        })?;
        let mut cmd = self.server.sandboxed_command("psql", db, "postgres")?;
        cmd.args(["-X", "-q", "-v", "VERBOSITY=verbose", "-f", "-"])
            .stdin(Stdio::from(file))
            .stdout(Stdio::null());
        psql::run(cmd, None).await
    }

    /// Creates the patch role and gives it every object of the data in these databases.
    /// Superuser mode (`--allow-server-programs`) runs the patch as `postgres` instead.
    pub async fn prepare_role(&mut self, superuser: bool, dbs: &[&str]) -> Result<()> {
        if superuser {
            self.role = "postgres".into();
            return Ok(());
        }
        for db in dbs {
            let client = self.server.connect(db).await?;
            client
                .batch_execute(&format!(
                    "{OWNERSHIP_SQL}\ngrant create, temporary on database {} to {PATCH_ROLE};",
                    crate::postgres::quote_ident(db)
                ))
                .await
                .map_err(|e| Error::sql("create the patch role", &e))?;
        }
        Ok(())
    }

    /// A session on a sandbox database as the patch role.
    pub async fn connect_as_patch(&self, db: &str) -> Result<Client> {
        let mut config = self.server.params().config(db);
        config.user(&self.role).application_name("hrsi-patch");
        let (client, conn) = config
            .connect(NoTls)
            .await
            .map_err(|e| Error::sql(format!("connect to `{db}` as {}", self.role), &e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// `base/<oid>` of a database (its files, for size measurements).
    pub async fn db_dir(&self, client: &Client) -> Result<PathBuf> {
        let oid: u32 = client
            .query_one(
                "select oid from pg_catalog.pg_database where datname = current_database()",
                &[],
            )
            .await
            .map_err(|e| Error::sql("read the database oid", &e))?
            .get(0);
        let cluster = self.server.cluster().expect("the sandbox owns its cluster");
        Ok(cluster.data_dir().join("base").join(oid.to_string()))
    }

    /// The runbook's variant: `pg_dump -s` of the data (schema only), loaded into a fresh
    /// database of the same cluster. Returns its name.
    pub async fn schema_only_db(&self, admin: &crate::postgres::Admin<'_>) -> Result<String> {
        let dump = self.scratch.path().join(format!(
            "schema-only-{}.sql",
            crate::postgres::unique_db_name("s")
        ));
        let mut cmd = self.server.command("pg_dump", TEMPLATE_DB);
        cmd.args(["-s", "-f"]).arg(&dump);
        run_tool(cmd, "pg_dump -s").await?;
        let db = crate::postgres::unique_db_name("so");
        admin.create_database(&db).await?;
        self.load_dump(&dump, &db).await?;
        let _ = std::fs::remove_file(&dump);
        Ok(db)
    }
}

/// Gives every object of the user's schemas to the patch role (errors on an object leave it
/// as it was: the patch then gets "permission denied" there, which the report explains).
const OWNERSHIP_SQL: &str = "
do $hrsi$
declare r record;
begin
  if not exists (select 1 from pg_roles where rolname = 'hrsi_patch') then
    create role hrsi_patch login nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
  end if;
  -- A backup (or the source server) may hold a role of that name: whatever it says, the
  -- patch role gets no attribute and no membership (`GRANT postgres TO …` would let it
  -- `SET ROLE postgres`).
  alter role hrsi_patch nosuperuser nocreatedb nocreaterole noreplication nobypassrls login;
  for r in select format('revoke %I from hrsi_patch', b.rolname) q
           from pg_auth_members m join pg_roles b on b.oid = m.roleid
           where m.member = (select oid from pg_roles where rolname = 'hrsi_patch') loop
    execute r.q;
  end loop;
  for r in select format('alter schema %I owner to hrsi_patch', nspname) q from pg_namespace
           where nspname <> 'information_schema' and nspname !~ '^pg_' loop
    begin execute r.q; exception when others then null; end;
  end loop;
  for r in select format('alter %s %s owner to hrsi_patch',
                  case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                 when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end,
                  c.oid::regclass) q
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where c.relkind in ('r','p','v','m','S','f') and n.nspname <> 'information_schema' and n.nspname !~ '^pg_' loop
    begin execute r.q; exception when others then null; end;
  end loop;
  for r in select format('alter routine %s owner to hrsi_patch', p.oid::regprocedure) q
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname <> 'information_schema' and n.nspname !~ '^pg_' and p.prokind <> 'a' loop
    begin execute r.q; exception when others then null; end;
  end loop;
  for r in select format('alter %s %s owner to hrsi_patch',
                  case t.typtype when 'd' then 'domain' else 'type' end, t.oid::regtype) q
           from pg_type t join pg_namespace n on n.oid = t.typnamespace
           where n.nspname <> 'information_schema' and n.nspname !~ '^pg_'
             and (t.typtype in ('e','d','r','m')
                  or (t.typtype = 'c' and exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind = 'c'))) loop
    begin execute r.q; exception when others then null; end;
  end loop;
end
$hrsi$;";

/// A file given as a backup must be a dump, and may hold only the meta-commands pg_dump
/// writes (psql reads it; anything else could reach the host).
fn check_dump(path: &Path, what: &str) -> Result<()> {
    let bad = |reason: String, hint: &str| Error::BadInput {
        what: "backup".into(),
        value: what.into(),
        reason,
        hint: hint.into(),
    };
    let meta = std::fs::metadata(path).map_err(|source| Error::ReadInput {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(bad(
            "it is empty or not a regular file".into(),
            "give a `database-all.sql` written by pg_dumpall, or REPO::ARCHIVE of a borg repository",
        ));
    }
    if meta.len() > MAX_DUMP_BYTES {
        return Err(bad(
            format!("it is larger than {} GiB", MAX_DUMP_BYTES >> 30),
            "test against a smaller backup, or a schema-only dump",
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("read `{}`", path.display()), e))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        bad(
            "it is not UTF-8 text (a custom-format or compressed dump?)".into(),
            "give a plain-text dump (`pg_dumpall > database-all.sql`); decompress it first",
        )
    })?;
    if !text
        .lines()
        .take(30)
        .any(|l| l.contains("PostgreSQL database") && l.contains("dump"))
    {
        return Err(bad(
            "it does not start like a pg_dumpall/pg_dump file (no \"PostgreSQL database … dump\" header)".into(),
            "give a `database-all.sql` written by pg_dumpall, or REPO::ARCHIVE of a borg repository",
        ));
    }
    let statements = split(&text).map_err(|e| {
        bad(
            format!("line {}: {}", e.line, e.message),
            "the file is not a complete dump (truncated?)",
        )
    })?;
    let hits = super::findings::scripts_reaching_beyond(
        statements
            .iter()
            .filter(|st| !matches!(st.kind, StatementKind::Meta { .. }))
            .map(|st| (format!("line {}", st.line), st.text.as_str())),
    );
    if let Some(first) = hits.first() {
        return Err(bad(
            format!(
                "{first} ({} such statement(s)); pg_dump writes none",
                hits.len()
            ),
            "a backup is loaded as the sandbox's superuser: it may not reach beyond it",
        ));
    }
    for st in statements {
        if let StatementKind::Meta { command, .. } = &st.kind
            && !matches!(
                command.as_str(),
                "connect" | "c" | "restrict" | "unrestrict"
            )
        {
            return Err(bad(
                format!(
                    "line {}: the meta-command `\\{command}` is not one pg_dump writes",
                    st.line
                ),
                "a dump that runs other meta-commands could reach the host: refused",
            ));
        }
    }
    Ok(())
}

/// Runs a client tool to completion (killed if the test is interrupted).
pub async fn run_tool(mut cmd: std::process::Command, what: &str) -> Result<std::process::Output> {
    use std::os::unix::process::CommandExt;
    // The dumps it writes are 0600 from their first byte (the directory is 0700 too).
    // SAFETY: umask(2) is async-signal-safe and touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
            Ok(())
        });
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true).stdin(Stdio::null());
    let out = cmd.output().await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingTool {
            program: program.clone(),
            hint: "install the PostgreSQL client: `apt-get install -y postgresql-client`".into(),
        },
        _ => Error::io(format!("run `{program}`"), e),
    })?;
    if !out.status.success() {
        return Err(Error::Tool {
            command: what.to_string(),
            status: out.status.to_string(),
            // libpq tools never print the password; the URL itself is not in their stderr.
            stderr: crate::postgres::tail(&String::from_utf8_lossy(&out.stderr), 20),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn psql_runs_as_the_servers_os_user_never_root() {
        let sb = Sandbox::start().unwrap();
        let mut cmd = sb
            .server
            .sandboxed_command("psql", TEMPLATE_DB, "postgres")
            .unwrap();
        // Our own command, to see who psql runs as: a shell escape prints its uid.
        cmd.args(["-X", "-At", "-c", "\\! id -u"]);
        let out = tokio::process::Command::from(cmd).output().await.unwrap();
        let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let cluster = sb.server.cluster().unwrap();
        match cluster.run_as() {
            Some((server_uid, _)) => assert_eq!(uid, server_uid),
            None => assert_eq!(uid, nix::unistd::geteuid().as_raw()),
        }
        if nix::unistd::geteuid().is_root() {
            assert_ne!(uid, 0, "psql ran as root");
        }
        // Its environment is clean: none of ours reaches it.
        let mut cmd = sb
            .server
            .sandboxed_command("psql", TEMPLATE_DB, "postgres")
            .unwrap();
        cmd.args(["-X", "-At", "-c", "\\getenv p PATH", "-c", "\\echo :p"]);
        let out = tokio::process::Command::from(cmd).output().await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            crate::postgres::SAFE_PATH
        );
    }

    #[tokio::test]
    async fn the_patch_role_owns_the_data_but_cannot_reach_the_host() {
        let mut sb = Sandbox::start().unwrap();
        sb.load(
            &DataSource::Generated(dataset::DatasetSpec {
                jobs: 20,
                ..Default::default()
            }),
            &Schema::builtin(),
            None,
        )
        .await
        .unwrap();
        // A hostile backup may bring its own `hrsi_patch`, superuser and member of postgres.
        let admin = sb.server.connect(TEMPLATE_DB).await.unwrap();
        admin
            .batch_execute(
                "create role hrsi_patch superuser createrole; grant postgres to hrsi_patch",
            )
            .await
            .unwrap();
        sb.prepare_role(false, &[TEMPLATE_DB]).await.unwrap();
        let c = sb.connect_as_patch(TEMPLATE_DB).await.unwrap();
        let not_owned: i64 = c
            .query_one(
                "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = 'cosims' and pg_get_userbyid(c.relowner) <> 'hrsi_patch'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(not_owned, 0);
        for sql in [
            "copy (select 1) to program 'id'",
            "select pg_read_file('/etc/passwd')",
            "alter system set work_mem = '1MB'",
            "create role x superuser",
            "select lo_import('/etc/passwd')",
            "set role postgres",
        ] {
            let e = c.batch_execute(sql).await.unwrap_err();
            assert_eq!(
                e.as_db_error().map(|d| d.code().code()),
                Some("42501"),
                "{sql}: {e}"
            );
        }
    }
}
