//! The incremental export: what changed since the last export or import, written after every
//! step of a rehearsal, so in few round trips: one for everything it checks, one for
//! everything it writes (statements pipelined, rows passed as parameters instead of through
//! temporary tables and COPY), then the commit.
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
        ExportSummary, REPLICA, SETVAL, TABLES_WRITTEN, TRIGGERS_SQL, check_triggers, finish, sql,
        status_order, write_params,
    },
    rows::{CHILDREN, CopyBuf, PARENT_COLUMNS, child_index, child_row, parent_row},
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
/// The status rows, as arrays (`$3`: microseconds since 2000-01-01, exact).
const INSERT_STATUSES: &str =
    "insert into cosims.job_status_changes (id, fk_parent_job_id, time, error_subtype, job_status)
     select i, j, timestamp '2000-01-01' + t * interval '1 microsecond', e, s
     from unnest($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::int2[]) as u(i, j, t, e, s)";

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
    let (triggers, found, conflict, next_id) = futures_util::future::try_join4(
        tx.query_typed(TRIGGERS_SQL, &[(&tables, Type::TEXT_ARRAY)]),
        tx.query_typed(BASE_SQL, &[(&changed_ids, Type::INT8_ARRAY)]),
        tx.query_typed(CONFLICT_SQL, &[(&new_ids, Type::INT8_ARRAY)]),
        tx.query_typed(NEXT_ID_SQL, &[]),
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
    let rows = Rows::new(next, &delta, first_id.max(1));
    rows.write(&tx).await?;
    let mut summary = ExportSummary {
        jobs_inserted: delta.new_jobs.len() as u64,
        jobs_updated: delta.changed.len() as u64,
        status_changes: rows.status_id.len() as u64,
        params_changed: 0,
    };
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

/// What a delta writes, as statement parameters.
struct Rows {
    /// `(table, columns, JSON array of rows)` inserted.
    inserts: Vec<(&'static str, &'static str, String)>,
    /// `(table, key column, columns, JSON array of rows)` updated.
    updates: Vec<(&'static str, &'static str, &'static str, String)>,
    status_id: Vec<i64>,
    status_job: Vec<i64>,
    status_time: Vec<i64>,
    status_subtype: Vec<Option<String>>,
    status: Vec<i16>,
}

impl Rows {
    fn new(s: &Snapshot, delta: &Delta, first_id: i64) -> Rows {
        let new: Vec<&Job> = delta.new_jobs.iter().collect();
        let changed: &[JobChange] = &delta.changed;
        let order = status_order(&new, changed);
        let mut last_id = vec![None; new.len() + changed.len()];
        let mut r = Rows {
            inserts: Vec::new(),
            updates: Vec::new(),
            status_id: Vec::with_capacity(order.len()),
            status_job: Vec::with_capacity(order.len()),
            status_time: Vec::with_capacity(order.len()),
            status_subtype: Vec::with_capacity(order.len()),
            status: Vec::with_capacity(order.len()),
        };
        for (n, &(_, job_id, k, slot)) in order.iter().enumerate() {
            let id = first_id + n as i64;
            let job = match new.get(slot as usize) {
                Some(j) => *j,
                None => &changed[slot as usize - new.len()].job,
            };
            let c = &job.history[k as usize];
            r.status_id.push(id);
            r.status_job.push(job_id);
            r.status_time
                .push((s.epoch.0 + c.at - super::rows::PG_EPOCH_MS) * 1000);
            r.status_subtype.push(c.error_subtype.clone());
            r.status.push(i16::from(c.status.id()));
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
        if !parents.buf.is_empty() {
            r.inserts.push((
                "parent_jobs",
                PARENT_COLUMNS,
                json_rows(PARENT_COLUMNS, &parents.buf),
            ));
        }
        for (t, buf) in CHILDREN.iter().zip(children) {
            if !buf.buf.is_empty() {
                r.inserts
                    .push((t.table, t.columns, json_rows(t.columns, &buf.buf)));
            }
        }
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

    /// Every write in one round trip: triggers off (this transaction only), the inserts, the
    /// updates, the status rows, the sequences.
    async fn write(&self, tx: &Transaction<'_>) -> Result<()> {
        let mut statements: Vec<(String, Params<'_>)> = vec![(REPLICA.to_owned(), Vec::new())];
        for (table, columns, json) in &self.inserts {
            statements.push((
                format!(
                    "insert into cosims.{table} ({columns}) select {columns} from json_populate_recordset(null::cosims.{table}, $1::text::json)"
                ),
                vec![(json as &(dyn ToSql + Sync), Type::TEXT)],
            ));
        }
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
        if !self.status_id.is_empty() {
            statements.push((
                INSERT_STATUSES.to_owned(),
                vec![
                    (&self.status_id, Type::INT8_ARRAY),
                    (&self.status_job, Type::INT8_ARRAY),
                    (&self.status_time, Type::INT8_ARRAY),
                    (&self.status_subtype, Type::TEXT_ARRAY),
                    (&self.status, Type::INT2_ARRAY),
                ],
            ));
        }
        for q in SETVAL.split(";\n") {
            statements.push((q.trim().trim_end_matches(';').to_owned(), Vec::new()));
        }
        try_join_all(
            statements
                .iter()
                .map(|(q, p)| tx.query_typed(q, p.as_slice())),
        )
        .await
        .map_err(sql("write the incremental export"))?;
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
