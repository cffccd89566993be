//! Sequential replications (`--replications auto`, the default with a goal): seeds are added
//! only where they can still change the answer, up to a budget (`--max-runs`), in the spirit
//! of ranking-and-selection and optimal computing budget allocation.
//!
//! Every point starts with [`FIRST_ROUND`] seeds. After each round, a point that clearly meets
//! the goal (Clopper-Pearson lower bound ≥ `--probability`) or clearly fails it (upper bound
//! below) stops, and so does every point the answer no longer depends on (for the worker cap:
//! every cap at or below one that clearly fails). The open points get more seeds, doubling
//! their runs but never past what would settle them if every new run met the goal. Seeds are
//! common random numbers: every point runs seeds `SEED, SEED+1, …` in that order, so the first
//! n runs of any two points are paired.

use super::exec::{RunRecord, Work};
use super::goals;
use super::sweep::Plan;

/// Seeds every point runs in the first round.
pub const FIRST_ROUND: u64 = 4;

/// The next round: (point, seed) pairs, empty when the answer is settled or the budget spent.
pub fn next_round(plan: &Plan, records: &[RunRecord]) -> Vec<(usize, u64)> {
    let Some(budget) = plan.sequential else {
        return Vec::new();
    };
    let mut by_point: Vec<Vec<&RunRecord>> = vec![Vec::new(); plan.points.len()];
    for r in records {
        by_point[r.point].push(r);
    }
    let spent = records.len() as u64;
    let mut left = budget.saturating_sub(spent);
    let want: Vec<(usize, u64)> = if records.is_empty() {
        plan.points.iter().map(|p| (p.index, FIRST_ROUND)).collect()
    } else {
        goals::open_points(plan, &by_point)
            .into_iter()
            .map(|(p, settle)| {
                let n = by_point[p].len() as u64;
                let double = n.max(FIRST_ROUND);
                (p, settle.map_or(double, |s| s.clamp(1, double)))
            })
            .collect()
    };
    // Paired points (the restart comparison) are given the same seeds: cut them alike.
    let paired = plan.inputs.goal == Some(super::Goal::Restart);
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < want.len() && left > 0 {
        let chunk: &[(usize, u64)] = if paired && i + 1 < want.len() {
            &want[i..i + 2]
        } else {
            &want[i..i + 1]
        };
        let per = chunk[0].1.min(left / chunk.len() as u64);
        for &(p, _) in chunk {
            let n = by_point[p].len();
            let end = (n + per as usize).min(plan.seeds.len());
            pairs.extend(plan.seeds[n..end].iter().map(|&s| (p, s)));
            left -= (end - n) as u64;
        }
        if per == 0 {
            break;
        }
        i += chunk.len();
    }
    pairs
}

/// Runs a sequential plan round by round with `execute` (the caller's pool and progress bar);
/// returns every record, sorted by point and seed, and the number of rounds.
pub fn run(
    plan: &Plan,
    execute: &mut dyn FnMut(&Work) -> Vec<RunRecord>,
) -> Result<(Vec<RunRecord>, usize), String> {
    let mut records: Vec<RunRecord> = Vec::new();
    let mut rounds = 0;
    loop {
        let pairs = next_round(plan, &records);
        if pairs.is_empty() {
            break;
        }
        let work = Work::of(plan, &pairs, None)?;
        records.extend(execute(&work));
        rounds += 1;
    }
    records.sort_by_key(|r| (r.point, r.seed));
    Ok((records, rounds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::goals::testing::rec;
    use crate::plan::sweep::{Goal, PlanInputs};

    fn plan(max_runs: u64) -> Plan {
        Plan::new(PlanInputs {
            days: Some(6),
            outage_start_day: Some(2.0),
            outage_days: Some(2.0),
            sweeps: vec!["param.max_number_of_worker_instances=20,40,60,80".into()],
            goal: Some(Goal::WorkerCap),
            within_hours: Some(48.0),
            max_runs: Some(max_runs),
            ..PlanInputs::default()
        })
        .expect("valid plan")
    }

    /// A fake world: caps 20 and 40 never recover in time, 60 and 80 always do.
    fn simulate(pairs: &[(usize, u64)]) -> Vec<RunRecord> {
        pairs
            .iter()
            .map(|&(p, s)| rec(p, s, if p >= 2 { Some(10.0) } else { Some(99.0) }))
            .collect()
    }

    #[test]
    fn clear_points_stop_early_and_the_boundary_gets_the_runs() {
        let p = plan(5_000);
        assert_eq!(p.sequential, Some(5_000), "auto is the default with a goal");
        let mut records = Vec::new();
        let mut rounds = 0;
        loop {
            let r = next_round(&p, &records);
            if r.is_empty() {
                break;
            }
            records.extend(simulate(&r));
            rounds += 1;
            assert!(rounds < 20, "sequential replications terminate");
        }
        let n = |point: usize| records.iter().filter(|r| r.point == point).count();
        // Common random numbers: every point ran the first n seeds, in order.
        for point in 0..4 {
            let seeds: Vec<u64> = records
                .iter()
                .filter(|r| r.point == point)
                .map(|r| r.seed)
                .collect();
            assert_eq!(seeds, p.seeds[..n(point)]);
        }
        // 20 and 40 fail clearly after the first round; 60 and 80 need 59 each to show 95 %.
        assert_eq!((n(0), n(1), n(2), n(3)), (4, 4, 59, 59));
        let a = crate::plan::analyze(&p, &records);
        let ans = &a.goal.expect("goal").answers[0];
        assert_eq!(ans.value.as_deref(), Some("60"), "{}", ans.text);
        assert_eq!(a.runs.total, 126);
        assert_eq!(a.runs.fixed_equivalent, Some(4 * 59));
    }

    #[test]
    fn a_restart_comparison_stops_when_decided_or_at_its_most_runs() {
        let p = Plan::new(PlanInputs {
            days: Some(6),
            outage_start_day: Some(2.0),
            outage_days: Some(2.0),
            goal: Some(Goal::Restart),
            ..PlanInputs::default()
        })
        .expect("valid plan");
        // waves always 10 h slower but exactly as costly: "sooner" is decided at once,
        // "cheaper" never is.
        let sim = |pairs: &[(usize, u64)]| -> Vec<RunRecord> {
            pairs
                .iter()
                .map(|&(pt, s)| {
                    let mut r = rec(pt, s, Some(20.0 + 10.0 * pt as f64 + (s % 3) as f64));
                    r.worker_hours =
                        100.0 + (s % 5) as f64 + if s % 2 == 0 { 1.0 } else { -1.0 } * pt as f64;
                    r
                })
                .collect()
        };
        let mut records = Vec::new();
        loop {
            let r = next_round(&p, &records);
            if r.is_empty() {
                break;
            }
            records.extend(sim(&r));
        }
        let n = |pt: usize| records.iter().filter(|r| r.point == pt).count();
        assert_eq!(n(0), n(1), "paired: both plans run the same seeds");
        assert_eq!(n(0), crate::plan::goals::RESTART_MOST_RUNS);
        let a = crate::plan::analyze(&p, &records);
        let ans = &a.goal.expect("goal").answers[0];
        assert!(
            ans.text.starts_with("production back sooner: all"),
            "{}",
            ans.text
        );
    }

    #[test]
    fn the_budget_is_never_exceeded() {
        let p = plan(40);
        let mut records = Vec::new();
        loop {
            let r = next_round(&p, &records);
            if r.is_empty() {
                break;
            }
            records.extend(simulate(&r));
        }
        assert_eq!(records.len(), 40);
        let a = crate::plan::analyze(&p, &records);
        let ans = &a.goal.expect("goal").answers[0];
        assert_eq!(ans.value, None, "40 runs cannot show 95 %: {}", ans.text);
        assert_eq!(ans.candidate.as_deref(), Some("60"));
        assert!(ans.more_runs.is_some());
    }
}
