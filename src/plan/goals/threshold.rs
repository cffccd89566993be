//! Goals answered by the smallest swept value from which every larger one meets the goal: the
//! worker cap (production back within `--within` hours of the restart) and the RLIE-S1-S2
//! search window (no tile-day lost outside it).
//!
//! "Every larger one too", because the nominal level behind recovery comes from the baseline
//! with the same parameters (design/simulation.md): a cap too small to keep up even without an
//! outage can look quick to recover.

use std::collections::BTreeMap;

use super::{Answer, by_value, fmt_mean, groups, lost_for, promising, value};
use crate::plan::analyze::{PointSummary, met};
use crate::plan::exec::RunRecord;
use crate::plan::stats::{Proportion, mean, pct, proportion};
use crate::plan::sweep::Plan;

/// The swept RLIE-S1-S2 window axis, if any (the search-window goal's axis).
pub fn window_axis(plan: &Plan) -> Option<usize> {
    [
        "param.rlies1s2_max_search_window_days",
        "param.rlies1s2_min_search_window_days",
    ]
    .iter()
    .find_map(|k| plan.axis(k))
}

/// No RLIE-S1-S2 tile-day lost outside the search window.
pub fn window_clean(r: &RunRecord) -> bool {
    lost_for(r, &|k| k == "outside_search_window") == 0
}

/// The smallest index from which every larger one passes `ok`, in sweep order.
fn smallest_from_which_all(
    props: &[Proportion],
    ok: &dyn Fn(&Proportion) -> bool,
) -> Option<usize> {
    let mut first = None;
    for i in (0..props.len()).rev() {
        if ok(&props[i]) {
            first = Some(i);
        } else {
            break;
        }
    }
    first
}

/// The runs that would settle a candidate: each point from it upwards needs its own.
fn more_runs(props: &[Proportion]) -> Option<u64> {
    props
        .iter()
        .filter(|p| !p.confident)
        .map(|p| p.more_runs)
        .sum::<Option<u64>>()
}

/// What is decided for one group: the answer (supported), the candidate (pointed to), the best.
struct Threshold {
    confirmed: Option<usize>,
    candidate: Option<usize>,
}

fn threshold(props: &[Proportion]) -> Threshold {
    Threshold {
        confirmed: smallest_from_which_all(props, &|p| p.confident),
        candidate: smallest_from_which_all(props, &promising),
    }
}

/// Which points of a threshold goal can still change its answer (for the sequential
/// replications): those above the largest point that clearly fails, not yet decided.
pub fn open_points(props: &[Proportion]) -> Vec<usize> {
    use crate::plan::stats::Verdict;
    let last_fail = props.iter().rposition(|p| p.verdict == Verdict::Fails);
    let from = last_fail.map_or(0, |i| i + 1);
    (from..props.len())
        .filter(|&i| props[i].verdict == Verdict::Undecided)
        .collect()
}

pub(super) fn worker_cap(
    plan: &Plan,
    points: &[PointSummary],
    runs: &[Vec<&RunRecord>],
) -> Vec<Answer> {
    let Some(cap) = plan.axis("param.max_number_of_worker_instances") else {
        return Vec::new();
    };
    let within = plan.inputs.within_hours.unwrap_or(0.0);
    let level = plan.level;
    let target = format!(
        "production back within {within} h of the restart in at least {} of runs, {} confidence",
        pct(level.probability),
        pct(level.confidence)
    );
    groups(plan, &[cap])
        .into_iter()
        .map(|(group, pts)| {
            let order = by_value(plan, cap, &pts);
            let props: Vec<Proportion> = order
                .iter()
                .map(|&p| {
                    let rs: Vec<_> = runs[p].iter().filter(|r| r.restarted).collect();
                    proportion(
                        rs.iter().filter(|r| met(r, within)).count(),
                        rs.len(),
                        level,
                    )
                })
                .collect();
            let t = threshold(&props);
            let evidence = |i: usize| {
                let s = &points[order[i]];
                format!(
                    "{}; recovery {}; peak workers {}, worker-hours {}",
                    props[i].supports(),
                    s.recovery
                        .as_ref()
                        .map(|r| format!(
                            "median {} h, 90th percentile {} h, {} of {} run(s) never",
                            r.median, r.p90, r.never, r.n
                        ))
                        .unwrap_or_else(|| "–".into()),
                    fmt_mean(&s.peak_workers, ""),
                    fmt_mean(&s.worker_hours, "")
                )
            };
            let mut a = Answer::new(group, String::new());
            if let Some(i) = t.confirmed {
                let v = value(plan, cap, order[i]);
                let edge = if i == 0 {
                    " (the smallest cap swept: a lower one may do too)"
                } else {
                    ""
                };
                a.text = format!(
                    "set max_number_of_worker_instances ≥ {v}{edge}: {target} (every larger swept \
                     cap too); at {v}: {}",
                    evidence(i)
                );
                a.value = Some(v);
                a.point = Some(order[i]);
                a.confidence = Some(props[i].clone());
            } else if let Some(i) = t.candidate {
                let v = value(plan, cap, order[i]);
                a.more_runs = more_runs(&props[i..]);
                let settle = match a.more_runs {
                    Some(m) => format!(
                        "{m} more run(s) in all, meeting the deadline, would settle it (hint: {})",
                        if plan.sequential.is_some() {
                            "a larger --max-runs"
                        } else {
                            "--replications auto"
                        }
                    ),
                    None => "no reasonable number of runs would settle it".to_owned(),
                };
                a.text = format!(
                    "not shown: {target}. The runs point to max_number_of_worker_instances ≥ \
                     {v}; at {v}: {}; {settle}",
                    evidence(i)
                );
                a.candidate = Some(v);
                a.point = Some(order[i]);
                a.confidence = Some(props[i].clone());
            } else {
                let best = (0..order.len())
                    .max_by(|&x, &y| props[x].lower.total_cmp(&props[y].lower).then(y.cmp(&x)))
                    .unwrap_or(0);
                a.text = format!(
                    "no swept cap has {target} (best: {}: {}): raise the cap or the deadline",
                    value(plan, cap, order[best]),
                    evidence(best)
                );
                a.point = Some(order[best]);
                a.confidence = Some(props[best].clone());
            }
            a
        })
        .collect()
}

pub(super) fn search_window(plan: &Plan, runs: &[Vec<&RunRecord>]) -> Vec<Answer> {
    let Some(w) = window_axis(plan) else {
        return Vec::new();
    };
    let window = |k: &str| k == "outside_search_window";
    let name = plan.axes[w].key.trim_start_matches("param.").to_owned();
    let level = plan.level;
    groups(plan, &[w])
        .into_iter()
        .map(|(group, pts): (BTreeMap<String, String>, Vec<usize>)| {
            let order = by_value(plan, w, &pts);
            let props: Vec<Proportion> = order
                .iter()
                .map(|&p| {
                    proportion(
                        runs[p].iter().filter(|r| window_clean(r)).count(),
                        runs[p].len(),
                        level,
                    )
                })
                .collect();
            let mean_lost = |p: usize| {
                mean(
                    &runs[p]
                        .iter()
                        .map(|r| lost_for(r, &window) as f64)
                        .collect::<Vec<_>>(),
                )
            };
            let below = |i: usize| {
                if i == 0 {
                    return " (the smallest swept: a smaller one may do too)".to_owned();
                }
                // Paired per seed (common random numbers): what the smaller window loses more.
                let d = super::restart::paired(&runs[order[i - 1]], &runs[order[i]], &|r| {
                    Some(lost_for(r, &window) as f64)
                });
                format!(
                    "; at {} it loses {} tile-days per run{}",
                    value(plan, w, order[i - 1]),
                    fmt_mean(&mean_lost(order[i - 1]), ""),
                    d.map(|d| format!(
                        " (paired difference {}, 95 % CI {} to {}, {} seeds)",
                        d.mean, d.lo, d.hi, d.n
                    ))
                    .unwrap_or_default()
                )
            };
            let t = threshold(&props);
            let mut a = Answer::new(group, String::new());
            if let Some(i) = t.confirmed {
                let v = value(plan, w, order[i]);
                a.text = format!(
                    "set {name} ≥ {v}: no RLIE-S1-S2 tile-day lost outside the search window in \
                     {}{}",
                    props[i].supports(),
                    below(i)
                );
                a.value = Some(v);
                a.point = Some(order[i]);
                a.confidence = Some(props[i].clone());
            } else if let Some(i) = t.candidate {
                let v = value(plan, w, order[i]);
                a.more_runs = more_runs(&props[i..]);
                a.text = format!(
                    "not shown at {} with {} confidence: the runs point to {name} ≥ {v} (no \
                     tile-day lost outside the window in {}){}{}",
                    pct(level.probability),
                    pct(level.confidence),
                    props[i].supports(),
                    below(i),
                    a.more_runs
                        .map(|m| format!("; {m} more run(s) in all would settle it"))
                        .unwrap_or_default()
                );
                a.candidate = Some(v);
                a.point = Some(order[i]);
                a.confidence = Some(props[i].clone());
            } else {
                let i = order.len() - 1;
                a.text = format!(
                    "every swept {name} loses tile-days outside the window (largest, {}: {} lost \
                     per run, no loss in {}): try larger windows",
                    value(plan, w, order[i]),
                    fmt_mean(&mean_lost(order[i]), ""),
                    props[i].supports()
                );
                a.point = Some(order[i]);
                a.confidence = Some(props[i].clone());
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{lost, plan, rec};
    use crate::plan::analyze::analyze;
    use crate::plan::stats::Verdict;
    use crate::plan::sweep::Goal;

    #[test]
    fn worker_cap_is_claimed_only_when_the_lower_bound_reaches_95_percent() {
        let p = plan(
            &["param.max_number_of_worker_instances=20,40,60,80"],
            Goal::WorkerCap,
            60,
        );
        let mut records = Vec::new();
        for seed in 1..=60 {
            // 20: always in time, but 40 is not, so 20 is no answer; 40: one run never
            // recovers and one is late; 60 and 80: every run in time (60/60: lower bound
            // 0.951).
            records.push(rec(0, seed, Some(10.0)));
            records.push(rec(
                1,
                seed,
                match seed {
                    1 => None,
                    2 => Some(60.0),
                    _ => Some(30.0),
                },
            ));
            records.push(rec(2, seed, Some(40.0)));
            records.push(rec(3, seed, Some(20.0)));
        }
        let a = analyze(&p, &records);
        let g = a.goal.expect("goal answered");
        let ans = &g.answers[0];
        assert_eq!(ans.value.as_deref(), Some("60"), "{}", ans.text);
        let c = ans.confidence.as_ref().expect("confidence");
        assert_eq!((c.k, c.n, c.confident), (60, 60, true));
        assert_eq!(a.points[1].recovery.as_ref().map(|r| r.never), Some(1));
        assert_eq!(a.points[1].within.as_ref().map(|w| w.k), Some(58));
        assert_eq!(g.chosen_point, Some(2));
    }

    #[test]
    fn ten_of_ten_is_a_candidate_with_the_runs_that_would_settle_it() {
        let p = plan(
            &["param.max_number_of_worker_instances=20,40,60"],
            Goal::WorkerCap,
            10,
        );
        let mut records = Vec::new();
        for seed in 1..=10 {
            records.push(rec(0, seed, None));
            records.push(rec(1, seed, Some(30.0)));
            records.push(rec(2, seed, Some(20.0)));
        }
        let a = analyze(&p, &records);
        let ans = &a.goal.expect("goal").answers[0];
        assert_eq!(ans.value, None, "10/10 supports only 74 %: {}", ans.text);
        assert_eq!(ans.candidate.as_deref(), Some("40"));
        // 49 more for 40, 49 more for 60.
        assert_eq!(ans.more_runs, Some(98), "{}", ans.text);
        assert!(
            ans.text
                .contains("at least 74.1 % of runs, 95 % confidence, n = 10"),
            "{}",
            ans.text
        );
        let c = ans.confidence.as_ref().expect("confidence");
        assert_eq!(c.verdict, Verdict::Undecided);
    }

    #[test]
    fn search_window_ignores_losses_that_no_window_avoids() {
        let p = plan(
            &["param.rlies1s2_max_search_window_days=2,4,8"],
            Goal::SearchWindow,
            60,
        );
        let mut records = Vec::new();
        for seed in 1..=60 {
            for point in 0..3 {
                let mut r = rec(point, seed, Some(10.0));
                // Failures happen at every window: not the window's business.
                lost(&mut r, "failed", 30);
                if point == 0 || (point == 1 && seed == 3) {
                    lost(&mut r, "outside_search_window", 50);
                }
                records.push(r);
            }
        }
        let ans = &analyze(&p, &records).goal.expect("goal").answers[0];
        // 4 loses in 1 seed of 60: that supports only 92 %, so 8 is the answer.
        assert_eq!(ans.value.as_deref(), Some("8"), "{}", ans.text);
        assert!(ans.text.contains("at 4 it loses 0.83"), "{}", ans.text);
        // One seed of 60 loses 50 more at 4 than at 8: the paired interval straddles 0.
        assert!(
            ans.text
                .contains("paired difference 0.83, 95 % CI -0.83 to 2.5, 60 seeds"),
            "{}",
            ans.text
        );
    }

    #[test]
    fn open_points_are_the_undecided_above_the_last_clear_failure() {
        use crate::plan::stats::{Level, proportion};
        let l = Level::default();
        let props = [
            proportion(5, 10, l),  // fails (at most 78 %), below another failure
            proportion(0, 3, l),   // fails
            proportion(4, 4, l),   // undecided
            proportion(59, 59, l), // meets
            proportion(2, 2, l),   // undecided
        ];
        assert_eq!(props[1].verdict, Verdict::Fails);
        assert_eq!(super::open_points(&props), [2, 4]);
    }
}
