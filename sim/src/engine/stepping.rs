//! Stepping the engine from outside ([`crate::World`]): run to an instant or to a catch-up,
//! an operator action now, a new plan of steps, and what the engine shows between events.

use super::*;

/// What the engine shows of itself between events (see [`crate::World`]).
pub(crate) struct View<'e> {
    pub cfg: &'e Arc<Config>,
    pub now: Ms,
    pub backlog: [i64; 5],
    pub overdue: [i64; 5],
    pub running: [i64; 5],
    pub workers: i64,
    pub up: bool,
    pub services_ok: bool,
    pub enabled: [bool; 5],
    pub restarts: &'e [RestartRecord],
    pub catching_up: [bool; 5],
    pub params: &'e SystemParameters,
    pub steps: &'e [Step],
    pub steps_done: usize,
    pub faults: Faults,
    pub stopped_services: u8,
}

impl Engine {
    /// Processes every event strictly before `t` (capped at the horizon); `now` becomes that
    /// instant. Earlier instants than `now` change nothing.
    pub(crate) fn run_until(&mut self, t: Ms) {
        let limit = t.min(self.cfg.horizon);
        self.advance(limit, Until::Limit);
        self.now = self.now.max(limit);
    }

    /// Runs until a sample finds every type of `types` caught up (no catch-up pending, the
    /// condition of a step's `caught_up`), at most to `limit` (exclusive, capped at the horizon).
    /// `Some(instant)`: the world stands right after that sample, where a step waiting for this
    /// condition would act; `None`: not caught up before the limit, the world stands at it.
    pub(crate) fn run_until_caught_up(&mut self, types: &[JobType], limit: Ms) -> Option<Ms> {
        let limit = limit.min(self.cfg.horizon);
        match self.advance(limit, Until::CaughtUp(types)) {
            None => {
                self.now = self.now.max(limit);
                None
            }
            Some(at) => {
                // A step waiting for this pushes its Control event now: its sequence number.
                self.seq += 1;
                self.step_seq = self.seq;
                Some(at)
            }
        }
    }

    /// An operator action at `now`, taken as the next step of the plan would be: inserted
    /// after the executed steps (the steps still to come count their delay from it), in the
    /// tie order the step's Control event would have had among the events queued for `now`.
    pub(crate) fn act(&mut self, action: Action) {
        // Queued events of this instant with a lower sequence number come first in a batch run.
        self.advance(self.now, Until::QueuedBefore(self.step_seq));
        self.unschedule_step();
        let k = self.steps_done;
        self.steps.insert(
            k,
            Step {
                caught_up: Vec::new(),
                after: self.now - self.step_origin,
                action,
            },
        );
        // The Control event a batch run dispatches here is one event.
        self.events += 1;
        self.control(k);
    }

    /// Replaces the steps not yet executed with `steps` (the first one counts its delay from the
    /// last executed step, or from 0): the world continues as a fresh run of the executed steps
    /// followed by these would. A timed step due before `now` acts at `now`.
    pub(crate) fn set_steps(&mut self, steps: Vec<Step>) {
        self.unschedule_step();
        self.steps.truncate(self.steps_done);
        self.steps.extend(steps);
        self.arm_step();
    }

    /// Read access for [`crate::World`].
    pub(crate) fn view(&self) -> View<'_> {
        View {
            cfg: &self.cfg,
            now: self.now,
            backlog: self.backlog,
            overdue: self.overdue,
            running: self.running,
            workers: self.n_workers,
            up: self.up,
            services_ok: self.services_ok(),
            enabled: std::array::from_fn(|t| self.enabled(ALL_TYPES[t])),
            restarts: &self.restarts,
            catching_up: std::array::from_fn(|t| self.catch[t].is_some()),
            params: &self.params,
            steps: &self.steps,
            steps_done: self.steps_done,
            faults: self.faults,
            stopped_services: self.stopped_services,
        }
    }

    /// Takes the next step's Control event out of the queue (or stops its catch-up wait).
    pub(super) fn unschedule_step(&mut self) {
        self.step_wait = None;
        if self.heap.iter().any(|e| matches!(e.ev, Ev::Control(_))) {
            self.heap.retain(|e| !matches!(e.ev, Ev::Control(_)));
        }
    }
}
