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

use futures_util::future::try_join_all;
use hrsi_sim::snapshot::{Delta, Job, JobChange, Snapshot};
use tokio_postgres::{
    Client, Row, Transaction,
    types::{ToSql, Type},
};

use super::{
    Error, Result,
    export::{
        ExportSummary, REPLICA, SETVAL, TABLES_WRITTEN, TRIGGERS_SQL, check_triggers, copy_in,
        finish, sql, status_order, write_params,
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
    let changed_ids: Vec<i64> = delta.changed.iter().map(|c| c.job.id).collect();
    let new_ids: Vec<i64> = delta.new_jobs.iter().map(|j| j.id).collect();
    let tables = TABLES_WRITTEN.to_vec();
    // Every check in one round trip (tokio-postgres pipelines concurrent requests).
    let (triggers, found, conflict, next_id, types) = futures_util::future::try_join5(
        tx.query_typed(TRIGGERS_SQL, &[(&tables, Type::TEXT_ARRAY)]),
        tx.query_typed(BASE_SQL, &[(&changed_ids, Type::INT8_ARRAY)]),
        tx.query_typed(CONFLICT_SQL, &[(&new_ids, Type::INT8_ARRAY)]),
        tx.query_typed(NEXT_ID_SQL, &[]),
        tx.query_typed(COLUMN_TYPES_SQL, &[(&tables, Type::TEXT_ARRAY)]),
    )
    .await
    .map_err(sql("read what the incremental export checks"))?;
    check_triggers(&triggers)?;
    check_base(base, &delta, &found)?;
    if let Some(r) = conflict.first() {
        return Err(Error::Moved {
            job: r.get(0),
            expected: "no such job yet".into(),
            found: "a job the world does not know (inserted by hand?)".into(),
        });
    }
    let first_id: i64 = next_id[0].get(0);
    let rows = Rows::new(next, &delta, first_id.max(1), &catalogue(&types));
    let mut summary = ExportSummary {
        jobs_inserted: delta.new_jobs.len() as u64,
        jobs_updated: delta.changed.len() as u64,
        status_changes: rows.statuses as u64,
        params_changed: 0,
    };
    rows.write(&tx).await?;
    if let Some(p) = &delta.params {
        summary.params_changed = write_params(&tx, p.as_ref()).await?;
    }
    finish(tx).await?;
    Ok(summary)
}

/// Checks that the database still holds the base of the delta for every changed job.
fn check_base(base: &Snapshot, delta: &Delta, rows: &[Row]) -> Result<()> {
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
    Ok(())
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
}

impl Rows {
    fn new(s: &Snapshot, delta: &Delta, first_id: i64, cat: &Catalogue) -> Rows {
        let new: Vec<&Job> = delta.new_jobs.iter().collect();
        let changed: &[JobChange] = &delta.changed;
        let order = status_order(&new, changed);
        let mut last_id = vec![None; new.len() + changed.len()];
        for (n, &(_, _, _, slot)) in order.iter().enumerate() {
            last_id[slot as usize] = Some(first_id + n as i64);
        }
        let mut r = Rows {
            inserts: Vec::new(),
            updates: Vec::new(),
            statuses: order.len(),
        };
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

    /// Triggers off (this transaction only) and the updates in one round trip, then the new
    /// rows with COPY (multi-row inserts, no JSON to parse), then the sequences.
    async fn write(self, tx: &Transaction<'_>) -> Result<()> {
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
        try_join_all(
            statements
                .iter()
                .map(|(q, p)| tx.query_typed(q, p.as_slice())),
        )
        .await
        .map_err(sql("write the incremental export"))?;
        for (target, rows) in self.inserts {
            copy_in(tx, &target, rows, false).await?;
        }
        tx.batch_execute(SETVAL)
            .await
            .map_err(sql("move the id sequences past the exported rows"))?;
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
