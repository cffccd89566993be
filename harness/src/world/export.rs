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
use hrsi_sim::snapshot::{Delta, Job, Snapshot};
use tokio_postgres::{Client, Transaction};

use super::{
    Error, Result,
    rows::{
        BinBuf, CHILDREN, CopyBuf, PARENT_COLUMNS, STATUS_COLUMNS, child_index, child_row,
        parent_row,
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

fn sql(action: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
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
    // Into empty tables, secondary indexes are built faster after the load than row by row
    // (as pg_restore does); unique ones stay, they enforce the keys during the load.
    let indexes = drop_secondary_indexes(&tx).await?;
    let mut summary = write_jobs(
        &tx,
        snapshot,
        &snapshot.jobs.iter().collect::<Vec<_>>(),
        &[],
        0,
    )
    .await?;
    tx.batch_execute(&indexes.join(";\n"))
        .await
        .map_err(sql("build the secondary indexes again"))?;
    summary.params_changed = write_params(&tx, snapshot.params.as_ref()).await?;
    finish(tx).await?;
    Ok(summary)
}

/// Exports what changed from `base` (what the database holds, as last exported or imported) to
/// `next`. Refuses, before writing, a change the trigger would refuse, and a database that
/// moved under the world (a job's status is not the base's: import first).
pub async fn export_delta(
    client: &mut Client,
    base: &Snapshot,
    next: &Snapshot,
) -> Result<ExportSummary> {
    let delta = next.delta_since(base)?;
    if delta.is_empty() {
        return Ok(ExportSummary::default());
    }
    if let Some(&id) = delta.missing.first() {
        return Err(Error::Missing { job: id });
    }
    let tx = client
        .transaction()
        .await
        .map_err(sql("begin the incremental export"))?;
    disable_trigger(&tx).await?;
    check_base(&tx, base, &delta).await?;
    let start = next_status_id(&tx).await?;
    let new: Vec<&Job> = delta.new_jobs.iter().collect();
    let mut summary = write_jobs(&tx, next, &new, &delta.changed, start).await?;
    if let Some(p) = &delta.params {
        summary.params_changed = write_params(&tx, p.as_ref()).await?;
    }
    finish(tx).await?;
    Ok(summary)
}

/// Switches this transaction's triggers off (`session_replication_role = replica`, local to
/// the transaction: other sessions keep every trigger) after checking that the tables written
/// carry only the schema's own triggers, whose work the export does itself.
async fn disable_trigger(tx: &Transaction<'_>) -> Result<()> {
    let rows = tx
        .query(
            "select c.relname::text, t.tgname::text from pg_trigger t join pg_class c on c.oid = t.tgrelid
             join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'cosims' and not t.tgisinternal and c.relname = any($1)
             order by 1, 2",
            &[&TABLES_WRITTEN.to_vec()],
        )
        .await
        .map_err(sql("list the triggers of the tables written"))?;
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
    tx.batch_execute("set local session_replication_role = replica")
        .await
        .map_err(sql(
            "switch the triggers off for the bulk load (superuser needed)",
        ))
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

/// The tables the bulk load writes with triggers off.
const TABLES_WRITTEN: [&str; 8] = [
    "parent_jobs",
    "job_status_changes",
    "fsc_rlie_jobs",
    "rlies1_jobs",
    "rlies1s2_jobs",
    "sws_wds_jobs",
    "gfsc_jobs",
    "other_jobs",
];

async fn finish(tx: Transaction<'_>) -> Result<()> {
    tx.commit().await.map_err(sql("commit the export"))
}

/// The first free `job_status_changes.id` (beyond both the rows and the sequence, so rows an
/// operator inserted through the trigger keep their order before ours).
async fn next_status_id(tx: &Transaction<'_>) -> Result<i64> {
    let row = tx
        .query_one(
            "select greatest((select coalesce(max(id), 0) from cosims.job_status_changes),
                             (select case when is_called then last_value else last_value - 1 end
                              from cosims.job_status_changes_id_seq)) + 1",
            &[],
        )
        .await
        .map_err(sql("read the status id sequence"))?;
    Ok(row.get(0))
}

/// Checks that the database still holds the base of the delta for every changed job.
async fn check_base(tx: &Transaction<'_>, base: &Snapshot, delta: &Delta) -> Result<()> {
    let ids: Vec<i64> = delta.changed.iter().map(|c| c.job.id).collect();
    let rows = tx
        .query(
            "select p.id, p.last_status_id, (select count(*) from cosims.job_status_changes c where c.fk_parent_job_id = p.id)
             from cosims.parent_jobs p where p.id = any($1) for update",
            &[&ids],
        )
        .await
        .map_err(sql("read the changed jobs' statuses"))?;
    let found: BTreeMap<i64, (Option<i16>, i64)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    for c in &delta.changed {
        let b = base.job(c.job.id).expect("changed jobs are in the base");
        let expected = (
            b.status().map(|s| i16::from(s.id())),
            b.history.len() as i64,
        );
        match found.get(&c.job.id) {
            Some(&got) if got == expected => {}
            got => {
                return Err(Error::Moved {
                    job: c.job.id,
                    expected: format!("status {:?} after {} changes", expected.0, expected.1),
                    found: got.map_or("no such job".into(), |g| {
                        format!("status {:?} after {} changes", g.0, g.1)
                    }),
                });
            }
        }
    }
    let new_ids: Vec<i64> = delta.new_jobs.iter().map(|j| j.id).collect();
    if let Some(r) = tx
        .query_opt(
            "select id from cosims.parent_jobs where id = any($1) order by id limit 1",
            &[&new_ids],
        )
        .await
        .map_err(sql("look for id conflicts"))?
    {
        return Err(Error::Moved {
            job: r.get(0),
            expected: "no such job yet".into(),
            found: "a job the world does not know (inserted by hand?)".into(),
        });
    }
    Ok(())
}

/// Inserts `new` jobs whole, appends the history of `changed` ones and updates their rows.
async fn write_jobs(
    tx: &Transaction<'_>,
    s: &Snapshot,
    new: &[&Job],
    changed: &[hrsi_sim::snapshot::JobChange],
    first_status_id: i64,
) -> Result<ExportSummary> {
    // Status rows in the order the services would have inserted them: by time across jobs,
    // each job's rows in its own order (a running maximum keeps an out-of-order hand-made time
    // from reordering a job's history).
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
    let first_id = if first_status_id > 0 {
        first_status_id
    } else {
        1
    };
    let mut last_id = vec![None; new.len() + changed.len()];
    let mut statuses = BinBuf::new(s.epoch);
    for (n, &(_, job_id, k, slot)) in order.iter().enumerate() {
        let id = first_id + n as i64;
        let job = match new.get(slot as usize) {
            Some(j) => *j,
            None => &changed[slot as usize - new.len()].job,
        };
        let c = &job.history[k as usize];
        statuses.row(5);
        statuses.i64(id);
        statuses.i64(job_id);
        statuses.time(c.at);
        statuses.opt_text(c.error_subtype.as_deref());
        statuses.i16(i16::from(c.status.id()));
        last_id[slot as usize] = Some(id);
    }
    let mut parents = CopyBuf::new(s.epoch);
    let mut children: Vec<CopyBuf> = CHILDREN.iter().map(|_| CopyBuf::new(s.epoch)).collect();
    for (n, j) in new.iter().enumerate() {
        parent_row(&mut parents, j, last_id[n]);
        if let Some(c) = child_index(&j.detail) {
            child_row(&mut children[c], j);
        }
    }
    copy_in(
        tx,
        &format!("cosims.parent_jobs ({PARENT_COLUMNS})"),
        parents.buf,
        false,
    )
    .await?;
    for (t, buf) in CHILDREN.iter().zip(children) {
        copy_in(
            tx,
            &format!("cosims.{} ({})", t.table, t.columns),
            buf.buf,
            false,
        )
        .await?;
    }
    if !changed.is_empty() {
        update_changed(tx, s, changed, &last_id[new.len()..]).await?;
    }
    if !order.is_empty() {
        copy_in(
            tx,
            &format!("cosims.job_status_changes ({STATUS_COLUMNS})"),
            statuses.finish(),
            true,
        )
        .await?;
    }
    tx.batch_execute(
        "select setval(pg_get_serial_sequence('cosims.parent_jobs', 'id'), greatest((select max(id) from cosims.parent_jobs), 1));
         select setval(pg_get_serial_sequence('cosims.job_status_changes', 'id'), greatest((select max(id) from cosims.job_status_changes), 1));",
    )
    .await
    .map_err(sql("move the id sequences past the exported rows"))?;
    Ok(ExportSummary {
        jobs_inserted: new.len() as u64,
        jobs_updated: changed.len() as u64,
        status_changes: order.len() as u64,
        params_changed: 0,
    })
}

/// Rewrites the parent rows (and child rows whose fields changed) of changed jobs, through
/// temporary tables loaded with COPY.
async fn update_changed(
    tx: &Transaction<'_>,
    s: &Snapshot,
    changed: &[hrsi_sim::snapshot::JobChange],
    last_id: &[Option<i64>],
) -> Result<()> {
    let mut parents = CopyBuf::new(s.epoch);
    let mut children: Vec<CopyBuf> = CHILDREN.iter().map(|_| CopyBuf::new(s.epoch)).collect();
    for (c, id) in changed.iter().zip(last_id) {
        parent_row(&mut parents, &c.job, *id);
        if c.fields_changed
            && let Some(k) = child_index(&c.job.detail)
        {
            child_row(&mut children[k], &c.job);
        }
    }
    tx.batch_execute(&format!(
        "create temp table world_parent on commit drop as select {PARENT_COLUMNS} from cosims.parent_jobs with no data"
    ))
        .await
        .map_err(sql("create a temporary table"))?;
    copy_in(
        tx,
        &format!("world_parent ({PARENT_COLUMNS})"),
        parents.buf,
        false,
    )
    .await?;
    // A job whose fields changed without a new status keeps its status columns.
    let set: Vec<String> = PARENT_COLUMNS
        .split(", ")
        .filter(|c| *c != "id")
        .map(|c| {
            if c.starts_with("last_status_") {
                format!("{c} = case when t.last_status_change_id is null then p.{c} else t.{c} end")
            } else {
                format!("{c} = t.{c}")
            }
        })
        .collect();
    tx.batch_execute(&format!(
        "update cosims.parent_jobs p set {} from world_parent t where p.id = t.id",
        set.join(", ")
    ))
    .await
    .map_err(sql("update the changed jobs"))?;
    for (t, buf) in CHILDREN.iter().zip(children) {
        if buf.buf.is_empty() || t.table == "other_jobs" {
            continue;
        }
        let tmp = format!("world_{}", t.table);
        tx.batch_execute(&format!(
            "create temp table {tmp} on commit drop as select {} from cosims.{} with no data",
            t.columns, t.table
        ))
        .await
        .map_err(sql("create a temporary table"))?;
        copy_in(tx, &format!("{tmp} ({})", t.columns), buf.buf, false).await?;
        let set: Vec<String> = t
            .columns
            .split(", ")
            .filter(|c| *c != "fk_parent_job_id")
            .map(|c| format!("{c} = t.{c}"))
            .collect();
        tx.batch_execute(&format!(
            "update cosims.{} c set {} from {tmp} t where c.fk_parent_job_id = t.fk_parent_job_id",
            t.table,
            set.join(", ")
        ))
        .await
        .map_err(sql("update the changed jobs' child rows"))?;
    }
    Ok(())
}

async fn copy_in(tx: &Transaction<'_>, target: &str, data: Vec<u8>, binary: bool) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let action = format!("copy into {target}");
    let format = if binary { " (format binary)" } else { "" };
    let sink = tx
        .copy_in(&format!("copy {target} from stdin{format}"))
        .await
        .map_err(sql(&action))?;
    let mut sink = pin!(sink);
    sink.send(Bytes::from(data)).await.map_err(sql(&action))?;
    sink.as_mut().finish().await.map_err(sql(&action))?;
    Ok(())
}

/// Updates the parameter columns whose value differs from the database's (one `UPDATE`,
/// through the history trigger). `None`: the world has no parameter row (left as it is).
async fn write_params(
    tx: &Transaction<'_>,
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
