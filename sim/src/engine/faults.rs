//! Faults of the system's neighbours (the OpenStack project's quota, the Nomad API, the
//! database behind PostgREST) as the services feel them, each where the facts put it
//! (orchestration.md §0, §1.3, §1.5, §3.6, §7; database.md §2.3):
//!
//! - **instance quota**: the worker pool's creations beyond it are refused by Nova (403); each
//!   refusal is logged and the loop goes on, so the pool stays at the quota and grows again as
//!   soon as the quota allows (`worker_pool`).
//! - **Nomad API unavailable** (5xx): job execution's dispatches fail with a
//!   `BaseNomadException`, so every job it takes goes `ready → internal_error` ("Nomad Command
//!   Error") and stays there until an operator patches it (`execution`); the worker pool's loop
//!   and the monitor's loop fail on their first Nomad call and are skipped (`worker_pool`,
//!   `monitor`). Nomad's scheduler and the runs already placed carry on (the fault is its HTTP
//!   API).
//! - **database unavailable** (PostgreSQL killed, a restore in progress): PostgREST answers
//!   connection errors, which the services' client turns into `None` (logged once): job creation
//!   aborts its iteration (nothing is skipped: the inputs are created once it answers again, those
//!   still inside the creation windows), configuration, execution, publication, the monitor and
//!   the worker pool (it reads `system_parameters` every loop) do nothing. Runs on the workers
//!   cannot write their statuses: a run that ends in the window leaves its job as the database
//!   last had it, and one placed in the window fails at once (its worker cannot read the
//!   parameters); the monitor finds them inconsistent with Nomad once the database is back and
//!   dispatches them again.
//!
//! Unused, none of this changes anything: every check is on a flag that only these actions set.

use super::*;

/// The faults in force and what they did so far (see [`crate::World::faults`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// The OpenStack project's instance quota for worker VMs (`None`: not binding).
    pub worker_quota: Option<u32>,
    /// The Nomad HTTP API answers 5xx.
    pub nomad_down: bool,
    /// The database (PostgreSQL behind PostgREST) does not answer.
    pub database_down: bool,
    /// When Nova first refused a worker creation under the quota in force (quota exceeded).
    pub refused_since: Option<Ms>,
    /// Dispatches that failed on the Nomad API: jobs put in `internal_error` (Nomad Command Error).
    pub failed_dispatches: u64,
    /// Runs that ended (or failed to start) while the database was unavailable: their statuses
    /// were not written, and the monitor dispatches them again once it answers.
    pub unrecorded_runs: u64,
}

impl Engine {
    /// A fault action ([`Action::WorkerQuota`], `Nomad…`, `Database…`).
    pub(super) fn fault(&mut self, action: &Action) {
        // Each fault's flag is folded into the services' gates before anything reads them.
        match action {
            Action::WorkerQuota(q) => {
                self.faults.worker_quota = *q;
                self.faults.refused_since = None;
                self.refresh_enabled();
                self.wake_wpm();
            }
            Action::NomadUnavailable => {
                self.faults.nomad_down = true;
                self.refresh_enabled();
            }
            Action::NomadAvailable => {
                let was = std::mem::replace(&mut self.faults.nomad_down, false);
                self.refresh_enabled();
                if was && self.services_ok() {
                    self.wake_wpm();
                    self.wake_monitor(self.now);
                }
            }
            Action::DatabaseUnavailable => {
                self.faults.database_down = true;
                self.refresh_enabled();
            }
            Action::DatabaseAvailable => {
                let was = std::mem::replace(&mut self.faults.database_down, false);
                self.refresh_enabled();
                if was && self.up {
                    // Every loop reads the database again: the work kept waiting is taken up.
                    self.kick_all();
                }
            }
            _ => {}
        }
    }

    /// Whether the worker pool's and the monitor's loops get through (they call both the
    /// database and the Nomad API).
    pub(super) fn nomad_callers_ok(&self) -> bool {
        self.nomad_callers
    }

    /// Worker VMs Nova still accepts under the quota.
    pub(super) fn quota_left(&self) -> i64 {
        (self.quota - self.n_workers).max(0)
    }

    /// A run placed or ending while the database is unavailable: nothing is written, the worker
    /// is free again, and the job waits for the monitor (its status is the one the database last
    /// had: `queued` or a running status).
    pub(super) fn unrecorded_run(&mut self, j: u32) {
        self.release_worker(j);
        self.jobs[j as usize].epoch += 1;
        self.faults.unrecorded_runs += 1;
        self.reset_on_start.push(j);
    }
}
