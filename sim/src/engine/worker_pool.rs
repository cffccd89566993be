//! Worker pool management (orchestration.md §1.5, §3): the loop that creates workers for
//! the jobs pending in Nomad and deletes the sleeping ones, the boots, and the instants at
//! which a loop would do anything (the others are not simulated).

use super::*;
use crate::config::Service;

impl Engine {
    pub(super) fn on_boot(&mut self, w: u16, epoch: u32) {
        let wk = &mut self.workers[usize::from(w)];
        if wk.epoch != epoch || wk.state != WState::Booting {
            return;
        }
        let f = wk.flavor as usize;
        // A fresh node has no allocation at all: "sleeping" at once for the worker pool.
        wk.state = WState::Idle {
            since: self.now - SLEEPING_AFTER,
            eligible: true,
        };
        self.n_booting[f] -= 1;
        self.n_idle[f] += 1;
        self.add_idle(f, w);
        self.place(f);
        self.wake_wpm_for_idle(w);
    }

    // The worker pool's next useful loop moves only earlier through these two changes, so they
    // update it directly instead of rescanning every idle worker (`wpm_needed_at`).

    /// A worker that is still idle after Nomad's placement: deletable once it sleeps.
    pub(super) fn wake_wpm_for_idle(&mut self, w: u16) {
        let wk = self.workers[usize::from(w)];
        let WState::Idle { since, .. } = wk.state else {
            return;
        };
        if !ALL_TYPES
            .iter()
            .any(|&t| t.flavor() == wk.flavor && self.enabled(t))
        {
            return;
        }
        let at = boundary((since + SLEEPING_AFTER).max(self.now), WPM_LOOP, 500);
        self.wpm_at_or_earlier(at);
    }

    /// A job more in a Nomad queue: workers may be needed.
    pub(super) fn wake_wpm_for_pending(&mut self) {
        if !self.nomad_callers_ok() {
            return;
        }
        let mut need = 0;
        for t in ALL_TYPES.into_iter().filter(|&t| self.enabled(t)) {
            let f = t.flavor() as usize;
            need += self.pending[t.idx()] - (self.n_booting[f] + self.n_idle[f]);
        }
        if need > 0 && self.hot.max_workers > self.n_workers && self.quota_left() > 0 {
            self.wpm_at_or_earlier(boundary(self.now, WPM_LOOP, 500));
        }
    }

    pub(super) fn wake_wpm(&mut self) {
        if self
            .wpm_at
            .is_some_and(|x| x <= boundary(self.now, WPM_LOOP, 500))
        {
            // Already due at the next loop boundary or earlier.
            return;
        }
        if let Some(at) = self.wpm_needed_at(boundary(self.now, WPM_LOOP, 500)) {
            self.wpm_at_or_earlier(at);
        }
    }

    /// The first loop boundary from `earliest` at which the worker pool would create or delete
    /// anything, given the current state: loops that would do nothing are not simulated.
    fn wpm_needed_at(&self, earliest: Ms) -> Option<Ms> {
        if !self.nomad_callers_ok() {
            return None;
        }
        // Creations beyond the quota are refused: a loop only for them would change nothing.
        let slots = (self.hot.max_workers - self.n_workers).min(self.quota_left());
        let mut need = 0;
        let mut flavors = [false; N_FLAVORS];
        for t in ALL_TYPES.into_iter().filter(|&t| self.enabled(t)) {
            let f = t.flavor() as usize;
            need += self.pending[t.idx()] - (self.n_booting[f] + self.n_idle[f]);
            flavors[f] = true;
        }
        if (need > 0 && slots > 0)
            || self
                .n_orphan
                .iter()
                .zip(flavors)
                .any(|(&n, on)| on && n > 0)
        {
            return Some(earliest);
        }
        let mut first: Option<Ms> = None;
        for (f, idle) in self.idle.iter().enumerate() {
            if !flavors[f] {
                continue;
            }
            for &w in idle {
                if let WState::Idle { since, eligible } = self.workers[usize::from(w)].state {
                    let at = if eligible {
                        since + SLEEPING_AFTER
                    } else {
                        earliest
                    };
                    first = Some(first.map_or(at, |x: Ms| x.min(at)));
                }
            }
        }
        first.map(|at| boundary(at.max(earliest), WPM_LOOP, 500))
    }

    fn wpm_at_or_earlier(&mut self, at: Ms) {
        if self.wpm_at.is_some_and(|x| x <= at)
            || !self.nomad_callers_ok()
            || self.service_stopped(Service::WorkerPoolManagement)
        {
            return;
        }
        self.wpm_at = Some(at);
        self.timer_set(at, Timer::Wpm);
    }

    fn delete_worker(&mut self, w: u16) {
        let wk = self.workers[usize::from(w)];
        let f = wk.flavor as usize;
        match wk.state {
            WState::Idle { .. } => {
                self.n_idle[f] -= 1;
                self.idle[f].retain(|&x| x != w);
            }
            WState::Booting => self.n_booting[f] -= 1,
            WState::Orphan => self.n_orphan[f] -= 1,
            WState::Busy { .. } | WState::Free => {}
        }
        self.n_exist[f] -= 1;
        self.free_slots.push(std::cmp::Reverse(w));
        let from = wk.created.max(0);
        let to = self.now.min(self.cfg.horizon);
        if to > from {
            self.worker_ms += i128::from(to - from);
        }
        self.workers[usize::from(w)].state = WState::Free;
        self.n_workers -= 1;
    }

    pub(super) fn wpm(&mut self) {
        if !self.nomad_callers_ok() || self.service_stopped(Service::WorkerPoolManagement) {
            return;
        }
        let mut list = [JobType::FscRlieJob; 5];
        let n = match &self.types {
            JobTypesList::Valid(v) => {
                let n = v.len().min(5);
                list[..n].copy_from_slice(&v[..n]);
                n
            }
            _ => 0,
        };
        let list = &list[..n];
        let slots = self.hot.max_workers - self.n_workers;
        let mut needs = [0i64; 5];
        for (i, t) in list.iter().enumerate() {
            let f = t.flavor() as usize;
            needs[i] = self.pending[t.idx()] - (self.n_booting[f] + self.n_idle[f]);
        }
        let needs = &needs[..n];
        let mut result = [0i64; 5];
        workers_to_create_into(needs, slots, &mut result);
        if self.cfg.fidelity.xl_worker_cap {
            let cap = self.hot.xl_cap;
            let xl = self.n_exist[Flavor::HmXlarge as usize];
            for (i, t) in list.iter().enumerate() {
                if *t == JobType::SwsWdsJob {
                    result[i] = result[i].min((cap - xl).max(0));
                }
            }
        }
        // Names come from os-worker-001 … os-worker-<max> (orchestration.md §3.6): when the
        // sizing asks for more than the free names (its rounding can), the creation loop takes
        // the free ones and then fails on the next (IndexError), skipping the deletion phase.
        let free_names = (self.hot.max_workers - self.n_workers).max(0);
        let asked = result[..n].iter().sum::<i64>().max(0);
        let mut names = asked.min(free_names);
        let mut aborted = false;
        // Nova refuses the creations beyond the project's quota (403): logged, the loop goes on.
        let mut quota = self.quota_left();
        for (i, t) in list.iter().enumerate() {
            for _ in 0..result[i].max(0) {
                if names == 0 {
                    aborted = true;
                    break;
                }
                names -= 1;
                if quota == 0 {
                    self.faults.refused_since.get_or_insert(self.now);
                    continue;
                }
                quota -= 1;
                self.create_worker(t.flavor());
            }
        }
        if !aborted {
            let mut snapshot = std::mem::take(&mut self.scratch_snapshot);
            snapshot.clear();
            snapshot.extend(self.idle.iter().flatten().copied().filter(|&w| {
                matches!(
                    self.workers[usize::from(w)].state,
                    WState::Idle {
                        eligible: false,
                        ..
                    }
                )
            }));
            for (i, t) in list.iter().enumerate() {
                if result[i] != 0 {
                    continue;
                }
                self.delete_idle(t.flavor(), &snapshot);
            }
            self.scratch_snapshot = snapshot;
        }
        if let Some(at) = self.wpm_needed_at(self.now + WPM_LOOP) {
            self.wpm_at_or_earlier(at);
        }
    }

    fn create_worker(&mut self, flavor: Flavor) {
        let slot = match self.free_slots.pop() {
            Some(std::cmp::Reverse(s)) => usize::from(s),
            None => {
                self.workers.push(Worker {
                    state: WState::Free,
                    flavor,
                    created: 0,
                    epoch: 0,
                });
                self.workers.len() - 1
            }
        };
        self.n_exist[flavor as usize] += 1;
        let w = &mut self.workers[slot];
        w.state = WState::Booting;
        w.flavor = flavor;
        w.created = self.now;
        w.epoch += 1;
        let epoch = w.epoch;
        self.n_booting[flavor as usize] += 1;
        self.n_workers += 1;
        if self.now >= 0 && self.now < self.cfg.horizon {
            self.peak_workers = self.peak_workers.max(self.n_workers);
        }
        let boot = (self.cfg.calibration.worker_boot_minutes * MINUTE as f64) as Ms;
        // Boot time is constant: a FIFO in time order, not the event queue.
        let at = self.now + boot;
        if self.boot_q.is_empty() {
            self.timer_set(at, Timer::Boot);
        }
        self.boot_q.push_back((at, slot as u16, epoch));
    }

    /// Deletion for one type whose creation count is 0: switch a third of the sleeping nodes
    /// off, delete those switched off at the loop's start, and one stale worker.
    fn delete_idle(&mut self, flavor: Flavor, snapshot: &[u16]) {
        let f = flavor as usize;
        if self.idle[f].is_empty() && self.n_orphan[f] == 0 {
            return;
        }
        let mut sleeping = std::mem::take(&mut self.scratch_sleeping);
        sleeping.clear();
        sleeping.extend(self.idle[f].iter().copied().filter(|&w| {
            matches!(self.workers[usize::from(w)].state, WState::Idle { since, .. } if self.now - since >= SLEEPING_AFTER)
        }));
        let n = sleeping.len();
        let k = if n == 1 {
            1
        } else {
            (n / 3).clamp(1, 10).min(n)
        };
        for &w in sleeping.iter().take(k) {
            if let WState::Idle {
                since,
                eligible: true,
            } = self.workers[usize::from(w)].state
            {
                self.workers[usize::from(w)].state = WState::Idle {
                    since,
                    eligible: false,
                };
            }
        }
        let mut deleted = 0;
        for &w in &sleeping {
            if deleted == 10 {
                break;
            }
            if snapshot.contains(&w) {
                self.delete_worker(w);
                deleted += 1;
            }
        }
        self.scratch_sleeping = sleeping;
        if self.n_orphan[f] > 0
            && let Some(w) = (0..self.workers.len() as u16).find(|&w| {
                let wk = &self.workers[usize::from(w)];
                wk.flavor == flavor && wk.state == WState::Orphan
            })
        {
            self.delete_worker(w);
        }
    }
}
