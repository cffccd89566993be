//! The simulated world as a value one can step, act on, look at, clone and fork: what `hrsi
//! rehearse` keeps for a whole rehearsal, and what `hrsi simulate` / `hrsi plan` loop over.
//!
//! A batch run is `World::new(cfg, baseline).finish()`. Stepping changes nothing:
//! `run_until(a); run_until(b)` is `run_until(b)`, an action from outside with [`World::act`]
//! gives what the same action as a step of `cfg.steps` at that instant gives, and a clone given
//! other steps with [`World::set_steps`] continues as a fresh run of those steps would (proven
//! byte for byte on every shipped scenario by `tests/sim_stepped.rs`).

use std::sync::Arc;

mod empty;
mod import;
mod reset;

pub use crate::engine::EmptySummary;
pub use import::{ImportSummary, ParamChange, Skipped, StatusPatch};
pub use reset::{ResetError, ResetSummary};

use crate::config::{Action, Config, Step};
use crate::engine::{Baseline, Engine, Outcome, RestartRecord};
use crate::job_type::JobType;
use crate::params::SystemParameters;
use crate::report::Report;
use crate::time::{HOUR, Ms};

/// A steppable, cloneable simulated world. It owns its config (shared between clones); a clone
/// copies the state of the run (jobs, units, queues), not the inputs, which are shared.
///
/// # Example
/// ```
/// use hrsi_sim::{Action, Config, JobType, World, time::{DAY, HOUR}};
/// let mut cfg = Config::new(7);
/// cfg.horizon = 4 * DAY;
/// let mut w = World::new(cfg, None);
/// w.run_until(DAY);
/// w.act(Action::Stop);
/// w.run_until(DAY + 12 * HOUR);
/// let fork = w.clone(); // another point can continue from here
/// w.act(Action::Start);
/// let caught = w.run_until_caught_up(&[JobType::FscRlieJob], w.horizon());
/// assert!(caught.is_some() && w.last_restart().is_some());
/// assert!(!fork.services_up());
/// let outcome = w.finish();
/// assert_eq!(outcome.restarts.len(), 1);
/// ```
#[derive(Clone)]
pub struct World {
    engine: Engine,
    /// The baseline the world was built against: a reset rebuilds the database's world from
    /// the same one.
    baseline: Option<Arc<Baseline>>,
}

impl World {
    /// The world of `cfg` at the start of its warm start, before any event, against an optional
    /// baseline (its nominal levels for catch-up; `None`: nominal level 1 per type).
    pub fn new(cfg: Config, baseline: Option<&Baseline>) -> World {
        World::shared(Arc::new(cfg), baseline)
    }

    /// [`World::new`] with a config already shared (no copy).
    pub fn shared(cfg: Arc<Config>, baseline: Option<&Baseline>) -> World {
        World {
            engine: Engine::new(cfg, baseline),
            baseline: baseline.cloned().map(Arc::new),
        }
    }

    /// The config the world was built from (its `steps` are the initial plan; see
    /// [`World::steps`] for the current one).
    pub fn config(&self) -> &Config {
        self.engine.view().cfg
    }

    /// The current instant, ms since the start of the reported period (negative during the warm
    /// start): every event before it has been processed, none after it.
    pub fn now(&self) -> Ms {
        self.engine.view().now
    }

    /// The end of the reported period, ms since its start (`cfg.horizon`).
    pub fn horizon(&self) -> Ms {
        self.engine.view().cfg.horizon
    }

    /// Processes every event strictly before `t` (capped at the horizon) and stands at that
    /// instant; an instant not after [`World::now`] changes nothing.
    pub fn run_until(&mut self, t: Ms) {
        self.engine.run_until(t);
    }

    /// Runs until a sample (every 10 simulated minutes) finds every type of `types` caught up
    /// (no catch-up of the last restart pending: what a step's `caught_up` waits for), but not
    /// to `limit` or beyond (capped at the horizon). `Some(instant)`: the world stands right
    /// after that sample, where an [`World::act`] gives what the waiting step would; `None`: not
    /// caught up before the limit, and the world stands at it. For a plan driven from outside:
    /// a step of the world's own plan waiting for a catch-up is not the one this waits for.
    pub fn run_until_caught_up(&mut self, types: &[JobType], limit: Ms) -> Option<Ms> {
        self.engine.run_until_caught_up(types, limit)
    }

    /// An operator action at [`World::now`] (stop, start, set a parameter), from outside: the
    /// same result as the same action as the next step of the plan at this instant (queued
    /// events of this instant that the step's event would follow are processed first). It is
    /// recorded as an executed step, before any step of the plan due at the same instant; the
    /// steps still to come count their delay from it. A parameter the model refuses changes
    /// nothing, as in a batch run (the rehearsal checks values before).
    pub fn act(&mut self, action: Action) {
        self.engine.act(action);
    }

    /// Replaces the steps not yet executed (for forking a shared prefix): the world continues as
    /// a fresh run of the executed steps followed by `steps`. The first new step counts its
    /// delay from the last executed step (or from 0); a timed step due before `now` acts at
    /// `now` (a fresh run would have acted earlier: fork before the first new step's instant).
    pub fn set_steps(&mut self, steps: Vec<Step>) {
        self.engine.set_steps(steps);
    }

    /// The plan: executed steps (including [`World::act`] ones) then the ones to come.
    pub fn steps(&self) -> &[Step] {
        self.engine.view().steps
    }

    /// How many steps of [`World::steps`] have been executed.
    pub fn steps_done(&self) -> usize {
        self.engine.view().steps_done
    }

    /// Pending available units per type (in [`JobType::idx`] order), as of the last sample.
    pub fn backlog(&self) -> [i64; 5] {
        self.engine.view().backlog
    }

    /// Overdue units per type (pending past the NRT target), as of the last sample.
    pub fn overdue(&self) -> [i64; 5] {
        self.engine.view().overdue
    }

    /// Jobs on a worker per type, now.
    pub fn running(&self) -> [i64; 5] {
        self.engine.view().running
    }

    /// Worker VMs existing now (booting, idle, busy or orphaned by a stop).
    pub fn workers(&self) -> i64 {
        self.engine.view().workers
    }

    /// Whether the services are deployed (not stopped by `prod_env_destroy.sh`).
    pub fn services_up(&self) -> bool {
        self.engine.view().up
    }

    /// Whether the services are up and working: deployed, and `job_types_list` valid (an
    /// unknown type halts them at start).
    pub fn services_working(&self) -> bool {
        self.engine.view().services_ok
    }

    /// The neighbours' faults in force (quota, Nomad API, database) and what they did so far:
    /// worker creations refused, dispatches failed, runs not written.
    pub fn faults(&self) -> crate::engine::Faults {
        self.engine.view().faults
    }

    /// Whether `service` runs (not stopped by hand since the last full start). A service that
    /// runs does nothing while the whole system is down ([`World::services_up`]).
    pub fn service_running(&self, service: crate::config::Service) -> bool {
        self.engine.view().stopped_services & service.bit() == 0
    }

    /// The services stopped by hand ([`Action::StopService`]), in [`crate::config::Service::ALL`]
    /// order.
    pub fn stopped_services(&self) -> Vec<crate::config::Service> {
        let mask = self.engine.view().stopped_services;
        crate::config::Service::ALL
            .into_iter()
            .filter(|s| mask & s.bit() != 0)
            .collect()
    }

    /// Whether the services work on each type now (in [`JobType::idx`] order).
    pub fn enabled(&self) -> [bool; 5] {
        self.engine.view().enabled
    }

    /// Every restart so far, in order, with its enable and catch-up instants.
    pub fn restarts(&self) -> &[RestartRecord] {
        self.engine.view().restarts
    }

    /// The last restart (`None`: none happened), with its enable and catch-up instants.
    pub fn last_restart(&self) -> Option<&RestartRecord> {
        self.engine.view().restarts.last()
    }

    /// Types whose catch-up after the last restart is still to be confirmed.
    pub fn catching_up(&self) -> [bool; 5] {
        self.engine.view().catching_up
    }

    /// The confirmation window W of a catch-up (simulation.md "Recovery"), ms.
    pub fn confirm_window(&self) -> Ms {
        (self.config().calibration.confirm_window_hours * HOUR as f64) as Ms
    }

    /// The system parameters as they are now.
    pub fn params(&self) -> &SystemParameters {
        self.engine.view().params
    }

    /// What the run gives so far, as if the reported period ended at [`World::now`] (lost
    /// units classified against today's day). Copies the world; it is left unchanged.
    pub fn outcome(&self) -> Outcome {
        let now = self.now().max(0);
        self.engine.clone().finish_at(now)
    }

    /// The report of [`World::outcome`]: the config's, with the reported period ending now.
    pub fn report(&self) -> Report {
        let cfg = Config {
            horizon: self.now().max(0),
            ..self.config().clone()
        };
        Report::new(&cfg, self.outcome())
    }

    /// Runs to the horizon and returns the outcome (what a batch run gives).
    pub fn finish(self) -> Outcome {
        self.engine.run()
    }
}
