//! Backups and restores with the real tools, as production does them (infra.md §5,
//! database.md §6): `pg_dumpall` streamed into a borg repository as `pgdump_<timestamp>`
//! archives holding `database-all.sql`, pruned with the production retention, and the
//! runbook's manual restore (`DROP SCHEMA cosims CASCADE`, then `psql -f`).

mod borg;
mod restore;
mod retention;

use std::{collections::BTreeMap, path::Path, process::Stdio};

pub use borg::{ARCHIVE_PREFIX, Archive, Borg, STDIN_NAME, parse_archive_ref};
pub use restore::{RestoreOptions, RestoreReport, restore};
pub use retention::{RETENTION_ARGS, expected_kept};
use tokio_postgres::Client;

use crate::postgres::{Error, Result, Server};

/// Runs `pg_dumpall` (the whole cluster: roles, databases, data) into a file.
/// `schema_only` is the runbook's `pg_dumpall -s` used to rehearse patches.
pub async fn dumpall(server: &Server, schema_only: bool, out: &Path) -> Result<()> {
    let mut cmd = server.command("pg_dumpall", server.maintenance_db());
    if schema_only {
        cmd.arg("-s");
    }
    cmd.arg("-f").arg(out).stdin(Stdio::null());
    let what = if schema_only {
        "pg_dumpall -s"
    } else {
        "pg_dumpall"
    };
    run_tool(cmd, what).await.map(|_| ())
}

/// Runs a tool to completion; a non-zero exit is an error carrying its stderr.
pub async fn run_tool(cmd: std::process::Command, what: &str) -> Result<std::process::Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = tokio::process::Command::from(cmd)
        .output()
        .await
        .map_err(|e| missing_or_io(&program, e))?;
    if !out.status.success() {
        return Err(Error::Tool {
            command: what.to_string(),
            status: out.status.to_string(),
            stderr: crate::postgres::tail(&String::from_utf8_lossy(&out.stderr), 20),
        });
    }
    Ok(out)
}

pub(crate) fn missing_or_io(program: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        let hint = if program.ends_with("borg") {
            "install it: `apt-get install -y borgbackup`"
        } else {
            "install the PostgreSQL client: `apt-get install -y postgresql-client`"
        };
        Error::MissingTool {
            program: program.to_string(),
            hint: hint.into(),
        }
    } else {
        Error::io(format!("run `{program}`"), e)
    }
}

/// Row count and content checksum of a table: two snapshots with equal fingerprints hold
/// the same rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableFingerprint {
    /// Number of rows.
    pub rows: i64,
    /// md5 of all rows as text, in a canonical order.
    pub checksum: String,
}

/// Fingerprints every table of a schema, by table name.
pub async fn fingerprint_schema(
    client: &Client,
    schema: &str,
) -> Result<BTreeMap<String, TableFingerprint>> {
    let tables = client
        .query(
            "select tablename from pg_tables where schemaname = $1 order by tablename",
            &[&schema],
        )
        .await
        .map_err(|e| Error::sql("list tables", &e))?;
    let mut out = BTreeMap::new();
    for row in tables {
        let table: String = row.get(0);
        let q = format!(
            "select count(*), coalesce(md5(string_agg(t::text, E'\\n' order by t::text)), '') from {}.{} t",
            crate::postgres::quote_ident(schema),
            crate::postgres::quote_ident(&table)
        );
        let r = client
            .query_one(&q, &[])
            .await
            .map_err(|e| Error::sql(format!("fingerprint `{table}`"), &e))?;
        out.insert(
            table,
            TableFingerprint {
                rows: r.get(0),
                checksum: r.get(1),
            },
        );
    }
    Ok(out)
}
