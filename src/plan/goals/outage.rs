//! The outage limit: the outage length beyond which products are lost whatever the number of
//! workers (the best swept cap at each length), losses every day has (errors) left out.

use std::collections::BTreeMap;

use super::{Answer, ERROR_REASONS, by_value, groups, lost_for, promising, value};
use crate::plan::exec::RunRecord;
use crate::plan::stats::{Proportion, Verdict, pct, proportion};
use crate::plan::sweep::Plan;

fn outage_caused(k: &str) -> bool {
    !ERROR_REASONS.contains(&k)
}

/// No unit lost to the outage (errors, which happen every day, left out).
pub fn no_outage_loss(r: &RunRecord) -> bool {
    lost_for(r, &outage_caused) == 0
}

pub(super) fn outage_limit(plan: &Plan, runs: &[Vec<&RunRecord>]) -> Vec<Answer> {
    let Some(o) = plan.axis("scenario.outage_days") else {
        return Vec::new();
    };
    let cap = plan.axis("param.max_number_of_worker_instances");
    let level = plan.level;
    let mut exclude = vec![o];
    exclude.extend(cap);
    groups(plan, &exclude)
        .into_iter()
        .map(|(group, pts)| {
            // Lengths in order; for each, the best cap (the highest lower bound of "no loss").
            let mut lengths: Vec<String> = Vec::new();
            for p in by_value(plan, o, &pts) {
                let v = value(plan, o, p);
                if !lengths.contains(&v) {
                    lengths.push(v);
                }
            }
            let best: Vec<(usize, Proportion)> = lengths
                .iter()
                .map(|l| {
                    pts.iter()
                        .copied()
                        .filter(|&p| value(plan, o, p) == *l)
                        .map(|p| {
                            let k = runs[p].iter().filter(|r| no_outage_loss(r)).count();
                            (p, proportion(k, runs[p].len(), level))
                        })
                        .max_by(|(p, a), (q, b)| {
                            a.lower
                                .total_cmp(&b.lower)
                                .then(a.share.total_cmp(&b.share))
                                .then(q.cmp(p))
                        })
                        .expect("every length has a point")
                })
                .collect();
            let workers = if cap.is_some() {
                "whatever the swept worker cap"
            } else {
                "at the given worker cap (sweep param.max_number_of_worker_instances to vary it)"
            };
            let reasons = |p: usize| {
                let mut m: BTreeMap<&str, f64> = BTreeMap::new();
                for r in &runs[p] {
                    for (k, v) in r.lost_by_reason.iter().filter(|(k, _)| outage_caused(k)) {
                        *m.entry(k.as_str()).or_default() += *v as f64 / runs[p].len() as f64;
                    }
                }
                m.iter()
                    .map(|(k, v)| format!("{k} {:.1}", v))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut a = Answer::new(group, String::new());
            let first_open = best.iter().position(|(_, pr)| pr.verdict != Verdict::Meets);
            match first_open {
                None => {
                    a.text = format!(
                        "no swept outage length (up to {} days) loses products {workers}: {}",
                        lengths.last().cloned().unwrap_or_default(),
                        best.last().map(|b| b.1.supports()).unwrap_or_default()
                    );
                    a.point = best.last().map(|b| b.0);
                    a.confidence = best.last().map(|b| b.1.clone());
                }
                Some(i) if best[i].1.verdict == Verdict::Fails => {
                    let (v, before) = if i == 0 {
                        (format!("< {}", lengths[0]), String::new())
                    } else {
                        (
                            lengths[i - 1].clone(),
                            format!(
                                "; at {} days none lost: {}",
                                lengths[i - 1],
                                best[i - 1].1.supports()
                            ),
                        )
                    };
                    a.text = if i == 0 {
                        format!(
                            "even the shortest swept outage ({} days) loses products {workers}: \
                             mean per run {} (no loss: {})",
                            lengths[0],
                            reasons(best[0].0),
                            best[0].1.supports()
                        )
                    } else {
                        format!(
                            "products are lost beyond {} days {workers}: at {} days even the best \
                             loses {} per run (no loss: {}){before}",
                            lengths[i - 1],
                            lengths[i],
                            reasons(best[i].0),
                            best[i].1.supports()
                        )
                    };
                    a.value = Some(v);
                    a.point = Some(best[i.saturating_sub(1)].0);
                    a.confidence = Some(best[i.saturating_sub(1)].1.clone());
                }
                Some(i) => {
                    let lean = if promising(&best[i].1) {
                        "no loss"
                    } else {
                        "a loss"
                    };
                    a.text = format!(
                        "not settled at {} with {} confidence: at {} days the best {} (the runs \
                         lean to {lean}: mean per run {}){}",
                        pct(level.probability),
                        pct(level.confidence),
                        lengths[i],
                        best[i].1.supports(),
                        match reasons(best[i].0).as_str() {
                            "" => "nothing lost".to_owned(),
                            r => r.to_owned(),
                        },
                        if i > 0 {
                            format!("; up to {} days no loss is shown", lengths[i - 1])
                        } else {
                            String::new()
                        }
                    );
                    a.candidate = (i > 0).then(|| lengths[i - 1].clone());
                    a.more_runs = best[i].1.more_runs;
                    a.point = Some(best[i].0);
                    a.confidence = Some(best[i].1.clone());
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{lost, plan, rec};
    use crate::plan::analyze::analyze;
    use crate::plan::sweep::Goal;

    #[test]
    fn outage_limit_is_the_longest_outage_some_cap_survives_without_loss() {
        let p = plan(
            &[
                "scenario.outage_days=1,2,3",
                "param.max_number_of_worker_instances=100,210",
            ],
            Goal::OutageLimit,
            60,
        );
        let mut records = Vec::new();
        for seed in 1..=60 {
            for (point, pt) in p.points.iter().enumerate() {
                let days = p.axes[0].values[pt.values[0]].as_str();
                let cap = p.axes[1].values[pt.values[1]].as_str();
                let mut r = rec(point, seed, Some(10.0));
                lost(&mut r, "failed", 5);
                // 2 days: only the large cap loses nothing; 3 days: both lose.
                if days == "3" || (days == "2" && cap == "100") {
                    lost(&mut r, "outside_search_window", 7);
                }
                records.push(r);
            }
        }
        let ans = &analyze(&p, &records).goal.expect("goal").answers[0];
        assert_eq!(ans.value.as_deref(), Some("2"), "{}", ans.text);
        assert!(
            ans.text.starts_with("products are lost beyond 2 days"),
            "{}",
            ans.text
        );
        assert!(
            ans.text.contains("outside_search_window 7.0"),
            "{}",
            ans.text
        );
    }
}
