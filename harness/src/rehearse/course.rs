//! The simulated system during a rehearsal: the simulator (`hrsi_sim`) run in the scenario's
//! virtual time over the operator actions as they actually happened in the rehearsal.
//!
//! The simulator on this branch is not steppable yet (wt-world brings the steppable world with
//! the database as its truth). Until then each `advance`/`run_until` replays the same
//! deterministic world from the start to the new instant with the actions recorded so far.
//! Each replay is deterministic, but not exactly a prefix of a longer one: some draws depend on
//! the horizon, so after a restart the figures of a replay to T and of a replay past T can
//! differ by a few units (the test below shows where they agree). A steppable engine removes
//! this.
//! What the simulated system reads from the database here is only `cosims.system_parameters`
//! (imported at every step boundary, whoever changed it: `set_param`, the operator's SQL, a
//! restore). Jobs it runs are not written back to the database, and job rows patched or
//! restored by the operator are not read: the transcript says so where it matters.

use hrsi_scenario::Scenario;
use hrsi_sim::{
    Action, Baseline, Config, JobType, Outcome, Report, Step, SystemParameters,
    job_type::ALL_TYPES,
    time::{HOUR, Ms},
};

/// The simulated course of one rehearsal.
pub struct Course {
    base: Config,
    baseline: Baseline,
    actions: Vec<(Ms, Action)>,
    /// The parameters as the simulated system last read them.
    pub params: SystemParameters,
    /// Whether the services run (after the last stop/start).
    pub up: bool,
}

/// Figures of the simulated system at an instant.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Pending available units per type.
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
    /// The world of a scenario, before any step.
    pub fn new(sc: &Scenario) -> Course {
        let mut base = sc.to_sim_config();
        base.steps = Vec::new();
        base.timeline = true;
        let baseline = hrsi_sim::baseline(&base);
        Course {
            params: base.params.clone(),
            base,
            baseline,
            actions: Vec::new(),
            up: true,
        }
    }

    /// The horizon (the scenario's `days`), ms.
    pub fn horizon(&self) -> Ms {
        self.base.horizon
    }

    /// Records an operator action at `at` (ms since start).
    pub fn act(&mut self, at: Ms, action: Action) {
        match &action {
            Action::Stop => self.up = false,
            Action::Start => self.up = true,
            Action::SetParam { name, value } => {
                let _ = self.params.set(name, value);
            }
        }
        self.actions.push((at, action));
    }

    fn config_to(&self, until: Ms) -> Config {
        let mut cfg = self.base.clone();
        cfg.horizon = until.clamp(1, self.base.horizon);
        let mut prev = 0;
        cfg.steps = self
            .actions
            .iter()
            .filter(|(at, _)| *at < cfg.horizon)
            .map(|(at, a)| {
                let s = Step {
                    caught_up: Vec::new(),
                    after: at - prev,
                    action: a.clone(),
                };
                prev = *at;
                s
            })
            .collect();
        cfg
    }

    /// Runs the world from the start to `until` with the actions so far.
    pub fn run_to(&self, until: Ms) -> (Config, Outcome) {
        let cfg = self.config_to(until);
        let out = hrsi_sim::run(&cfg, Some(&self.baseline));
        (cfg, out)
    }

    /// Figures at `until`.
    pub fn figures(&self, until: Ms) -> Figures {
        let (cfg, out) = self.run_to(until);
        figures(&cfg, &out)
    }

    /// The report of the course run to the horizon with the actions so far ("if nothing else
    /// happens"): the figures `lost` and `lost_reasons` are judged on it, as `hrsi simulate`
    /// judges them.
    pub fn report_to_horizon(&self) -> Report {
        let (cfg, out) = self.run_to(self.base.horizon);
        Report::new(&cfg, out)
    }

    /// The first instant after `from` and before `until` at which every type of `types` is
    /// known to be caught up (C + W, simulation.md), with each type's C.
    pub fn caught_up_between(
        &self,
        types: &[JobType],
        from: Ms,
        until: Ms,
    ) -> (Option<Ms>, Vec<(JobType, Option<Ms>)>) {
        let (cfg, out) = self.run_to(until);
        let f = figures(&cfg, &out);
        let mut when: Option<Ms> = Some(from);
        let mut per = Vec::new();
        for &t in types {
            let c = caught(&f, t);
            per.push((t, c));
            when = match (when, c) {
                (Some(w), Some(c)) => Some(w.max(c + f.window)),
                _ => None,
            };
        }
        (when.filter(|w| *w <= until), per)
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

fn figures(cfg: &Config, out: &Outcome) -> Figures {
    let last = out.timeline.last();
    let r = out.restarts.last();
    Figures {
        backlog: last.map_or([0; 5], |s| s.backlog),
        workers: last.map_or(0, |s| s.workers),
        caught_at: r.map_or([None; 5], |r| r.caught_at),
        enabled_at: r.map_or([None; 5], |r| r.enabled_at),
        restarted: r.is_some(),
        window: (cfg.calibration.confirm_window_hours * HOUR as f64) as Ms,
    }
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

/// What `hrsi simulate` predicts for the whole file, in a few lines.
pub fn prediction(sc: &Scenario) -> Vec<String> {
    let cfg = sc.to_sim_config();
    let report = hrsi_sim::simulate(&cfg);
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
    for w in sc.late_waits(&report) {
        out.push(format!("late: {w}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_agree_up_to_the_restart_and_are_deterministic() {
        let sc = Scenario::from_yaml_str(
            "seed: 7\ndays: 6\nsteps:\n  - advance: 1d\n  - stop: { confirm: yes }\n",
            "t.yaml",
        )
        .unwrap();
        let mut c = Course::new(&sc);
        c.act(hrsi_sim::time::DAY, Action::Stop);
        c.act(2 * hrsi_sim::time::DAY, Action::Start);
        let t = 2 * hrsi_sim::time::DAY + 6 * HOUR;
        let (_, short) = c.run_to(t);
        let (_, long) = c.run_to(t + 2 * hrsi_sim::time::DAY);
        let until = |o: &Outcome, end: Ms| -> Vec<[i64; 5]> {
            o.timeline
                .iter()
                .filter(|s| s.at < end)
                .map(|s| s.backlog)
                .collect()
        };
        // Up to the restart, the replays are the same world.
        assert_eq!(
            until(&short, 2 * hrsi_sim::time::DAY),
            until(&long, 2 * hrsi_sim::time::DAY)
        );
        // The same replay twice is the same, to the last sample.
        let (_, again) = c.run_to(t);
        assert_eq!(until(&short, t), until(&again, t));
    }
}
