//! Goals that compare two ways of restarting on the same seeds (common random numbers): the
//! restart plan (all at once against the runbook's waves) and setting
//! `gfsc_daily_jobs_creation_start_date` at the restart. Comparisons are paired per seed, with
//! the interval of the difference as computed (it may straddle 0).

use super::{Answer, fmt_mean, groups, lost_for, promising, value};
use crate::plan::analyze::PointSummary;
use crate::plan::exec::RunRecord;
use crate::plan::stats::{Mean, Verdict, mean, mean_signed, pct, proportion};
use crate::plan::sweep::Plan;

/// No daily GFSC tile-day lost for want of a daily job.
pub fn daily_clean(r: &RunRecord) -> bool {
    lost_for(r, &|k| k == "daily_job_not_created") == 0
}

pub(super) fn gfsc(plan: &Plan, runs: &[Vec<&RunRecord>]) -> Vec<Answer> {
    let Some(g) = plan.axis("scenario.gfsc_start_date") else {
        return Vec::new();
    };
    let daily = |k: &str| k == "daily_job_not_created";
    let level = plan.level;
    groups(plan, &[g])
        .into_iter()
        .map(|(group, pts)| {
            let find = |v: &str| pts.iter().copied().find(|&p| value(plan, g, p) == v);
            let (Some(unset), Some(set)) = (find("unset"), find("set")) else {
                return Answer::new(
                    group,
                    "sweep scenario.gfsc_start_date=unset,set to compare".into(),
                );
            };
            let clean = |p: usize| {
                proportion(
                    runs[p].iter().filter(|r| daily_clean(r)).count(),
                    runs[p].len(),
                    level,
                )
            };
            let lost = |p: usize| {
                mean(
                    &runs[p]
                        .iter()
                        .map(|r| lost_for(r, &daily) as f64)
                        .collect::<Vec<_>>(),
                )
            };
            let (pu, ps) = (clean(unset), clean(set));
            let mut a = Answer::new(group, String::new());
            match pu.verdict {
                Verdict::Meets => {
                    a.text = format!(
                        "not needed: without it no daily GFSC job is lost, {}",
                        pu.supports()
                    );
                    a.value = Some("unset".into());
                    a.point = Some(unset);
                    a.confidence = Some(pu);
                }
                Verdict::Fails => {
                    let enough = match ps.verdict {
                        Verdict::Meets => {
                            "must be set (at the restart, to the day before the outage)"
                        }
                        Verdict::Fails => "must be set, and it is not enough alone",
                        Verdict::Undecided => {
                            "must be set (at the restart, to the day before the outage); whether \
                             it is enough is not settled"
                        }
                    };
                    a.text = format!(
                        "{enough}: without it {} daily GFSC tile-days are lost per run \
                         (daily_job_not_created; none lost: {}); with it {} (none lost: {})",
                        fmt_mean(&lost(unset), ""),
                        pu.supports(),
                        fmt_mean(&lost(set), ""),
                        ps.supports()
                    );
                    a.value = Some("set".into());
                    a.point = Some(set);
                    a.confidence = Some(ps);
                }
                Verdict::Undecided => {
                    let lean = if promising(&pu) { "unset" } else { "set" };
                    a.text = format!(
                        "not settled at {} with {} confidence (the runs lean to `{lean}`): \
                         without it {} tile-days lost per run (none lost: {}); with it {} (none \
                         lost: {})",
                        pct(level.probability),
                        pct(level.confidence),
                        fmt_mean(&lost(unset), ""),
                        pu.supports(),
                        fmt_mean(&lost(set), ""),
                        ps.supports()
                    );
                    a.candidate = Some(lean.into());
                    a.more_runs = pu.more_runs;
                    a.point = Some(if lean == "set" { set } else { unset });
                    a.confidence = Some(pu);
                }
            }
            a
        })
        .collect()
}

/// Paired differences a − b by seed over the seeds where both have a value (interval not cut
/// at 0).
pub fn paired(
    a: &[&RunRecord],
    b: &[&RunRecord],
    f: &dyn Fn(&RunRecord) -> Option<f64>,
) -> Option<Mean> {
    let by_seed: std::collections::BTreeMap<u64, f64> =
        b.iter().filter_map(|r| Some((r.seed, f(r)?))).collect();
    let d: Vec<f64> = a
        .iter()
        .filter_map(|r| Some(f(r)? - by_seed.get(&r.seed)?))
        .collect();
    mean_signed(&d)
}

/// The sign of a paired difference: `Some(true)` when a is clearly below b, `Some(false)` when
/// clearly above, `None` when the interval holds 0.
fn sign(d: &Mean) -> Option<bool> {
    if d.n > 1 && d.hi < 0.0 {
        Some(true)
    } else if d.n > 1 && d.lo > 0.0 {
        Some(false)
    } else {
        None
    }
}

/// One comparison (smaller is better), in words. Runs that never recover are not dropped: the
/// plan with runs that never recover, where the other has none, is the slower one.
fn compare(
    what: &str,
    unit: &str,
    names: (&str, &str),
    never: (usize, usize),
    means: (&Option<Mean>, &Option<Mean>),
    diff: Option<Mean>,
) -> (Option<String>, String) {
    let never_text = if never.0 + never.1 > 0 {
        format!(
            "; never recovered: {} {}, {} {}",
            names.0, never.0, names.1, never.1
        )
    } else {
        String::new()
    };
    if never.0 == 0 && never.1 > 0 {
        return (
            Some(names.0.to_owned()),
            format!("{what}: {}{never_text}", names.0),
        );
    }
    if never.1 == 0 && never.0 > 0 {
        return (
            Some(names.1.to_owned()),
            format!("{what}: {}{never_text}", names.1),
        );
    }
    let Some(d) = diff else {
        return (
            None,
            format!("{what}: not comparable (no seed where both recovered){never_text}"),
        );
    };
    let m = |x: &Option<Mean>| x.as_ref().map_or("–".to_owned(), |m| m.mean.to_string());
    let detail = format!(
        "{} {}{unit} vs {} {}{unit}; paired difference {}−{} {}{unit}, 95 % CI {} to {}, {} \
         seeds{never_text}",
        names.0,
        m(means.0),
        names.1,
        m(means.1),
        names.0,
        names.1,
        d.mean,
        d.lo,
        d.hi,
        d.n
    );
    match sign(&d) {
        Some(true) => (
            Some(names.0.to_owned()),
            format!("{what}: {} ({detail})", names.0),
        ),
        Some(false) => (
            Some(names.1.to_owned()),
            format!("{what}: {} ({detail})", names.1),
        ),
        None => (
            None,
            format!("{what}: no significant difference ({detail})"),
        ),
    }
}

/// Whether both comparisons of a restart group are decided (for the sequential replications).
pub fn restart_decided(all: &[&RunRecord], waves: &[&RunRecord]) -> bool {
    let never = |rs: &[&RunRecord]| rs.iter().filter(|r| r.recovery_hours.is_none()).count();
    let fast = if (never(all) == 0) != (never(waves) == 0) {
        true
    } else {
        paired(all, waves, &|r| r.recovery_hours)
            .as_ref()
            .and_then(sign)
            .is_some()
    };
    let cheap = paired(all, waves, &|r| Some(r.worker_hours))
        .as_ref()
        .and_then(sign)
        .is_some();
    fast && cheap
}

pub(super) fn restart(
    plan: &Plan,
    points: &[PointSummary],
    runs: &[Vec<&RunRecord>],
) -> Vec<Answer> {
    let Some(ax) = plan.axis("scenario.restart") else {
        return Vec::new();
    };
    groups(plan, &[ax])
        .into_iter()
        .map(|(group, pts)| {
            let find = |v: &str| pts.iter().copied().find(|&p| value(plan, ax, p) == v);
            let (Some(all), Some(waves)) = (find("all"), find("waves")) else {
                return Answer::new(group, "sweep scenario.restart=all,waves to compare".into());
            };
            let (sa, sw) = (&points[all], &points[waves]);
            let never = |s: &PointSummary| s.recovery.as_ref().map_or(0, |r| r.never);
            let recovered_mean = |p: usize| {
                mean(
                    &runs[p]
                        .iter()
                        .filter_map(|r| r.recovery_hours)
                        .collect::<Vec<_>>(),
                )
            };
            let (fast, fast_text) = compare(
                "production back sooner",
                " h",
                ("all", "waves"),
                (never(sa), never(sw)),
                (&recovered_mean(all), &recovered_mean(waves)),
                paired(&runs[all], &runs[waves], &|r| r.recovery_hours),
            );
            let (cheap, cheap_text) = compare(
                "cheaper",
                " worker-hours",
                ("all", "waves"),
                (0, 0),
                (&sa.worker_hours, &sw.worker_hours),
                paired(&runs[all], &runs[waves], &|r| Some(r.worker_hours)),
            );
            let pick = fast.clone().or(cheap.clone());
            let mut a = Answer::new(group, format!("{fast_text}; {cheap_text}"));
            a.value = Some(format!(
                "sooner: {}; cheaper: {}",
                fast.as_deref().unwrap_or("no difference"),
                cheap.as_deref().unwrap_or("no difference")
            ));
            a.point = Some(if pick.as_deref() == Some("waves") {
                waves
            } else {
                all
            });
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{plan, rec};
    use crate::plan::analyze::analyze;
    use crate::plan::sweep::Goal;

    #[test]
    fn restart_plan_that_never_recovers_is_the_slower_one() {
        let p = plan(&[], Goal::Restart, 20);
        let mut records = Vec::new();
        for seed in 1..=20 {
            records.push(rec(0, seed, Some(12.0 + seed as f64 * 0.1)));
            records.push(rec(1, seed, None));
        }
        let a = analyze(&p, &records);
        let ans = &a.goal.expect("goal").answers[0];
        assert!(
            ans.text
                .starts_with("production back sooner: all; never recovered: all 0, waves 20"),
            "{}",
            ans.text
        );
        assert_eq!(ans.point, Some(0));
    }

    #[test]
    fn the_paired_interval_may_straddle_zero() {
        let p = plan(&[], Goal::Restart, 4);
        let mut records = Vec::new();
        // all − waves = 0, 0, 0, 3 hours: mean 0.75, interval below 0 to above 3.
        for (seed, d) in [(1, 0.0), (2, 0.0), (3, 0.0), (4, 3.0)] {
            records.push(rec(0, seed, Some(20.0 + d)));
            records.push(rec(1, seed, Some(20.0)));
        }
        let ans = &analyze(&p, &records).goal.expect("goal").answers[0];
        assert!(
            ans.text
                .contains("paired difference all−waves 0.75 h, 95 % CI -1.64 to 3.14"),
            "{}",
            ans.text
        );
        assert!(
            ans.text
                .starts_with("production back sooner: no significant difference")
        );
    }
}
