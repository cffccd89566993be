//! Reading the world back from the `cosims` schema: what the services read at a (re)start and
//! what an operator may have changed by hand. Parameters; the resume points, with the services'
//! own queries (`order by … desc limit 1`, NULLs first); every job with its fields and its whole
//! history (so a job patched `internal_error → error_checked → ready` is seen as `ready`, and the
//! next incremental export appends after the operator's rows); jobs in flight are the jobs whose
//! last status is one a worker or a queue holds.
//!
//! Sizes are bounded while streaming, before anything grows past them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hrsi_sim::{
    snapshot::{
        Change, Detail, FscRlie, Gfsc, Job, Priority, Resume, ResumePoints, RlieS1, RlieS1S2,
        Snapshot, SnapshotError, SwsWds, canonical_param,
    },
    status::Status,
    time::{Instant, Ms},
};
use tokio_postgres::{Client, GenericClient, IsolationLevel};

use super::{
    Error, Result,
    rows::{CHILDREN, PG_EPOCH_MS},
    stream::{be_i64, copy_out_binary, time},
};
use crate::postgres;

/// At most this many jobs are imported (about 6 years of production).
pub const MAX_JOBS: usize = 5_000_000;
/// At most this many status changes are imported (about 6 years of production).
pub const MAX_STATUS_CHANGES: usize = 60_000_000;

/// Every column cast to the type the binary decoding expects, whatever the schema's own.
const PARENTS_QUERY: &str = "select id::int8, name::text, priority::text, nomad_id::text, tile_id::text, last_status_id::int8 from cosims.parent_jobs order by id";
const STATUS_QUERY: &str =
    "select id, fk_parent_job_id, time, error_subtype, job_status from cosims.job_status_changes";

/// The creation services' queries (database.md §3.4): `order by … desc` puts NULLs first, except
/// the SWS/WDS FSC-side function, which sorts them last.
const RESUME_QUERIES: [&str; 5] = [
    "select l1c_dias_publication_date::text from cosims.fsc_rlie_jobs
     order by l1c_dias_publication_date desc limit 1",
    "select s1grd_dias_publication_date::text from cosims.rlies1_jobs
     order by s1grd_dias_publication_date desc limit 1",
    "select s1_dias_publication_latest_date::text from cosims.sws_wds_jobs
     order by s1_dias_publication_latest_date desc limit 1",
    "select fsc_publication_latest_date::text from cosims.sws_wds_jobs
     order by fsc_publication_latest_date desc nulls last limit 1",
    "select triggering_product_publication_date::text from cosims.gfsc_jobs
     order by triggering_product_publication_date desc limit 1",
];

/// A job whose `parent_jobs.last_status_id` (what the work queues read) differs from the last
/// row of its history (what the trigger checks): drift, as `jobs_satus_unsync_jobs()` lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// `parent_jobs.id`.
    pub job: i64,
    /// `parent_jobs.last_status_id`.
    pub listed: Option<i16>,
    /// The last history row's status.
    pub history: Option<Status>,
}

/// What an import found.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The database's world.
    pub snapshot: Snapshot,
    /// Jobs whose denormalised status drifted from their history.
    pub drift: Vec<Drift>,
    /// Columns of `system_parameters` the simulator does not know (a patched schema).
    pub ignored_params: Vec<String>,
    /// What the database holds that the trigger or the schema's keys would have refused (a
    /// restored dump is loaded without triggers); `None` when it is all valid.
    pub problem: Option<SnapshotError>,
}

fn sql(action: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| Error::Postgres(postgres::Error::sql(action, &e))
}

fn bad(table: &str, row: usize, reason: impl Into<String>) -> Error {
    Error::BadData {
        table: table.to_owned(),
        row,
        reason: reason.into(),
    }
}

/// Imports the world from a database holding the `cosims` schema. `epoch` is the calendar
/// instant of virtual time 0, `at` the virtual instant of the import.
pub async fn import(client: &mut Client, epoch: Instant, at: Ms) -> Result<Imported> {
    // One consistent view of every table, even while an operator's session writes.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(sql("begin the import"))?;
    let client = &tx;
    let (params, ignored_params) = read_params(client).await?;
    let mut jobs: Vec<Job> = Vec::new();
    let mut listed: Vec<Option<i16>> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    copy_out_binary(client, PARENTS_QUERY, "parent_jobs", MAX_JOBS, |row, f| {
        let f = Cells::new(f, "parent_jobs", row, 6)?;
        let id = f.req_i64(0)?;
        let priority = match f.text(2)? {
            None => None,
            Some(p) => Some(
                Priority::from_name(p)
                    .ok_or_else(|| bad("parent_jobs", row, format!("unknown priority `{p}`")))?,
            ),
        };
        index.insert(id, jobs.len());
        jobs.push(Job {
            id,
            name: f.text(1)?.unwrap_or_default().to_owned(),
            priority,
            nomad_id: f.text(3)?.map(str::to_owned),
            tile_id: f.text(4)?.unwrap_or_default().to_owned(),
            detail: Detail::Unclassified,
            history: Vec::new(),
        });
        listed.push(
            f.i64(5)?
                .map(i16::try_from)
                .transpose()
                .map_err(|_| bad("parent_jobs", row, "last_status_id is not a smallint"))?,
        );
        Ok(())
    })
    .await?;
    for (k, t) in CHILDREN.iter().enumerate() {
        let query = format!("select {} from cosims.{}", t.select, t.table);
        copy_out_binary(client, &query, t.table, MAX_JOBS, |row, f| {
            let f = Cells::new(f, t.table, row, top_level_fields(t.select))?;
            let id = f.req_i64(0)?;
            let Some(&i) = index.get(&id) else {
                return Err(bad(t.table, row, format!("no parent job {id}")));
            };
            if jobs[i].detail != Detail::Unclassified {
                return Err(bad(
                    t.table,
                    row,
                    format!("job {id} already has a child row in another table"),
                ));
            }
            jobs[i].detail = detail(k, &f, epoch)?;
            Ok(())
        })
        .await?;
    }
    // Read unordered (a sort of the whole history would spill to disk) and sorted here by id.
    let mut rows: Vec<(i64, u32, Change)> = Vec::new();
    copy_out_binary(
        client,
        STATUS_QUERY,
        "job_status_changes",
        MAX_STATUS_CHANGES,
        |row, f| {
            let bad = |why: &str| bad("job_status_changes", row, why);
            if f.len() != 5 {
                return Err(bad("expected 5 fields"));
            }
            let id = f[0].and_then(be_i64).ok_or_else(|| bad("NULL id"))?;
            let job = f[1].and_then(be_i64).ok_or_else(|| bad("NULL job"))?;
            let i = *index
                .get(&job)
                .ok_or_else(|| bad(&format!("no parent job {job}")))?;
            let us = f[2].and_then(be_i64).ok_or_else(|| bad("NULL time"))?;
            let s = f[4]
                .and_then(|b| b.try_into().ok().map(i16::from_be_bytes))
                .ok_or_else(|| bad("NULL status"))?;
            let status = u8::try_from(s)
                .ok()
                .and_then(Status::from_id)
                .ok_or_else(|| bad(&format!("unknown status id {s}")))?;
            let error_subtype = match f[3] {
                None => None,
                Some(b) => Some(
                    std::str::from_utf8(b)
                        .map_err(|_| bad("error_subtype is not UTF-8"))?
                        .to_owned(),
                ),
            };
            rows.push((
                id,
                i as u32,
                Change {
                    status,
                    // Microseconds since 2000-01-01, floored to milliseconds.
                    at: us.div_euclid(1000) + PG_EPOCH_MS - epoch.0,
                    error_subtype,
                },
            ));
            Ok(())
        },
    )
    .await?;
    rows.sort_unstable_by_key(|r| r.0);
    for (_, i, c) in rows {
        jobs[i as usize].history.push(c);
    }
    let drift = jobs
        .iter()
        .zip(&listed)
        .filter(|(j, l)| j.status().map(|s| i16::from(s.id())) != **l)
        .map(|(j, l)| Drift {
            job: j.id,
            listed: *l,
            history: j.status(),
        })
        .collect();
    let resume = read_resume(client, epoch).await?;
    tx.commit().await.map_err(sql("end the import"))?;
    let snapshot = Snapshot {
        epoch,
        at,
        params,
        resume,
        jobs: jobs.into_iter().map(Arc::new).collect(),
    };
    let problem = snapshot.check().err();
    Ok(Imported {
        snapshot,
        drift,
        ignored_params,
        problem,
    })
}

/// The `system_parameters` row as canonical text (`None`: no row), and the columns ignored.
pub(crate) async fn read_params(
    client: &impl GenericClient,
) -> Result<(Option<BTreeMap<String, Option<String>>>, Vec<String>)> {
    let row = client
        .query_opt(
            "select row_to_json(p)::text from cosims.system_parameters p order by id limit 1",
            &[],
        )
        .await
        .map_err(sql("read cosims.system_parameters"))?;
    let Some(row) = row else {
        return Ok((None, Vec::new()));
    };
    let text: String = row.get(0);
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| bad("system_parameters", 1, e.to_string()))?;
    let mut out = BTreeMap::new();
    let mut ignored = Vec::new();
    for (k, v) in obj {
        if k == "id" {
            continue;
        }
        let raw = match &v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        };
        match canonical_param(&k, raw.as_deref()) {
            Ok(c) => {
                out.insert(k, c);
            }
            Err(hrsi_sim::params::ParamError::Unknown { .. }) => ignored.push(k),
            // A value the simulator cannot read is kept as the database holds it; the snapshot's
            // check reports it.
            Err(_) => {
                out.insert(k, raw);
            }
        }
    }
    Ok((Some(out), ignored))
}

/// The creation services' resume points, read with their own queries.
async fn read_resume(client: &impl GenericClient, epoch: Instant) -> Result<ResumePoints> {
    let one = |q: &'static str| async move {
        let row = client
            .query_opt(q, &[])
            .await
            .map_err(sql("read a resume point"))?;
        Ok::<Resume, Error>(match row {
            None => Resume::Empty,
            Some(r) => match r.get::<_, Option<String>>(0) {
                None => Resume::Null,
                Some(t) => Resume::At(
                    time(&t, epoch)
                        .ok_or_else(|| bad("resume point", 1, format!("unreadable time `{t}`")))?,
                ),
            },
        })
    };
    Ok(ResumePoints {
        fsc_rlie: one(RESUME_QUERIES[0]).await?,
        rlies1: one(RESUME_QUERIES[1]).await?,
        sws_wds_s1: one(RESUME_QUERIES[2]).await?,
        sws_wds_fsc: one(RESUME_QUERIES[3]).await?,
        gfsc: one(RESUME_QUERIES[4]).await?,
    })
}

/// Fields of a select list (commas inside parentheses do not count).
fn top_level_fields(list: &str) -> usize {
    let mut depth = 0i32;
    let mut n = 1;
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => n += 1,
            _ => {}
        }
    }
    n
}

/// The fields of one binary row, read as the types the import's queries cast them to.
struct Cells<'a> {
    f: &'a [Option<&'a [u8]>],
    table: &'a str,
    row: usize,
}

impl<'a> Cells<'a> {
    fn new(f: &'a [Option<&'a [u8]>], table: &'a str, row: usize, need: usize) -> Result<Self> {
        if f.len() != need {
            return Err(bad(
                table,
                row,
                format!("{} fields, expected {need}", f.len()),
            ));
        }
        Ok(Cells { f, table, row })
    }

    fn bad(&self, why: impl Into<String>) -> Error {
        bad(self.table, self.row, why)
    }

    fn i64(&self, i: usize) -> Result<Option<i64>> {
        self.f[i]
            .map(|b| be_i64(b).ok_or_else(|| self.bad("an integer is not 8 bytes")))
            .transpose()
    }

    fn req_i64(&self, i: usize) -> Result<i64> {
        self.i64(i)?
            .ok_or_else(|| self.bad("an integer the world needs is NULL"))
    }

    fn text(&self, i: usize) -> Result<Option<&'a str>> {
        self.f[i]
            .map(|b| std::str::from_utf8(b).map_err(|_| self.bad("a text is not UTF-8")))
            .transpose()
    }

    fn s(&self, i: usize) -> Result<Option<String>> {
        Ok(self.text(i)?.map(str::to_owned))
    }

    fn req_s(&self, i: usize) -> Result<String> {
        self.s(i)?
            .ok_or_else(|| self.bad("a text the world needs is NULL"))
    }

    fn b(&self, i: usize) -> Result<bool> {
        match self.f[i] {
            None => Ok(false),
            Some([v]) => Ok(*v != 0),
            Some(_) => Err(self.bad("a boolean is not 1 byte")),
        }
    }

    /// A `timestamp` (microseconds since 2000-01-01) as virtual ms, floored.
    fn t(&self, i: usize, epoch: Instant) -> Result<Option<Ms>> {
        match self.i64(i)? {
            None => Ok(None),
            // ±infinity: no instant the world can hold.
            Some(i64::MIN | i64::MAX) => Err(self.bad("an infinite timestamp")),
            Some(us) => Ok(Some(us.div_euclid(1000) + PG_EPOCH_MS - epoch.0)),
        }
    }

    fn req_t(&self, i: usize, epoch: Instant) -> Result<Ms> {
        self.t(i, epoch)?
            .ok_or_else(|| self.bad("a date the world needs is NULL"))
    }
}

fn detail(k: usize, f: &Cells<'_>, epoch: Instant) -> Result<Detail> {
    let t = |i| f.t(i, epoch);
    let req_t = |i| f.req_t(i, epoch);
    let n = |i| f.i64(i);
    Ok(match k {
        0 => Detail::FscRlie(FscRlie {
            nrt: f.b(1)?,
            l1c_id: f.req_s(2)?,
            l1c_cloud_cover: n(3)?.unwrap_or(0) as i32,
            l1c_snow_cover: n(4)?.unwrap_or(0) as i32,
            l1c_path: f.req_s(5)?,
            measurement_date: req_t(6)?,
            l1c_esa_creation_date: req_t(7)?,
            l1c_dias_publication_date: t(8)?,
            maja_mode: f.s(9)?,
            l2a_status: f.s(10)?,
            fsc_path: f.s(11)?,
            fsc_completion_date: t(12)?,
            fsc_json_publication_date: t(13)?,
            reprocessing_context: f.s(14)?.unwrap_or_else(|| "None".into()),
        }),
        1 => Detail::RlieS1(RlieS1 {
            s1grd_id: f.req_s(1)?,
            measurement_date_start: req_t(2)?,
            measurement_date_end: req_t(3)?,
            s1grd_dias_publication_date: t(4)?,
            completion_date: t(5)?,
            publication_date: t(6)?,
            reprocessing_context: f.s(7)?,
        }),
        2 => Detail::RlieS1S2(RlieS1S2 {
            process_date: req_t(1)?,
            tile_id_dup: f.req_s(2)?,
            measurement_date: req_t(3)?,
            completion_date: t(4)?,
            publication_date: t(5)?,
        }),
        3 => Detail::SwsWds(SwsWds {
            nrt: f.b(1)?,
            measurement_date: req_t(2)?,
            s1_id_list: f.req_s(3)?,
            fsc_id_list: f.s(4)?,
            s1_dias_publication_latest_date: t(5)?,
            fsc_publication_latest_date: t(6)?,
            assembly_id: f.s(7)?,
            assembly_master_job_id: n(8)?,
            assembly_status: f.s(9)?,
            completion_date: t(10)?,
            publication_date: t(11)?,
        }),
        4 => Detail::Gfsc(Gfsc {
            nrt: f.b(1)?,
            missions: f.s(2)?,
            triggering_product_id: f.s(3)?,
            triggering_product_publication_date: t(4)?,
            gfsc_id: f.req_s(5)?,
            product_date: req_t(6)?,
            sensing_start_date: t(7)?,
            sensing_end_date: t(8)?,
            aggregation_timespan: n(9)?
                .map(i16::try_from)
                .transpose()
                .map_err(|_| f.bad("aggregation_timespan is not a smallint"))?,
            completion_date: t(10)?,
            publication_date: t(11)?,
        }),
        _ => Detail::Service,
    })
}
