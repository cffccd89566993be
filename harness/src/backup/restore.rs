//! The runbook's "reset the database from a backup": `DROP SCHEMA cosims CASCADE`, then
//! `psql -f database-all.sql`, with every error captured and sorted.
//!
//! psql exits 0 whatever happens (database.md §6.4), so the verdict comes from the errors:
//! - `role "…" already exists` (one per role of the dump) is expected and harmless;
//! - `schema "cosims" already exists` means the schema was not dropped first: the restore
//!   then changed nothing (COPY into existing tables aborts on duplicates), a silent failure;
//! - anything else is a real error.

use std::{path::Path, process::Stdio};

use crate::{
    postgres::{Error, Result, Server},
    psql::{self, PsqlRun, SqlError},
};

/// How to restore.
#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// Run `DROP SCHEMA cosims CASCADE` first, as the runbook says.
    pub drop_schema_first: bool,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            drop_schema_first: true,
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The `DROP SCHEMA` step, when run.
    pub drop: Option<PsqlRun>,
    /// The `psql -f` run.
    pub load: PsqlRun,
    /// Expected errors: roles that already exist.
    pub harmless: Vec<SqlError>,
    /// Errors that mean data or objects were not restored.
    pub real: Vec<SqlError>,
    /// The schema still existed when the dump was loaded: nothing was restored.
    pub schema_not_dropped: bool,
}

impl RestoreReport {
    /// Whether the database now holds the backup.
    pub fn restored(&self) -> bool {
        self.real.is_empty() && !self.schema_not_dropped
    }

    /// A human summary.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "psql exit code {}, {} error(s): {} harmless (roles that already exist), {} real",
            self.load
                .exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none (signal)".into()),
            self.load.errors.len(),
            self.harmless.len(),
            self.real.len()
        );
        if self.schema_not_dropped {
            s.push_str(
                "\nthe schema `cosims` was not dropped first: the restore exited 0 but changed nothing\n(hint: run `DROP SCHEMA cosims CASCADE;` then load the dump again)",
            );
        }
        for e in &self.real {
            s.push_str(&format!("\n  {e}"));
        }
        s
    }
}

/// Restores a `pg_dumpall` file into a server the harness owns (a restore is server-wide:
/// it recreates roles).
pub async fn restore(
    server: &Server,
    dump: &Path,
    options: RestoreOptions,
) -> Result<RestoreReport> {
    if !server.owns_server() {
        return Err(Error::NotOwned {
            action: "restore a pg_dumpall backup into".into(),
            database: server.display_url(server.maintenance_db()),
        });
    }
    if !dump.is_file() {
        return Err(Error::ReadInput {
            path: dump.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such dump file"),
        });
    }
    let db = server.maintenance_db().to_string();
    let drop = if options.drop_schema_first {
        Some(psql::run_command(server, &db, "DROP SCHEMA cosims CASCADE;").await?)
    } else {
        None
    };
    let mut cmd = server.command("psql", &db);
    cmd.args(["-X", "-v", "VERBOSITY=verbose", "-f"])
        .arg(dump)
        .stdin(Stdio::null());
    let load = psql::run(cmd, None).await?;
    let (harmless, real): (Vec<SqlError>, Vec<SqlError>) =
        load.errors.iter().cloned().partition(is_harmless);
    let schema_not_dropped = real
        .iter()
        .any(|e| e.code.as_deref() == Some("42P06") && e.message.contains("\"cosims\""));
    Ok(RestoreReport {
        drop,
        load,
        harmless,
        real,
        schema_not_dropped,
    })
}

fn is_harmless(e: &SqlError) -> bool {
    e.code.as_deref() == Some("42710")
        && e.message.starts_with("role ")
        && e.message.ends_with("already exists")
}
