//! The simulated system during a rehearsal: one steppable [`hrsi_sim::World`] of the scenario,
//! owned for the rehearsal's whole life, run in the scenario's virtual time.
//!
//! `advance`/`run_until` run the world on from where it stands (no replay from the start);
//! operator actions (stop, start, a parameter read from the database) are [`World::act`] at the
//! instant they happen; the figures and the expectations read the world as it stands. The world
//! keeps its jobs and every status change (`keep_jobs`, `keep_history`): what the database is
//! given at every step boundary ([`super::truth`]). The prediction printed beside the transcript
//! stays what `hrsi simulate` predicts for the file (a fresh batch run of its steps).

use std::{
    collections::BTreeMap,
    sync::{Arc, LazyLock, Mutex},
};

use hrsi_scenario::Scenario;
use hrsi_sim::{
    Action, Baseline, Config, JobType, Outcome, Report, SystemParameters, World,
    job_type::ALL_TYPES,
    snapshot::{BuildOptions, Snapshot},
    time::{HOUR, Ms},
    world::{EmptySummary, ImportSummary, ResetError, ResetSummary},
};

/// The simulated course of one rehearsal.
pub struct Course {
    world: World,
    /// The parameters as the simulated system last read them.
    pub params: SystemParameters,
    /// Whether the services run (after the last stop/start).
    pub up: bool,
    /// The OpenStack project's instance quota set by a fault (`None`: not binding); the world
    /// is given what it leaves for worker VMs ([`Course::worker_quota`]).
    pub project_quota: Option<u64>,
    /// When a Nomad 5xx window given in virtual time ends (`fault: { nomad_5xx: { for: … } }`).
    nomad_until: Option<Ms>,
    /// A Nomad 5xx window ended since the steps last asked ([`Course::take_nomad_ended`]).
    nomad_ended: bool,
}

/// Figures of the simulated system where the world stands.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Pending available units per type (as of the last 10-minute sample).
    pub backlog: [i64; 5],
    /// Worker VMs.
    pub workers: i64,
    /// Catch-up instant (ms since start) per type, for the last restart, once confirmed.
    pub caught_at: [Option<Ms>; 5],
    /// When each type was enabled again at the last restart.
    pub enabled_at: [Option<Ms>; 5],
    /// Whether a restart happened.
    pub restarted: bool,
    /// Confirmation window W (ms).
    pub window: Ms,
}

impl Course {
    /// The world of a scenario at its start (the warm start run), before any step.
    pub fn new(sc: &Scenario) -> Course {
        let mut cfg = sc.to_sim_config();
        cfg.steps = Vec::new();
        // The database is given every job and every status change.
        cfg.keep_jobs = true;
        cfg.keep_history = true;
        let params = cfg.params.clone();
        let world = memo(&STARTS, format!("{cfg:?}"), || {
            let baseline = baseline_of(&cfg);
            let mut world = World::shared(Arc::new(cfg), Some(&baseline));
            world.run_until(0);
            world
        });
        Course {
            world: World::clone(&world),
            params,
            up: true,
            project_quota: None,
            nomad_until: None,
            nomad_ended: false,
        }
    }

    /// The horizon (the scenario's `days`), ms.
    pub fn horizon(&self) -> Ms {
        self.world.horizon()
    }

    /// Where the world stands, ms since the start.
    pub fn now(&self) -> Ms {
        self.world.now()
    }

    /// The world (read only: it runs through [`Course::run_to`] and [`Course::act`]).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world's config.
    pub fn config(&self) -> &Config {
        self.world.config()
    }

    /// An operator action at `at` (ms since start): the world runs to that instant, then acts.
    pub fn act(&mut self, at: Ms, action: Action) {
        self.world.run_until(at);
        match &action {
            Action::Stop => self.up = false,
            Action::Start => self.up = true,
            Action::SetParam { name, value } => {
                let _ = self.params.set(name, value);
            }
            // The neighbours' faults: the world keeps them (`World::faults`).
            _ => {}
        }
        self.world.act(action);
    }

    /// What the database holds, taken by the world at `at` (it runs there first) as the real
    /// services take it ([`World::import`]): parameters that differ, job statuses changed by
    /// hand (a `ready` job runs again). Jobs are matched with the default id mapping, the one
    /// the exports use.
    pub fn import(&mut self, at: Ms, snap: &Snapshot) -> ImportSummary {
        self.world.run_until(at);
        let sum = self.world.import(snap, &BuildOptions::default());
        self.params = self.world.params().clone();
        sum
    }

    /// The database reset to a backup (`snap`, taken at `snap.at`), at `at`: the world is
    /// rebuilt from it as the system is after a restore ([`World::reset`]).
    pub fn reset(&mut self, at: Ms, snap: &Snapshot) -> Result<ResetSummary, ResetError> {
        self.world.run_until(at);
        let sum = self.world.reset(snap, &BuildOptions::default())?;
        self.params = self.world.params().clone();
        self.up = self.world.services_up();
        Ok(sum)
    }

    /// A fresh database volume under the services, at `at`: the world's database becomes an
    /// empty `cosims` with the default parameters ([`World::empty_database`]).
    pub fn empty_database(&mut self, at: Ms) -> EmptySummary {
        self.world.run_until(at);
        let sum = self.world.empty_database();
        self.params = self.world.params().clone();
        self.up = self.world.services_up();
        sum
    }

    /// Runs the world on to `until` (capped at the horizon); a Nomad 5xx window ending on the
    /// way ends at its instant.
    pub fn run_to(&mut self, until: Ms) {
        self.end_nomad_window_by(until);
        self.world.run_until(until);
    }

    /// The Nomad API answers 5xx from `at` for `length` of virtual time: the simulated
    /// services feel it ([`Action::NomadUnavailable`]) until it ends.
    pub fn nomad_unavailable_for(&mut self, at: Ms, length: Ms) {
        self.act(at, Action::NomadUnavailable);
        self.nomad_until = Some(at.saturating_add(length));
    }

    /// When the Nomad 5xx window in force ends, if one is.
    pub fn nomad_until(&self) -> Option<Ms> {
        self.nomad_until
    }

    /// Whether a Nomad 5xx window ended since the last call (the stand-in's fault is then
    /// cleared too).
    pub fn take_nomad_ended(&mut self) -> bool {
        std::mem::take(&mut self.nomad_ended)
    }

    fn end_nomad_window_by(&mut self, until: Ms) {
        if let Some(end) = self.nomad_until
            && end <= until
        {
            self.act(end, Action::NomadAvailable);
            self.nomad_until = None;
            self.nomad_ended = true;
        }
    }

    /// The worker VMs the project's quota leaves beside `others` (the servers that are not
    /// workers, which count against the same quota), told to the world when it changes.
    pub fn worker_quota(&mut self, others: usize) {
        let q = self
            .project_quota
            .map(|q| q.saturating_sub(others as u64).min(u64::from(u32::MAX)) as u32);
        if self.world.faults().worker_quota != q {
            self.world.act(Action::WorkerQuota(q));
        }
    }

    /// The neighbours' faults as the world feels them.
    pub fn faults(&self) -> hrsi_sim::Faults {
        self.world.faults()
    }

    /// Figures where the world stands.
    pub fn figures(&self) -> Figures {
        let w = &self.world;
        let r = w.last_restart();
        Figures {
            backlog: w.backlog(),
            workers: w.workers(),
            caught_at: r.map_or([None; 5], |r| r.caught_at),
            enabled_at: r.map_or([None; 5], |r| r.enabled_at),
            restarted: r.is_some(),
            window: w.confirm_window(),
        }
    }

    /// What the world holds so far (jobs, history), as if the period ended where it stands.
    pub fn outcome(&self) -> Outcome {
        self.world.outcome()
    }

    /// The report of the course run on to the horizon from where it stands ("if nothing else
    /// happens"), on a copy of the world: the figures `lost` and `lost_reasons` are judged on
    /// it, as `hrsi simulate` judges them.
    pub fn report_to_horizon(&self) -> Report {
        let out = self.world.clone().finish();
        Report::new(self.world.config(), out)
    }

    /// Runs the world until every type of `types` is known to be caught up (C + W,
    /// simulation.md), but not to `until` or beyond. `Some(instant)`: where the world then
    /// stands; `None`: not caught up, the world stands at `until`. With each type's C.
    pub fn run_until_caught_up(
        &mut self,
        types: &[JobType],
        until: Ms,
    ) -> (Option<Ms>, Vec<(JobType, Option<Ms>)>) {
        let mut when = None;
        if let Some(end) = self.nomad_until.filter(|&e| e < until) {
            when = self.world.run_until_caught_up(types, end);
            if when.is_none() {
                self.end_nomad_window_by(end);
            }
        }
        if when.is_none() && self.nomad_until.is_none_or(|e| e >= until) {
            when = self.world.run_until_caught_up(types, until);
        }
        let f = self.figures();
        let per = types.iter().map(|&t| (t, caught(&f, t))).collect();
        (when, per)
    }
}

/// Catch-up instant of a type at the last restart; a type that was not restarted (never down,
/// or enabled before any restart) has nothing to catch up: caught up at 0.
pub fn caught(f: &Figures, t: JobType) -> Option<Ms> {
    if !f.restarted || f.enabled_at[t.idx()].is_none() {
        return Some(0);
    }
    f.caught_at[t.idx()]
}

/// `fsc_rlie_job 12, rlies1_job 0, …` for the types.
pub fn per_type(values: &[i64; 5]) -> String {
    ALL_TYPES
        .iter()
        .map(|t| format!("{} {}", t.name(), values[t.idx()]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hours with one decimal.
pub fn hours(ms: Ms) -> String {
    format!("{:.1} h", ms as f64 / HOUR as f64)
}

/// What `hrsi simulate` predicts for the whole file: a few lines for the transcript, and the
/// report the course is compared with.
pub fn predict(sc: &Scenario) -> (Vec<String>, Report) {
    let cfg = sc.to_sim_config();
    let report = if cfg.steps.is_empty() {
        // Its own baseline (`hrsi_sim::simulate` runs it once).
        hrsi_sim::simulate(&cfg)
    } else {
        // What `hrsi_sim::simulate` does, with the baseline the scenarios of the run share.
        Report::new(&cfg, hrsi_sim::run(&cfg, Some(&baseline_of(&cfg))))
    };
    (prediction_lines(sc, &report), report)
}

/// At most this many simulator runs are kept for the scenarios of one process.
const MEMO_MAX: usize = 32;

/// Runs of the simulator by the debug text of their config ([`memo`]).
pub(super) type Memo<T> = LazyLock<Mutex<BTreeMap<String, Arc<T>>>>;

/// Baselines by the config they are run from (`hrsi_sim::baseline` of it).
static BASELINES: Memo<Baseline> = LazyLock::new(Default::default);
/// Worlds at the start (their warm start run), by their config.
static STARTS: Memo<World> = LazyLock::new(Default::default);

/// The simulator is pure: a run is a function of its config, so the scenarios of a suite that
/// share a seed, a start, a horizon, a calibration and parameters share their baseline and
/// their warm start instead of each running them again. Keyed by the whole config's debug
/// text; bounded (a suite of many distinct configs runs the extra ones unshared).
pub(super) fn memo<T>(
    m: &Mutex<BTreeMap<String, Arc<T>>>,
    key: String,
    make: impl FnOnce() -> T,
) -> Arc<T> {
    if let Some(v) = m.lock().expect("memo lock").get(&key) {
        return v.clone();
    }
    let v = Arc::new(make());
    let mut g = m.lock().expect("memo lock");
    if g.len() >= MEMO_MAX && !g.contains_key(&key) {
        return v;
    }
    g.entry(key).or_insert(v).clone()
}

/// The baseline of `cfg` (its steps left out), shared by the scenarios of the run.
fn baseline_of(cfg: &Config) -> Arc<Baseline> {
    let base = hrsi_sim::baseline_config(cfg);
    memo(&BASELINES, format!("{base:?}"), || {
        hrsi_sim::baseline(&base)
    })
}

fn prediction_lines(sc: &Scenario, report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let lost: Vec<String> = report
        .job_types
        .iter()
        .map(|(t, r)| format!("{t} {}", r.lost))
        .collect();
    out.push(format!(
        "hrsi simulate {} ({} days, seed {}): lost {}; peak workers {}",
        sc.origin,
        sc.days,
        sc.seed,
        lost.join(", "),
        report.peak_workers
    ));
    // Recovery first (from the system restart, simulation.md "Recovery"), then each wave's
    // own catch-up: the same story `hrsi simulate` and `hrsi plan` tell.
    let hours = |h: &Option<f64>| match h {
        Some(h) => format!("{h:.1} h"),
        None => "never".to_owned(),
    };
    for (i, r) in report.restarts.iter().enumerate() {
        let by_type: Vec<String> = r
            .recovery_hours_by_type
            .iter()
            .map(|(t, h)| format!("{t} {}", hours(h)))
            .collect();
        let own: Vec<String> = r
            .catch_up_hours
            .iter()
            .map(|(t, h)| format!("{t} {}", hours(h)))
            .collect();
        out.push(format!(
            "restart {} at {}: recovery {} ({}); catch-up in its own wave {}",
            i + 1,
            r.at,
            hours(&r.recovery_hours),
            by_type.join(", "),
            own.join(", ")
        ));
    }
    for w in sc.late_waits(report) {
        out.push(format!("late: {w}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hrsi_sim::time::DAY;

    fn scenario() -> Scenario {
        Scenario::from_yaml_str(
            "seed: 7\ndays: 6\nsteps:\n  - advance: 1d\n  - stop: { confirm: yes }\n",
            "t.yaml",
        )
        .unwrap()
    }

    #[test]
    fn stepping_the_course_is_one_run_of_the_same_actions() {
        let sc = scenario();
        // In steps, as a rehearsal drives it: advance, stop, advance, start, advance.
        let mut c = Course::new(&sc);
        c.run_to(DAY);
        c.act(DAY, Action::Stop);
        c.run_to(DAY + 6 * HOUR);
        c.act(2 * DAY, Action::Start);
        c.run_to(3 * DAY);
        let stepped = c.outcome();
        // In one go, to the same instant.
        let mut d = Course::new(&sc);
        d.act(DAY, Action::Stop);
        d.act(2 * DAY, Action::Start);
        d.run_to(3 * DAY);
        let once = d.outcome();
        assert_eq!(c.now(), 3 * DAY);
        assert_eq!(stepped.history, once.history);
        assert_eq!(stepped.restarts.len(), 1);
        assert_eq!(c.figures().backlog, d.figures().backlog);
        // Looking (figures, a report to the horizon) does not move the world.
        let before = c.outcome().history.len();
        let _ = c.report_to_horizon();
        assert_eq!(c.now(), 3 * DAY);
        assert_eq!(c.outcome().history.len(), before);
    }

    #[test]
    fn shared_runs_give_what_fresh_ones_give() {
        let sc = scenario();
        // The prediction with the shared baseline is `hrsi simulate`'s report, byte for byte,
        // the first time (computed) and the second (shared).
        let fresh = serde_json::to_string(&hrsi_sim::simulate(&sc.to_sim_config())).unwrap();
        for _ in 0..2 {
            assert_eq!(serde_json::to_string(&predict(&sc).1).unwrap(), fresh);
        }
        // A course from the shared warm start is a copy: stepping one leaves the next as new.
        let mut a = Course::new(&sc);
        a.run_to(DAY);
        let b = Course::new(&sc);
        assert_eq!(b.now(), 0);
        let mut cfg = sc.to_sim_config();
        cfg.steps.clear();
        (cfg.keep_jobs, cfg.keep_history) = (true, true);
        let mut own = World::new(cfg.clone(), Some(&hrsi_sim::baseline(&cfg)));
        own.run_until(0);
        assert_eq!(b.outcome().history, own.outcome().history);
        assert_eq!(b.outcome().jobs.len(), own.outcome().jobs.len());
    }

    #[test]
    fn the_world_keeps_its_jobs_for_the_database_and_stands_at_the_start() {
        let c = Course::new(&scenario());
        assert_eq!(c.now(), 0);
        let out = c.outcome();
        // The warm start ran: jobs and their history, for the first export.
        assert!(!out.jobs.is_empty() && !out.history.is_empty());
        assert!(c.config().keep_jobs && c.config().keep_history);
    }
}
