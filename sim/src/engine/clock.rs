//! Virtual time: the event queue, the services' loop timers (`job_*_loop_sleep`, the worker
//! pool's and the monitor's loops, the GFSC night pass, boots, indexing, the sampling) and the
//! one loop that advances them in time order.
//!
//! [`Engine::advance`] is the only place events are taken, whoever steps the engine (a batch
//! run, [`crate::World`]'s `run_until` and `run_until_caught_up`, an action from outside): each
//! service's loop then has one caller, [`Engine::fire`], and is compiled into the loop. The
//! status trigger's fidelity (off by default) drives the same calls from its clocks instead of
//! making its own (`trigger`).

use super::*;

/// The engine's fixed timers, in their order at equal times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    Tick(u8, u8),
    Wpm,
    Monitor,
    Daily,
    Sample,
    Boot,
    Index,
}

/// Where a stretch of [`Engine::advance`] ends, besides its time limit.
#[derive(Clone, Copy)]
pub(super) enum Until<'a> {
    /// Every event strictly before the limit.
    Limit,
    /// Also the queued events of the limit's instant with a sequence number below this one
    /// (those that come before an action taken at that instant).
    QueuedBefore(u32),
    /// Also the first sample finding every one of these types caught up.
    CaughtUp(&'a [JobType]),
}

impl Engine {
    pub(super) fn push(&mut self, at: Ms, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        });
    }

    /// The service's loop has work for type `t`: its next iteration at the loop boundary.
    pub(super) fn tick(&mut self, svc: Svc, t: JobType) {
        if !self.enabled(t) || self.stopped_services & (1 << svc as u8) != 0 {
            return;
        }
        let phase = (svc as i64) * 1_250;
        let at = boundary(self.now, self.loops[svc as usize], phase);
        self.tick_armed |= 1 << (svc as usize * 5 + t.idx());
        let slot = &mut self.tick_at[svc as usize][t.idx()];
        if at < *slot {
            *slot = at;
            self.timer_set(at, Timer::Tick(svc as u8, t.idx() as u8));
        }
    }

    /// Runs to the horizon and returns the outcome.
    pub fn run(mut self) -> Outcome {
        let horizon = self.cfg.horizon;
        self.run_until(horizon);
        self.finish_at(horizon)
    }

    /// Processes the events in time order up to `limit` (see [`Until`]); `Some(instant)` when a
    /// [`Until::CaughtUp`] sample stopped it (the world stands right after that sample).
    pub(super) fn advance(&mut self, limit: Ms, until: Until<'_>) -> Option<Ms> {
        loop {
            // Inputs are already sorted by availability and timers are a fixed set of slots:
            // both are merged with the queue instead of going through it. At equal times:
            // queued events, then timers, then inputs.
            let ti = self
                .inputs
                .get(self.next_input)
                .map_or(Ms::MAX, |i| i.available);
            let te = self.heap.peek().map_or(Ms::MAX, |e| e.at);
            let (tt, timer) = self.next_timer();
            let t = ti.min(te).min(tt);
            if t >= limit && !self.queued_before(t, te, limit, until) {
                return None;
            }
            self.now = t;
            self.events += 1;
            if te == t {
                let e = self.heap.pop().expect("peeked");
                self.dispatch(e.ev);
            } else if tt == t {
                if self.fire(timer, until) {
                    return Some(self.now);
                }
            } else {
                let i = self.next_input;
                self.next_input += 1;
                self.on_input(i);
            }
        }
    }

    /// At the limit: whether the earliest event (at `t`, the queue's first at `te`) is a queued
    /// one that [`Until::QueuedBefore`] still takes.
    #[cold]
    fn queued_before(&self, t: Ms, te: Ms, limit: Ms, until: Until<'_>) -> bool {
        let Until::QueuedBefore(seq) = until else {
            return false;
        };
        t == limit && te == t && self.heap.peek().is_some_and(|e| e.seq < seq)
    }

    /// The earliest timer: service loops (by service, then type), worker pool, monitor, GFSC
    /// daily pass, sampling.
    #[inline(always)]
    fn next_timer(&mut self) -> (Ms, Timer) {
        if let Some(cached) = self.timer_cache {
            return cached;
        }
        let best = self.scan_timers();
        self.timer_cache = Some(best);
        best
    }

    /// A timer was set to `at`: the cache stays valid when it does not move the minimum.
    pub(super) fn timer_set(&mut self, at: Ms, t: Timer) {
        if let Some((c, ct)) = self.timer_cache
            && (at < c || (at == c && t < ct))
        {
            self.timer_cache = Some((at, t));
        }
    }

    fn scan_timers(&self) -> (Ms, Timer) {
        let mut best = (self.sample_at, Timer::Sample);
        let mut consider = |at: Ms, t: Timer| {
            if at < best.0 || (at == best.0 && t < best.1) {
                best = (at, t);
            }
        };
        // Only the armed service loops (a bit per service and type).
        let mut armed = self.tick_armed;
        while armed != 0 {
            let k = armed.trailing_zeros() as usize;
            armed &= armed - 1;
            let (s, t) = (k / 5, k % 5);
            consider(self.tick_at[s][t], Timer::Tick(s as u8, t as u8));
        }
        consider(self.wpm_at.unwrap_or(Ms::MAX), Timer::Wpm);
        consider(self.monitor_at.unwrap_or(Ms::MAX), Timer::Monitor);
        consider(self.daily_at.unwrap_or(Ms::MAX), Timer::Daily);
        consider(self.boot_q.front().map_or(Ms::MAX, |b| b.0), Timer::Boot);
        consider(self.index_q.front().map_or(Ms::MAX, |b| b.0), Timer::Index);
        best
    }

    /// A timer is due: the one call site of every service loop. `true`: a sample found the
    /// types of [`Until::CaughtUp`] caught up.
    #[inline(always)]
    fn fire(&mut self, timer: Timer, until: Until<'_>) -> bool {
        self.timer_cache = None;
        match timer {
            Timer::Tick(s, t) => {
                let s = usize::from(s);
                self.tick_at[s][usize::from(t)] = Ms::MAX;
                self.tick_armed &= !(1 << (s * 5 + usize::from(t)));
                let mut ty = ALL_TYPES[usize::from(t)];
                if self.ticks_aside {
                    match self.tick_aside(s, ty) {
                        Some(next) => ty = next,
                        None => return false,
                    }
                } else if !self.enabled(ty) {
                    return false;
                }
                loop {
                    match s {
                        0 => self.creation(ty),
                        1 => self.configuration(ty),
                        2 => self.execution(ty),
                        _ => self.publication(ty),
                    }
                    // The status trigger's clock may make more calls now.
                    if !self.ticks_aside {
                        break;
                    }
                    match self.serial_after(s) {
                        Some(next) => ty = next,
                        None => break,
                    }
                }
            }
            Timer::Wpm => {
                self.wpm_at = None;
                self.wpm();
            }
            Timer::Monitor => {
                self.monitor_at = None;
                if !self.on_trigger_clock(
                    Engine::serial_monitor_due,
                    Engine::monitor,
                    Engine::serial_monitor_done,
                ) {
                    return false;
                }
            }
            Timer::Daily => {
                self.daily_at = None;
                if !self.on_trigger_clock(
                    Engine::serial_daily_due,
                    Engine::daily,
                    Engine::serial_daily_done,
                ) {
                    return false;
                }
            }
            Timer::Sample => {
                self.sample();
                if let Until::CaughtUp(types) = until {
                    return types.iter().all(|t| self.catch[t.idx()].is_none());
                }
            }
            Timer::Boot => {
                let (_, w, epoch) = self.boot_q.pop_front().expect("a boot is due");
                self.on_boot(w, epoch);
            }
            Timer::Index => {
                let (_, j) = self.index_q.pop_front().expect("an indexing is due");
                self.on_indexed(j);
            }
        }
        false
    }

    /// Runs a loop whose status inserts the trigger's cost holds on a clock of its own (with
    /// that fidelity on): `false` when the loop waits for its clock (`due` moved its timer).
    #[inline]
    fn on_trigger_clock(
        &mut self,
        due: fn(&mut Engine) -> Option<(u64, u64)>,
        run: fn(&mut Engine),
        done: fn(&mut Engine, (u64, u64)),
    ) -> bool {
        if !self.cfg.fidelity.status_trigger_cost {
            run(self);
            return true;
        }
        let Some(mark) = due(self) else {
            return false;
        };
        run(self);
        done(self, mark);
        true
    }

    /// A service loop's timer with the database down or the status trigger's cost on: the
    /// first call of the loop to make now, if any.
    #[cold]
    fn tick_aside(&mut self, s: usize, ty: JobType) -> Option<JobType> {
        if self.faults.database_down {
            // Without the database an iteration does nothing; its work list waits.
            None
        } else {
            self.serial_tick(s, ty)
        }
    }

    /// A queued event is due.
    #[inline(always)]
    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Wake(j, epoch) => {
                let job = &self.jobs[j as usize];
                if job.epoch == epoch && job.status == Status::Configured {
                    let ty = job.ty;
                    self.to_config[ty.idx()].push(j);
                    self.tick(Svc::Configuration, ty);
                }
            }
            Ev::RunEnd(j, epoch) => {
                if self.jobs[j as usize].epoch == epoch {
                    self.on_run_end(j);
                }
            }
            Ev::Restart(j, epoch) => {
                if self.jobs[j as usize].epoch == epoch {
                    let w = self.jobs[j as usize].worker;
                    self.start_run(j, w);
                }
            }
            Ev::Reschedule(j, epoch) => {
                if self.jobs[j as usize].epoch == epoch {
                    self.enqueue_nomad(j);
                }
            }
            Ev::Control(i) => self.control(i as usize),
        }
    }
}
