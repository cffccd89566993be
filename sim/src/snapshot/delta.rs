//! What changed between two snapshots: the incremental export writes only this.
//!
//! The status history is append-only in the database, so a job present in both snapshots may
//! only have gained rows at the end of its history; its parent and child fields may change
//! freely (a dispatch sets `nomad_id`, a publication its dates). Jobs are never deleted by the
//! world (an operator's `DELETE` is seen by the next import).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Job, ResumePoints, Snapshot, SnapshotError, check};
use crate::time::Ms;

/// A job present in both snapshots that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobChange {
    /// How many history rows the base already had.
    pub base_len: usize,
    /// Whether the parent or child fields changed (not only the history).
    pub fields_changed: bool,
    /// The job as it is now.
    pub job: Arc<Job>,
}

impl JobChange {
    /// The history rows to append.
    pub fn appended(&self) -> &[super::Change] {
        &self.job.history[self.base_len..]
    }
}

/// The changes from a base snapshot to a later one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Instant of the base.
    pub base_at: Ms,
    /// Instant of the new snapshot.
    pub at: Ms,
    /// The new parameter row, when it changed.
    pub params: Option<Option<BTreeMap<String, Option<String>>>>,
    /// The new resume points.
    pub resume: ResumePoints,
    /// Jobs the base did not have, sorted by id.
    pub new_jobs: Vec<Arc<Job>>,
    /// Jobs of the base that changed, sorted by id.
    pub changed: Vec<JobChange>,
    /// Ids of base jobs missing from the new snapshot (the world never deletes; non-empty only
    /// when the two snapshots are not of one line of history).
    pub missing: Vec<i64>,
}

impl Delta {
    /// Status rows the delta appends.
    pub fn status_changes(&self) -> usize {
        self.new_jobs.iter().map(|j| j.history.len()).sum::<usize>()
            + self
                .changed
                .iter()
                .map(|c| c.appended().len())
                .sum::<usize>()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.params.is_none()
            && self.new_jobs.is_empty()
            && self.changed.is_empty()
            && self.missing.is_empty()
    }
}

fn same_fields(a: &Job, b: &Job) -> bool {
    a.name == b.name
        && a.priority == b.priority
        && a.nomad_id == b.nomad_id
        && a.tile_id == b.tile_id
        && a.detail == b.detail
}

impl Snapshot {
    /// What changed since `base`, every appended status validated from the base's last status.
    /// Refuses a job whose history is not an extension of the base's (append-only) and any
    /// change the database would refuse ([`Snapshot::check`] rules for the new and changed
    /// jobs).
    ///
    /// A job both snapshots share (the same allocation: built once and kept by the
    /// [`KeptSnapshot`](super::KeptSnapshot) that built both) is unchanged without a look at
    /// its rows, so a delta between two builds of one world costs the jobs that moved, not
    /// every job.
    pub fn delta_since(&self, base: &Snapshot) -> Result<Delta, SnapshotError> {
        let mut new_jobs = Vec::new();
        let mut changed = Vec::new();
        let mut missing = Vec::new();
        let (mut i, mut k) = (0, 0);
        let (a, b) = (&base.jobs, &self.jobs);
        while i < a.len() || k < b.len() {
            match (a.get(i), b.get(k)) {
                (Some(x), Some(y)) if Arc::ptr_eq(x, y) => {
                    i += 1;
                    k += 1;
                }
                (Some(x), Some(y)) if x.id == y.id => {
                    let n = x.history.len();
                    if y.history.len() < n || y.history[..n] != x.history[..] {
                        let at = x
                            .history
                            .iter()
                            .zip(&y.history)
                            .position(|(p, q)| p != q)
                            .unwrap_or(n.min(y.history.len()));
                        return Err(SnapshotError::HistoryRewritten {
                            job: y.id,
                            reason: format!(
                                "the base has {n} status rows, the new snapshot {} and they differ from row #{at}",
                                y.history.len()
                            ),
                        });
                    }
                    let fields_changed = !same_fields(x, y);
                    if fields_changed || y.history.len() > n {
                        if y.name != x.name {
                            check::check_job(y)?;
                        }
                        check::check_history(y, x.status(), n)?;
                        changed.push(JobChange {
                            base_len: n,
                            fields_changed,
                            job: Arc::clone(y),
                        });
                    }
                    i += 1;
                    k += 1;
                }
                (Some(x), y) if y.is_none_or(|y| x.id < y.id) => {
                    missing.push(x.id);
                    i += 1;
                }
                (_, Some(y)) => {
                    check::check_job(y)?;
                    new_jobs.push(Arc::clone(y));
                    k += 1;
                }
                (None, None) => unreachable!("loop condition"),
                (Some(_), _) => unreachable!("covered by the guard above"),
            }
        }
        Ok(Delta {
            base_at: base.at,
            at: self.at,
            params: (self.params != base.params).then(|| self.params.clone()),
            resume: self.resume,
            new_jobs,
            changed,
            missing,
        })
    }

    /// Every job equal to `other`'s job of the same id takes `other`'s allocation, so that a
    /// delta between this snapshot and the builds that share `other`'s jobs finds them by
    /// pointer (a snapshot read back from the database, made of fresh allocations, becomes the
    /// base of the next incremental export). Returns how many jobs are shared.
    pub fn share_unchanged(&mut self, other: &Snapshot) -> usize {
        let (mut k, mut shared) = (0, 0);
        for j in &mut self.jobs {
            while other.jobs.get(k).is_some_and(|o| o.id < j.id) {
                k += 1;
            }
            match other.jobs.get(k) {
                Some(o) if Arc::ptr_eq(o, j) => shared += 1,
                Some(o) if o.id == j.id && **o == **j => {
                    *j = Arc::clone(o);
                    shared += 1;
                }
                _ => {}
            }
        }
        shared
    }

    /// The snapshot `delta` leads to from this one (the inverse of [`Snapshot::delta_since`]).
    pub fn apply(&self, delta: &Delta) -> Snapshot {
        let mut jobs: BTreeMap<i64, Arc<Job>> = self
            .jobs
            .iter()
            .filter(|j| !delta.missing.contains(&j.id))
            .map(|j| (j.id, j.clone()))
            .collect();
        for j in &delta.new_jobs {
            jobs.insert(j.id, j.clone());
        }
        for c in &delta.changed {
            jobs.insert(c.job.id, c.job.clone());
        }
        Snapshot {
            epoch: self.epoch,
            at: delta.at,
            params: delta.params.clone().unwrap_or_else(|| self.params.clone()),
            resume: delta.resume,
            jobs: jobs.into_values().collect(),
        }
    }
}
