//! What the verdict measures around each statement, from the patch's own session (so inside
//! its transaction): WAL position, the relation locks it holds, every user relation with its
//! file node (a changed node is a rewrite), columns, functions and schemas (to name what a
//! statement destroyed), `lock_timeout`, and the bytes of the database's files on disk.
//!
//! Only catalogs are read: measuring takes no lock on the patch's tables.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use tokio_postgres::Client;

/// A user relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rel {
    /// `schema.name`, each part quoted as SQL needs it.
    pub name: String,
    /// `r` table, `p` partitioned, `m` materialized view, `v` view, `S` sequence.
    pub kind: char,
    /// Its file node.
    pub filenode: i64,
}

/// The database as seen at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `pg_current_wal_insert_lsn()` in bytes.
    pub lsn: u64,
    /// `lock_timeout` of the session (`0` = wait for ever).
    pub lock_timeout: String,
    /// User relations by oid.
    pub rels: BTreeMap<i64, Rel>,
    /// (table oid, column) of user tables.
    pub columns: BTreeSet<(i64, String)>,
    /// User functions by oid (`schema.name`).
    pub functions: BTreeMap<i64, String>,
    /// User schemas.
    pub schemas: BTreeSet<String>,
    /// Relation locks held by the session: (oid, mode).
    pub locks: BTreeSet<(i64, String)>,
    /// Bytes of the database's files.
    pub db_bytes: u64,
}

const SNAPSHOT_SQL: &str = "select pg_catalog.json_build_object(
 'lsn', pg_catalog.pg_current_wal_insert_lsn() - '0/0'::pg_catalog.pg_lsn,
 'lock_timeout', pg_catalog.current_setting('lock_timeout'),
 'rels', coalesce((select pg_catalog.json_agg(pg_catalog.json_build_array(c.oid::int8, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), c.relkind, c.relfilenode::int8))
     from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r','p','m','v','S') and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'), '[]'),
 'cols', coalesce((select pg_catalog.json_agg(pg_catalog.json_build_array(a.attrelid::int8, a.attname))
     from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r','p') and a.attnum > 0 and not a.attisdropped and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'), '[]'),
 'funcs', coalesce((select pg_catalog.json_agg(pg_catalog.json_build_array(p.oid::int8, n.nspname || '.' || p.proname))
     from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname <> 'information_schema' and n.nspname !~ '^pg_'), '[]'),
 'schemas', coalesce((select pg_catalog.json_agg(nspname) from pg_catalog.pg_namespace
     where nspname <> 'information_schema' and nspname !~ '^pg_'), '[]'),
 'locks', coalesce((select pg_catalog.json_agg(pg_catalog.json_build_array(l.relation::int8, l.mode))
     from pg_catalog.pg_locks l where l.pid = pg_catalog.pg_backend_pid() and l.locktype = 'relation' and l.granted), '[]'))::text";

/// Takes a snapshot from the patch's session.
pub async fn snapshot(client: &Client, db_dir: &Path) -> Result<Snapshot, String> {
    let rows = client
        .simple_query(SNAPSHOT_SQL)
        .await
        .map_err(|e| e.to_string())?;
    let text = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or("no snapshot row")?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let mut s = Snapshot {
        lsn: v["lsn"].as_f64().unwrap_or(0.0) as u64,
        lock_timeout: v["lock_timeout"].as_str().unwrap_or("0").to_string(),
        db_bytes: dir_bytes(db_dir),
        ..Snapshot::default()
    };
    for r in arr("rels") {
        s.rels.insert(
            r[0].as_i64().unwrap_or(0),
            Rel {
                name: r[1].as_str().unwrap_or("").to_string(),
                kind: r[2].as_str().and_then(|k| k.chars().next()).unwrap_or('r'),
                filenode: r[3].as_i64().unwrap_or(0),
            },
        );
    }
    for c in arr("cols") {
        s.columns.insert((
            c[0].as_i64().unwrap_or(0),
            c[1].as_str().unwrap_or("").to_string(),
        ));
    }
    for f in arr("funcs") {
        s.functions.insert(
            f[0].as_i64().unwrap_or(0),
            f[1].as_str().unwrap_or("").to_string(),
        );
    }
    for n in arr("schemas") {
        if let Some(n) = n.as_str() {
            s.schemas.insert(n.to_string());
        }
    }
    for l in arr("locks") {
        s.locks.insert((
            l[0].as_i64().unwrap_or(0),
            l[1].as_str().unwrap_or("").to_string(),
        ));
    }
    Ok(s)
}

/// Total bytes of the files in a directory (not recursive: `base/<oid>` is flat).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Exact row counts of every user table, before the patch runs.
pub async fn row_counts(client: &Client, snap: &Snapshot) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    for (oid, rel) in &snap.rels {
        if !matches!(rel.kind, 'r' | 'm') {
            continue;
        }
        // The name is quoted by the server (quote_ident), so it is safe in SQL.
        let q = format!("select count(*) from only {}", rel.name);
        if let Ok(row) = client.query_one(&q, &[]).await {
            out.insert(*oid, row.get::<_, i64>(0));
        }
    }
    out
}

/// Lock modes from weakest to strongest.
pub const LOCK_MODES: &[&str] = &[
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

/// The rank of a lock mode (higher is stronger).
pub fn lock_rank(mode: &str) -> usize {
    LOCK_MODES.iter().position(|m| *m == mode).unwrap_or(0)
}

/// `AccessExclusiveLock` → `ACCESS EXCLUSIVE`, as the documentation names them.
pub fn lock_label(mode: &str) -> String {
    let base = mode.strip_suffix("Lock").unwrap_or(mode);
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_modes_are_ranked_and_named() {
        assert!(lock_rank("AccessExclusiveLock") > lock_rank("ShareLock"));
        assert_eq!(lock_label("AccessExclusiveLock"), "ACCESS EXCLUSIVE");
        assert_eq!(
            lock_label("ShareUpdateExclusiveLock"),
            "SHARE UPDATE EXCLUSIVE"
        );
    }
}
