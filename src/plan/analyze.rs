//! From run records to what people read: per point, means with 95 % intervals over the seeds,
//! the runs that never caught up, the share meeting `--within`; then the goal's answer.

use std::collections::BTreeMap;

use hrsi_sim::Calibration;
use serde::Serialize;

use super::exec::RunRecord;
use super::goals::{self, GoalResult};
use super::stats::{Level, Mean, Proportion, Spread, mean, proportion, spread};
use super::sweep::{Plan, label_map};

/// One point of the sweep, summarised over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointSummary {
    /// Position in the sweep.
    pub index: usize,
    /// Axis values.
    pub values: BTreeMap<String, String>,
    /// Runs (seeds).
    pub runs: usize,
    /// Runs with a restart (an outage).
    pub restarted: usize,
    /// Runs whose production never came back before the horizon (of those with a restart).
    pub never_recovered: usize,
    /// Recovery hours (design/simulation.md, "Recovery"): median and quantiles over the runs
    /// with a restart, a run that never recovers counted as +infinity.
    pub recovery: Option<Spread>,
    /// Mean recovery hours with its 95 % interval: only when every run recovered (a mean of
    /// the others would drop the runs that never did).
    pub recovery_hours: Option<Mean>,
    /// Runs recovered within `--within` hours (a run that never recovers does not), and what
    /// they support.
    pub within: Option<Proportion>,
    /// Mean units lost per reason.
    pub lost_by_reason: BTreeMap<String, f64>,
    /// What the outage cost per type, in that type's unit ([`unit_of`]): units lost beyond
    /// the baseline's (same seed, no outage), paired per seed; the interval is not cut at 0.
    pub outage_lost_by_type: BTreeMap<String, Mean>,
    /// Types whose baseline is not at NRT in some run (their recovery is never defined).
    pub baseline_not_at_nrt: Vec<String>,
    /// Most worker VMs at once.
    pub peak_workers: Option<Mean>,
    /// Worker VM hours.
    pub worker_hours: Option<Mean>,
    /// Re-dispatches (jobs the monitor re-queued).
    pub redispatches: Option<Mean>,
    /// Runs where a step of the plan never ran (a wave that never came).
    pub runs_with_steps_not_run: usize,
}

/// Everything `hrsi plan` reports (the JSON document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The question asked.
    pub question: String,
    /// The command that reproduces this plan.
    pub command: String,
    /// Axes and their values, in order.
    pub axes: Vec<AxisSummary>,
    /// Seeds used: every point runs the first n of these (common random numbers).
    pub seeds: Vec<u64>,
    /// The runs spent, and where.
    pub runs: RunsSpent,
    /// The probability and confidence of every claim.
    #[serde(serialize_with = "level_json")]
    pub level: Level,
    /// The deadline for "back in time", hours from the restart.
    pub within_hours: Option<f64>,
    /// Every point.
    pub points: Vec<PointSummary>,
    /// The goal's answer.
    pub goal: Option<GoalResult>,
    /// The base world: horizon, outage, parameters changed at the start.
    pub base: BaseSummary,
    /// The calibration used (before calibration axes).
    pub calibration: Calibration,
    /// What the calibration's defaults are.
    pub assumptions: &'static str,
}

/// How many runs a plan spent and where (sequential replications spend them unequally).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunsSpent {
    /// `fixed` (every point the same seeds) or `auto` (sequential, up to the budget).
    pub replications: String,
    /// The budget of a sequential plan.
    pub max_runs: Option<u64>,
    /// Runs made (baselines not counted).
    pub total: usize,
    /// Fewest and most runs of a point.
    pub per_point_min: usize,
    /// Most runs of a point.
    pub per_point_max: usize,
    /// What a fixed number of seeds per point would cost to make any claim at
    /// `--probability`/`--confidence`: points × the fewest runs that can show it (59 at
    /// 95 %/95 %).
    /// `None` for the restart comparison and without a goal (no proportion to show).
    pub fixed_equivalent: Option<u64>,
    /// That fewest number of runs per point.
    pub fixed_per_point: u64,
}

/// The fewest runs, all meeting the goal, that show `probability` at `confidence`.
pub fn fewest_runs(level: Level) -> u64 {
    super::stats::runs_to_settle(
        0,
        0,
        level.probability,
        level.confidence,
        super::stats::SETTLE_LIMIT,
    )
    .unwrap_or(super::stats::SETTLE_LIMIT)
}

/// An axis and its values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AxisSummary {
    /// `param.NAME`, `calib.NAME` or `scenario.X`.
    pub key: String,
    /// Its values.
    pub values: Vec<String>,
}

/// The base world of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseSummary {
    /// Where it comes from.
    pub scenario: String,
    /// Start of the reported period.
    pub start: String,
    /// Horizon, days.
    pub days: u32,
    /// The outage, in words.
    pub outage: String,
    /// System parameters changed from their SQL defaults at the start.
    pub system_parameters: BTreeMap<String, String>,
}

/// Summarises the records of a plan and answers its goal.
pub fn analyze(plan: &Plan, records: &[RunRecord]) -> Analysis {
    let within = plan.inputs.within_hours;
    let mut by_point: Vec<Vec<&RunRecord>> = vec![Vec::new(); plan.points.len()];
    for r in records {
        by_point[r.point].push(r);
    }
    let points: Vec<PointSummary> = plan
        .points
        .iter()
        .map(|p| {
            summarise(
                p.index,
                label_map(&plan.labels(p)),
                &by_point[p.index],
                within,
                plan.level,
            )
        })
        .collect();
    let max_n = by_point.iter().map(Vec::len).max().unwrap_or(0);
    let goal = plan
        .inputs
        .goal
        .map(|g| goals::answer(g, plan, &points, &by_point));
    let base = &plan.base;
    let outage = match plan.base_outage {
        Some(o) => {
            let n = |x: f64| {
                if x.is_nan() {
                    "(swept)".to_owned()
                } else {
                    x.to_string()
                }
            };
            format!(
                "{} day(s) from day {}, restart {}{}",
                n(o.days),
                n(o.start_day),
                super::sweep::restart_name(o.restart),
                if plan.outage_from_steps {
                    " (read from the scenario's steps)"
                } else {
                    ""
                }
            )
        }
        None => "none".to_owned(),
    };
    Analysis {
        question: goals::question(plan),
        command: plan.command(),
        axes: plan
            .axes
            .iter()
            .map(|a| AxisSummary {
                key: a.key.clone(),
                values: a.values.clone(),
            })
            .collect(),
        seeds: plan.seeds[..max_n.min(plan.seeds.len())].to_vec(),
        runs: RunsSpent {
            replications: if plan.sequential.is_some() {
                "auto"
            } else {
                "fixed"
            }
            .to_owned(),
            max_runs: plan.sequential,
            total: records.len(),
            per_point_min: by_point.iter().map(Vec::len).min().unwrap_or(0),
            per_point_max: max_n,
            fixed_equivalent: matches!(
                plan.inputs.goal,
                Some(g) if g != super::sweep::Goal::Restart
            )
            .then(|| fewest_runs(plan.level) * plan.points.len() as u64),
            fixed_per_point: fewest_runs(plan.level),
        },
        within_hours: within,
        level: plan.level,
        points,
        goal,
        base: BaseSummary {
            scenario: base.name.clone().unwrap_or_else(|| base.origin.clone()),
            start: base.start.iso(),
            days: base.days,
            outage,
            system_parameters: base
                .params
                .changed()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_string()))
                .collect(),
        },
        calibration: base.calibration.clone(),
        assumptions: hrsi_sim::calibration::ASSUMPTIONS,
    }
}

fn level_json<S: serde::Serializer>(l: &Level, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Level", 2)?;
    st.serialize_field("probability", &l.probability)?;
    st.serialize_field("confidence", &l.confidence)?;
    st.end()
}

/// The unit a type's inputs and losses are counted in (design/simulation.md, "Lost"): units
/// of different types are never added together in a per-type figure.
pub fn unit_of(ty: &str) -> &'static str {
    match ty {
        "fsc_rlie_job" => "L1C",
        "rlies1_job" => "GRD",
        "sws_wds_job" => "S1 assembly",
        "rlies1s2_job" => "tile-day",
        "gfsc_job" => "GFSC trigger or daily tile-day",
        _ => "unit",
    }
}

/// Whether a run's production was back within the deadline (never = no).
pub fn met(r: &RunRecord, within: f64) -> bool {
    r.recovery_hours.is_some_and(|h| h <= within)
}

fn summarise(
    index: usize,
    values: BTreeMap<String, String>,
    runs: &[&RunRecord],
    within: Option<f64>,
    level: Level,
) -> PointSummary {
    let f = |g: &dyn Fn(&RunRecord) -> f64| mean(&runs.iter().map(|r| g(r)).collect::<Vec<_>>());
    let restarted: Vec<&&RunRecord> = runs.iter().filter(|r| r.restarted).collect();
    let caught: Vec<f64> = restarted.iter().filter_map(|r| r.recovery_hours).collect();
    let times: Vec<Option<f64>> = restarted.iter().map(|r| r.recovery_hours).collect();
    let mut reasons: BTreeMap<String, f64> = BTreeMap::new();
    for r in runs {
        for (k, v) in &r.lost_by_reason {
            *reasons.entry(k.clone()).or_default() += *v as f64;
        }
    }
    for v in reasons.values_mut() {
        *v = super::stats::round2(*v / runs.len().max(1) as f64);
    }
    PointSummary {
        index,
        values,
        runs: runs.len(),
        restarted: restarted.len(),
        never_recovered: restarted.len() - caught.len(),
        recovery: spread(&times),
        recovery_hours: if caught.len() == restarted.len() {
            mean(&caught)
        } else {
            None
        },
        within: within.filter(|_| !restarted.is_empty()).map(|w| {
            proportion(
                restarted.iter().filter(|r| met(r, w)).count(),
                restarted.len(),
                level,
            )
        }),
        lost_by_reason: reasons,
        outage_lost_by_type: hrsi_sim::job_type::ALL_TYPES
            .iter()
            .filter_map(|t| {
                let d: Vec<f64> = runs
                    .iter()
                    .map(|r| r.outage_lost(t.name()) as f64)
                    .collect();
                Some((t.name().to_owned(), super::stats::mean_signed(&d)?))
            })
            .collect(),
        baseline_not_at_nrt: runs
            .iter()
            .flat_map(|r| r.baseline_not_at_nrt.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        peak_workers: f(&|r| r.peak_workers as f64),
        worker_hours: f(&|r| r.worker_hours),
        redispatches: f(&|r| r.redispatches as f64),
        runs_with_steps_not_run: runs.iter().filter(|r| r.steps_not_run > 0).count(),
    }
}
