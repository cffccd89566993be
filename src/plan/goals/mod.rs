//! The questions `--goal` answers, each claim made as design/simulation.md ("Confidence")
//! defines it: only when the one-sided Clopper-Pearson lower bound of the probability that a run
//! meets the goal is at least `--probability` at `--confidence`. Otherwise the answer says what
//! the runs support and how many more runs would settle it. A run that never recovers does not
//! meet a deadline.
//!
//! A goal is answered for each combination of the other axes (a "group"), so sweeping a
//! calibration value alongside the worker cap gives one cap per calibration.

mod outage;
mod restart;
mod threshold;

use std::collections::BTreeMap;

use serde::Serialize;

use super::analyze::PointSummary;
use super::exec::RunRecord;
use super::stats::{Mean, Proportion, Verdict, pct, proportion};
use super::sweep::{Goal, Plan};

pub use threshold::window_axis;

/// Losses that happen in nominal production too (errors): not caused by an outage, so no
/// window, date or worker count can avoid them.
pub const ERROR_REASONS: [&str; 3] = ["failed", "stuck_in_external_error", "input_failed"];

/// The answer to a goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalResult {
    /// `--goal`.
    pub goal: Goal,
    /// One answer per combination of the other axes.
    pub answers: Vec<Answer>,
    /// The point whose plan is plotted (backlog over time): the first answer's.
    pub chosen_point: Option<usize>,
}

/// The answer for one combination of the other axes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The other axes' values.
    pub group: BTreeMap<String, String>,
    /// The answer's value (a cap, a window, `set`, a restart plan, a length), when the runs
    /// support it at the required probability and confidence.
    pub value: Option<String>,
    /// The value the runs point to without supporting it at the required level yet.
    pub candidate: Option<String>,
    /// The answer in a sentence, with its evidence.
    pub text: String,
    /// The point the answer recommends (or the candidate's, or the best one).
    pub point: Option<usize>,
    /// Runs meeting the goal at that point, and what they support.
    pub confidence: Option<Proportion>,
    /// More runs (all meeting the goal) that would settle the candidate, over every point it
    /// depends on; `None` when settled or out of reach.
    pub more_runs: Option<u64>,
}

impl Answer {
    fn new(group: BTreeMap<String, String>, text: String) -> Answer {
        Answer {
            group,
            value: None,
            candidate: None,
            text,
            point: None,
            confidence: None,
            more_runs: None,
        }
    }
}

/// The question, in words.
pub fn question(plan: &Plan) -> String {
    let outage = match plan.base_outage {
        Some(o) if plan.axis("scenario.outage_days").is_none() && !o.days.is_nan() => {
            format!("a {}-day outage", o.days)
        }
        _ => "the outage".to_owned(),
    };
    let level = format!(
        "in at least {} of runs, with {} confidence",
        pct(plan.level.probability),
        pct(plan.level.confidence)
    );
    match plan.inputs.goal {
        None => "How do the swept settings change recovery, losses and cost?".to_owned(),
        Some(Goal::WorkerCap) => format!(
            "What is the smallest max_number_of_worker_instances that has production back to \
             near-real-time within {} h of the restart after {outage}, {level}?",
            plan.inputs.within_hours.unwrap_or(f64::NAN)
        ),
        Some(Goal::SearchWindow) => format!(
            "What is the smallest {} that loses no RLIE-S1-S2 tile-day outside the search window \
             after {outage}, {level}?",
            window_axis(plan)
                .map(|a| plan.axes[a].key.trim_start_matches("param.").to_owned())
                .unwrap_or_default()
        ),
        Some(Goal::GfscStartDate) => format!(
            "Must gfsc_daily_jobs_creation_start_date be set at the restart after {outage} so \
             that no daily GFSC job is lost ({level})?"
        ),
        Some(Goal::Restart) => format!(
            "After {outage}, which restart plan (all at once, or the runbook's waves) has \
             production back sooner, and which is cheaper in worker-hours?"
        ),
        Some(Goal::OutageLimit) => format!(
            "Beyond which outage length are products lost whatever the number of workers \
             ({level})?"
        ),
    }
}

/// Groups of points that differ only in the excluded axes, in sweep order.
fn groups(plan: &Plan, exclude: &[usize]) -> Vec<(BTreeMap<String, String>, Vec<usize>)> {
    let mut out: Vec<(BTreeMap<String, String>, Vec<usize>)> = Vec::new();
    for p in &plan.points {
        let key: BTreeMap<String, String> = plan
            .labels(p)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !exclude.contains(i))
            .map(|(_, kv)| kv)
            .collect();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(p.index),
            None => out.push((key, vec![p.index])),
        }
    }
    out
}

/// Points of a group sorted by the axis's numeric value (words keep their order).
fn by_value(plan: &Plan, axis: usize, points: &[usize]) -> Vec<usize> {
    let mut v = points.to_vec();
    v.sort_by(|a, b| {
        let x = |p: usize| plan.axes[axis].number(plan.points[p].values[axis]);
        x(*a)
            .partial_cmp(&x(*b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    v
}

fn value(plan: &Plan, axis: usize, point: usize) -> String {
    plan.axes[axis].values[plan.points[point].values[axis]].clone()
}

fn fmt_mean(m: &Option<Mean>, unit: &str) -> String {
    match m {
        Some(m) if m.n > 1 => format!("{}{unit} (95 % CI {}–{})", m.mean, m.lo, m.hi),
        Some(m) => format!("{}{unit}", m.mean),
        None => "–".to_owned(),
    }
}

fn lost_for(r: &RunRecord, reasons: &dyn Fn(&str) -> bool) -> u64 {
    r.lost_by_reason
        .iter()
        .filter(|(k, _)| reasons(k))
        .map(|(_, v)| v)
        .sum()
}

/// Whether the observed share reaches the probability without the runs showing it fails: the
/// value the runs point to, before they support it.
fn promising(p: &Proportion) -> bool {
    p.n > 0 && p.share >= p.probability && p.verdict != Verdict::Fails
}

/// Answers a goal from the summaries and the records (by point, sorted by seed).
pub fn answer(
    goal: Goal,
    plan: &Plan,
    points: &[PointSummary],
    runs: &[Vec<&RunRecord>],
) -> GoalResult {
    let answers = match goal {
        Goal::WorkerCap => threshold::worker_cap(plan, points, runs),
        Goal::SearchWindow => threshold::search_window(plan, runs),
        Goal::GfscStartDate => restart::gfsc(plan, runs),
        Goal::Restart => restart::restart(plan, points, runs),
        Goal::OutageLimit => outage::outage_limit(plan, runs),
    };
    GoalResult {
        goal,
        chosen_point: answers.iter().find_map(|a| a.point),
        answers,
    }
}

/// Runs per restart plan after which the sequential replications stop comparing: two plans
/// whose paired difference is still not significant then differ by less than the runs'
/// spread, and the answer says "no significant difference" with its interval.
pub const RESTART_MOST_RUNS: usize = 64;

/// Whether a run meets a proportion goal (`None` for the restart comparison, which is not one).
fn meets(plan: &Plan, goal: Goal, r: &RunRecord) -> Option<bool> {
    match goal {
        Goal::WorkerCap => Some(super::analyze::met(
            r,
            plan.inputs.within_hours.unwrap_or(0.0),
        )),
        Goal::SearchWindow => Some(threshold::window_clean(r)),
        Goal::GfscStartDate => Some(restart::daily_clean(r)),
        Goal::OutageLimit => Some(outage::no_outage_loss(r)),
        Goal::Restart => None,
    }
}

/// The points whose further runs can still change the goal's answer, with the runs each
/// would need (all meeting the goal) to settle it (for the sequential replications, group by
/// group). A point that clearly meets or clearly fails is closed; so is, for the threshold
/// goals, every point at or below a value that clearly fails.
pub fn open_points(plan: &Plan, runs: &[Vec<&RunRecord>]) -> Vec<(usize, Option<u64>)> {
    let Some(goal) = plan.inputs.goal else {
        return Vec::new();
    };
    let level = plan.level;
    let prop = |p: usize| {
        let rs: Vec<&&RunRecord> = runs[p]
            .iter()
            .filter(|r| goal != Goal::WorkerCap || r.restarted)
            .collect();
        let k = rs
            .iter()
            .filter(|r| meets(plan, goal, r) == Some(true))
            .count();
        proportion(k, rs.len(), level)
    };
    let mut open: Vec<(usize, Option<u64>)> = Vec::new();
    match goal {
        Goal::WorkerCap | Goal::SearchWindow => {
            let axis = if goal == Goal::WorkerCap {
                plan.axis("param.max_number_of_worker_instances")
            } else {
                window_axis(plan)
            };
            let Some(axis) = axis else {
                return Vec::new();
            };
            for (_, pts) in groups(plan, &[axis]) {
                let order = by_value(plan, axis, &pts);
                let props: Vec<Proportion> = order.iter().map(|&p| prop(p)).collect();
                for i in threshold::open_points(&props) {
                    open.push((order[i], props[i].more_runs));
                }
            }
        }
        Goal::GfscStartDate | Goal::OutageLimit => {
            for p in &plan.points {
                let pr = prop(p.index);
                if pr.verdict == Verdict::Undecided {
                    open.push((p.index, pr.more_runs));
                }
            }
        }
        Goal::Restart => {
            let Some(ax) = plan.axis("scenario.restart") else {
                return Vec::new();
            };
            for (_, pts) in groups(plan, &[ax]) {
                let find = |v: &str| pts.iter().copied().find(|&p| value(plan, ax, p) == v);
                if let (Some(all), Some(waves)) = (find("all"), find("waves"))
                    && runs[all].len() < RESTART_MOST_RUNS
                    && !restart::restart_decided(&runs[all], &runs[waves])
                {
                    open.push((all, None));
                    open.push((waves, None));
                }
            }
        }
    }
    // In group order: the two plans of a restart comparison stay next to each other, so a
    // budget that runs out cuts them alike (paired seeds).
    open
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::plan::exec::RunRecord;
    use crate::plan::sweep::{Goal, Plan, PlanInputs};

    pub fn plan(sweeps: &[&str], goal: Goal, replications: u32) -> Plan {
        Plan::new(PlanInputs {
            days: Some(6),
            outage_start_day: Some(2.0),
            outage_days: Some(2.0),
            sweeps: sweeps.iter().map(|s| (*s).to_owned()).collect(),
            replications: Some(replications),
            goal: Some(goal),
            within_hours: Some(48.0),
            ..PlanInputs::default()
        })
        .expect("valid plan")
    }

    pub fn rec(point: usize, seed: u64, recovery: Option<f64>) -> RunRecord {
        RunRecord {
            point,
            seed,
            restarted: true,
            recovery_hours: recovery,
            peak_workers: 10,
            worker_hours: 100.0 + seed as f64,
            ..RunRecord::default()
        }
    }

    pub fn lost(r: &mut RunRecord, reason: &str, n: u64) {
        r.lost_by_reason.insert(reason.to_owned(), n);
    }
}
