//! What PostgreSQL would refuse, found before anything is written: illegal status transitions
//! (the shared table of [`crate::status`], proven equal to `cosims.check_status_change()`),
//! duplicate ids, names the name trigger refuses, duplicate unique keys of the child tables and
//! parameter values that do not parse as their column's type.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Detail, Job, Snapshot};
use crate::status::{Status, allowed_change};
use crate::time::Ms;

/// Why a snapshot cannot be written to the database as it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    /// A status change the trigger refuses.
    #[error(
        "job {job} (`{name}`): status change #{index} at {at} ms, {} → {}, is not allowed by cosims.check_status_change()\n(hint: errors recover through error_checked, e.g. internal_error → error_checked → ready; the allowed transitions are in hrsi_sim::status)",
        from.map_or("(no status yet)", Status::name), to.name()
    )]
    IllegalTransition {
        /// `parent_jobs.id`.
        job: i64,
        /// `parent_jobs.name`.
        name: String,
        /// Position of the change in the job's history (0 = first status).
        index: usize,
        /// Status before (`None`: the first status).
        from: Option<Status>,
        /// Status refused.
        to: Status,
        /// When.
        at: Ms,
    },
    /// Jobs are not sorted by id, or an id repeats or is not positive.
    #[error(
        "job id {id} is out of order, repeated or not positive (after id {previous})\n(hint: jobs are sorted by their parent_jobs.id, which is unique and > 0)"
    )]
    BadId {
        /// The offending id.
        id: i64,
        /// The id before it.
        previous: i64,
    },
    /// A job name with whitespace (the `check_parent_job_name` trigger refuses it).
    #[error(
        "job {job}: name {name:?} contains whitespace, which cosims.check_parent_job_name() refuses\n(hint: use `_` instead of spaces)"
    )]
    BadName {
        /// `parent_jobs.id`.
        job: i64,
        /// The name.
        name: String,
    },
    /// Two jobs with the same unique key of a child table.
    #[error(
        "jobs {first} and {second} have the same unique key of cosims.{table} ({key})\n(hint: the database keeps one row per key; the second job could never be inserted)"
    )]
    DuplicateKey {
        /// The child table.
        table: &'static str,
        /// The key, as text.
        key: String,
        /// The first job with it.
        first: i64,
        /// The second.
        second: i64,
    },
    /// A system parameter that is unknown or does not parse.
    #[error("system_parameters: {0}")]
    Param(#[from] crate::params::ParamError),
    /// The stored resume points disagree with the jobs.
    #[error(
        "the resume points {stored:?} disagree with the jobs, which give {derived:?}\n(hint: resume points are read from the jobs' publication dates)"
    )]
    ResumeMismatch {
        /// Stored.
        stored: Box<super::ResumePoints>,
        /// Derived from the jobs.
        derived: Box<super::ResumePoints>,
    },
    /// A snapshot was asked of a run that did not record its jobs and status changes.
    #[error(
        "the run did not record its jobs and status changes\n(hint: set `keep_jobs` and `keep_history` in the config, or use Snapshot::record)"
    )]
    NotRecorded,
    /// An incremental export whose base is not a prefix of the new snapshot.
    #[error(
        "job {job}: its status history was rewritten since the previous snapshot ({reason})\n(hint: the history is append-only in the database; export the whole snapshot into a fresh database instead)"
    )]
    HistoryRewritten {
        /// `parent_jobs.id`.
        job: i64,
        /// What differs.
        reason: String,
    },
}

const NAME_WHITESPACE: [char; 7] = [' ', '\t', '\u{0B}', '\u{08}', '\r', '\n', '\u{A0}'];

impl Snapshot {
    /// Checks everything the database would refuse (see the module doc).
    pub fn check(&self) -> Result<(), SnapshotError> {
        let mut previous = 0;
        for j in &self.jobs {
            if j.id <= previous {
                return Err(SnapshotError::BadId { id: j.id, previous });
            }
            previous = j.id;
            check_job(j)?;
        }
        check_unique(&self.jobs)?;
        if let Some(p) = &self.params {
            let mut sp = crate::params::SystemParameters::default();
            for (k, v) in p {
                sp.set(k, v.as_deref().unwrap_or("NULL"))?;
            }
        }
        let derived = self.derived_resume();
        if derived != self.resume {
            return Err(SnapshotError::ResumeMismatch {
                stored: Box::new(self.resume),
                derived: Box::new(derived),
            });
        }
        Ok(())
    }
}

/// Checks one job's name and its whole history against the status table.
pub(crate) fn check_job(j: &Job) -> Result<(), SnapshotError> {
    if j.name.contains(NAME_WHITESPACE) {
        return Err(SnapshotError::BadName {
            job: j.id,
            name: j.name.clone(),
        });
    }
    check_history(j, None, 0)
}

/// Checks `j.history[start..]` given the status before it.
pub(crate) fn check_history(
    j: &Job,
    mut prev: Option<Status>,
    start: usize,
) -> Result<(), SnapshotError> {
    for (k, c) in j.history.iter().enumerate().skip(start) {
        if !allowed_change(prev, c.status) {
            return Err(SnapshotError::IllegalTransition {
                job: j.id,
                name: j.name.clone(),
                index: k,
                from: prev,
                to: c.status,
                at: c.at,
            });
        }
        prev = Some(c.status);
    }
    Ok(())
}

/// The unique keys of the child tables (NULLs are distinct, as in PostgreSQL).
fn check_unique(jobs: &[Arc<Job>]) -> Result<(), SnapshotError> {
    let mut seen: HashMap<(&'static str, String), i64> = HashMap::new();
    for j in jobs {
        let key = match &j.detail {
            Detail::FscRlie(x) => Some((
                "fsc_rlie_jobs",
                format!("{}, {}, {}", x.l1c_id, x.nrt, x.reprocessing_context),
            )),
            Detail::RlieS1(x) => match (&x.reprocessing_context, x.s1grd_dias_publication_date) {
                (Some(c), Some(p)) => Some((
                    "rlies1_jobs",
                    format!("{}, {}, {p}, {c}", x.s1grd_id, x.measurement_date_start),
                )),
                _ => None,
            },
            Detail::RlieS1S2(x) => Some((
                "rlies1s2_jobs",
                format!("{}, {}", x.process_date, x.tile_id_dup),
            )),
            Detail::SwsWds(x) => x.fsc_id_list.as_ref().map(|f| {
                (
                    "sws_wds_jobs",
                    format!("{}, {f}, {}, None", x.s1_id_list, x.nrt),
                )
            }),
            Detail::Gfsc(x) => Some(("gfsc_jobs", format!("{}, {}, None", x.gfsc_id, x.nrt))),
            Detail::Service | Detail::Unclassified => None,
        };
        let Some(key) = key else { continue };
        if let Some(&first) = seen.get(&key) {
            return Err(SnapshotError::DuplicateKey {
                table: key.0,
                key: key.1,
                first,
                second: j.id,
            });
        }
        seen.insert(key, j.id);
    }
    Ok(())
}
