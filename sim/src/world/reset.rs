//! A reset of the database to a backup (runbook "Reset the database content from a backup"):
//! the world is rebuilt from the backup as the real system is after a restore. The services keep
//! nothing of their own: after the restore they resume from the backup's resume points, so the
//! jobs created since the backup are created again from their inputs (which the world holds: they
//! are regenerated from the seed), RLIE-S1-S2 from its backward window, the GFSC daily jobs from
//! their restart coverage, and the jobs in flight at the backup instant are reset by the monitor
//! at the start (Nomad runs none of them).

use std::sync::Arc;

use serde::Serialize;

use super::{ImportSummary, Skipped, World};
use crate::config::{Action, Config};
use crate::snapshot::{BuildOptions, Snapshot};
use crate::time::Ms;

/// Why a backup cannot be restored into the world.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResetError {
    /// The backup is of another calendar (another scenario start).
    #[error(
        "the backup's virtual time starts at {backup}, the world's at {world}\n(hint: restore a backup of this rehearsal's database)"
    )]
    OtherEpoch {
        /// The backup's epoch (ISO).
        backup: String,
        /// The world's (ISO).
        world: String,
    },
    /// The backup was taken after the world's present.
    #[error(
        "the backup was taken at {at} ms, after the world's present ({now} ms)\n(hint: a backup is older than the database it replaces)"
    )]
    FromTheFuture {
        /// The backup's instant.
        at: Ms,
        /// The world's.
        now: Ms,
    },
    /// The backup is older than the simulated history.
    #[error(
        "the backup was taken at {at} ms, before the simulated history starts ({first} ms)\n(hint: lengthen the warm start, `warm_start_days` in the calibration)"
    )]
    BeforeHistory {
        /// The backup's instant.
        at: Ms,
        /// The first simulated instant.
        first: Ms,
    },
    /// The backup's jobs are not this world's (another seed, calibration or history): the job
    /// with this id is another one.
    #[error(
        "the backup is not this world's database: job {id} is {database} there, {world} here\n(hint: restore a backup of this rehearsal, with the scenario's seed and calibration)"
    )]
    OtherWorld {
        /// `parent_jobs.id`.
        id: i64,
        /// The world's job with that id.
        world: String,
        /// The backup's row.
        database: String,
    },
}

/// What [`World::reset`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResetSummary {
    /// The backup's instant.
    pub backup_at: Ms,
    /// Jobs the world had created after the backup: gone with the reset.
    pub jobs_removed: usize,
    /// Jobs in flight in the backup (`queued` … `post_processing`): Nomad runs none of them, so
    /// the monitor resets them at the start.
    pub in_flight: usize,
    /// Units published before the reset whose job it removed: pending again, counted under
    /// `reprocessed` (once) when published again.
    pub units_to_redo: usize,
    /// How the backup differs from the world at its instant (a backup patched by hand, rows the
    /// table refuses): [`World::import`] of the backup into the rebuilt world.
    pub import: ImportSummary,
}

impl World {
    /// Resets the database to `backup` (a snapshot taken at an earlier instant of this world,
    /// e.g. [`World::snapshot`] of a clone, or what the harness imported after a restore) and
    /// rebuilds the world from it, at [`World::now`]:
    ///
    /// - the world becomes the database's at the backup instant (the same seed and steps run
    ///   to it again, then [`World::import`] of the backup, so statuses patched in the backup
    ///   are taken as hand patches), frozen there: the jobs created since are gone;
    /// - the time between the backup and now passes with the services down (inputs keep
    ///   arriving and wait for the creation services, whose resume points are the backup's);
    /// - what the database does not hold stays the world's: the worker VMs, the plan of steps,
    ///   the record of outages and restarts and the counters (jobs created, worker hours);
    /// - units the world had published whose jobs are gone are pending again and flagged: when
    ///   published again they count once as `published` and under `reprocessed`; those the
    ///   services never do again are lost with their reason (RLIE-S1-S2 tile-days older than
    ///   the backward window at the start: `outside_search_window`).
    ///
    /// The services are down after the reset (the runbook stops them first; a world still up
    /// is stopped first and started again right after, at the same instant). `start` them to
    /// continue: the creation services resume from the backup's resume points, RLIE-S1-S2 scans
    /// its backward window, the GFSC night pass starts from its restart coverage (or
    /// `gfsc_daily_jobs_creation_start_date`), the monitor resets the jobs in flight.
    ///
    /// Refused, the world left as it was: a backup of another calendar, one taken after now or
    /// before the simulated history, one whose jobs are not this world's ([`ResetError`]).
    ///
    /// Units created only after the reset (GFSC triggers and WDS parts from the products
    /// published again, GFSC daily tile-days from the night pass) are matched the same way when
    /// they appear: done again, they count under `reprocessed` too.
    ///
    /// Not modelled: the hand patches imported into the world before the backup are only
    /// known through the backup itself.
    pub fn reset(
        &mut self,
        backup: &Snapshot,
        opts: &BuildOptions,
    ) -> Result<ResetSummary, ResetError> {
        let cfg = self.config().clone();
        if backup.epoch != cfg.start {
            return Err(ResetError::OtherEpoch {
                backup: backup.epoch.iso(),
                world: cfg.start.iso(),
            });
        }
        let now = self.now();
        if backup.at > now {
            return Err(ResetError::FromTheFuture { at: backup.at, now });
        }
        let first = -((cfg.calibration.warm_start_days * crate::time::DAY as f64) as Ms);
        if backup.at < first {
            return Err(ResetError::BeforeHistory {
                at: backup.at,
                first,
            });
        }
        // The database's world at the backup instant: the same run of the same steps (the
        // world itself is untouched until the backup is known to be its own).
        let replay = Config {
            steps: self.steps()[..self.steps_done()].to_vec(),
            ..cfg.clone()
        };
        let mut db = World::shared(Arc::new(replay), self.baseline.as_deref());
        db.run_until(backup.at);
        db.engine.freeze_for_backup();
        // What the steps after the backup wrote into the database is gone with it.
        db.set_steps(Vec::new());
        let import = db.import(backup, opts);
        if let Some(Skipped::Mismatch {
            id,
            world,
            database,
        }) = import
            .skipped
            .iter()
            .find(|s| matches!(s, Skipped::Mismatch { .. }))
        {
            return Err(ResetError::OtherWorld {
                id: *id,
                world: world.clone(),
                database: database.clone(),
            });
        }
        let was_up = self.services_up();
        if was_up {
            self.act(Action::Stop);
        }
        // Jobs are numbered in creation order, so those created since the backup are the ones
        // past the backup's count; after an empty database (since the backup) all of them are.
        let mine = self.engine.jobs_view().len();
        let jobs_removed = match self.engine.emptied() {
            Some(e) if e.at >= backup.at => mine,
            _ => mine.saturating_sub(db.engine.jobs_view().len()),
        };
        // Down from the backup instant to the restore.
        db.run_until(now);
        db.engine.adopt_after_reset(&self.engine);
        let units_to_redo = db.engine.flag_reprocessed(&self.engine);
        db.baseline = self.baseline.clone();
        *self = db;
        if was_up {
            self.act(Action::Start);
        }
        Ok(ResetSummary {
            backup_at: backup.at,
            jobs_removed,
            in_flight: backup.in_flight().count(),
            units_to_redo,
            import,
        })
    }
}
