//! What an operator changed in the database, taken by the world as the services take it: a job
//! status written by hand (`internal_error → error_checked → ready`, a job set back to
//! `initialized`, one cancelled…). The services keep no state of their own across a loop: what
//! they do next follows from the job's status (orchestration.md §1, §2.3, §7):
//! `initialized` / `configured` are configured again, `ready` is dispatched again, `processed`
//! is published, a job shown in flight (`queued` … `post_processing`) that Nomad does not run is
//! reset by the monitor, and the statuses no service fetches (`start_publication`,
//! `error_checked`, the errors, `published`, `done`, `cancelled`) stay as they are.

use super::*;

impl Engine {
    /// The world's jobs, in creation order (index = position in the database after the service
    /// jobs, [`crate::snapshot::Snapshot::from_outcome`]).
    pub(crate) fn jobs_view(&self) -> &[Job] {
        &self.jobs
    }

    /// Job `j` got the status rows `rows` (oldest first, each allowed from the one before, the
    /// first from the world's current status) written by hand. What the world had scheduled for
    /// it is void; the services act on the last status as they would at their next loop.
    pub(crate) fn operator_status(&mut self, j: u32, rows: &[Status]) {
        let Some(&to) = rows.last() else { return };
        let from = self.jobs[j as usize].status;
        let ty = self.jobs[j as usize].ty;
        // Its Nomad allocation (queue entry or run) no longer matches the database: the next
        // status post of the worker is refused and the allocation ends.
        if self.jobs[j as usize].in_fifo {
            self.jobs[j as usize].in_fifo = false;
            self.pending[ty.idx()] -= 1;
        }
        let w = self.jobs[j as usize].worker;
        if from.is_running()
            && matches!(self.workers.get(usize::from(w)).map(|x| x.state), Some(WState::Busy { job }) if job == j)
        {
            self.release_worker(j);
        }
        let job = &mut self.jobs[j as usize];
        job.epoch += 1;
        job.waiting = false;
        job.restarts = 0;
        job.resched = 0;
        for &s in rows {
            self.write_status(j, s);
        }
        let live = !matches!(
            to,
            Status::InternalError
                | Status::ExternalError
                | Status::ErrorChecked
                | Status::Cancelled
                | Status::Done
                | Status::Published
                | Status::StartPublication
        );
        if live {
            self.reopen_units(j);
        }
        match to {
            Status::Initialized | Status::Configured => {
                self.to_config[ty.idx()].push(j);
                self.tick(Svc::Configuration, ty);
            }
            Status::Ready => {
                self.to_exec[ty.idx()].push(j);
                self.tick(Svc::Execution, ty);
            }
            Status::Queued
            | Status::Started
            | Status::PreProcessing
            | Status::Processing
            | Status::PostProcessing => {
                // Nomad runs no allocation for it: the monitor resets it (404, unchanged 5 min).
                self.reset_on_start.push(j);
                self.wake_monitor(self.now + 5 * MINUTE);
            }
            Status::Processed => {
                if self.jobs[j as usize].processed_at == Ms::MIN {
                    self.jobs[j as usize].processed_at = self.now;
                }
                self.to_publish[ty.idx()].push(j);
                self.tick(Svc::Publication, ty);
            }
            Status::Cancelled => {
                self.finish_units(j, Bucket::Cancelled, LostReason::None);
                self.wake_waiters(j);
            }
            Status::InternalError => {
                self.finish_units(j, Bucket::Lost, LostReason::Failed);
                self.wake_waiters(j);
            }
            Status::ExternalError => {
                // The monitor does not watch external_error: nothing retries it.
                self.finish_units(j, Bucket::Lost, LostReason::StuckInExternalError);
                self.wake_waiters(j);
            }
            Status::Done | Status::Published => {
                let bucket = if self.jobs[j as usize].processed_at == Ms::MIN {
                    // Closed by hand without a run: nothing was produced.
                    (Bucket::Lost, LostReason::ClosedByHand)
                } else {
                    (Bucket::Published, LostReason::None)
                };
                self.finish_units(j, bucket.0, bucket.1);
                self.wake_waiters(j);
            }
            // Fetched by no service: the job waits for the operator's next row.
            Status::StartPublication | Status::ErrorChecked => {}
        }
    }

    /// A status row written from outside the model (already checked against the table).
    fn write_status(&mut self, j: u32, to: Status) {
        let job = &mut self.jobs[j as usize];
        job.status = to;
        job.last_change = self.now;
        self.status_changes += 1;
        if self.cfg.keep_history {
            self.history.push((j, to, self.now));
        }
    }

    /// Units of `j` lost with it (failed, stuck) are pending again: the job runs again.
    fn reopen_units(&mut self, j: u32) {
        let mut u = self.jobs[j as usize].first_unit;
        while u != NONE {
            let unit = &mut self.units[u as usize];
            if unit.bucket == Bucket::Lost
                && matches!(
                    unit.reason,
                    LostReason::Failed
                        | LostReason::StuckInExternalError
                        | LostReason::ClosedByHand
                )
            {
                unit.bucket = Bucket::Pending;
                unit.reason = LostReason::None;
                let t = unit.ty.idx();
                if unit.overdue {
                    self.overdue[t] += 1;
                }
                if unit.active {
                    self.backlog[t] += 1;
                }
            }
            u = self.units[u as usize].next;
        }
    }
}
