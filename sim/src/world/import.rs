//! The world's side of the import: what `harness::world::import` read from PostgreSQL (a
//! [`Snapshot`]) compared with what the world holds, and every difference an operator made
//! taken as the real services take it (they keep no state across a restart: what they do next
//! follows from the database).
//!
//! Jobs are matched by id with [`Snapshot::from_outcome`]'s mapping (the six service jobs first,
//! then the world's jobs in creation order), and each match is checked on its type, tile and
//! measurement date, so a snapshot of another world is refused job by job instead of patching
//! the wrong rows.

use serde::Serialize;

use super::World;
use crate::config::Action;
use crate::job_type::JobType;
use crate::model::Job as WorldJob;
use crate::params::SystemParameters;
use crate::snapshot::{
    BuildOptions, Detail, Job, SERVICES, Snapshot, SnapshotError, canonical_param, params_text,
    tile_name,
};
use crate::status::{Status, allowed, check_path};
use crate::time::Ms;

/// A parameter the import changed, or could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamChange {
    /// The `system_parameters` column.
    pub name: String,
    /// The world's value before (canonical text, `None` = NULL).
    pub from: Option<String>,
    /// The database's value (canonical text, `None` = NULL).
    pub to: Option<String>,
}

/// A job whose status the import changed: the operator's rows, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusPatch {
    /// `parent_jobs.id`.
    pub id: i64,
    /// The job type.
    pub job_type: &'static str,
    /// The world's status before.
    pub from: Status,
    /// The rows written by hand after it (the last one is the job's status now).
    pub rows: Vec<Status>,
}

/// Why a job of the snapshot was not taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Skipped {
    /// Its history holds a change `cosims.check_status_change()` refuses (the database's trigger
    /// refuses it too; a dump loaded without triggers can still hold one): the world keeps the
    /// job as it had it.
    RefusedTransition {
        /// `parent_jobs.id`.
        id: i64,
        /// Status before the refused change (`None`: the first status).
        from: Option<Status>,
        /// The refused status.
        to: Status,
    },
    /// The id is the world's job of another type, tile or date: not this world's database.
    Mismatch {
        /// `parent_jobs.id`.
        id: i64,
        /// What the world's job with this id is.
        world: String,
        /// What the database's row is.
        database: String,
    },
    /// A production job the world never created (inserted by hand): the simulator models only
    /// jobs of its own inputs, so it is left out.
    Unknown {
        /// `parent_jobs.id`.
        id: i64,
    },
    /// A job without a status history (the services never fetch it).
    NoHistory {
        /// `parent_jobs.id`.
        id: i64,
    },
}

/// What [`World::import`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    /// Parameters that differed and were set (as `set_param` at the import instant).
    pub params_set: Vec<ParamChange>,
    /// Parameters that differed but the model refuses (left as they were), with the reason.
    pub params_refused: Vec<(ParamChange, String)>,
    /// Whether the snapshot has no `system_parameters` row at all (deleted by hand: the
    /// services would find no parameters; the world keeps its own).
    pub params_missing: bool,
    /// Jobs whose status the operator changed, as the world took them.
    pub statuses: Vec<StatusPatch>,
    /// Jobs of the snapshot the world could not take, and why.
    pub skipped: Vec<Skipped>,
    /// Jobs the world has that the snapshot lacks (deleted by hand, or an older database: see
    /// [`World::reset`]); the world keeps them.
    pub missing_jobs: usize,
}

impl ImportSummary {
    /// Whether the import changed nothing and skipped nothing.
    pub fn is_empty(&self) -> bool {
        self == &ImportSummary::default()
    }
}

/// A short description of a world job, to compare with a database row.
fn describe_world(j: &WorldJob) -> String {
    let tile = if j.ty == JobType::Rlies1Job {
        String::new()
    } else {
        tile_name(j.tile)
    };
    format!("{} tile `{tile}` measured at {} ms", j.ty.name(), j.meas)
}

/// The measurement date a row carries, as the world keeps it ([`Snapshot::from_outcome`]).
fn measurement(d: &Detail) -> Option<Ms> {
    Some(match d {
        Detail::FscRlie(x) => x.measurement_date,
        Detail::RlieS1(x) => x.measurement_date_start,
        Detail::RlieS1S2(x) => x.measurement_date,
        Detail::SwsWds(x) => x.measurement_date,
        Detail::Gfsc(x) => x.product_date,
        Detail::Service | Detail::Unclassified => return None,
    })
}

fn describe_row(j: &Job) -> String {
    format!(
        "{} tile `{}` measured at {} ms",
        j.job_type().map_or("(no production type)", JobType::name),
        j.tile_id,
        measurement(&j.detail).map_or_else(|| "?".to_owned(), |m| m.to_string())
    )
}

/// Whether database row `row` is the world's job `w`.
fn same_job(w: &WorldJob, row: &Job) -> bool {
    let meas = match row.detail {
        Detail::Gfsc(_) => w.meas.div_euclid(crate::time::DAY) * crate::time::DAY,
        _ => w.meas,
    };
    row.job_type() == Some(w.ty)
        && measurement(&row.detail) == Some(meas)
        && (w.ty == JobType::Rlies1Job || row.tile_id == tile_name(w.tile))
}

impl World {
    /// The database's view of the world now ([`Snapshot::from_outcome`] of
    /// [`World::outcome`], taken at [`World::now`]). The config must keep jobs and history
    /// (`keep_jobs`, `keep_history`), or [`SnapshotError::NotRecorded`].
    pub fn snapshot(&self, opts: &BuildOptions) -> Result<Snapshot, SnapshotError> {
        let cfg = self.config();
        if !cfg.keep_jobs || !cfg.keep_history {
            return Err(SnapshotError::NotRecorded);
        }
        let mut s = Snapshot::from_outcome(cfg, &self.outcome(), opts)?;
        s.at = self.now();
        Ok(s)
    }

    /// Takes what an operator changed in the database, at [`World::now`], as the real services
    /// take it at their next loop (or at their start, when the world is stopped):
    ///
    /// - **parameters** that differ from the world's are set (as [`Action::SetParam`]; a value
    ///   the model refuses is listed in [`ImportSummary::params_refused`] and left as it was);
    /// - **a job whose last status differs** from the world's takes the rows written after the
    ///   world's last one (the whole path is checked against the status table first; a refused
    ///   change skips the job, listed in [`ImportSummary::skipped`]), and the services act on
    ///   it: `initialized`/`configured` are configured again, `ready` is dispatched again (a
    ///   failed job patched `internal_error → error_checked → ready` runs again; its units,
    ///   lost as failed, are pending again, so they are counted once when it publishes),
    ///   `processed` is published, an in-flight status Nomad does not run is reset by the
    ///   monitor (5 min), `cancelled` cancels its units, `internal_error`/`external_error` lose
    ///   them (nothing retries those), `done`/`published` by hand close them (published if the
    ///   job had been processed, else lost as `closed_by_hand`), and `error_checked` /
    ///   `start_publication` are left waiting (no service fetches them);
    /// - jobs the world has and the snapshot lacks are counted in
    ///   [`ImportSummary::missing_jobs`] (an older database is [`World::reset`]'s).
    ///
    /// `opts` is the id mapping the snapshot was exported with (`first_id`). Importing the
    /// world's own snapshot changes nothing and returns an empty summary.
    pub fn import(&mut self, snap: &Snapshot, opts: &BuildOptions) -> ImportSummary {
        let mut sum = ImportSummary::default();
        self.import_params(snap, &mut sum);
        let first = opts.first_id + SERVICES.len() as i64;
        let n_world = self.engine.jobs_view().len();
        let mut seen = 0usize;
        for row in &snap.jobs {
            if row.job_type().is_none() {
                continue;
            }
            let Some(j) = row
                .id
                .checked_sub(first)
                .and_then(|k| usize::try_from(k).ok())
                .filter(|&k| k < n_world)
            else {
                sum.skipped.push(Skipped::Unknown { id: row.id });
                continue;
            };
            seen += 1;
            let w = &self.engine.jobs_view()[j];
            if !same_job(w, row) {
                sum.skipped.push(Skipped::Mismatch {
                    id: row.id,
                    world: describe_world(w),
                    database: describe_row(row),
                });
                continue;
            }
            let Some(last) = row.status() else {
                sum.skipped.push(Skipped::NoHistory { id: row.id });
                continue;
            };
            let (from, since) = (w.status, w.last_change);
            if last == from {
                continue;
            }
            // The trigger refuses what the table refuses: checked again, whole history first.
            let path: Vec<Status> = row.history.iter().map(|c| c.status).collect();
            if let Err((from, to)) = check_path(&path) {
                sum.skipped.push(Skipped::RefusedTransition {
                    id: row.id,
                    from,
                    to,
                });
                continue;
            }
            // The operator's rows: those after the world's last change (the same status at the
            // same instant); the whole history when the world's last row is not in it.
            let after = row
                .history
                .iter()
                .rposition(|c| c.status == from && c.at == since)
                .map_or(0, |i| i + 1);
            let rows: Vec<Status> = row.history[after..].iter().map(|c| c.status).collect();
            // The rows must follow from the world's status (the database's history may have
            // been rewritten under it).
            let mut prev = from;
            let mut refused = None;
            for &s in &rows {
                if !allowed(prev, s) {
                    refused = Some((prev, s));
                    break;
                }
                prev = s;
            }
            if let Some((from, to)) = refused {
                sum.skipped.push(Skipped::RefusedTransition {
                    id: row.id,
                    from: Some(from),
                    to,
                });
                continue;
            }
            self.engine.operator_status(j as u32, &rows);
            sum.statuses.push(StatusPatch {
                id: row.id,
                job_type: w_type(&self.engine.jobs_view()[j]),
                from,
                rows,
            });
        }
        sum.missing_jobs = n_world - seen.min(n_world);
        sum
    }

    fn import_params(&mut self, snap: &Snapshot, sum: &mut ImportSummary) {
        let Some(db) = &snap.params else {
            sum.params_missing = true;
            return;
        };
        let mine = params_text(self.params());
        for (name, value) in db {
            let to = canonical_param(name, value.as_deref()).unwrap_or_else(|_| value.clone());
            let from = mine.get(name).cloned().flatten();
            if mine.contains_key(name) && from == to {
                continue;
            }
            let change = ParamChange {
                name: name.clone(),
                from,
                to: to.clone(),
            };
            let text = to.clone().unwrap_or_else(|| "NULL".to_owned());
            let mut probe = SystemParameters::default();
            match probe.set(name, &text) {
                Ok(()) => {
                    self.act(Action::SetParam {
                        name: name.clone(),
                        value: text,
                    });
                    sum.params_set.push(change);
                }
                Err(e) => sum.params_refused.push((change, e.to_string())),
            }
        }
    }
}

fn w_type(j: &WorldJob) -> &'static str {
    j.ty.name()
}
