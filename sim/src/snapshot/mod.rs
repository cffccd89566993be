//! The world as the `cosims` database holds it: every job (its parent row, the child row of its
//! type with the fields the services read, its status history in virtual time), the one row of
//! `system_parameters` and the resume points (the last inserted job per type).
//!
//! A [`Snapshot`] is plain data (serde), the currency between the simulator and the harness:
//! [`Snapshot::from_outcome`] builds one from a finished run, the harness exports it into
//! PostgreSQL with `COPY` and imports one back after an operator changed the database.
//! [`Snapshot::check`] validates it against the shared status table and the schema's unique keys,
//! so a bulk load can run with the O(history) trigger off and still refuse what the trigger would
//! refuse; [`Snapshot::delta_since`] gives what changed since an earlier snapshot (incremental
//! export).
//!
//! Times are milliseconds of virtual time ([`Ms`]) since [`Snapshot::epoch`], the calendar
//! instant of the scenario's start; the database holds `epoch + ms` as UTC timestamps.

mod check;
mod delta;
mod from_run;
mod kept;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::job_type::JobType;
use crate::status::Status;
use crate::time::{Instant, Ms};

pub use check::SnapshotError;
pub use delta::{Delta, JobChange};
pub use from_run::{BuildOptions, SERVICES, tile_name};
pub use kept::KeptSnapshot;

/// The database's view of the world at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Calendar instant of virtual time 0 (the scenario's start), ISO-8601 in serde.
    #[serde(with = "iso")]
    pub epoch: Instant,
    /// The virtual instant the snapshot was taken at.
    pub at: Ms,
    /// The `system_parameters` row as text (`None` = NULL); `None` when the row was deleted
    /// (the services then find no parameters).
    pub params: Option<BTreeMap<String, Option<String>>>,
    /// The last inserted job per type, as the creation services read them at a (re)start.
    pub resume: ResumePoints,
    /// Every job, sorted by id. Shared: the snapshots of one world built one after the other
    /// hold the same allocation for a job that did not move, so the next incremental export
    /// finds what changed by pointer, and a build copies no job it did not build again.
    pub jobs: Vec<Arc<Job>>,
}

mod iso {
    use super::Instant;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(i: &Instant, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&i.iso())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        let text = String::deserialize(d)?;
        Instant::parse(&text).map_err(D::Error::custom)
    }
}

/// `parent_jobs.priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Near-real-time production.
    Nrt,
    /// Delayed production.
    Delayed,
    /// Reprocessing (backward FSC/RLIE jobs).
    Reprocessing,
}

impl Priority {
    /// The text in the database.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Nrt => "nrt",
            Priority::Delayed => "delayed",
            Priority::Reprocessing => "reprocessing",
        }
    }

    /// The priority with this text.
    pub fn from_name(s: &str) -> Option<Priority> {
        [Priority::Nrt, Priority::Delayed, Priority::Reprocessing]
            .into_iter()
            .find(|p| p.name() == s)
    }
}

/// One row of `job_status_changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// The status entered.
    pub status: Status,
    /// When (virtual ms).
    pub at: Ms,
    /// `error_subtype` (copied by the trigger into `parent_jobs.last_status_error_subtype`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subtype: Option<String>,
}

/// One job: its `parent_jobs` row, its child row and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// `parent_jobs.id`.
    pub id: i64,
    /// `parent_jobs.name` (no whitespace: the name trigger refuses it).
    pub name: String,
    /// `parent_jobs.priority`.
    pub priority: Option<Priority>,
    /// `parent_jobs.nomad_id`, once dispatched.
    pub nomad_id: Option<String>,
    /// `parent_jobs.tile_id` (empty for service jobs and RLIE-S1).
    pub tile_id: String,
    /// The child row.
    pub detail: Detail,
    /// The status history, oldest first (the order of `job_status_changes.id`).
    pub history: Vec<Change>,
}

impl Job {
    /// The current status: the last row of the history (what the trigger checks against).
    pub fn status(&self) -> Option<Status> {
        self.history.last().map(|c| c.status)
    }

    /// When the current status was entered.
    pub fn last_change(&self) -> Option<Ms> {
        self.history.last().map(|c| c.at)
    }

    /// `parent_jobs.error_raised`: sticky once any status 13, 14 or 15 was entered.
    pub fn error_raised(&self) -> bool {
        self.history
            .iter()
            .any(|c| (13..=15).contains(&c.status.id()))
    }

    /// The job type, for the five production types.
    pub fn job_type(&self) -> Option<JobType> {
        self.detail.job_type()
    }

    /// When the job first entered `status`, if it did.
    pub fn first(&self, status: Status) -> Option<Ms> {
        self.history
            .iter()
            .find(|c| c.status == status)
            .map(|c| c.at)
    }
}

/// The child row of a job, with the columns the services read (database.md §1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Detail {
    /// An orchestrator service registered as a job (`other_jobs`).
    Service,
    /// A job with no child row in the five production tables (PSA/ARLIE, test, or none).
    Unclassified,
    /// `fsc_rlie_jobs`.
    FscRlie(FscRlie),
    /// `rlies1_jobs`.
    RlieS1(RlieS1),
    /// `rlies1s2_jobs`.
    RlieS1S2(RlieS1S2),
    /// `sws_wds_jobs`.
    SwsWds(SwsWds),
    /// `gfsc_jobs`.
    Gfsc(Gfsc),
}

impl Detail {
    /// The job type of the row.
    pub fn job_type(&self) -> Option<JobType> {
        Some(match self {
            Detail::Service | Detail::Unclassified => return None,
            Detail::FscRlie(_) => JobType::FscRlieJob,
            Detail::RlieS1(_) => JobType::Rlies1Job,
            Detail::RlieS1S2(_) => JobType::Rlies1s2Job,
            Detail::SwsWds(_) => JobType::SwsWdsJob,
            Detail::Gfsc(_) => JobType::GfscJob,
        })
    }
}

/// An FSC/RLIE job (one Sentinel-2 L1C).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FscRlie {
    /// `nrt` (false for backward reprocessing).
    pub nrt: bool,
    /// `l1c_id`.
    pub l1c_id: String,
    /// `l1c_cloud_cover` (percent).
    pub l1c_cloud_cover: i32,
    /// `l1c_snow_cover` (percent).
    pub l1c_snow_cover: i32,
    /// `l1c_path`.
    pub l1c_path: String,
    /// `measurement_date` (= `l1c_sensing_time`).
    pub measurement_date: Ms,
    /// `l1c_esa_creation_date`.
    pub l1c_esa_creation_date: Ms,
    /// `l1c_dias_publication_date`: the creation service's resume column.
    pub l1c_dias_publication_date: Option<Ms>,
    /// `maja_mode`.
    pub maja_mode: Option<String>,
    /// `l2a_status`.
    pub l2a_status: Option<String>,
    /// `fsc_path`, once processed.
    pub fsc_path: Option<String>,
    /// `fsc_completion_date`.
    pub fsc_completion_date: Option<Ms>,
    /// `fsc_json_publication_date`.
    pub fsc_json_publication_date: Option<Ms>,
    /// `reprocessing_context` (`None` as the string `'None'` by default).
    pub reprocessing_context: String,
}

/// An RLIE-S1 job (one Sentinel-1 GRD).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlieS1 {
    /// `s1grd_id`.
    pub s1grd_id: String,
    /// `measurement_date_start`.
    pub measurement_date_start: Ms,
    /// `measurement_date_end`.
    pub measurement_date_end: Ms,
    /// `s1grd_dias_publication_date`: the creation service's resume column.
    pub s1grd_dias_publication_date: Option<Ms>,
    /// `rlies1_products_completion_date`.
    pub completion_date: Option<Ms>,
    /// `rlies1_products_publication_date`.
    pub publication_date: Option<Ms>,
    /// `reprocessing_context` (`nrt` as the service sets it).
    pub reprocessing_context: Option<String>,
}

/// An RLIE-S1-S2 job (one tile-day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlieS1S2 {
    /// `process_date` (the day, 00:00).
    pub process_date: Ms,
    /// `tile_id_dup`.
    pub tile_id_dup: String,
    /// `measurement_date_rlies1s2`.
    pub measurement_date: Ms,
    /// `rlies1s2_completion_date`.
    pub completion_date: Option<Ms>,
    /// `publication_date_rlies1s2`.
    pub publication_date: Option<Ms>,
}

/// An SWS/WDS job (a tile and an S1 datatake, with an FSC for the WDS part).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwsWds {
    /// `nrt`.
    pub nrt: bool,
    /// `measurement_date`.
    pub measurement_date: Ms,
    /// `s1_id_list`.
    pub s1_id_list: String,
    /// `fsc_id_list` (NULL for SWS-only jobs).
    pub fsc_id_list: Option<String>,
    /// `s1_dias_publication_latest_date`: the creation service's S1 resume column.
    pub s1_dias_publication_latest_date: Option<Ms>,
    /// `fsc_publication_latest_date`: its FSC resume column.
    pub fsc_publication_latest_date: Option<Ms>,
    /// `assembly_id`.
    pub assembly_id: Option<String>,
    /// `assembly_master_job_id`: the master's parent id (its own when master).
    pub assembly_master_job_id: Option<i64>,
    /// `assembly_status`.
    pub assembly_status: Option<String>,
    /// `wds_completion_date` / `sws_completion_date`.
    pub completion_date: Option<Ms>,
    /// `wds_json_publication_date` / `sws_json_publication_date`.
    pub publication_date: Option<Ms>,
}

/// A GFSC job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gfsc {
    /// `nrt`.
    pub nrt: bool,
    /// `missions`.
    pub missions: Option<String>,
    /// `triggering_product_id`.
    pub triggering_product_id: Option<String>,
    /// `triggering_product_publication_date`: the creation service's resume column (daily
    /// jobs carry the last NRT trigger's date, so the watermark does not move).
    pub triggering_product_publication_date: Option<Ms>,
    /// `gfsc_id`.
    pub gfsc_id: String,
    /// `product_date`.
    pub product_date: Ms,
    /// `sensing_start_date`.
    pub sensing_start_date: Option<Ms>,
    /// `sensing_end_date`.
    pub sensing_end_date: Option<Ms>,
    /// `aggregation_timespan` (days).
    pub aggregation_timespan: Option<i16>,
    /// `completion_date`.
    pub completion_date: Option<Ms>,
    /// `gfsc_json_publication_date`.
    pub publication_date: Option<Ms>,
}

/// One resume point: what `GET /<table>?order=<col>.desc&limit=1` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    /// The table has no row: the service falls back to its default window.
    Empty,
    /// Some row has a NULL date: PostgreSQL sorts NULLs first for `desc`, so that row is "the
    /// last inserted job" (FSC/RLIE then crashes, SWS/WDS falls back; database.md §7.15).
    Null,
    /// The greatest date.
    At(Ms),
}

/// The resume points of the creation services (database.md §3.4). RLIE-S1-S2 has none: it
/// always scans a backward window driven by the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumePoints {
    /// FSC/RLIE: `l1c_dias_publication_date`.
    pub fsc_rlie: Resume,
    /// RLIE-S1: `s1grd_dias_publication_date`.
    pub rlies1: Resume,
    /// SWS/WDS: `s1_dias_publication_latest_date`.
    pub sws_wds_s1: Resume,
    /// SWS/WDS: `last_job_with_fsc_publication_latest_date()` (NULLs sorted last).
    pub sws_wds_fsc: Resume,
    /// GFSC: `triggering_product_publication_date`.
    pub gfsc: Resume,
}

/// Greatest value with NULLs first, as `order by col desc limit 1` sorts: `out` after one
/// more row.
fn desc_nulls_first(out: Resume, v: Option<Ms>) -> Resume {
    match (out, v) {
        (Resume::Null, _) | (_, None) => Resume::Null,
        (Resume::Empty, Some(t)) => Resume::At(t),
        (Resume::At(a), Some(t)) => Resume::At(a.max(t)),
    }
}

/// Greatest non-NULL value (`nullslast`); `Null` when every row is NULL: `out` after one more
/// row.
fn desc_nulls_last(out: Resume, v: Option<Ms>) -> Resume {
    match (out, v) {
        (Resume::At(a), Some(t)) => Resume::At(a.max(t)),
        (Resume::At(a), None) => Resume::At(a),
        (_, Some(t)) => Resume::At(t),
        (_, None) => Resume::Null,
    }
}

/// What one job's child row gives the resume points: the date columns the creation services
/// sort on. Small and copied beside a job's rows, so the resume points of a snapshot built
/// again follow without reading the jobs that did not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResumeCell {
    /// A row no creation service reads (a service job, RLIE-S1-S2, unclassified).
    Nothing,
    /// `fsc_rlie_jobs.l1c_dias_publication_date`.
    FscRlie(Option<Ms>),
    /// `rlies1_jobs.s1grd_dias_publication_date`.
    RlieS1(Option<Ms>),
    /// `sws_wds_jobs.s1_dias_publication_latest_date`, `fsc_publication_latest_date`.
    SwsWds(Option<Ms>, Option<Ms>),
    /// `gfsc_jobs.triggering_product_publication_date`.
    Gfsc(Option<Ms>),
}

impl ResumeCell {
    pub(crate) fn of(d: &Detail) -> ResumeCell {
        match d {
            Detail::FscRlie(x) => ResumeCell::FscRlie(x.l1c_dias_publication_date),
            Detail::RlieS1(x) => ResumeCell::RlieS1(x.s1grd_dias_publication_date),
            Detail::SwsWds(x) => ResumeCell::SwsWds(
                x.s1_dias_publication_latest_date,
                x.fsc_publication_latest_date,
            ),
            Detail::Gfsc(x) => ResumeCell::Gfsc(x.triggering_product_publication_date),
            _ => ResumeCell::Nothing,
        }
    }
}

impl ResumePoints {
    /// Nothing read yet: every table empty (an empty database's resume points).
    pub fn empty() -> ResumePoints {
        ResumePoints {
            fsc_rlie: Resume::Empty,
            rlies1: Resume::Empty,
            sws_wds_s1: Resume::Empty,
            sws_wds_fsc: Resume::Empty,
            gfsc: Resume::Empty,
        }
    }

    /// The resume points after one more job's row.
    pub(crate) fn with(mut self, c: ResumeCell) -> ResumePoints {
        match c {
            ResumeCell::Nothing => {}
            ResumeCell::FscRlie(v) => self.fsc_rlie = desc_nulls_first(self.fsc_rlie, v),
            ResumeCell::RlieS1(v) => self.rlies1 = desc_nulls_first(self.rlies1, v),
            ResumeCell::SwsWds(s1, fsc) => {
                self.sws_wds_s1 = desc_nulls_first(self.sws_wds_s1, s1);
                self.sws_wds_fsc = desc_nulls_last(self.sws_wds_fsc, fsc);
            }
            ResumeCell::Gfsc(v) => self.gfsc = desc_nulls_first(self.gfsc, v),
        }
        self
    }
}

impl Snapshot {
    /// The resume points the jobs give, read as the services read them.
    pub fn derived_resume(&self) -> ResumePoints {
        self.jobs.iter().fold(ResumePoints::empty(), |r, j| {
            r.with(ResumeCell::of(&j.detail))
        })
    }

    /// The job with this id (jobs are sorted by id).
    pub fn job(&self, id: i64) -> Option<&Job> {
        self.jobs
            .binary_search_by_key(&id, |j| j.id)
            .ok()
            .map(|i| &*self.jobs[i])
    }

    /// Production jobs in flight: dispatched to Nomad and not finished (`queued` to
    /// `post_processing`, the statuses the monitor watches; the service jobs, `started` for as
    /// long as they run, are not). At a restart their allocations are the Nomad stand-in's.
    pub fn in_flight(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().map(|j| &**j).filter(|j| {
            j.job_type().is_some() && j.status().is_some_and(|s| (4..=8).contains(&s.id()))
        })
    }

    /// Rows of `job_status_changes`.
    pub fn status_changes(&self) -> usize {
        self.jobs.iter().map(|j| j.history.len()).sum()
    }

    /// Jobs per current status (`None`: no history yet), for reports and tests.
    pub fn by_status(&self) -> BTreeMap<Option<Status>, usize> {
        let mut m = BTreeMap::new();
        for j in &self.jobs {
            *m.entry(j.status()).or_insert(0) += 1;
        }
        m
    }
}

/// Canonical text of a parameter value, so the simulator's and PostgreSQL's forms compare equal
/// (`2021-06-24 00:00:00` and `2021-06-24T00:00:00`, `t` and `true`).
pub fn canonical_param(
    name: &str,
    text: Option<&str>,
) -> Result<Option<String>, crate::params::ParamError> {
    use crate::params::{Kind, Value, column};
    let c = column(name)?;
    let Some(text) = text else { return Ok(None) };
    let mut p = crate::params::SystemParameters::default();
    p.set(name, text)?;
    Ok(match (c.kind, p.get(name)) {
        (_, None | Some(Value::Null)) => None,
        (Kind::Timestamp, Some(_)) => {
            let i = p.timestamp(name).expect("validated timestamp");
            Some(i.iso().trim_end_matches('Z').to_owned())
        }
        (_, Some(v)) => Some(v.to_string()),
    })
}

/// The canonical text form of a whole parameter set.
pub fn params_text(p: &crate::params::SystemParameters) -> BTreeMap<String, Option<String>> {
    crate::params::COLUMNS
        .iter()
        .map(|c| {
            let raw = p.get(c.name).map(ToString::to_string);
            let raw = raw.filter(|_| !matches!(p.get(c.name), Some(crate::params::Value::Null)));
            let v = canonical_param(c.name, raw.as_deref()).unwrap_or(raw);
            (c.name.to_owned(), v)
        })
        .collect()
}
