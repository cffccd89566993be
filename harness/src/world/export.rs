//! Writing a snapshot (whole, or what changed since the last one) into the `cosims` schema.
//!
//! Every transition is checked in Rust first ([`Snapshot::check`], [`Snapshot::delta_since`]),
//! so the bulk load runs with the O(history) trigger `check_status_change` off, and only the
//! load: `set local session_replication_role = replica` inside the export's one transaction, so
//! no other session ever runs without the trigger and a failure rolls everything back. The
//! replica role also skips the job-name trigger and the foreign-key checks: the snapshot's
//! check refuses whitespace in names, and every row written references a job of the same
//! export or one the database was checked to hold. Unique keys, primary keys and check
//! constraints stay enforced. The trigger's work is done here: `parent_jobs.last_status_*` and
//! `error_raised` are written from the history. An export refuses tables carrying other
//! triggers than the schema's own (a patched schema's trigger would be skipped silently).
//! Parameters are written with an `UPDATE` of the changed columns only, with triggers back on,
//! through the real history trigger, as an operator's change would be.

use std::{collections::BTreeMap, pin::pin};

use bytes::Bytes;
use futures_util::SinkExt;
use hrsi_sim::snapshot::{Job, Snapshot};
use tokio_postgres::{Client, Transaction, types::Type};

use super::{
    Error, Result,
    rows::{
        COLUMN_TYPES_SQL, Catalogue, Encoded, RowSink, STATUS_COLUMNS, TypedBin, binary_types,
        catalogue, encode, job_tables, status_row,
    },
};
use crate::postgres::{self, quote_ident};

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// `parent_jobs` rows inserted.
    pub jobs_inserted: u64,
    /// `parent_jobs` rows updated (incremental export).
    pub jobs_updated: u64,
    /// `job_status_changes` rows inserted.
    pub status_changes: u64,
    /// `system_parameters` columns changed.
    pub params_changed: u64,
}

pub(super) fn sql(action: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| Error::Postgres(postgres::Error::sql(action, &e))
}

/// Exports a whole snapshot into a database holding the `cosims` schema and no jobs (a fresh
/// clone of the schema template). Nothing is written if the snapshot is invalid.
pub async fn export(client: &mut Client, snapshot: &Snapshot) -> Result<ExportSummary> {
    snapshot.check()?;
    let tx = client
        .transaction()
        .await
        .map_err(sql("begin the export"))?;
    let jobs: i64 = tx
        .query_one("select count(*) from cosims.parent_jobs", &[])
        .await
        .map_err(sql("count the jobs in cosims.parent_jobs"))?
        .get(0);
    if jobs > 0 {
        return Err(Error::NotEmpty { jobs });
    }
    disable_trigger(&tx).await?;
    // Empty tables truncated in this transaction get new files: with `wal_level=minimal` (the
    // throwaway clusters) the load and the index builds write no WAL, and the rows can be
    // loaded frozen (no hint-bit writes when the template or its clones are first read).
    let fresh = truncate_empty(&tx).await?;
    // Into empty tables, indexes are built faster after the load than row by row (as
    // pg_restore does). Unique keys are added back after the load too, which checks them
    // (a duplicate fails the export); only keys a foreign key depends on stay.
    let mut indexes = if fresh {
        drop_unique_keys(&tx).await?
    } else {
        Vec::new()
    };
    indexes.extend(drop_secondary_indexes(&tx).await?);
    let cat = catalogue(
        &tx.query(COLUMN_TYPES_SQL, &[&TABLES_WRITTEN.to_vec()])
            .await
            .map_err(sql("read the column types of the tables written"))?,
    );
    let mut summary = write_jobs(
        &tx,
        snapshot,
        &snapshot.jobs.iter().map(|j| &**j).collect::<Vec<_>>(),
        fresh,
        &cat,
    )
    .await?;
    // Memory for the sorts of the index builds (this transaction only): the status table's
    // keys sort in memory, and PostgreSQL may give a build parallel workers.
    indexes.insert(0, "set local maintenance_work_mem = '256MB'".into());
    tx.batch_execute(&indexes.join(";\n"))
        .await
        .map_err(sql("build the keys and indexes again"))?;
    summary.params_changed = write_params(&tx, snapshot.params.as_ref()).await?;
    finish(tx).await?;
    Ok(summary)
}

/// Switches this transaction's triggers off (`session_replication_role = replica`, local to
/// the transaction: other sessions keep every trigger) after checking that the tables written
/// carry only the schema's own triggers, whose work the export does itself.
async fn disable_trigger(tx: &Transaction<'_>) -> Result<()> {
    let rows = tx
        .query(TRIGGERS_SQL, &[&TABLES_WRITTEN.to_vec()])
        .await
        .map_err(sql("list the triggers of the tables written"))?;
    check_triggers(&rows)?;
    tx.batch_execute(REPLICA).await.map_err(sql(
        "switch the triggers off for the bulk load (superuser needed)",
    ))
}

/// Triggers off for this transaction only (and the foreign-key checks with them).
pub(super) const REPLICA: &str = "set local session_replication_role = replica";

/// The triggers of the tables written (`$1`: [`TABLES_WRITTEN`]).
pub(super) const TRIGGERS_SQL: &str =
    "select c.relname::text, t.tgname::text from pg_trigger t join pg_class c on c.oid = t.tgrelid
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'cosims' and not t.tgisinternal and c.relname = any($1)
     order by 1, 2";

/// Refuses a schema without the history trigger, or with a trigger the load would skip.
pub(super) fn check_triggers(rows: &[tokio_postgres::Row]) -> Result<()> {
    let found: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    if !found
        .iter()
        .any(|(t, n)| t == "job_status_changes" && n == "check_status_change")
    {
        return Err(Error::NoTrigger);
    }
    if let Some((table, name)) = found.iter().find(|(t, n)| {
        !matches!(
            (t.as_str(), n.as_str()),
            ("job_status_changes", "check_status_change")
                | ("parent_jobs", "check_parent_job_name")
        )
    }) {
        return Err(Error::UnknownTrigger {
            table: table.clone(),
            name: name.clone(),
        });
    }
    Ok(())
}

/// Drops the primary and unique keys of the tables written that no foreign key depends on,
/// and returns the statements adding them back.
async fn drop_unique_keys(tx: &Transaction<'_>) -> Result<Vec<String>> {
    let rows = tx
        .query(
            "select k.conrelid::regclass::text, k.conname::text, pg_get_constraintdef(k.oid)
             from pg_constraint k join pg_class c on c.oid = k.conrelid
             join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'cosims' and c.relname = any($1) and k.contype in ('p', 'u')
               and not exists (select 1 from pg_constraint f where f.contype = 'f' and f.conindid = k.conindid)
               and not exists (select 1 from pg_depend d where d.refobjid = k.conindid
                               and d.classid <> 'pg_constraint'::regclass)
             order by 1, 2",
            &[&TABLES_WRITTEN.to_vec()],
        )
        .await
        .map_err(sql("list the unique keys"))?;
    let mut drop = Vec::new();
    let mut add = Vec::new();
    for r in &rows {
        let (table, name, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        drop.push(format!(
            "alter table {table} drop constraint {}",
            quote_ident(&name)
        ));
        add.push(format!(
            "alter table {table} add constraint {} {def}",
            quote_ident(&name)
        ));
    }
    if !drop.is_empty() {
        tx.batch_execute(&drop.join(";\n"))
            .await
            .map_err(sql("drop the unique keys for the load"))?;
    }
    Ok(add)
}

/// Drops the non-unique, non-constraint indexes of the tables written and returns their
/// definitions (the transaction restores them, or a rollback does).
async fn drop_secondary_indexes(tx: &Transaction<'_>) -> Result<Vec<String>> {
    let rows = tx
        .query(
            "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             from pg_index i join pg_class c on c.oid = i.indrelid
             join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'cosims' and c.relname = any($1) and not i.indisunique
               and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
             order by 1",
            &[&TABLES_WRITTEN.to_vec()],
        )
        .await
        .map_err(sql("list the secondary indexes"))?;
    let (names, defs): (Vec<String>, Vec<String>) = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .unzip();
    if !names.is_empty() {
        // regclass text is already quoted and schema-qualified where needed.
        tx.batch_execute(&format!("drop index {}", names.join(", ")))
            .await
            .map_err(sql("drop the secondary indexes for the load"))?;
    }
    Ok(defs)
}

/// Truncates the tables written and every table referencing them (all empty: checked here,
/// so nothing is ever lost), so that this transaction loads them into new files.
async fn truncate_empty(tx: &Transaction<'_>) -> Result<bool> {
    let rows = tx
        .query(
            "with recursive t(oid) as (
                 select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = 'cosims' and c.relname = any($1)
               union
                 select k.conrelid from pg_constraint k join t on k.confrelid = t.oid where k.contype = 'f'
             )
             select oid::regclass::text from t order by 1",
            &[&TABLES_WRITTEN.to_vec()],
        )
        .await
        .map_err(sql("list the tables to load"))?;
    let tables: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let probe: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "select {} as t from {t} having count(*) > 0",
                crate::postgres::quote_literal(t)
            )
        })
        .collect();
    let busy = tx
        .query(&format!("{} limit 1", probe.join(" union all ")), &[])
        .await
        .map_err(sql("check that the tables to load are empty"))?;
    if !busy.is_empty() {
        // Rows the world does not write (e.g. execution_info of jobs inserted by hand before
        // the rows of parent_jobs were deleted): load into the tables as they are.
        return Ok(false);
    }
    tx.batch_execute(&format!("truncate {}", tables.join(", ")))
        .await
        .map_err(sql("truncate the empty tables before the load"))?;
    Ok(true)
}

/// The tables the bulk load writes with triggers off.
pub(super) const TABLES_WRITTEN: [&str; 8] = [
    "parent_jobs",
    "job_status_changes",
    "fsc_rlie_jobs",
    "rlies1_jobs",
    "rlies1s2_jobs",
    "sws_wds_jobs",
    "gfsc_jobs",
    "other_jobs",
];

pub(super) async fn finish(tx: Transaction<'_>) -> Result<()> {
    tx.commit().await.map_err(sql("commit the export"))
}

/// Status rows in the order the services would have inserted them: by time across jobs, each
/// job's rows in its own order (a running maximum keeps an out-of-order hand-made time from
/// reordering a job's history). `(time, job id, row in the job's history, slot)`, where the
/// slot indexes `new` then `changed`.
pub(super) fn status_order(
    new: &[&Job],
    changed: &[hrsi_sim::snapshot::JobChange],
) -> Vec<(i64, i64, u32, u32)> {
    let mut order: Vec<(i64, i64, u32, u32)> = Vec::new();
    let push = |order: &mut Vec<_>, slot: u32, j: &Job, from: usize| {
        let mut t = i64::MIN;
        for (k, c) in j.history.iter().enumerate() {
            t = t.max(c.at);
            if k >= from {
                order.push((t, j.id, k as u32, slot));
            }
        }
    };
    for (n, j) in new.iter().enumerate() {
        push(&mut order, n as u32, j, 0);
    }
    for (n, c) in changed.iter().enumerate() {
        push(&mut order, (new.len() + n) as u32, &c.job, c.base_len);
    }
    order.sort_unstable();
    order
}

/// Inserts the jobs whole, with COPY (frozen when the tables were truncated in this
/// transaction; binary where the column types allow).
async fn write_jobs(
    tx: &Transaction<'_>,
    s: &Snapshot,
    new: &[&Job],
    fresh: bool,
    cat: &Catalogue,
) -> Result<ExportSummary> {
    let order = status_order(new, &[]);
    // The id of each job's last history row (`parent_jobs.last_status_change_id`).
    let mut last_id = vec![None; new.len()];
    for (n, &(_, _, _, slot)) in order.iter().enumerate() {
        last_id[slot as usize] = Some(1 + n as i64);
    }
    let status_types = binary_types(cat, "job_status_changes", STATUS_COLUMNS);
    let write_status = |w: &mut dyn RowSink, n: usize| {
        let (_, job_id, k, slot) = order[n];
        status_row(
            w,
            1 + n as i64,
            job_id,
            &new[slot as usize].history[k as usize],
        );
    };
    for (target, rows) in job_tables(s.epoch, cat, new, &last_id) {
        copy_in(tx, &target, rows, fresh).await?;
    }
    let target = format!("cosims.job_status_changes ({STATUS_COLUMNS})");
    match status_types {
        // Streamed as encoded: the server parses a chunk while the next one is written.
        Some(types) if !order.is_empty() => {
            let action = format!("copy into {target}");
            let freeze = if fresh { ", freeze" } else { "" };
            let sink = tx
                .copy_in(&format!("copy {target} from stdin (format binary{freeze})"))
                .await
                .map_err(sql(&action))?;
            let mut sink = pin!(sink);
            let mut w = TypedBin::new(s.epoch, types);
            for n in 0..order.len() {
                write_status(&mut w, n);
                if (n + 1) % STATUS_CHUNK == 0 {
                    sink.send(Bytes::from(w.take()))
                        .await
                        .map_err(sql(&action))?;
                }
            }
            if w.mismatch() {
                // Only an id or a time out of its column's range gets here (the types are
                // the catalogue's): the text COPY would be refused as well.
                // The sink dropped unfinished aborts the COPY, and the transaction with it.
                return Err(Error::Postgres(postgres::Error::Sql {
                    action,
                    message: "a value is out of its column's range".into(),
                    code: Some("22003".into()),
                }));
            }
            sink.send(Bytes::from(w.finish()))
                .await
                .map_err(sql(&action))?;
            sink.as_mut().finish().await.map_err(sql(&action))?;
        }
        _ => {
            let rows = encode(s.epoch, None, |w| {
                for n in 0..order.len() {
                    write_status(w, n);
                }
            });
            copy_in(tx, &target, rows, fresh).await?;
        }
    }
    // The tables were empty: the largest ids are known (a max() would scan the status table,
    // whose key is only built after the load).
    let last_job = new.iter().map(|j| j.id).max().unwrap_or(1).max(1);
    let last_status = (order.len() as i64).max(1);
    tx.query_typed(
        "select setval(pg_get_serial_sequence('cosims.parent_jobs', 'id'), $1),
                setval(pg_get_serial_sequence('cosims.job_status_changes', 'id'), $2)",
        &[(&last_job, Type::INT8), (&last_status, Type::INT8)],
    )
    .await
    .map_err(sql("move the id sequences past the exported rows"))?;
    Ok(ExportSummary {
        jobs_inserted: new.len() as u64,
        jobs_updated: 0,
        status_changes: order.len() as u64,
        params_changed: 0,
    })
}

/// Status rows per chunk of the streamed COPY (≈ 1.5 MB).
const STATUS_CHUNK: usize = 32_768;

/// Moves the id sequences past the rows written (incremental export).
pub(super) const SETVAL: &str = "select setval(pg_get_serial_sequence('cosims.parent_jobs', 'id'), greatest((select max(id) from cosims.parent_jobs), 1));
     select setval(pg_get_serial_sequence('cosims.job_status_changes', 'id'), greatest((select max(id) from cosims.job_status_changes), 1));";

/// COPY of `rows` into `target`, frozen if `freeze` (the table was truncated in this
/// transaction).
pub(super) async fn copy_in(
    tx: &Transaction<'_>,
    target: &str,
    rows: Encoded,
    freeze: bool,
) -> Result<()> {
    if rows.data.is_empty() {
        return Ok(());
    }
    let action = format!("copy into {target}");
    let format = match (rows.binary, freeze) {
        (false, false) => "",
        (true, false) => " (format binary)",
        (false, true) => " (freeze)",
        (true, true) => " (format binary, freeze)",
    };
    let sink = tx
        .copy_in(&format!("copy {target} from stdin{format}"))
        .await
        .map_err(sql(&action))?;
    let mut sink = pin!(sink);
    sink.send(Bytes::from(rows.data))
        .await
        .map_err(sql(&action))?;
    sink.as_mut().finish().await.map_err(sql(&action))?;
    Ok(())
}

/// Updates the parameter columns whose value differs from the database's (one `UPDATE`,
/// through the history trigger). `None`: the world has no parameter row (left as it is).
pub(super) async fn write_params(
    tx: &impl tokio_postgres::GenericClient,
    params: Option<&BTreeMap<String, Option<String>>>,
) -> Result<u64> {
    let Some(params) = params else { return Ok(0) };
    // Parameters go through the real history trigger, as an operator's UPDATE does.
    tx.batch_execute("set local session_replication_role = origin")
        .await
        .map_err(sql("switch the triggers back on"))?;
    let current = super::import::read_params(tx).await?.0;
    let Some(current) = current else {
        return Err(Error::NoParameterRow);
    };
    let mut sets = Vec::new();
    let mut values: Vec<Option<String>> = Vec::new();
    for (k, v) in params {
        if current.get(k) != Some(v) {
            // The column name is one of ours (checked against the column list).
            hrsi_sim::params::column(k).map_err(hrsi_sim::snapshot::SnapshotError::from)?;
            values.push(v.clone());
            sets.push(format!(
                "{} = ${}::text::{}",
                quote_ident(k),
                values.len(),
                column_type(k)
            ));
        }
    }
    if sets.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    tx.execute(
        &format!(
            "update cosims.system_parameters set {} where id = 1",
            sets.join(", ")
        ),
        &refs,
    )
    .await
    .map_err(sql("update cosims.system_parameters"))?;
    Ok(sets.len() as u64)
}

/// The SQL type a parameter's text is cast to.
fn column_type(name: &str) -> &'static str {
    use hrsi_sim::params::Kind;
    match hrsi_sim::params::column(name).map(|c| c.kind) {
        Ok(Kind::Int) if name == "rlies1s2_sleep_seconds_between_loop" => "bigint",
        Ok(Kind::Int) => "smallint",
        Ok(Kind::Float) => "float8",
        Ok(Kind::Bool) => "boolean",
        Ok(Kind::Timestamp) => "timestamp",
        Ok(Kind::Text) | Err(_) => "text",
    }
}
