//! The job execution service and Nomad (orchestration.md §1.3, §4): the queue per flavour,
//! placement on idle workers, a run's drawn duration and end, Nomad restarts and
//! reschedules, and the jobs woken when one they wait on ends.

use super::*;

impl Engine {
    pub(super) fn execution(&mut self, t: JobType) {
        let mut batch = take_batch!(self, self.to_exec[t.idx()]);
        // Priority only orders the jobs readied in the same pass (stable sort).
        if matches!(t, JobType::FscRlieJob | JobType::SwsWdsJob) {
            batch.sort_by_key(|&j| self.jobs[j as usize].reprocessing);
        }
        for &j in &batch {
            if self.jobs[j as usize].status != Status::Ready {
                continue;
            }
            if self.faults.nomad_down {
                // The dispatch answers 5xx: "Nomad Command Error", no automatic retry.
                self.faults.failed_dispatches += 1;
                self.set_status(j, Status::InternalError);
                self.jobs[j as usize].epoch += 1;
                self.finish_units(j, Bucket::Lost, LostReason::Failed);
                self.wake_waiters(j);
                continue;
            }
            self.set_status(j, Status::Queued);
            self.queued_watch
                .push_back((self.now, j, self.jobs[j as usize].epoch));
            self.wake_monitor(self.now + QUEUED_LIMIT);
            self.enqueue_nomad(j);
        }
        self.give_back(batch);
    }

    pub(super) fn enqueue_nomad(&mut self, j: u32) {
        let job = &mut self.jobs[j as usize];
        job.in_fifo = true;
        let (f, ty, epoch) = (job.ty.flavor() as usize, job.ty, job.epoch);
        self.fifo[f].push_back((j, epoch));
        self.pending[ty.idx()] += 1;
        self.place(f);
        self.wake_wpm_for_pending();
    }

    pub(super) fn place(&mut self, f: usize) {
        while let Some(&(j, epoch)) = self.fifo[f].front() {
            let job = &self.jobs[j as usize];
            if job.epoch != epoch || !job.in_fifo {
                self.fifo[f].pop_front();
                continue;
            }
            let Some(w) = self.pop_idle(f) else { return };
            self.fifo[f].pop_front();
            let ty = self.jobs[j as usize].ty;
            self.jobs[j as usize].in_fifo = false;
            self.pending[ty.idx()] -= 1;
            self.n_idle[f] -= 1;
            self.workers[usize::from(w)].state = WState::Busy { job: j };
            self.running[ty.idx()] += 1;
            self.start_run(j, w);
        }
    }

    /// Nomad places on the most recently named eligible idle node.
    fn pop_idle(&mut self, f: usize) -> Option<u16> {
        let i = self.idle[f].iter().rposition(|&w| {
            matches!(
                self.workers[usize::from(w)].state,
                WState::Idle { eligible: true, .. }
            )
        })?;
        Some(self.idle[f].remove(i))
    }

    pub(super) fn add_idle(&mut self, f: usize, w: u16) {
        let i = self.idle[f].partition_point(|&x| x < w);
        self.idle[f].insert(i, w);
    }

    pub(super) fn start_run(&mut self, j: u32, w: u16) {
        if self.faults.database_down {
            return self.start_run_unrecorded(j, w);
        }
        let seed = self.cfg.seed;
        // Borrowed beside the job (not an `Arc` clone: an atomic pair per run).
        let cal = &self.cfg.calibration;
        let job = &mut self.jobs[j as usize];
        job.worker = w;
        job.attempt += 1;
        job.epoch += 1;
        job.run_start = self.now;
        let (key, n) = (job.key, u64::from(job.attempt));
        let median = cal.minutes(job.ty) * MINUTE as f64;
        let dur = (median * (cal.duration_sigma * normal(seed, Stream::Durations, key, n)).exp())
            .max(1000.0) as Ms;
        let (pre, proc) = (dur / 10, dur * 8 / 10);
        let u = unit(seed, Stream::Errors, key, 3 * n);
        let phase_u = unit(seed, Stream::Errors, key, 3 * n + 1);
        let at_u = unit(seed, Stream::Errors, key, 3 * n + 2);
        let (phase, phase_start, phase_len) = if phase_u < cal.error_processing_share {
            (Status::Processing, pre, proc)
        } else if phase_u < cal.error_processing_share + (1.0 - cal.error_processing_share) / 2.0 {
            (Status::PreProcessing, 0, pre)
        } else {
            (Status::PostProcessing, pre + proc, dur - pre - proc)
        };
        let err_at = phase_start + (at_u * phase_len as f64) as Ms;
        let mut end = (dur, RunEnd::Done);
        if u < cal.internal_error_rate {
            end = (err_at, RunEnd::Internal(phase));
        } else if u < cal.internal_error_rate + cal.external_error_rate {
            end = (err_at, RunEnd::External(phase));
        }
        // The monitor resets runs that stay too long in started/pre_processing or processing.
        let started_reset = boundary(self.now + STARTED_LIMIT, MONITOR_LOOP, 0) - self.now;
        if pre > started_reset && end.0 > started_reset {
            end = (started_reset, RunEnd::MonitorReset(Status::PreProcessing));
        }
        let proc_reset = boundary(self.now + pre + PROCESSING_LIMIT, MONITOR_LOOP, 0) - self.now;
        if proc > proc_reset - pre && end.0 > proc_reset {
            end = (proc_reset, RunEnd::MonitorReset(Status::Processing));
        }
        let epoch = job.epoch;
        job.end = end.1;
        if self.cfg.fidelity.status_trigger_cost {
            // The worker's own posts take the trigger's time too.
            end.0 += self.run_posts_cost(end.1);
        }
        self.set_status(j, Status::Started);
        self.push(self.now + end.0, Ev::RunEnd(j, epoch));
    }

    /// A run placed while the database is unavailable: the worker cannot read its parameters,
    /// it exits 1, Nomad restarts it in place until it gives up, and nothing reaches the
    /// database.
    #[cold]
    fn start_run_unrecorded(&mut self, j: u32, w: u16) {
        let job = &mut self.jobs[j as usize];
        job.worker = w;
        job.epoch += 1;
        job.end = RunEnd::Unrecorded;
        let epoch = job.epoch;
        let give_up = Ms::from(NOMAD_RESTART_ATTEMPTS) * NOMAD_RESTART_DELAY;
        self.push(self.now + give_up, Ev::RunEnd(j, epoch));
    }

    /// Writes the phase statuses a run went through up to `phase`.
    pub(super) fn walk_to(&mut self, j: u32, phase: Status) {
        for s in [
            Status::PreProcessing,
            Status::Processing,
            Status::PostProcessing,
        ] {
            if s.id() > phase.id() {
                break;
            }
            let cur = self.jobs[j as usize].status;
            if cur.is_running() && cur.id() < s.id() {
                self.set_status(j, s);
            }
        }
    }

    pub(super) fn release_worker(&mut self, j: u32) {
        let w = self.jobs[j as usize].worker;
        let ty = self.jobs[j as usize].ty;
        self.running[ty.idx()] -= 1;
        let f = ty.flavor() as usize;
        if matches!(self.workers[usize::from(w)].state, WState::Busy { job } if job == j) {
            self.workers[usize::from(w)].state = WState::Idle {
                since: self.now,
                eligible: true,
            };
            self.n_idle[f] += 1;
            self.add_idle(f, w);
            self.place(f);
            self.wake_wpm_for_idle(w);
        }
    }

    pub(super) fn on_run_end(&mut self, j: u32) {
        let end = self.jobs[j as usize].end;
        if self.faults.database_down || end == RunEnd::Unrecorded {
            // Its status posts fail: the job stays as the database last had it.
            self.unrecorded_run(j);
            return;
        }
        match end {
            RunEnd::Done => {
                self.walk_to(j, Status::PostProcessing);
                self.set_status(j, Status::Processed);
                self.jobs[j as usize].processed_at = self.now;
                self.release_worker(j);
                let t = self.jobs[j as usize].ty;
                self.to_publish[t.idx()].push(j);
                self.tick(Svc::Publication, t);
                self.wake_waiters(j);
            }
            RunEnd::External(phase) => {
                self.walk_to(j, phase);
                self.set_status(j, Status::ExternalError);
                if phase == Status::Processing {
                    self.jobs[j as usize].ext_proc += 1;
                }
                if self.jobs[j as usize].ext_proc >= 3 {
                    self.fail(j, LostReason::Failed);
                } else {
                    self.nomad_restart(j);
                }
                self.wake_waiters(j);
            }
            RunEnd::Internal(phase) => {
                self.walk_to(j, phase);
                self.set_status(j, Status::InternalError);
                let retry = phase == Status::Processing && self.jobs[j as usize].int_proc < 2;
                if phase == Status::Processing {
                    self.jobs[j as usize].int_proc += 1;
                }
                if retry {
                    self.set_status(j, Status::ErrorChecked);
                    self.nomad_restart(j);
                } else {
                    self.fail(j, LostReason::Failed);
                    self.wake_waiters(j);
                }
            }
            RunEnd::MonitorReset(phase) => {
                self.walk_to(j, phase);
                self.release_worker(j);
                self.redispatch(j);
            }
            RunEnd::Unrecorded => unreachable!("taken above"),
        }
    }

    fn fail(&mut self, j: u32, reason: LostReason) {
        if self.jobs[j as usize].status != Status::InternalError && reason == LostReason::Failed {
            self.set_status(j, Status::InternalError);
        }
        self.jobs[j as usize].epoch += 1;
        self.release_worker(j);
        self.finish_units(j, Bucket::Lost, reason);
    }

    fn nomad_restart(&mut self, j: u32) {
        let job = &mut self.jobs[j as usize];
        job.restarts += 1;
        job.epoch += 1;
        let epoch = job.epoch;
        if job.restarts <= NOMAD_RESTART_ATTEMPTS {
            self.push(self.now + NOMAD_RESTART_DELAY, Ev::Restart(j, epoch));
        } else if job.resched < NOMAD_RESCHEDULE_ATTEMPTS {
            job.resched += 1;
            job.restarts = 0;
            self.release_worker(j);
            self.push(self.now + NOMAD_RESCHEDULE_DELAY, Ev::Reschedule(j, epoch));
        } else {
            self.release_worker(j);
            self.finish_units(j, Bucket::Lost, LostReason::StuckInExternalError);
            self.wake_waiters(j);
        }
    }

    pub(super) fn redispatch(&mut self, j: u32) {
        self.set_status(j, Status::InternalError);
        self.set_status(j, Status::ErrorChecked);
        self.set_status(j, Status::Ready);
        let job = &mut self.jobs[j as usize];
        job.epoch += 1;
        job.restarts = 0;
        job.resched = 0;
        let t = job.ty;
        if self.now >= 0 && self.now < self.cfg.horizon {
            self.stats[t.idx()].redispatches += 1;
        }
        self.to_exec[t.idx()].push(j);
        self.tick(Svc::Execution, t);
    }

    /// A job left the "on its way" states (processed, or failed for good): the jobs waiting on
    /// it are evaluated again (its FSC/RLIE time-series successor, its SWS/WDS assembly's
    /// dependents).
    pub(super) fn wake_waiters(&mut self, j: u32) {
        let job = &self.jobs[j as usize];
        if job.ty == JobType::SwsWdsJob {
            // Woken on a transient error too; the list is kept until the master is final.
            let done = matches!(job.status, Status::Processed | Status::Done)
                || (job.first_unit != NONE
                    && self.units[job.first_unit as usize].bucket == Bucket::Lost);
            let dependents = if done {
                self.dependents.remove(&j)
            } else {
                self.dependents.get(&j).cloned()
            };
            for d in dependents.unwrap_or_default() {
                if self.jobs[d as usize].waiting
                    && self.jobs[d as usize].status == Status::Configured
                {
                    self.to_config[3].push(d);
                    self.tick(Svc::Configuration, JobType::SwsWdsJob);
                }
            }
            return;
        }
        if job.ty != JobType::FscRlieJob || job.reprocessing {
            return;
        }
        let (tile, pos) = (usize::from(job.tile), job.pos as usize);
        // The job waiting on this one is the first waiting job after it: jobs in between ran
        // past it (their own predecessor was in an error status) and do not block.
        let waiting = self.tiles[tile].fsc[pos + 1..].iter().copied().find(|&s| {
            self.jobs[s as usize].waiting && self.jobs[s as usize].status == Status::Configured
        });
        if let Some(s) = waiting {
            self.to_config[0].push(s);
            self.tick(Svc::Configuration, JobType::FscRlieJob);
        }
    }
}
