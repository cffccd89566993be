//! The monitor (orchestration.md §1.6, §7): jobs queued too long and jobs in flight that the
//! Nomad of a restart no longer knows are re-dispatched.

use super::*;
use crate::config::Service;

impl Engine {
    pub(super) fn wake_monitor(&mut self, at: Ms) {
        if !self.nomad_callers_ok() || self.service_stopped(Service::Monitor) {
            return;
        }
        let at = boundary(at.max(self.now), MONITOR_LOOP, 0);
        if self.monitor_at.is_some_and(|x| x <= at) {
            return;
        }
        self.monitor_at = Some(at);
        self.timer_set(at, Timer::Monitor);
    }

    pub(super) fn monitor(&mut self) {
        if !self.nomad_callers_ok() || self.service_stopped(Service::Monitor) {
            return;
        }
        // After a restart Nomad knows none of the jobs in flight: their summaries answer 404
        // and, unchanged for more than 5 minutes, they are reset.
        for j in std::mem::take(&mut self.reset_on_start) {
            let st = self.jobs[j as usize].status;
            if matches!(
                st,
                Status::Queued
                    | Status::Started
                    | Status::PreProcessing
                    | Status::Processing
                    | Status::PostProcessing
            ) && self.enabled(self.jobs[j as usize].ty)
            {
                self.redispatch(j);
            } else if st.is_running() || st == Status::Queued {
                self.reset_on_start.push(j);
            }
        }
        while let Some(&(at, j, epoch)) = self.queued_watch.front() {
            if at + QUEUED_LIMIT > self.now {
                break;
            }
            self.queued_watch.pop_front();
            let (ty, in_fifo) = (self.jobs[j as usize].ty, self.jobs[j as usize].in_fifo);
            let job = &self.jobs[j as usize];
            if job.epoch == epoch && job.status == Status::Queued && self.enabled(ty) {
                if in_fifo {
                    self.jobs[j as usize].in_fifo = false;
                    self.pending[ty.idx()] -= 1;
                }
                self.redispatch(j);
            }
        }
        if let Some(&(at, _, _)) = self.queued_watch.front() {
            self.wake_monitor(at + QUEUED_LIMIT);
        }
        if !self.reset_on_start.is_empty() {
            self.wake_monitor(self.now + MONITOR_LOOP);
        }
    }
}
