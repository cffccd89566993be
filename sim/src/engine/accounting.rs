//! What a run counts and hands over: the 10-minute samples (backlog, overdue), the catch-up
//! instant of each restart (simulation.md "Recovery"), and the outcome at the horizon.

use super::*;

/// What the baseline run (no outage, no operator step) hands to the run it is the baseline of.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// 99th percentile of `overdue(type)` per type (at least 1).
    pub nominal_overdue: [i64; 5],
    /// GFSC daily tile-days the baseline created.
    pub daily: Vec<(u16, i64)>,
    /// Types whose baseline is not at NRT (its nominal level above what the NRT target allows,
    /// [`crate::recovery::nrt_allowance`]): no catch-up or recovery is reported for them.
    pub not_at_nrt: [bool; 5],
    /// The overdue level the NRT target allows per type ([`crate::recovery::nrt_allowance`]).
    pub nrt_allowance: [i64; 5],
    /// Units the baseline lost per type in the reported window (errors every day has).
    pub lost: [u64; 5],
}

/// Per-type counters of a run.
#[derive(Debug, Clone, Default)]
pub struct TypeStats {
    /// Jobs created in the reported window.
    pub jobs_created: u64,
    /// Backward-reprocessing jobs created in the window.
    pub reprocessed: u64,
    /// Monitor re-dispatches in the window.
    pub redispatches: u64,
    /// Latencies (s) of units published in the window.
    pub latency: Vec<u32>,
    /// Ages (s) of units published in the window.
    pub age: Vec<u32>,
}

/// One row of the timeline.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Time, ms since start.
    pub at: Ms,
    /// Pending available units per type.
    pub backlog: [i64; 5],
    /// Jobs on a worker per type.
    pub running: [i64; 5],
    /// Units published so far per type.
    pub published: [i64; 5],
    /// Overdue units per type.
    pub overdue: [i64; 5],
    /// Worker VMs existing.
    pub workers: i64,
}

/// The record of a restart and its catch-up.
#[derive(Debug, Clone)]
pub struct RestartRecord {
    /// When the services started again.
    pub at: Ms,
    /// When each type was enabled again.
    pub enabled_at: [Option<Ms>; 5],
    /// Catch-up instant C per type.
    pub caught_at: [Option<Ms>; 5],
    /// Types in production when the system stopped before this restart: the ones it must bring
    /// back (a type whose wave never comes has not recovered).
    pub expected: [bool; 5],
}

/// What a finished run holds (input of the report).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Units, in creation order.
    pub units: Vec<Unit>,
    /// Jobs (only when `keep_jobs`).
    pub jobs: Vec<Job>,
    /// Per-type counters.
    pub stats: [TypeStats; 5],
    /// Most workers at once in the window.
    pub peak_workers: i64,
    /// Worker VM hours in the window.
    pub worker_hours: f64,
    /// Events processed.
    pub events: u64,
    /// Status changes written.
    pub status_changes: u64,
    /// Illegal transitions attempted (always 0 unless the model is wrong).
    pub illegal_transitions: u64,
    /// Timeline rows.
    pub timeline: Vec<Sample>,
    /// Overdue samples per type (for the baseline's nominal level).
    pub overdue_samples: [Vec<i64>; 5],
    /// Restarts.
    pub restarts: Vec<RestartRecord>,
    /// Outage windows.
    pub outages: Vec<(Ms, Option<Ms>)>,
    /// Nominal levels used for catch-up.
    pub nominal_overdue: [i64; 5],
    /// Types whose baseline is not at NRT (from the baseline).
    pub not_at_nrt: [bool; 5],
    /// The overdue level the NRT target allows per type (from the baseline; 0 without one).
    pub nrt_allowance: [i64; 5],
    /// Units the baseline lost per type (`None`: run without a baseline).
    pub baseline_lost: Option<[u64; 5]>,
    /// GFSC daily tile-days created.
    pub daily_created: Vec<(u16, i64)>,
    /// Steps that never ran before the horizon (waiting for a catch-up that did not come).
    pub steps_not_run: usize,
    /// Every status change (job index, status, time), in order (only when `keep_history`).
    pub history: Vec<(u32, Status, Ms)>,
    /// When the database was last emptied (a fresh volume, [`crate::Action::EmptyDatabase`]):
    /// what it held before, the six service rows included, is gone.
    pub emptied_at: Option<Ms>,
}

#[derive(Clone)]
pub(super) struct Catch {
    pub(super) candidate: Option<Ms>,
}

impl Engine {
    pub(super) fn sample(&mut self) {
        let now = self.now;
        while let Some(&(a, u)) = self.activation.get(self.next_activation) {
            if a > now {
                break;
            }
            self.next_activation += 1;
            if a >= 0 {
                self.fresh_units.push((a, u));
            }
        }
        let mut fresh = std::mem::take(&mut self.fresh_units);
        fresh.sort_unstable();
        let target = (self.cfg.calibration.nrt_target_hours * HOUR as f64) as Ms;
        for (a, u) in fresh {
            let unit = &mut self.units[u as usize];
            if unit.bucket != Bucket::Pending {
                continue;
            }
            unit.active = true;
            self.backlog[unit.ty.idx()] += 1;
            self.overdue_q[unit.ty.idx()].push_back((a, u));
        }
        for t in 0..5 {
            while let Some(&(a, u)) = self.overdue_q[t].front() {
                if a + target > now {
                    break;
                }
                self.overdue_q[t].pop_front();
                let unit = &mut self.units[u as usize];
                if unit.bucket == Bucket::Pending && !unit.overdue {
                    unit.overdue = true;
                    self.overdue[t] += 1;
                }
            }
            self.overdue_samples[t].push(self.overdue[t]);
        }
        self.track_catch_up();
        if self.cfg.timeline {
            self.timeline.push(Sample {
                at: now,
                backlog: self.backlog,
                running: self.running,
                published: self.published,
                overdue: self.overdue,
                workers: self.n_workers,
            });
        }
        self.sample_at = now + SAMPLE;
    }

    fn track_catch_up(&mut self) {
        let w = (self.cfg.calibration.confirm_window_hours * HOUR as f64) as Ms;
        for ty in ALL_TYPES {
            let t = ty.idx();
            let on = self.enabled(ty);
            let Some(c) = self.catch[t].as_mut() else {
                continue;
            };
            if !on {
                c.candidate = None;
                continue;
            }
            if self.overdue[t] <= self.nominal[t] {
                let cand = *c.candidate.get_or_insert(self.now);
                if self.now - cand >= w {
                    if let Some(r) = self.restarts.last_mut() {
                        r.caught_at[t] = Some(cand);
                    }
                    self.catch[t] = None;
                }
            } else {
                c.candidate = None;
            }
        }
        if let Some(origin) = self.step_wait {
            let step = &self.steps[self.step];
            let done = step.caught_up.iter().all(|t| self.catch[t.idx()].is_none());
            if done {
                self.step_wait = None;
                let at = self.now.max(origin) + step.after;
                self.push(at, Ev::Control(self.step as u32));
            }
        }
    }

    /// The outcome with the reported window ending at `horizon` (the config's, or `now` for a
    /// look at a world still running).
    pub(crate) fn finish_at(mut self, horizon: Ms) -> Outcome {
        let today = horizon.div_euclid(DAY);
        // RLIE-S1-S2 tile-days the backward scan can no longer reach are lost.
        let max_w = self
            .params
            .int("rlies1s2_max_search_window_days")
            .unwrap_or(31);
        let param_day = self
            .params
            .timestamp("gfsc_daily_jobs_creation_start_date")
            .map(|i| (i.0 - self.cfg.start.0).div_euclid(DAY));
        for u in 0..self.units.len() as u32 {
            let unit = &self.units[u as usize];
            if unit.bucket != Bucket::Pending || unit.job != NONE {
                continue;
            }
            let day = unit.sensing.div_euclid(DAY);
            match (unit.ty, unit.kind) {
                (JobType::Rlies1s2Job, _) => {
                    let s2_job = self.input_job[unit.aux as usize];
                    let s1_job = self.input_job[unit.aux2 as usize];
                    let failed = |j: u32| {
                        j != NONE
                            && self
                                .units_of(j)
                                .iter()
                                .any(|&x| self.units[x as usize].bucket == Bucket::Lost)
                    };
                    if failed(s2_job) || failed(s1_job) {
                        self.leave_pending(u, Bucket::Lost, LostReason::InputFailed);
                    } else if day < today - 1 - max_w {
                        self.leave_pending(u, Bucket::Lost, LostReason::OutsideSearchWindow);
                    }
                }
                (JobType::GfscJob, UnitKind::Daily) => {
                    // The service walks forward from its first day: days before it, or passed
                    // without a job, are never created.
                    let reach_from = self.daily_first.or(param_day).unwrap_or(today - 1);
                    if day < reach_from {
                        self.settle_daily(u, true);
                    } else if self.daily_last.is_some_and(|l| day <= l) {
                        self.settle_daily(u, false);
                    }
                }
                _ => {}
            }
        }
        let worker_ms: i128 = self
            .workers
            .iter()
            .filter(|w| w.state != WState::Free)
            .map(|w| i128::from((horizon - w.created.max(0)).max(0)))
            .sum::<i128>()
            + self.worker_ms;
        let steps_not_run = self.steps.len() - self.steps_done;
        Outcome {
            jobs: if self.cfg.keep_jobs {
                std::mem::take(&mut self.jobs)
            } else {
                Vec::new()
            },
            units: std::mem::take(&mut self.units),
            stats: std::mem::take(&mut self.stats),
            peak_workers: self.peak_workers,
            worker_hours: worker_ms as f64 / HOUR as f64,
            events: self.events,
            status_changes: self.status_changes,
            illegal_transitions: self.illegal,
            timeline: std::mem::take(&mut self.timeline),
            overdue_samples: std::mem::take(&mut self.overdue_samples),
            restarts: std::mem::take(&mut self.restarts),
            outages: std::mem::take(&mut self.outages),
            nominal_overdue: self.nominal,
            not_at_nrt: self.not_at_nrt,
            nrt_allowance: self.nrt_allowance,
            baseline_lost: self.baseline_lost,
            daily_created: std::mem::take(&mut self.daily_created),
            steps_not_run,
            history: std::mem::take(&mut self.history),
            emptied_at: self.emptied.as_ref().map(|e| e.at),
        }
    }
}
