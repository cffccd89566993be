//! The charts of a plan, built from its runs (drawing is in the parent module).

use hrsi_sim::config::Config;
use hrsi_sim::engine::Outcome;
use hrsi_sim::job_type::ALL_TYPES;
use hrsi_sim::time::{DAY, Ms};

use super::{Chart, MAX_SERIES, Series};
use crate::plan::analyze::{Analysis, unit_of};
use crate::plan::exec::RunRecord;
use crate::plan::sweep::Plan;

/// Nearest-rank quantile of sorted values.
fn q(sorted: &[f64], p: f64) -> f64 {
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn days(ms: Ms) -> f64 {
    ms as f64 / DAY as f64
}

/// Backlog per job type over time for one point: the median over its seeds as a line, the
/// 10th–90th percentile over seeds as a band; the outage shaded, the restart and each wave
/// (the median instant over the seeds) marked.
pub fn backlog_chart(runs: &[(Config, Outcome)], label: &str) -> Chart {
    let n = runs
        .iter()
        .map(|(_, o)| o.timeline.len())
        .min()
        .unwrap_or(0);
    let seeds: Vec<String> = runs.iter().map(|(c, _)| c.seed.to_string()).collect();
    let series = ALL_TYPES
        .iter()
        .map(|t| {
            let mut points = Vec::with_capacity(n);
            let mut band = Vec::with_capacity(n);
            for i in 0..n {
                let x = days(runs[0].1.timeline[i].at);
                let mut v: Vec<f64> = runs
                    .iter()
                    .map(|(_, o)| o.timeline[i].backlog[t.idx()] as f64)
                    .collect();
                v.sort_by(f64::total_cmp);
                points.push((x, q(&v, 0.5)));
                if runs.len() > 1 {
                    band.push((x, q(&v, 0.1), q(&v, 0.9)));
                }
            }
            Series {
                name: t.name().to_owned(),
                points,
                band,
                ..Series::default()
            }
        })
        .collect();
    let mut spans = Vec::new();
    let mut marks = Vec::new();
    if let Some((_, o)) = runs.first() {
        for (a, b) in &o.outages {
            let end = b.unwrap_or(runs[0].0.horizon);
            spans.push((days(*a), days(end), "outage".to_owned()));
        }
        if let Some(r) = o.restarts.last() {
            marks.push((days(r.at), "restart".to_owned()));
        }
    }
    // Wave k (after the restart) at the median of its instants over the seeds.
    let waves: Vec<Vec<Ms>> = runs
        .iter()
        .filter_map(|(_, o)| {
            let r = o.restarts.last()?;
            let mut w: Vec<Ms> = r
                .enabled_at
                .iter()
                .flatten()
                .copied()
                .filter(|&t| t > r.at)
                .collect();
            w.sort_unstable();
            w.dedup();
            Some(w)
        })
        .collect();
    let most = waves.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..most {
        let mut at: Vec<f64> = waves
            .iter()
            .filter_map(|w| w.get(k))
            .map(|&t| days(t))
            .collect();
        at.sort_by(f64::total_cmp);
        let missing = runs.len() - at.len();
        let label = if missing > 0 {
            format!("wave {} ({missing} seed(s) never)", k + 2)
        } else {
            format!("wave {}", k + 2)
        };
        marks.push((q(&at, 0.5), label));
    }
    let band = if runs.len() > 1 {
        format!(", band: 10th–90th percentile over {} seeds", runs.len())
    } else {
        String::new()
    };
    Chart {
        stem: "backlog".into(),
        title: format!("Backlog per job type — {label}"),
        x_label: "days since start".into(),
        y_label: "jobs not yet published".into(),
        series,
        note: Some(format!(
            "median over seeds {}{band}; marked: the outage, the restart, each wave at its \
             median instant",
            seeds.join(", ")
        )),
        spans,
        marks,
    }
}

/// The numeric axis recovery is plotted against: the worker cap, else the first numeric axis.
fn recovery_axis(plan: &Plan) -> Option<usize> {
    plan.axis("param.max_number_of_worker_instances")
        .or_else(|| {
            (0..plan.axes.len())
                .find(|&a| plan.axes[a].values.len() > 1 && plan.axes[a].number(0).is_some())
        })
}

/// The name of a point's other axes (the series it belongs to).
fn group_name(plan: &Plan, point: usize, axis: usize) -> String {
    let name: Vec<String> = plan
        .labels(&plan.points[point])
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != axis)
        .map(|(_, (k, v))| format!("{}={v}", k.rsplit('.').next().unwrap_or(&k)))
        .collect();
    if name.is_empty() {
        "runs".to_owned()
    } else {
        name.join(", ")
    }
}

/// Series per group of the other axes, in sweep order, and how many there were.
fn by_group(plan: &Plan, axis: usize) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for p in &plan.points {
        let name = group_name(plan, p.index, axis);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(p.index),
            None => out.push((name, vec![p.index])),
        }
    }
    out
}

fn left_out(shown: usize, total: usize) -> Option<String> {
    (total > shown).then(|| format!("{shown} of {total} series shown"))
}

/// Recovery against the swept value: every run a dot, the median as a line with the 10th–90th
/// percentile band (never counted as +infinity, so a point whose median is never has no line
/// there), and the runs that never recovered as crosses on the "never" row.
pub fn recovery_chart(plan: &Plan, a: &Analysis, records: &[RunRecord]) -> Option<Chart> {
    let axis = recovery_axis(plan)?;
    let x_of = |p: usize| plan.axes[axis].number(plan.points[p].values[axis]);
    let groups = by_group(plan, axis);
    let total = groups.len();
    let mut series: Vec<Series> = Vec::new();
    let mut never_total = 0;
    for (name, pts) in groups.into_iter().take(MAX_SERIES - 1) {
        let mut s = Series {
            name: format!("{name}: median, 10th–90th percentile"),
            ..Series::default()
        };
        let mut order: Vec<(f64, usize)> =
            pts.iter().filter_map(|&p| Some((x_of(p)?, p))).collect();
        order.sort_by(|x, y| x.0.total_cmp(&y.0));
        for (x, p) in order {
            for r in records.iter().filter(|r| r.point == p && r.restarted) {
                match r.recovery_hours {
                    Some(h) => s.scatter.push((x, h)),
                    None => s.never.push(x),
                }
            }
            if let Some(sp) = &a.points[p].recovery
                && !sp.median.is_never()
            {
                s.points.push((x, sp.median.0));
                let hi = if sp.p90.is_never() {
                    f64::NAN
                } else {
                    sp.p90.0
                };
                if hi.is_finite() {
                    s.band.push((x, sp.p10.0, hi));
                }
            }
        }
        never_total += s.never.len();
        series.push(s);
    }
    if let Some(w) = a.within_hours {
        let xs = series
            .iter()
            .flat_map(|s| s.scatter.iter().map(|p| p.0).chain(s.never.iter().copied()));
        let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if x0.is_finite() {
            series.push(Series {
                name: format!("deadline {w} h"),
                points: vec![(x0, w), (x1, w)],
                ..Series::default()
            });
        }
    }
    let mut note = left_out(series.len().min(total), total);
    if never_total > 0 {
        let n = format!("{never_total} run(s) never recovered: crosses on the \"never\" row");
        note = Some(note.map_or(n.clone(), |x| format!("{x}; {n}")));
    }
    let key = &plan.axes[axis].key;
    Some(Chart {
        stem: "recovery_vs_value".into(),
        title: format!(
            "Recovery against {} (every run)",
            key.rsplit('.').next().unwrap_or(key)
        ),
        x_label: key.clone(),
        y_label: "hours from the restart until production is back".into(),
        series,
        note,
        spans: Vec::new(),
        marks: Vec::new(),
    })
}

/// Units lost to the outage against its length, one chart per type that lost any (each in its
/// own unit: products of different types are never added), mean over seeds with its 95 %
/// interval (not cut at 0), one line per value of the other axes.
pub fn lost_charts(plan: &Plan, a: &Analysis) -> Vec<Chart> {
    let Some(o) = plan.axis("scenario.outage_days") else {
        return Vec::new();
    };
    let groups = by_group(plan, o);
    let mut charts = Vec::new();
    for t in ALL_TYPES {
        let name = t.name();
        let any = a.points.iter().any(|p| {
            p.outage_lost_by_type
                .get(name)
                .is_some_and(|m| m.mean != 0.0 || m.max != 0.0 || m.min != 0.0)
        });
        if !any {
            continue;
        }
        let mut series = Vec::new();
        for (g, pts) in groups.iter().take(MAX_SERIES) {
            let mut s = Series {
                name: g.clone(),
                ..Series::default()
            };
            let mut order: Vec<(f64, usize)> = pts
                .iter()
                .filter_map(|&p| Some((plan.axes[o].number(plan.points[p].values[o])?, p)))
                .collect();
            order.sort_by(|x, y| x.0.total_cmp(&y.0));
            for (x, p) in order {
                if let Some(m) = a.points[p].outage_lost_by_type.get(name) {
                    s.points.push((x, m.mean));
                    s.band.push((x, m.lo, m.hi));
                }
            }
            series.push(s);
        }
        let unit = unit_of(name);
        charts.push(Chart {
            stem: format!("lost_vs_outage_{name}"),
            title: format!("{name}: lost to the outage, by outage length"),
            x_label: "outage length, days".into(),
            y_label: format!("{unit}s lost beyond the baseline"),
            note: left_out(series.len(), groups.len()),
            series,
            spans: Vec::new(),
            marks: Vec::new(),
        });
    }
    charts
}
