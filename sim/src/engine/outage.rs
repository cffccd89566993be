//! The operator's steps (`config::Step`): stop, start (in waves by `job_types_list`) and
//! `set_param`, with what a stop leaves behind (orphan workers, jobs in flight, Nomad
//! restarts that never come).

use super::*;

/// Parameters read on hot paths, refreshed when one changes.
#[derive(Clone)]
pub(super) struct Hot {
    pub(super) max_workers: i64,
    pub(super) xl_cap: i64,
    pub(super) maja_threshold: Ms,
    pub(super) backward_required: u16,
    pub(super) backward_active: bool,
    /// RLIE-S1-S2 creation's window (jobs.md §1.3), read every creation loop.
    pub(super) s1s2_min_delay_hours: i64,
    pub(super) s1s2_window_absolute: Option<i64>,
    pub(super) s1s2_min_window: i64,
    pub(super) s1s2_max_window: i64,
    pub(super) s1s2_wait_hours: i64,
    /// GFSC's aggregation timespan, days (`gapfilling_search_default_duration_in_days`).
    pub(super) gfsc_gap_days: i64,
    /// `gfsc_daily_jobs_creation_start_date` (ms since the epoch), read every night pass.
    pub(super) daily_start_date: Option<Ms>,
}

impl Hot {
    pub(super) fn of(p: &SystemParameters) -> Hot {
        Hot {
            max_workers: p.int("max_number_of_worker_instances").unwrap_or(210),
            xl_cap: p
                .int("max_number_of_extra_large_worker_instances")
                .unwrap_or(2),
            maja_threshold: p.int("maja_consecutive_jobs_threshold_value").unwrap_or(60) * DAY,
            backward_required: p
                .int("maja_backward_required_job_number")
                .unwrap_or(8)
                .clamp(1, 100) as u16,
            backward_active: p.bool("activate_backward_reprocessing").unwrap_or(true),
            s1s2_min_delay_hours: p
                .int("rlies1s2_min_delay_from_end_of_day_hours")
                .unwrap_or(8),
            s1s2_window_absolute: p.int("rlies1s2_max_search_window_days_absolute"),
            s1s2_min_window: p.int("rlies1s2_min_search_window_days").unwrap_or(7),
            s1s2_max_window: p.int("rlies1s2_max_search_window_days").unwrap_or(31),
            s1s2_wait_hours: p
                .int("rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products")
                .unwrap_or(24),
            gfsc_gap_days: p
                .int("gapfilling_search_default_duration_in_days")
                .unwrap_or(7),
            daily_start_date: p
                .timestamp("gfsc_daily_jobs_creation_start_date")
                .map(|i| i.0),
        }
    }
}

impl Engine {
    /// Step `i` becomes the next one, its delay counted from `origin`. Its sequence number is
    /// reserved even when it waits for a catch-up or does not exist yet, so that a step set
    /// later ([`Engine::set_steps`], [`Engine::act`]) keeps the tie order of a batch run.
    pub(super) fn schedule_step(&mut self, i: usize, origin: Ms) {
        self.seq += 1;
        self.step_seq = self.seq;
        self.step_origin = origin;
        self.step = i;
        self.arm_step();
    }

    /// Queues the next step's Control event with its reserved sequence number, or starts its
    /// catch-up wait.
    pub(super) fn arm_step(&mut self) {
        let Some(step) = self.steps.get(self.step) else {
            return;
        };
        if step.caught_up.is_empty() {
            self.heap.push(Entry {
                at: (self.step_origin + step.after).max(self.now),
                seq: self.step_seq,
                ev: Ev::Control(self.step as u32),
            });
        } else {
            self.step_wait = Some(self.step_origin);
        }
    }

    pub(super) fn control(&mut self, i: usize) {
        let step = self.steps[i].clone();
        match step.action {
            Action::Stop => self.stop(),
            Action::Start => self.start(),
            Action::SetParam { name, value } => self.set_param(&name, &value),
            a @ (Action::StopService(_) | Action::StartService(_)) => self.service_action(&a),
            Action::EmptyDatabase => self.emptied = Some(self.empty_database()),
            fault => self.fault(&fault),
        }
        self.steps_done += 1;
        self.schedule_step(i + 1, self.now);
    }

    pub(super) fn stop(&mut self) {
        if !self.up {
            return;
        }
        self.up = false;
        self.stopped_mask = self.enabled_mask;
        self.refresh_enabled();
        self.outages.push((self.now, None));
        if self.cfg.fidelity.status_trigger_cost {
            self.serial_interrupt();
        }
        self.tick_at = [[Ms::MAX; 5]; 4];
        self.tick_armed = 0;
        self.wpm_at = None;
        self.monitor_at = None;
        self.daily_at = None;
        self.timer_cache = None;
        for f in 0..N_FLAVORS {
            self.fifo[f].clear();
            self.idle[f].clear();
        }
        self.pending = [0; 5];
        self.running = [0; 5];
        for j in 0..self.jobs.len() {
            let job = &mut self.jobs[j];
            job.in_fifo = false;
            if job.status == Status::Queued || job.status.is_running() {
                job.epoch += 1;
                self.reset_on_start.push(j as u32);
            }
        }
        for w in 0..self.workers.len() {
            let wk = self.workers[w];
            let f = wk.flavor as usize;
            match wk.state {
                WState::Free | WState::Orphan => continue,
                WState::Booting => self.n_booting[f] -= 1,
                WState::Idle { .. } => self.n_idle[f] -= 1,
                WState::Busy { job } => {
                    // The run stops with its server: its status stays where it was.
                    let phase = self.phase_at(job);
                    self.walk_to(job, phase);
                }
            }
            self.workers[w].state = WState::Orphan;
            self.n_orphan[f] += 1;
        }
        // A task waiting for a Nomad restart never gets it: the new Nomad does not know it and
        // the monitor does not watch external_error / error_checked.
        for j in 0..self.jobs.len() as u32 {
            if matches!(
                self.jobs[j as usize].status,
                Status::ExternalError | Status::ErrorChecked
            ) {
                self.jobs[j as usize].epoch += 1;
                self.finish_units(j, Bucket::Lost, LostReason::StuckInExternalError);
                // Its time-series successor no longer waits for it (re-evaluated at start).
                self.wake_waiters(j);
            }
        }
        self.queued_watch.clear();
        self.catch = Default::default();
    }

    fn phase_at(&self, j: u32) -> Status {
        let job = &self.jobs[j as usize];
        let elapsed = self.now - job.run_start;
        let median = self.cfg.calibration.minutes(job.ty) * MINUTE as f64;
        // Without the drawn duration at hand, the phase follows the median's proportions.
        if (elapsed as f64) < median * 0.1 {
            Status::PreProcessing
        } else if (elapsed as f64) < median * 0.9 {
            Status::Processing
        } else {
            Status::PostProcessing
        }
    }

    pub(super) fn start(&mut self) {
        if self.up {
            return;
        }
        self.up = true;
        self.halted = false;
        if let Some(o) = self.outages.last_mut() {
            o.1 = Some(self.now);
        }
        self.loops = services::LOOP_SLEEPS.map(|n| self.params.int(n).unwrap_or(5).max(1) * SECOND);
        // `prod_env_apply.sh` registers every service job again: those stopped by hand too.
        self.stopped_services = 0;
        self.types = self.params.job_types();
        if matches!(self.types, JobTypesList::UnknownType(_)) {
            self.halted = true;
        }
        self.refresh_enabled();
        self.daily_last = None;
        self.daily_first = None;
        self.daily_at = None;
        self.wpm_at = None;
        self.monitor_at = None;
        self.timer_cache = None;
        let mut rec = RestartRecord {
            at: self.now,
            enabled_at: [None; 5],
            caught_at: [None; 5],
            expected: std::array::from_fn(|t| self.stopped_mask & (1 << t) != 0),
        };
        for t in ALL_TYPES {
            if self.enabled(t) {
                rec.enabled_at[t.idx()] = Some(self.now);
                self.catch[t.idx()] = Some(Catch { candidate: None });
            }
        }
        self.restarts.push(rec);
        self.kick_all();
    }

    fn set_param(&mut self, name: &str, value: &str) {
        if self.params.set(name, value).is_err() {
            return;
        }
        self.hot = Hot::of(&self.params);
        if name == "job_types_list" {
            let before: Vec<bool> = ALL_TYPES.iter().map(|&t| self.enabled(t)).collect();
            self.types = self.params.job_types();
            if matches!(self.types, JobTypesList::UnknownType(_)) && self.up {
                self.halted = true;
            }
            self.refresh_enabled();
            for t in ALL_TYPES {
                if !before[t.idx()]
                    && self.enabled(t)
                    && let Some(r) = self.restarts.last_mut()
                {
                    r.enabled_at[t.idx()] = Some(self.now);
                    self.catch[t.idx()] = Some(Catch { candidate: None });
                }
            }
            if self.up {
                if self.cfg.fidelity.status_trigger_cost {
                    self.serial_interrupt();
                }
                self.tick_at = [[Ms::MAX; 5]; 4];
                self.tick_armed = 0;
                self.timer_cache = None;
                self.kick_all();
            }
        } else if name.starts_with("max_number_of") {
            self.wake_wpm();
        } else if name == "activate_backward_reprocessing" && !self.hot.backward_active {
            self.wake_fsc_without_history();
        }
    }

    pub(super) fn kick_all(&mut self) {
        for svc in [
            Svc::Creation,
            Svc::Configuration,
            Svc::Execution,
            Svc::Publication,
        ] {
            self.kick_service(svc);
        }
        self.wake_wpm();
        self.wake_monitor(self.now);
    }
}
