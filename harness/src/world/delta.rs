//! The incremental export: what changed since the last export or import, written after every
//! step of a rehearsal, so with little work for the server and few round trips: one for
//! everything it checks (pipelined, with the column types), one for the updates of changed
//! jobs (pipelined, rows as JSON parameters: a handful per hour), then the new rows with binary
//! COPY (multi-row inserts: the status rows of an hour cost the server about half what an
//! `INSERT … SELECT unnest(…)` did), the sequences, the commit.
//!
//! The checks are the whole export's (module `export`): every appended status validated in Rust
//! from the base's last status ([`Snapshot::delta_since`]), triggers off for this transaction
//! only and only on a schema whose triggers the export replaces, a database that moved under
//! the world refused.

use std::collections::BTreeMap;

use std::pin::pin;

use bytes::Bytes;
use futures_util::{SinkExt, future::try_join_all};
use hrsi_sim::snapshot::{Delta, Job, JobChange, Snapshot};
use tokio_postgres::{
    Client, Row, Statement,
    types::{ToSql, Type},
};

use super::{
    Error, Result,
    export::{
        ExportSummary, REPLICA, SETVAL, TABLES_WRITTEN, TRIGGERS_SQL, check_triggers, sql,
        status_order, write_params,
    },
    rows::{
        CHILDREN, COLUMN_TYPES_SQL, Catalogue, CopyBuf, Encoded, PARENT_COLUMNS, STATUS_COLUMNS,
        binary_types, catalogue, child_index, child_row, encode, job_tables, parent_row,
        status_row,
    },
    stream::field,
};

/// For every changed job: its status and its history's length.
const BASE_SQL: &str = "select p.id, p.last_status_id, (select count(*) from cosims.job_status_changes c where c.fk_parent_job_id = p.id)
     from cosims.parent_jobs p where p.id = any($1) for update";
/// A job the world is about to create that the database already holds.
const CONFLICT_SQL: &str =
    "select id from cosims.parent_jobs where id = any($1) order by id limit 1";
/// The first free `job_status_changes.id` (beyond both the rows and the sequence, so rows an
/// operator inserted through the trigger keep their order before ours).
const NEXT_ID_SQL: &str =
    "select greatest((select coalesce(max(id), 0) from cosims.job_status_changes),
                     (select case when is_called then last_value else last_value - 1 end
                      from cosims.job_status_changes_id_seq)) + 1";
/// Exports what changed from `base` (what the database holds, as last exported or imported) to
/// `next`. Refuses, before writing, a change the trigger would refuse, and a database that
/// moved under the world (a job's status is not the base's: import first).
pub async fn export_delta(
    client: &mut Client,
    base: &Snapshot,
    next: &Snapshot,
) -> Result<ExportSummary> {
    export_delta_with(client, base, next, &DeltaOptions::default())
        .await
        .map(|w| w.summary)
}

/// What the incremental export does besides writing the delta.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeltaOptions {
    /// Moves `parent_jobs`'s id sequence, in the export's own transaction, to this id or past
    /// every job if that is more (the ids kept for jobs inserted by hand: the world's next job
    /// never takes the id an operator's `INSERT` gets).
    pub job_ids_from: Option<i64>,
}

/// What an incremental export wrote, with the figures a caller needs to follow sums over the
/// job tables without scanning them (the database cannot move during the export's
/// transaction, and every changed job was checked to hold the base's status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeltaWritten {
    /// Rows written.
    pub summary: ExportSummary,
    /// The sum of `job_status` over the status rows written.
    pub status_sum: i64,
    /// How much the sum of `parent_jobs.last_status_id` moved (new jobs' statuses, and the new
    /// minus the base's status of changed jobs).
    pub last_status_sum: i64,
    /// The largest `job_status_changes.id` written (`None`: no status row).
    pub last_status_row: Option<i64>,
}

/// [`export_delta`], with the sequence of hand-inserted jobs moved in the same transaction,
/// returning what a caller needs to follow the job tables' sums.
///
/// Round trips: one for `BEGIN`, every check and the `COPY` statements (pipelined), then one
/// per table copied, the updates, the sequences and `COMMIT` queued behind them (the
/// connection sends requests in order, so `COMMIT` leaves only after the last `COPY` ended;
/// any failure before it aborts the transaction, and the `COMMIT` then rolls it back).
pub async fn export_delta_with(
    client: &mut Client,
    base: &Snapshot,
    next: &Snapshot,
    opts: &DeltaOptions,
) -> Result<DeltaWritten> {
    let delta = next.delta_since(base)?;
    if delta.is_empty() {
        if let Some(from) = opts.job_ids_from {
            move_job_ids(client, from).await?;
        }
        return Ok(DeltaWritten::default());
    }
    if let Some(&id) = delta.missing.first() {
        return Err(Error::Missing { job: id });
    }
    let r = write_delta(client, base, next, &delta, opts).await;
    if r.is_err() {
        // Nothing is kept of a failed export (a failed `COMMIT` already ended the
        // transaction: the rollback then only warns).
        let _ = client.batch_execute("rollback").await;
    }
    r
}

/// `parent_jobs`'s sequence moved to `from`, or past every job.
fn job_ids_sql(from: i64) -> String {
    format!(
        "select setval(pg_get_serial_sequence('cosims.parent_jobs', 'id'),
                greatest((select max(id) from cosims.parent_jobs) + 1, {from}), false)"
    )
}

async fn move_job_ids(client: &Client, from: i64) -> Result<()> {
    client
        .batch_execute(&job_ids_sql(from))
        .await
        .map_err(sql("move the job id sequence past the world's ids"))
}

/// The export's transaction (rolled back by the caller on an error).
async fn write_delta(
    client: &Client,
    base: &Snapshot,
    next: &Snapshot,
    delta: &Delta,
    opts: &DeltaOptions,
) -> Result<DeltaWritten> {
    let changed_ids: Vec<i64> = delta.changed.iter().map(|c| c.job.id).collect();
    let new_ids: Vec<i64> = delta.new_jobs.iter().map(|j| j.id).collect();
    let tables = TABLES_WRITTEN.to_vec();
    let targets = copy_targets(delta);
    // `BEGIN`, every check and the binary `COPY` statements in one round trip (tokio-postgres
    // pipelines concurrent requests, and sends them in the order they are first polled).
    let sqls: Vec<String> = targets.iter().map(|t| copy_sql(t, true)).collect();
    let (tp, bp, cp) = (
        [(&tables as &(dyn ToSql + Sync), Type::TEXT_ARRAY)],
        [(&changed_ids as &(dyn ToSql + Sync), Type::INT8_ARRAY)],
        [(&new_ids as &(dyn ToSql + Sync), Type::INT8_ARRAY)],
    );
    let begin = client.batch_execute("begin");
    let checks = futures_util::future::try_join5(
        client.query_typed(TRIGGERS_SQL, &tp),
        client.query_typed(BASE_SQL, &bp),
        client.query_typed(CONFLICT_SQL, &cp),
        client.query_typed(NEXT_ID_SQL, &[]),
        client.query_typed(COLUMN_TYPES_SQL, &tp),
    );
    let prepared = try_join_all(sqls.iter().map(|q| client.prepare(q)));
    let (_, (triggers, found, conflict, next_id, types), statements) =
        futures_util::future::try_join3(begin, checks, prepared)
            .await
            .map_err(sql("read what the incremental export checks"))?;
    check_triggers(&triggers)?;
    let old_statuses = check_base(base, delta, &found)?;
    if let Some(r) = conflict.first() {
        return Err(Error::Moved {
            job: r.get(0),
            expected: "no such job yet".into(),
            found: "a job the world does not know (inserted by hand?)".into(),
        });
    }
    let first_id: i64 = next_id[0].get(0);
    let first_id = first_id.max(1);
    let rows = Rows::new(next, delta, first_id, &catalogue(&types));
    let mut written = DeltaWritten {
        summary: ExportSummary {
            jobs_inserted: delta.new_jobs.len() as u64,
            jobs_updated: delta.changed.len() as u64,
            status_changes: rows.statuses as u64,
            params_changed: 0,
        },
        status_sum: rows.status_sum,
        last_status_sum: rows.last_status_sum - old_statuses,
        last_status_row: (rows.statuses > 0).then(|| first_id + rows.statuses as i64 - 1),
    };
    let prepared: BTreeMap<&str, Statement> =
        targets.iter().map(String::as_str).zip(statements).collect();
    if let Some(p) = &delta.params {
        rows.write(client, &prepared, None).await?;
        written.summary.params_changed = write_params(client, p.as_ref()).await?;
        let mut tail = String::new();
        if let Some(from) = opts.job_ids_from {
            tail.push_str(&job_ids_sql(from));
            tail.push_str(";\n");
        }
        tail.push_str("commit");
        client
            .batch_execute(&tail)
            .await
            .map_err(sql("move the id sequences and commit the export"))?;
    } else {
        rows.write(client, &prepared, Some(opts)).await?;
    }
    Ok(written)
}

/// The tables a delta copies into: the parent and child tables of its new jobs, the status
/// table.
fn copy_targets(delta: &Delta) -> Vec<String> {
    let mut t = Vec::new();
    if !delta.new_jobs.is_empty() {
        t.push(format!("cosims.parent_jobs ({PARENT_COLUMNS})"));
        for (c, ch) in CHILDREN.iter().enumerate() {
            if delta
                .new_jobs
                .iter()
                .any(|j| child_index(&j.detail) == Some(c))
            {
                t.push(format!("cosims.{} ({})", ch.table, ch.columns));
            }
        }
    }
    t.push(format!("cosims.job_status_changes ({STATUS_COLUMNS})"));
    t
}

fn copy_sql(target: &str, binary: bool) -> String {
    if binary {
        format!("copy {target} from stdin (format binary)")
    } else {
        format!("copy {target} from stdin")
    }
}

/// Checks that the database still holds the base of the delta for every changed job. Returns
/// the sum of the changed jobs' status ids there (what their `last_status_id` held).
fn check_base(base: &Snapshot, delta: &Delta, rows: &[Row]) -> Result<i64> {
    let found: BTreeMap<i64, (Option<i16>, i64)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut statuses = 0i64;
    for c in &delta.changed {
        let b = base.job(c.job.id).expect("changed jobs are in the base");
        let expected = (
            b.status().map(|s| i16::from(s.id())),
            b.history.len() as i64,
        );
        match found.get(&c.job.id) {
            Some(&got) if got == expected => {
                statuses += i64::from(expected.0.unwrap_or(0));
            }
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
    Ok(statuses)
}

/// A statement's parameters, typed (no prepare round trip).
type Params<'a> = Vec<(&'a (dyn ToSql + Sync), Type)>;

/// What a delta writes: new rows as COPY data, changed rows as statement parameters.
struct Rows {
    /// `(COPY target, rows)` inserted (parents first, then children, then the status rows).
    inserts: Vec<(String, Encoded)>,
    /// `(table, key column, columns, JSON array of rows)` updated.
    updates: Vec<(&'static str, &'static str, &'static str, String)>,
    /// Status rows written.
    statuses: usize,
    /// The sum of their `job_status`.
    status_sum: i64,
    /// The sum of the new and changed jobs' last status ids.
    last_status_sum: i64,
}

impl Rows {
    fn new(s: &Snapshot, delta: &Delta, first_id: i64, cat: &Catalogue) -> Rows {
        let new: Vec<&Job> = delta.new_jobs.iter().map(|j| &**j).collect();
        let changed: &[JobChange] = &delta.changed;
        let order = status_order(&new, changed);
        let mut last_id = vec![None; new.len() + changed.len()];
        for (n, &(_, _, _, slot)) in order.iter().enumerate() {
            last_id[slot as usize] = Some(first_id + n as i64);
        }
        let status_id = |j: &Job| j.status().map_or(0, |s| i64::from(s.id()));
        let mut r = Rows {
            inserts: Vec::new(),
            updates: Vec::new(),
            statuses: order.len(),
            status_sum: 0,
            last_status_sum: new.iter().map(|j| status_id(j)).sum::<i64>()
                + changed.iter().map(|c| status_id(&c.job)).sum::<i64>(),
        };
        for &(_, _, k, slot) in &order {
            let job = match new.get(slot as usize) {
                Some(j) => *j,
                None => &changed[slot as usize - new.len()].job,
            };
            r.status_sum += i64::from(job.history[k as usize].status.id());
        }
        r.inserts
            .extend(job_tables(s.epoch, cat, &new, &last_id[..new.len()]));
        let statuses = encode(
            s.epoch,
            binary_types(cat, "job_status_changes", STATUS_COLUMNS),
            |w| {
                for (n, &(_, job_id, k, slot)) in order.iter().enumerate() {
                    let job = match new.get(slot as usize) {
                        Some(j) => *j,
                        None => &changed[slot as usize - new.len()].job,
                    };
                    status_row(w, first_id + n as i64, job_id, &job.history[k as usize]);
                }
            },
        );
        r.inserts.push((
            format!("cosims.job_status_changes ({STATUS_COLUMNS})"),
            statuses,
        ));
        let mut parents = CopyBuf::new(s.epoch);
        let mut children: Vec<CopyBuf> = CHILDREN.iter().map(|_| CopyBuf::new(s.epoch)).collect();
        for (n, c) in changed.iter().enumerate() {
            parent_row(&mut parents, &c.job, last_id[new.len() + n]);
            if c.fields_changed
                && let Some(k) = child_index(&c.job.detail)
            {
                child_row(&mut children[k], &c.job);
            }
        }
        if !parents.buf.is_empty() {
            r.updates.push((
                "parent_jobs",
                "id",
                PARENT_COLUMNS,
                json_rows(PARENT_COLUMNS, &parents.buf),
            ));
        }
        for (t, buf) in CHILDREN.iter().zip(children) {
            // `other_jobs` has no field but the key.
            if !buf.buf.is_empty() && t.table != "other_jobs" {
                r.updates.push((
                    t.table,
                    "fk_parent_job_id",
                    t.columns,
                    json_rows(t.columns, &buf.buf),
                ));
            }
        }
        r
    }

    /// Triggers off (this transaction only) and the updates, then the new rows with COPY
    /// (multi-row inserts, no JSON to parse), then the sequences and, with `commit`, the
    /// sequence of hand-inserted jobs and `COMMIT`: all queued at once, answered in order.
    async fn write(
        self,
        client: &Client,
        prepared: &BTreeMap<&str, Statement>,
        commit: Option<&DeltaOptions>,
    ) -> Result<()> {
        let mut statements: Vec<(String, Params<'_>)> = vec![(REPLICA.to_owned(), Vec::new())];
        for (table, key, columns, json) in &self.updates {
            let set: Vec<String> = columns
                .split(", ")
                .filter(|c| c != key)
                .map(|c| {
                    if c.starts_with("last_status_") {
                        // A job whose fields changed without a new status keeps its status.
                        format!(
                            "{c} = case when t.last_status_change_id is null then p.{c} else t.{c} end"
                        )
                    } else {
                        format!("{c} = t.{c}")
                    }
                })
                .collect();
            statements.push((
                format!(
                    "update cosims.{table} p set {} from json_populate_recordset(null::cosims.{table}, $1::text::json) t where p.{key} = t.{key}",
                    set.join(", ")
                ),
                vec![(json as &(dyn ToSql + Sync), Type::TEXT)],
            ));
        }
        // A table whose rows fell back to text (a column type a patch changed) gets its
        // statement now; the binary ones were prepared with the checks.
        let mut text: BTreeMap<String, Statement> = BTreeMap::new();
        for (target, rows) in &self.inserts {
            if !rows.binary && !rows.data.is_empty() {
                let st = client
                    .prepare(&copy_sql(target, false))
                    .await
                    .map_err(sql(&format!("copy into {target}")))?;
                text.insert(target.clone(), st);
            }
        }
        let updates = try_join_all(
            statements
                .iter()
                .map(|(q, p)| client.query_typed(q, p.as_slice())),
        );
        let copies = futures_util::future::join_all(
            self.inserts
                .into_iter()
                .filter(|(_, rows)| !rows.data.is_empty())
                .map(|(target, rows)| {
                    let st = if rows.binary {
                        prepared.get(target.as_str())
                    } else {
                        text.get(target.as_str())
                    }
                    .cloned();
                    async move {
                        let action = format!("copy into {target}");
                        let st = st.expect("a statement for every table copied");
                        let sink = client.copy_in(&st).await.map_err(sql(&action))?;
                        let mut sink = pin!(sink);
                        sink.send(Bytes::from(rows.data))
                            .await
                            .map_err(sql(&action))?;
                        sink.as_mut().finish().await.map_err(sql(&action))?;
                        Ok::<(), Error>(())
                    }
                }),
        );
        let mut tail = SETVAL.to_owned();
        if let Some(from) = commit.and_then(|o| o.job_ids_from) {
            tail.push_str(&job_ids_sql(from));
        }
        if commit.is_some() {
            tail.push_str(";\ncommit");
        }
        let tail = client.batch_execute(&tail);
        let (u, c, t) = futures_util::future::join3(updates, copies, tail).await;
        // The first failure in the order the server ran them (those after it only say that
        // the transaction is aborted).
        u.map_err(sql("write the incremental export"))?;
        for r in c {
            r?;
        }
        t.map_err(sql(if commit.is_some() {
            "move the id sequences and commit the export"
        } else {
            "move the id sequences past the exported rows"
        }))?;
        Ok(())
    }
}

/// COPY text rows as a JSON array of objects keyed by column, every value a string or null:
/// `json_populate_recordset` reads each with its column's input function, as COPY does.
fn json_rows(columns: &str, text: &[u8]) -> String {
    let names: Vec<&str> = columns.split(", ").collect();
    let text = std::str::from_utf8(text).expect("COPY buffers are written from UTF-8 strings");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|line| {
            let obj: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .zip(line.split('\t'))
                .map(|(n, f)| {
                    let v = match field(f) {
                        None => serde_json::Value::Null,
                        Some(s) => serde_json::Value::String(s.into_owned()),
                    };
                    ((*n).to_owned(), v)
                })
                .collect();
            serde_json::Value::Object(obj)
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_become_json_objects_with_nulls_and_escapes() {
        assert_eq!(
            json_rows("id, name, nomad_id", b"1\ta\\tb\t\\N\n2\tc\\\\d\tx\n"),
            r#"[{"id":"1","name":"a\tb","nomad_id":null},{"id":"2","name":"c\\d","nomad_id":"x"}]"#
        );
    }
}
