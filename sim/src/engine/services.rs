//! One orchestrator service stopped or started by hand (`nomad job stop monitor`, `nomad job
//! run job_execution.nomad`; orchestration.md §1): its loop no longer runs, and what it does
//! waits for it. Every other service, Nomad's scheduler and the runs already placed carry on:
//!
//! - job creation: inputs pile up in the catalogues; started again, it resumes from the last
//!   inserted job of each type (nothing is skipped inside the creation windows); GFSC's night
//!   pass starts again from "yesterday" (jobs.md §4.2: the remembered day is empty at start).
//! - job configuration: new jobs stay `initialized` (and `configured` ones wait).
//! - job execution: `ready` jobs are not dispatched (the monitor's re-dispatches end there too);
//!   the jobs already queued in Nomad are still placed and run.
//! - job publication: `processed` jobs are not published, so nothing downstream of them
//!   (SWS/WDS, GFSC) is created.
//! - worker pool management: no worker VM is created or deleted.
//! - monitor: jobs queued too long, or in flight but unknown to Nomad after a restart, are not
//!   re-dispatched. Jobs in `internal_error` are never retried by it (only an operator's patch
//!   does that): its absence shows on the stuck ones only.
//!
//! A full start (`prod_env_apply.sh`, [`Action::Start`]) registers every service again. The
//! mask is one byte tested where each loop is armed.

use super::*;
use crate::config::Service;

/// The loop sleep parameter of each loop service, read once at its start (orchestration.md §0).
pub(super) const LOOP_SLEEPS: [&str; 4] = [
    "job_creation_loop_sleep",
    "job_configuration_loop_sleep",
    "job_execution_loop_sleep",
    "job_publication_loop_sleep",
];

const LOOP_SERVICES: [Svc; 4] = [
    Svc::Creation,
    Svc::Configuration,
    Svc::Execution,
    Svc::Publication,
];

impl Engine {
    /// Whether `s` was stopped by hand (and not started again).
    #[inline(always)]
    pub(super) fn service_stopped(&self, s: Service) -> bool {
        self.stopped_services & s.bit() != 0
    }

    /// [`Action::StopService`] / [`Action::StartService`].
    pub(super) fn service_action(&mut self, action: &Action) {
        match *action {
            Action::StopService(s) => self.stop_service(s),
            Action::StartService(s) => self.start_service(s),
            _ => {}
        }
    }

    fn stop_service(&mut self, s: Service) {
        if self.service_stopped(s) {
            return;
        }
        self.stopped_services |= s.bit();
        match s {
            Service::WorkerPoolManagement => self.wpm_at = None,
            Service::Monitor => self.monitor_at = None,
            _ => {
                let k = s as usize;
                if self.cfg.fidelity.status_trigger_cost {
                    self.serial_stop(k);
                }
                self.tick_at[k] = [Ms::MAX; 5];
                self.tick_armed &= !(0b1_1111 << (k * 5));
                if s == Service::JobCreation {
                    self.daily_at = None;
                }
            }
        }
        self.timer_cache = None;
    }

    fn start_service(&mut self, s: Service) {
        if !self.service_stopped(s) {
            return;
        }
        self.stopped_services &= !s.bit();
        if s == Service::JobCreation {
            // A fresh process: the night pass's remembered day is empty (jobs.md §4.2).
            self.daily_last = None;
            self.daily_first = None;
        }
        if let Some(&svc) = LOOP_SERVICES.get(s as usize) {
            let name = LOOP_SLEEPS[s as usize];
            self.loops[s as usize] = self.params.int(name).unwrap_or(5).max(1) * SECOND;
            if self.up {
                self.kick_service(svc);
            }
        } else if self.up {
            match s {
                Service::WorkerPoolManagement => self.wake_wpm(),
                _ => self.wake_monitor(self.now),
            }
        }
    }

    /// The loop of `svc` runs again for every type with work waiting (job creation's night pass
    /// too).
    pub(super) fn kick_service(&mut self, svc: Svc) {
        for t in ALL_TYPES {
            let i = t.idx();
            let work = match svc {
                Svc::Creation => {
                    !self.to_create[i].is_empty()
                        || (t == JobType::SwsWdsJob
                            && !(self.fsc_for_wds.is_empty() && self.fsc_again.is_empty()))
                        || (t == JobType::Rlies1s2Job && self.s1s2_uncreated > 0)
                }
                Svc::Configuration => !self.to_config[i].is_empty(),
                Svc::Execution => !self.to_exec[i].is_empty(),
                Svc::Publication => !self.to_publish[i].is_empty(),
            };
            if work {
                self.tick(svc, t);
            }
        }
        if svc == Svc::Creation {
            self.schedule_daily(self.now);
        }
    }
}
