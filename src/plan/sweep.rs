//! What a plan sweeps: the inputs as the user gave them ([`PlanInputs`], carried whole to every
//! shard and to `hrsi plan merge`), and the validated [`Plan`]: base scenario, axes, points
//! (their cartesian product, first axis slowest) and seeds.
//!
//! Axis names carry a prefix so a parameter, a calibration value and a scenario setting can
//! never clash: `param.NAME` (a `cosims.system_parameters` column, set at the start),
//! `calib.NAME` (a calibration value), `scenario.outage_days|outage_start_day|restart|days|
//! gfsc_start_date`.

use std::collections::BTreeMap;

use hrsi_scenario::{Outage, Plan as ScenarioPlan, Scenario, ScenarioStep, StepKind};
use hrsi_sim::config::{Action, Step};
use hrsi_sim::time::{DAY, Instant, Ms};
use hrsi_sim::{Calibration, Config, Restart};

use super::stats::Level;
use serde::{Deserialize, Serialize};

pub use super::values::{SCENARIO_AXES, parse_axis, parse_seeds, parse_values};

/// The questions `--goal` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Goal {
    /// The smallest `max_number_of_worker_instances` that catches up within `--within` hours.
    WorkerCap,
    /// The smallest RLIE-S1-S2 search window that loses no tile-day outside it.
    SearchWindow,
    /// Whether `gfsc_daily_jobs_creation_start_date` must be set at the restart.
    GfscStartDate,
    /// Which restart plan (all at once, waves) is faster, and which is cheaper.
    Restart,
    /// The outage length beyond which products are lost whatever the workers.
    OutageLimit,
}

impl Goal {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Goal::WorkerCap => "worker-cap",
            Goal::SearchWindow => "search-window",
            Goal::GfscStartDate => "gfsc-start-date",
            Goal::Restart => "restart",
            Goal::OutageLimit => "outage-limit",
        }
    }
}

/// A scenario file as text, so a plan can be rebuilt where the file is not (a shard, a merge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSource {
    /// The path as the user wrote it (messages, the command that reproduces the plan).
    pub origin: String,
    /// The file's content.
    pub text: String,
}

/// Everything a plan depends on, as given on the command line (files as their content).
/// Same inputs ⇒ same bytes of output, on one machine or merged from shards.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanInputs {
    /// The base scenario, if any (else the nominal world).
    pub scenario: Option<ScenarioSource>,
    /// The calibration, resolved from `--calibration` or the scenario's file.
    pub calibration: Option<Calibration>,
    /// The calibration file as the user named it (for the reproducing command).
    pub calibration_file: Option<String>,
    /// `--days`.
    pub days: Option<u32>,
    /// `--seed`: the first seed.
    pub seed: Option<u64>,
    /// `--start`.
    pub start: Option<String>,
    /// `--outage-start-day`.
    pub outage_start_day: Option<f64>,
    /// `--outage-days`.
    pub outage_days: Option<f64>,
    /// `--restart`.
    pub restart: Option<Restart>,
    /// `--set NAME=VALUE`.
    pub set: Vec<String>,
    /// `--fidelity NAME`.
    pub fidelity: Vec<String>,
    /// `--sweep AXIS=VALUES`.
    pub sweeps: Vec<String>,
    /// `--replications N`.
    pub replications: Option<u32>,
    /// `--seeds LIST`.
    pub seeds: Option<String>,
    /// `--goal`.
    pub goal: Option<Goal>,
    /// `--within HOURS`.
    pub within_hours: Option<f64>,
    /// `--replications auto` given explicitly (it is also the default with a goal).
    #[serde(default)]
    pub auto: bool,
    /// `--max-runs N`: the budget of a sequential plan (runs, baselines not counted).
    #[serde(default)]
    pub max_runs: Option<u64>,
    /// `--probability P`: the share of runs that must meet the goal (default 0.95).
    #[serde(default)]
    pub probability: Option<f64>,
    /// `--confidence C`: the confidence of every claim (default 0.95).
    #[serde(default)]
    pub confidence: Option<f64>,
}

/// What an axis changes.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisKind {
    /// A system parameter, set at the start.
    Param(String),
    /// A calibration value.
    Calib(String),
    /// The outage length, days.
    OutageDays,
    /// The outage start, days after the start.
    OutageStartDay,
    /// The restart plan.
    Restart,
    /// The horizon, days.
    Days,
    /// `gfsc_daily_jobs_creation_start_date` set at the restart to the day before the outage
    /// (`set`) or left NULL (`unset`).
    GfscStartDate,
}

/// One swept dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// As written, e.g. `param.max_number_of_worker_instances`.
    pub key: String,
    /// What it changes.
    pub kind: AxisKind,
    /// The values, as labels (parsed again where applied; validated when the plan is built).
    pub values: Vec<String>,
}

impl Axis {
    /// The value as a number, for ordering and plotting (`None` for words such as `waves`).
    pub fn number(&self, i: usize) -> Option<f64> {
        self.values[i].parse().ok()
    }
}

/// One point of the sweep: an index into each axis's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Position in the sweep (cartesian order, first axis slowest).
    pub index: usize,
    /// Value index per axis.
    pub values: Vec<usize>,
}

/// The outage of a point: start and length in days, restart plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutageSpec {
    /// Days after the start.
    pub start_day: f64,
    /// Length, days.
    pub days: f64,
    /// Restart plan.
    pub restart: Restart,
}

/// A validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The inputs it was built from.
    pub inputs: PlanInputs,
    /// The base scenario, with the command line's overrides but without the outage options.
    pub base: Scenario,
    /// The outage every point has unless an axis changes it (`None`: the scenario's own plan).
    pub base_outage: Option<OutageSpec>,
    /// The outage was read from the scenario's steps (one stop, one restart).
    pub outage_from_steps: bool,
    /// Swept axes, in the order given.
    pub axes: Vec<Axis>,
    /// Every point.
    pub points: Vec<Point>,
    /// Seeds, one replication each; with `sequential`, the seeds a point may use, in the
    /// order it uses them (every point the same: common random numbers).
    pub seeds: Vec<u64>,
    /// The run budget when replications are sequential (`--replications auto`).
    pub sequential: Option<u64>,
    /// The probability and confidence of every claim.
    pub level: Level,
}

/// Default number of replications (seeds) per point without a goal.
pub const DEFAULT_REPLICATIONS: u32 = 10;
/// Most points × seeds one plan may hold: a typo in a range should not start a week of work,
/// and every run's config is laid out in memory first (a few kB each), shards included.
pub const MAX_RUNS: usize = 200_000;
/// Default budget of a sequential plan, runs.
pub const DEFAULT_MAX_RUNS: u64 = 5_000;
/// The one outage of a scenario written as steps, when its steps are only that: nominal time,
/// a stop, time down, the restart (at once, or in waves widening `job_types_list` as the types
/// catch up). The restart and gfsc-start-date goals compare ways of restarting, so they plan
/// from this outage. `None` when the steps do anything else.
fn outage_of_steps(steps: &[ScenarioStep]) -> Option<Outage> {
    let (mut t, mut stop, mut start, mut waves) = (0, None, None, false);
    for st in steps {
        match &st.kind {
            StepKind::Advance(ms) if start.is_none() => t += ms,
            StepKind::Stop { confirm: true } if stop.is_none() => stop = Some(t),
            StepKind::Start { confirm: true } if stop.is_some() && start.is_none() => {
                start = Some(t)
            }
            StepKind::SetParam(ps) if ps.iter().all(|p| p.name == "job_types_list") => {}
            StepKind::RunUntil { .. } if start.is_some() => waves = true,
            k if k.harness_only() => {}
            _ => return None,
        }
    }
    let (stop, start) = (stop?, start?);
    Some(Outage {
        start: stop,
        length: start - stop,
        restart: if waves { Restart::Waves } else { Restart::All },
    })
}

fn outage_of(sc: &Scenario) -> Option<OutageSpec> {
    match &sc.plan {
        ScenarioPlan::Outages(o) if o.len() == 1 => Some(OutageSpec {
            start_day: o[0].start as f64 / DAY as f64,
            days: o[0].length as f64 / DAY as f64,
            restart: o[0].restart,
        }),
        _ => None,
    }
}

impl Plan {
    /// Validates the inputs: scenario, overrides, axes and every point (each point's config is
    /// built once here, so a point that cannot run is refused before anything runs).
    pub fn new(inputs: PlanInputs) -> Result<Plan, String> {
        let mut base = match &inputs.scenario {
            None => Scenario::nominal("command line"),
            Some(src) => {
                Scenario::from_yaml_str(&src.text, &src.origin).map_err(|e| e.to_string())?
            }
        };
        match (&inputs.calibration, &base.calibration_file) {
            (Some(c), _) => base.set_calibration(c.clone()),
            (None, Some(f)) => {
                return Err(format!(
                    "`{}` names the calibration file `{f}`, which was not read",
                    base.origin
                ));
            }
            (None, None) => {}
        }
        if let Some(d) = inputs.days {
            if let Some(e) = hrsi_sim::config::days_refusal(u64::from(d)) {
                return Err(format!("--days {d}: {e}"));
            }
            base.days = d;
        }
        if let Some(s) = &inputs.start {
            base.set_start(s).map_err(|e| format!("--start: {e}"))?;
        }
        for s in &inputs.set {
            base.set_param(s).map_err(|e| format!("--set: {e}"))?;
        }
        for f in &inputs.fidelity {
            base.set_fidelity(f)
                .map_err(|e| format!("--fidelity: {e}"))?;
        }
        let mut axes: Vec<Axis> = Vec::new();
        for s in &inputs.sweeps {
            let axis = parse_axis(s)?;
            if axes.iter().any(|a| a.key == axis.key) {
                return Err(format!(
                    "`{}` is swept twice (hint: give all its values in one --sweep)",
                    axis.key
                ));
            }
            axes.push(axis);
        }
        add_goal_axes(&inputs, &mut axes);
        // The restart goals compare ways of restarting: a scenario written as one stop and one
        // restart is read as that outage.
        let mut from_steps = None;
        if matches!(inputs.goal, Some(Goal::Restart | Goal::GfscStartDate))
            && inputs.outage_start_day.is_none()
            && inputs.outage_days.is_none()
            && let ScenarioPlan::Steps(steps) = &base.plan
            && let Some(o) = outage_of_steps(steps)
        {
            from_steps = Some(o);
            base.plan = ScenarioPlan::Outages(vec![o]);
        }
        let swept = |k: AxisKind| axes.iter().any(|a| a.kind == k);
        let restart = inputs.restart.unwrap_or(Restart::All);
        let base_outage = match (inputs.outage_start_day, inputs.outage_days) {
            // The missing half comes from its axis (NaN until a point sets it).
            (Some(start_day), None) if swept(AxisKind::OutageDays) => Some(OutageSpec {
                start_day,
                days: f64::NAN,
                restart,
            }),
            (None, Some(days)) if swept(AxisKind::OutageStartDay) => Some(OutageSpec {
                start_day: f64::NAN,
                days,
                restart,
            }),
            (Some(start_day), Some(days)) => Some(OutageSpec {
                start_day,
                days,
                restart: inputs.restart.unwrap_or(Restart::All),
            }),
            (None, None) => outage_of(&base).map(|mut o| {
                if let Some(r) = inputs.restart {
                    o.restart = r;
                }
                o
            }),
            _ => {
                return Err(
                    "--outage-start-day and --outage-days go together (hint: give both, \
                            or sweep the other one with scenario.outage_days or \
                            scenario.outage_start_day)"
                        .into(),
                );
            }
        };
        if base_outage.is_none() && inputs.restart.is_some() {
            base.set_restart(restart)?;
        }
        let level = level(&inputs)?;
        let mut n_points: u64 = 1;
        for a in &axes {
            n_points = n_points.saturating_mul(a.values.len() as u64);
        }
        let limit = MAX_RUNS as u64;
        if n_points > limit {
            return Err(format!(
                "the sweep has {n_points} points, more than {MAX_RUNS} runs (hint: coarser steps, \
                 or split it into several plans)"
            ));
        }
        let sequential = match (inputs.auto, inputs.replications, &inputs.seeds) {
            (true, Some(_), _) | (true, _, Some(_)) => {
                return Err(
                    "--replications auto chooses the seeds itself (hint: drop --seeds, \
                            or give --replications N for a fixed number)"
                        .into(),
                );
            }
            (true, None, None) if inputs.goal.is_none() => {
                return Err(
                    "--replications auto needs a --goal to decide when to stop (hint: \
                            add --goal, or give --replications N)"
                        .into(),
                );
            }
            (auto, None, None) if auto || inputs.goal.is_some() => {
                let budget = inputs.max_runs.unwrap_or(DEFAULT_MAX_RUNS.min(limit));
                if budget < n_points {
                    return Err(format!(
                        "--max-runs {budget} is less than one run per point ({n_points} points; \
                         hint: raise --max-runs or sweep fewer values)"
                    ));
                }
                if budget > limit {
                    return Err(format!(
                        "--max-runs {budget} is more than the {MAX_RUNS} runs one plan may hold"
                    ));
                }
                Some(budget)
            }
            _ => {
                if inputs.max_runs.is_some() {
                    return Err(
                        "--max-runs is the budget of --replications auto (hint: drop \
                                it, or use --replications auto with a --goal)"
                            .into(),
                    );
                }
                None
            }
        };
        let first = inputs.seed.unwrap_or(base.seed);
        // Checked before a seed is made: 4294967295 replications would be 34 GB of seeds.
        let per_point = match (&inputs.seeds, inputs.replications, sequential) {
            (_, _, Some(budget)) => budget - (n_points - 1),
            (Some(_), _, None) => 0,
            (None, r, None) => {
                let n = u64::from(r.unwrap_or(DEFAULT_REPLICATIONS));
                if n == 0 {
                    return Err("--replications must be at least 1".into());
                }
                n
            }
        };
        let seeds = match (&inputs.seeds, inputs.replications) {
            (Some(_), Some(_)) => {
                return Err(
                    "--seeds and --replications exclude each other (hint: --seeds lists \
                            them, --replications N runs seeds from --seed (default 1) on)"
                        .into(),
                );
            }
            (Some(list), None) => parse_seeds(list, limit / n_points)?,
            (None, _) => {
                if n_points.saturating_mul(per_point) > limit && sequential.is_none() {
                    return Err(format!(
                        "the sweep has {n_points} points × {per_point} seeds, more than \
                         {MAX_RUNS} runs (hint: coarser steps, fewer replications, or split it \
                         into several plans)"
                    ));
                }
                if first.checked_add(per_point - 1).is_none() {
                    return Err(format!(
                        "--seed {first} with {per_point} runs per point would pass the largest \
                         seed, 18446744073709551615 (hint: a smaller --seed)"
                    ));
                }
                (0..per_point).map(|i| first + i).collect()
            }
        };
        let n_points = n_points as usize;
        let mut points = Vec::with_capacity(n_points);
        for index in 0..n_points {
            let mut rest = index;
            let mut values = vec![0; axes.len()];
            for (i, a) in axes.iter().enumerate().rev() {
                values[i] = rest % a.values.len();
                rest /= a.values.len();
            }
            points.push(Point { index, values });
        }
        let plan = Plan {
            inputs,
            base,
            outage_from_steps: from_steps.is_some(),
            base_outage,
            axes,
            points,
            seeds,
            sequential,
            level,
        };
        plan.check_goal()?;
        // Every value of every axis is checked once (the first error wins, with its axis).
        for a in 0..plan.axes.len() {
            for v in 0..plan.axes[a].values.len() {
                let mut p = plan.points[0].clone();
                p.values[a] = v;
                plan.scenario(&p)?;
            }
        }
        for p in &plan.points {
            plan.config(p, plan.seeds[0])?;
        }
        Ok(plan)
    }

    /// The axis with this key.
    pub fn axis(&self, key: &str) -> Option<usize> {
        self.axes.iter().position(|a| a.key == key)
    }

    /// `key = value` labels of a point, in axis order.
    pub fn labels(&self, p: &Point) -> Vec<(String, String)> {
        self.axes
            .iter()
            .zip(&p.values)
            .map(|(a, &v)| (a.key.clone(), a.values[v].clone()))
            .collect()
    }

    /// The outage of a point, if it has one.
    pub fn outage(&self, p: &Point) -> Option<OutageSpec> {
        let mut o = self.base_outage;
        for (a, &v) in self.axes.iter().zip(&p.values) {
            let val = &a.values[v];
            let num = || val.parse::<f64>().unwrap_or(f64::NAN);
            match a.kind {
                AxisKind::OutageDays => {
                    o.get_or_insert(OutageSpec {
                        start_day: f64::NAN,
                        days: 0.0,
                        restart: Restart::All,
                    })
                    .days = num()
                }
                AxisKind::OutageStartDay => {
                    o.get_or_insert(OutageSpec {
                        start_day: 0.0,
                        days: f64::NAN,
                        restart: Restart::All,
                    })
                    .start_day = num()
                }
                _ => {}
            }
        }
        o
    }

    /// The scenario of a point (before the seed and the restart-time parameter).
    pub fn scenario(&self, p: &Point) -> Result<Scenario, String> {
        let mut sc = self.base.clone();
        let mut restart = None;
        for (a, &v) in self.axes.iter().zip(&p.values) {
            let val = &a.values[v];
            let ctx = |e: String| format!("--sweep {}={val}: {e}", a.key);
            match &a.kind {
                AxisKind::Param(name) => sc.set_param(&format!("{name}={val}")).map_err(ctx)?,
                AxisKind::Calib(name) => {
                    let x: f64 = val
                        .parse()
                        .map_err(|_| ctx("a calibration value is a number".into()))?;
                    sc.calibration.set(name, x).map_err(ctx)?;
                }
                AxisKind::Days => {
                    let d: u32 = val
                        .parse()
                        .ok()
                        .filter(|d| *d > 0)
                        .ok_or_else(|| ctx("days are a whole number of at least 1".into()))?;
                    if let Some(e) = hrsi_sim::config::days_refusal(u64::from(d)) {
                        return Err(ctx(e));
                    }
                    sc.days = d;
                }
                AxisKind::Restart => {
                    restart = Some(match val.as_str() {
                        "all" => Restart::All,
                        "waves" => Restart::Waves,
                        _ => return Err(ctx("the restart plans are `all` and `waves`".into())),
                    })
                }
                AxisKind::GfscStartDate => {
                    if !matches!(val.as_str(), "set" | "unset") {
                        return Err(ctx(
                            "`set` (at the restart, to the day before the outage) or `unset`"
                                .into(),
                        ));
                    }
                }
                AxisKind::OutageDays | AxisKind::OutageStartDay => {
                    val.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| ctx("a number of days".into()))?;
                }
            }
        }
        match self.outage(p) {
            Some(mut o) => {
                if o.start_day.is_nan() || o.days.is_nan() {
                    return Err(format!(
                        "the sweep changes the outage but no outage is given (hint: add \
                         --outage-start-day D and --outage-days D, or sweep both \
                         scenario.outage_start_day and scenario.outage_days); {}",
                        self.labels(p)
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if let Some(r) = restart {
                    o.restart = r;
                }
                sc.set_outage(o.start_day, o.days, o.restart)?;
            }
            None if restart.is_some() => {
                return Err(
                    "scenario.restart needs an outage (hint: add --outage-start-day and \
                     --outage-days)"
                        .into(),
                );
            }
            None => {}
        }
        Ok(sc)
    }

    /// Whether a point sets `gfsc_daily_jobs_creation_start_date` at the restart.
    fn gfsc_set(&self, p: &Point) -> bool {
        self.axes
            .iter()
            .zip(&p.values)
            .any(|(a, &v)| a.kind == AxisKind::GfscStartDate && a.values[v] == "set")
    }

    /// The simulator config of a point and seed.
    pub fn config(&self, p: &Point, seed: u64) -> Result<Config, String> {
        let sc = self.scenario(p)?;
        let mut cfg = sc.to_sim_config();
        cfg.seed = seed;
        if self.gfsc_set(p) {
            let Some(o) = self.outage(p) else {
                return Err("scenario.gfsc_start_date needs an outage (hint: add \
                            --outage-start-day and --outage-days)"
                    .into());
            };
            set_gfsc_at_restart(&mut cfg, o.start_day)?;
        }
        Ok(cfg)
    }

    fn check_goal(&self) -> Result<(), String> {
        if self
            .inputs
            .within_hours
            .is_some_and(|w| !(w > 0.0 && w.is_finite()))
        {
            return Err("--within must be a positive number of hours".into());
        }
        let Some(goal) = self.inputs.goal else {
            return Ok(());
        };
        let has = |k: &str| self.axis(k).is_some();
        let need_outage = || {
            let steps = matches!(&self.base.plan, ScenarioPlan::Steps(s) if !s.is_empty());
            if steps && matches!(goal, Goal::Restart | Goal::GfscStartDate) {
                return Err(format!(
                    "--goal {} varies the outage or its restart, but `{}` is written as steps \
                     (hint: plan from a scenario with `outages:`, or from none with \
                     --outage-start-day and --outage-days)",
                    goal.name(),
                    self.base.origin
                ));
            }
            // A scenario written as steps has its own stop and restart.
            if !steps && self.points.iter().all(|p| self.outage(p).is_none()) {
                Err(format!(
                    "--goal {} needs an outage (hint: add --outage-start-day 3 --outage-days 5, \
                     or a scenario file with one outage)",
                    goal.name()
                ))
            } else {
                Ok(())
            }
        };
        match goal {
            Goal::WorkerCap => {
                if !has("param.max_number_of_worker_instances") {
                    return Err(
                        "--goal worker-cap needs the caps to try (hint: add --sweep \
                                param.max_number_of_worker_instances=20..210:10)"
                            .into(),
                    );
                }
                if self.inputs.within_hours.is_none() {
                    return Err(
                        "--goal worker-cap needs a deadline (hint: add --within 48, hours \
                                from the restart)"
                            .into(),
                    );
                }
                need_outage()
            }
            Goal::SearchWindow => {
                if super::goals::window_axis(self).is_none() {
                    return Err(
                        "--goal search-window needs the windows to try (hint: add --sweep \
                                param.rlies1s2_max_search_window_days=3..31:2)"
                            .into(),
                    );
                }
                need_outage()
            }
            Goal::OutageLimit => {
                if !has("scenario.outage_days") {
                    return Err(
                        "--goal outage-limit needs the outage lengths to try (hint: add \
                                --sweep scenario.outage_days=1..15 and --outage-start-day 3)"
                            .into(),
                    );
                }
                need_outage()
            }
            Goal::GfscStartDate | Goal::Restart => need_outage(),
        }
    }

    /// The command that reproduces the plan (scenario and calibration files by the names
    /// given; shards and outputs left out).
    pub fn command(&self) -> String {
        let i = &self.inputs;
        let mut c = vec!["hrsi".to_owned(), "plan".to_owned()];
        if let Some(s) = &i.scenario {
            c.push(quote(&s.origin));
        }
        let mut opt = |k: &str, v: String| {
            c.push(k.to_owned());
            c.push(quote(&v));
        };
        if let Some(f) = &i.calibration_file {
            opt("--calibration", f.clone());
        }
        if let Some(d) = i.days {
            opt("--days", d.to_string());
        }
        if let Some(s) = &i.start {
            opt("--start", s.clone());
        }
        if let Some(s) = i.outage_start_day {
            opt("--outage-start-day", s.to_string());
        }
        if let Some(s) = i.outage_days {
            opt("--outage-days", s.to_string());
        }
        if let Some(r) = i.restart {
            opt("--restart", restart_name(r).to_owned());
        }
        for s in &i.set {
            opt("--set", s.clone());
        }
        for f in &i.fidelity {
            opt("--fidelity", f.clone());
        }
        for s in &i.sweeps {
            opt("--sweep", s.clone());
        }
        if let Some(s) = &i.seeds {
            opt("--seeds", s.clone());
        } else {
            if let Some(s) = i.seed {
                opt("--seed", s.to_string());
            }
            if let Some(r) = i.replications {
                opt("--replications", r.to_string());
            } else if i.auto {
                opt("--replications", "auto".to_owned());
            }
        }
        if let Some(m) = i.max_runs {
            opt("--max-runs", m.to_string());
        }
        if let Some(p) = i.probability {
            opt("--probability", p.to_string());
        }
        if let Some(c) = i.confidence {
            opt("--confidence", c.to_string());
        }
        if let Some(g) = i.goal {
            opt("--goal", g.name().to_owned());
        }
        if let Some(w) = i.within_hours {
            opt("--within", w.to_string());
        }
        c.join(" ")
    }
}

/// `--probability` and `--confidence`, checked: both strictly between 0 and 1.
fn level(inputs: &PlanInputs) -> Result<Level, String> {
    let d = Level::default();
    let check = |name: &str, v: Option<f64>, default: f64| match v {
        None => Ok(default),
        Some(x) if x > 0.0 && x < 1.0 => Ok(x),
        Some(x) => Err(format!(
            "--{name} {x} is not a probability strictly between 0 and 1 (hint: --{name} 0.95)"
        )),
    };
    Ok(Level {
        probability: check("probability", inputs.probability, d.probability)?,
        confidence: check("confidence", inputs.confidence, d.confidence)?,
    })
}

/// The goal's own axes, when the user did not sweep them: the two restart plans, or the date
/// set and unset.
fn add_goal_axes(inputs: &PlanInputs, axes: &mut Vec<Axis>) {
    let (key, kind, values) = match inputs.goal {
        Some(Goal::Restart) => ("scenario.restart", AxisKind::Restart, ["all", "waves"]),
        Some(Goal::GfscStartDate) => (
            "scenario.gfsc_start_date",
            AxisKind::GfscStartDate,
            ["unset", "set"],
        ),
        _ => return,
    };
    if !axes.iter().any(|a| a.key == key) {
        axes.push(Axis {
            key: key.to_owned(),
            kind,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        });
    }
}

/// The name of a restart plan on the command line.
pub fn restart_name(r: Restart) -> &'static str {
    match r {
        Restart::All => "all",
        Restart::Waves => "waves",
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Sets `gfsc_daily_jobs_creation_start_date` in the same breath as the restart, as the
/// runbook asks: to the day before the outage's first day, so the night pass walks every day
/// the outage may have missed (an outage starting at midnight also misses the previous day,
/// whose pass runs just after midnight; redoing a covered day loses nothing). Setting it at the
/// start instead would stop the daily jobs of the days before the outage.
fn set_gfsc_at_restart(cfg: &mut Config, start_day: f64) -> Result<(), String> {
    let Some(stop) = cfg.steps.iter().position(|s| s.action == Action::Stop) else {
        return Err("scenario.gfsc_start_date=set needs an outage".into());
    };
    let next = stop + 1;
    if next >= cfg.steps.len() {
        return Err("scenario.gfsc_start_date=set needs a restart after the outage".into());
    }
    let day: Ms = (start_day.floor() as Ms - 1) * DAY;
    let date = Instant(cfg.start.0 + day).date();
    let after = std::mem::replace(&mut cfg.steps[next].after, 0);
    cfg.steps.insert(
        next,
        Step {
            caught_up: vec![],
            after,
            action: Action::SetParam {
                name: "gfsc_daily_jobs_creation_start_date".into(),
                value: date,
            },
        },
    );
    Ok(())
}

/// The point labels as a map (JSON).
pub fn label_map(labels: &[(String, String)]) -> BTreeMap<String, String> {
    labels.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(sweeps: &[&str]) -> PlanInputs {
        PlanInputs {
            days: Some(6),
            outage_start_day: Some(2.0),
            outage_days: Some(1.0),
            sweeps: sweeps.iter().map(|s| (*s).to_owned()).collect(),
            replications: Some(2),
            ..PlanInputs::default()
        }
    }

    #[test]
    fn points_are_the_cartesian_product_first_axis_slowest() {
        let p = Plan::new(inputs(&[
            "param.max_number_of_worker_instances=20,40",
            "scenario.restart=all,waves",
            "calib.fsc_rlie_minutes=30,40,60",
        ]))
        .unwrap();
        assert_eq!(p.points.len(), 12);
        assert_eq!(p.points[1].values, [0, 0, 1]);
        assert_eq!(p.points[3].values, [0, 1, 0]);
        assert_eq!(p.seeds, [1, 2]);
        let cfg = p.config(&p.points[11], 2).unwrap();
        assert_eq!(cfg.seed, 2);
        assert_eq!(cfg.params.int("max_number_of_worker_instances"), Some(40));
        assert_eq!(cfg.calibration.fsc_rlie_minutes, 60.0);
        assert!(cfg.steps.len() > 2, "waves have more steps than stop/start");
    }

    #[test]
    fn values_are_checked_before_anything_runs() {
        let e = Plan::new(inputs(&["param.max_number_of_worker_instances=20,many"])).unwrap_err();
        assert!(e.contains("expected an integer"), "{e}");
        let e = Plan::new(inputs(&["calib.fsc_rlie_minute=30"])).unwrap_err();
        assert!(e.contains("did you mean `fsc_rlie_minutes`"), "{e}");
        let e = Plan::new(inputs(&["scenario.outage_days=1,9"])).unwrap_err();
        assert!(e.contains("after the horizon"), "{e}");
        let e = Plan::new(inputs(&["scenario.restart=all,later"])).unwrap_err();
        assert!(e.contains("`all` and `waves`"), "{e}");
    }

    #[test]
    fn gfsc_date_is_set_at_the_restart_to_the_day_before_the_outage() {
        let mut i = inputs(&[]);
        i.goal = Some(Goal::GfscStartDate);
        let p = Plan::new(i).unwrap();
        let set = p.points.iter().find(|x| p.gfsc_set(x)).unwrap();
        let cfg = p.config(set, 1).unwrap();
        let pos = cfg
            .steps
            .iter()
            .position(|s| matches!(&s.action, Action::SetParam { name, .. } if name == "gfsc_daily_jobs_creation_start_date"))
            .unwrap();
        assert_eq!(cfg.steps[pos - 1].action, Action::Stop);
        assert_eq!(cfg.steps[pos].after, DAY, "set when the outage ends");
        assert_eq!(cfg.steps[pos + 1].after, 0);
        assert_eq!(
            cfg.steps[pos].action,
            Action::SetParam {
                name: "gfsc_daily_jobs_creation_start_date".into(),
                value: "2025-01-07".into()
            }
        );
    }
}
