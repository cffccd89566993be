//! The status trigger's cost (fidelity `status_trigger_cost`; database.md §7.12): every status
//! inserted into `job_status_changes` runs `check_status_change()`, whose `last_job_status_id()`
//! aggregates max(id) over the whole table, so one insert costs `base + slope × rows`. A job's
//! first status finds no history of its own and pays only `base` (benches/trigger.rs).
//!
//! The services post their statuses one after the other inside a loop iteration
//! (orchestration.md §0, §1): an iteration takes, per type in `job_types_list` order, the jobs
//! waiting when it starts, posts their statuses serially, and the next iteration starts at
//! `max(start + loop_sleep, end)`. The model keeps one clock per service:
//!
//! - an iteration takes each type's list as it is when that type's turn comes (the snapshot)
//!   and works through it in chunks of about one loop period of inserts; each chunk's effects
//!   happen when the chunk starts (at most one loop period early) and the next chunk waits for
//!   the inserts to end;
//! - a type whose work arrives during the iteration waits for its turn: types not yet served
//!   in this iteration first, then the next iteration;
//! - the creation service's families whose rules read the whole window at once (RLIE-S1-S2,
//!   SWS/WDS, GFSC and the GFSC night pass) run in one piece and then hold the clock for the
//!   time their inserts took;
//! - the monitor's resets hold its own clock; a worker's posts (started … processed, or the
//!   error statuses) lengthen its run.
//!
//! With the switch off none of this runs and every output keeps its bytes.

use super::*;

/// One service's serial clock.
#[derive(Clone)]
pub(super) struct Serial {
    /// When the inserts posted so far end.
    until: Ms,
    /// When the current loop iteration started.
    round_start: Ms,
    /// The type whose snapshot is being worked through, and what is left of it.
    cur: Option<u8>,
    batch: Vec<u32>,
    pos: usize,
    /// Types with work waiting for their turn, and the types served in this iteration.
    want: u8,
    served: u8,
    /// The chunk being worked through (its type), what its inserts took so far, and around the
    /// service's call in progress: the rows and jobs before it, and the work list it replaced
    /// (`Some`: the call was handed one job).
    chunk: Option<usize>,
    spent: Ms,
    mark: (u64, u64),
    waiting: Option<Vec<u32>>,
}

impl Default for Serial {
    fn default() -> Serial {
        // Idle since long before the warm start.
        Serial {
            until: Ms::MIN / 4,
            round_start: Ms::MIN / 4,
            cur: None,
            batch: Vec::new(),
            pos: 0,
            want: 0,
            served: 0,
            chunk: None,
            spent: 0,
            mark: (0, 0),
            waiting: None,
        }
    }
}

impl Engine {
    /// What `n` inserts cost after the world's first `written` rows, `first` of them first
    /// statuses, ms.
    pub(super) fn insert_cost(&self, written: u64, n: u64, first: u64) -> Ms {
        if n == 0 {
            return 0;
        }
        let cal = &self.cfg.calibration;
        let later = n.saturating_sub(first) as f64;
        // Rows grow by one per insert: the mean row count over the batch.
        let rows = cal.status_history_rows + written as f64 + (n - 1) as f64 / 2.0;
        let per = cal.status_insert_base_ms + cal.status_insert_ms_per_million_rows * rows / 1e6;
        (n as f64 * cal.status_insert_base_ms + later * (per - cal.status_insert_base_ms)).round()
            as Ms
    }

    /// Rows and jobs now: what a batch's cost is measured against afterwards.
    fn insert_mark(&self) -> (u64, u64) {
        (self.status_changes, self.jobs.len() as u64)
    }

    fn insert_cost_since(&self, (rows, jobs): (u64, u64)) -> Ms {
        self.insert_cost(
            rows,
            self.status_changes - rows,
            self.jobs.len() as u64 - jobs,
        )
    }

    /// The cost of a worker's own posts in a run ending as `end`, from its `started`.
    pub(super) fn run_posts_cost(&self, end: RunEnd) -> Ms {
        let phases = |p: Status| match p {
            Status::PreProcessing => 1,
            Status::Processing => 2,
            _ => 3,
        };
        let posts = match end {
            // started, pre_processing, processing, post_processing, processed
            RunEnd::Done => 5,
            // started, the phases up to the failing one, the error
            RunEnd::External(p) => 2 + phases(p),
            RunEnd::Internal(p) => 2 + phases(p),
            // The monitor's reset comes at its own time limit; a run placed without the
            // database wrote nothing.
            RunEnd::MonitorReset(_) | RunEnd::Unrecorded => return 0,
        };
        let cal = &self.cfg.calibration;
        let rows = cal.status_history_rows + self.status_changes as f64;
        let per = cal.status_insert_base_ms + cal.status_insert_ms_per_million_rows * rows / 1e6;
        (f64::from(posts) * per).round() as Ms
    }

    /// A service loop's timer fired with the trigger's cost on: the type of the first call of
    /// the service's loop its clock makes now, if any ([`Engine::fire`] makes the calls, so that
    /// the loops keep one call site; [`Engine::serial_after`] gives the next one).
    #[cold]
    pub(super) fn serial_tick(&mut self, s: usize, ty: JobType) -> Option<JobType> {
        let t = ty.idx();
        // The creation families run in one piece look for their work themselves.
        let work = (s == 0 && t >= 2) || !self.work_list(s, t).is_empty();
        if self.enabled(ty) && work {
            self.serial[s].want |= 1 << t;
        }
        self.serial_drive(s)
    }

    /// After a call of the service's loop asked for by [`Engine::serial_tick`] or by this: its
    /// inserts go on the clock, what arrived meanwhile waits for later turns; the next call.
    #[cold]
    pub(super) fn serial_after(&mut self, s: usize) -> Option<JobType> {
        let t = self.serial[s].chunk.expect("a call inside a chunk");
        if let Some(waiting) = self.serial[s].waiting.take() {
            let queued = std::mem::replace(self.work_list(s, t), waiting);
            self.work_list(s, t).extend_from_slice(&queued);
            self.give_back(queued);
        }
        let spent = self.insert_cost_since(self.serial[s].mark);
        self.serial[s].spent += spent;
        self.serial_drive(s)
    }

    fn serial_arm(&mut self, s: usize, at: Ms) {
        let sv = &self.serial[s];
        let x = match sv.cur {
            Some(t) => usize::from(t),
            None if sv.want != 0 => sv.want.trailing_zeros() as usize,
            None => return,
        };
        self.tick_armed |= 1 << (s * 5 + x);
        let slot = &mut self.tick_at[s][x];
        if at < *slot {
            *slot = at;
            self.timer_set(at, Timer::Tick(s as u8, x as u8));
        }
    }

    /// Runs the clock up to the next call of the service's loop (its type) or, with none to
    /// make now, arms the timer for the clock's next turn.
    fn serial_drive(&mut self, s: usize) -> Option<JobType> {
        loop {
            if let Some(t) = self.serial[s].chunk {
                if let Some(ty) = self.serial_chunk_next(s, t) {
                    return Some(ty);
                }
                let sv = &mut self.serial[s];
                sv.chunk = None;
                let spent = std::mem::take(&mut sv.spent);
                sv.until = self.now + spent;
                if sv.cur.is_none() && spent == 0 {
                    continue;
                }
                if sv.cur.is_some() || sv.want != 0 {
                    let at = sv.until;
                    self.serial_arm(s, at);
                }
                return None;
            }
            if self.now < self.serial[s].until {
                let at = self.serial[s].until;
                self.serial_arm(s, at);
                return None;
            }
            let t = match self.serial[s].cur {
                Some(t) => usize::from(t),
                None => {
                    let sv = &mut self.serial[s];
                    let mut cand = sv.want & !sv.served;
                    if cand == 0 {
                        if sv.want == 0 {
                            return None;
                        }
                        // The next iteration, not before a loop period after this one began.
                        let next = (sv.round_start + self.loops[s]).max(sv.until);
                        if self.now < next {
                            self.serial_arm(s, next);
                            return None;
                        }
                        sv.served = 0;
                        cand = sv.want;
                    }
                    if sv.served == 0 {
                        sv.round_start = self.now;
                    }
                    let t = cand.trailing_zeros() as usize;
                    sv.want &= !(1 << t);
                    self.serial_snapshot(s, t);
                    t
                }
            };
            if !self.enabled(ALL_TYPES[t]) {
                self.serial_requeue_one(s);
                continue;
            }
            let sv = &mut self.serial[s];
            sv.chunk = Some(t);
            sv.spent = 0;
        }
    }

    /// Starts type `t`'s turn: the jobs waiting now, in the order the service takes them.
    fn serial_snapshot(&mut self, s: usize, t: usize) {
        let mut batch = std::mem::take(&mut self.serial[s].batch);
        batch.clear();
        if s == Svc::Creation as usize && t >= 2 {
            // Run in one piece by `serial_chunk`.
            batch.push(NONE);
        } else {
            std::mem::swap(&mut batch, self.work_list(s, t));
            match s {
                1 => {
                    batch.sort_unstable();
                    batch.dedup();
                }
                2 if matches!(ALL_TYPES[t], JobType::FscRlieJob | JobType::SwsWdsJob) => {
                    batch.sort_by_key(|&j| self.jobs[j as usize].reprocessing);
                }
                _ => {}
            }
        }
        let sv = &mut self.serial[s];
        sv.batch = batch;
        sv.pos = 0;
        sv.cur = Some(t as u8);
    }

    fn work_list(&mut self, s: usize, t: usize) -> &mut Vec<u32> {
        match s {
            0 => &mut self.to_create[t],
            1 => &mut self.to_config[t],
            2 => &mut self.to_exec[t],
            _ => &mut self.to_publish[t],
        }
    }

    /// The next call of a chunk, which works through the current snapshot for about one loop
    /// period of inserts (`None`: the chunk is over, its time in `spent`).
    fn serial_chunk_next(&mut self, s: usize, t: usize) -> Option<JobType> {
        let quantum = self.loops[s];
        let mark = self.insert_mark();
        let sv = &mut self.serial[s];
        if sv.pos >= sv.batch.len() {
            sv.cur = None;
            sv.served |= 1 << t;
            return None;
        }
        if sv.spent >= quantum {
            return None;
        }
        let item = sv.batch[sv.pos];
        sv.pos += 1;
        sv.mark = mark;
        if item != NONE {
            // The service function takes the whole list: hand it this one job, and keep what
            // arrived meanwhile (and what the call itself queues) for later turns.
            let mut one = self.spare.pop().unwrap_or_default();
            one.push(item);
            let waiting = std::mem::replace(self.work_list(s, t), one);
            self.serial[s].waiting = Some(waiting);
        }
        // Run in one piece (`NONE`), or on the one job.
        Some(ALL_TYPES[t])
    }

    /// Puts the current snapshot's unworked jobs back at the head of their list.
    fn serial_requeue_one(&mut self, s: usize) {
        let sv = &mut self.serial[s];
        let Some(t) = sv.cur.take() else { return };
        let rest: Vec<u32> = sv
            .batch
            .drain(sv.pos.min(sv.batch.len())..)
            .filter(|&j| j != NONE)
            .collect();
        sv.served |= 1 << t;
        let list = self.work_list(s, usize::from(t));
        list.splice(0..0, rest);
    }

    /// Service `s` alone stops (by hand): its iteration in progress ends as at a full stop.
    pub(super) fn serial_stop(&mut self, s: usize) {
        self.serial_requeue_one(s);
        let sv = &mut self.serial[s];
        sv.want = 0;
        sv.served = 0;
    }

    /// The services stop or their type list changes: the iterations in progress end, their
    /// unworked jobs go back to their lists (the inserts already posted keep their time).
    pub(super) fn serial_interrupt(&mut self) {
        for s in 0..4 {
            self.serial_requeue_one(s);
            let sv = &mut self.serial[s];
            sv.want = 0;
            sv.served = 0;
        }
    }

    /// The creation service's night pass, on the creation clock: the rows and jobs before it
    /// when it runs now (`None`: it waits for the clock, its timer moved).
    #[cold]
    pub(super) fn serial_daily_due(&mut self) -> Option<(u64, u64)> {
        let until = self.serial[Svc::Creation as usize].until;
        if self.now < until {
            self.daily_at = Some(until);
            self.timer_set(until, Timer::Daily);
            return None;
        }
        Some(self.insert_mark())
    }

    /// The night pass ran: its inserts hold the creation clock.
    #[cold]
    pub(super) fn serial_daily_done(&mut self, mark: (u64, u64)) {
        let spent = self.insert_cost_since(mark);
        let sv = &mut self.serial[Svc::Creation as usize];
        sv.until = sv.until.max(self.now + spent);
    }

    /// The monitor's loop, on its own clock: the rows and jobs before it when it runs now
    /// (`None`: it waits for its clock, its timer moved).
    #[cold]
    pub(super) fn serial_monitor_due(&mut self) -> Option<(u64, u64)> {
        if self.now < self.monitor_until {
            self.monitor_at = Some(self.monitor_until);
            self.timer_set(self.monitor_until, Timer::Monitor);
            return None;
        }
        Some(self.insert_mark())
    }

    /// The monitor's loop ran: its resets hold its clock.
    #[cold]
    pub(super) fn serial_monitor_done(&mut self, mark: (u64, u64)) {
        self.monitor_until = self.now + self.insert_cost_since(mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(rows: f64) -> Engine {
        let mut cfg = Config::new(1);
        cfg.horizon = DAY;
        cfg.calibration.warm_start_days = 0.0;
        cfg.calibration.status_history_rows = rows;
        cfg.fidelity.status_trigger_cost = true;
        Engine::new(Arc::new(cfg), None)
    }

    #[test]
    fn an_insert_costs_what_the_bench_measured_and_a_first_status_only_the_base() {
        // benches/trigger.rs: 18 / 59 / 414 ms per insert at 10 k / 100 k / 1 M rows.
        for (rows, measured) in [(1e4, 18.0), (1e5, 59.0), (1e6, 414.0)] {
            let e = engine(rows);
            let ms = e.insert_cost(0, 1, 0) as f64;
            assert!(
                (ms - measured).abs() <= 4.0,
                "{rows} rows: {ms} ms, measured {measured}"
            );
        }
        let e = engine(1.2e6);
        assert_eq!(
            e.insert_cost(0, 1, 1),
            17,
            "a first status pays the base only"
        );
        // 100 inserts: 100 × (16.5 + 0.398 × (1.2 M + 49.5) / 1 000) ms, the rows growing.
        assert_eq!(e.insert_cost(0, 100, 0), 49_412);
        // The world's own rows count too.
        assert_eq!(e.insert_cost(1_000_000, 1, 0), 892);
        assert_eq!(e.insert_cost(0, 0, 0), 0);
    }

    #[test]
    fn a_run_is_longer_by_its_own_posts() {
        let e = engine(1.2e6);
        // 494.1 ms per post at 1.2 M rows.
        assert_eq!(e.run_posts_cost(RunEnd::Done), 2_471);
        assert_eq!(
            e.run_posts_cost(RunEnd::External(Status::PreProcessing)),
            1_482
        );
        assert_eq!(
            e.run_posts_cost(RunEnd::Internal(Status::PostProcessing)),
            2_471
        );
        assert_eq!(
            e.run_posts_cost(RunEnd::MonitorReset(Status::Processing)),
            0
        );
    }
}
