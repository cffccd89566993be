//! The outputs of a plan for people and tools: the terminal table, the JSON document, the CSV
//! of every run, and the shard results file that `hrsi plan merge` reads.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use hrsi_sim::model::LostReason;
use serde::{Deserialize, Serialize};

use super::analyze::Analysis;
use super::exec::{RunRecord, Shard};
use super::stats::Mean;
use super::sweep::{Plan, PlanInputs};

/// The analysis as pretty JSON, byte-stable for the same inputs.
pub fn to_json(a: &Analysis) -> String {
    serde_json::to_string_pretty(a).expect("an analysis always serialises") + "\n"
}

fn m(x: &Option<Mean>) -> String {
    match x {
        Some(m) if m.n > 1 => format!("{:.1} [{:.1}–{:.1}]", m.mean, m.lo, m.hi),
        Some(m) => format!("{:.1}", m.mean),
        None => "–".into(),
    }
}

/// Short names of the types in a cell.
fn short(ty: &str) -> &str {
    ty.strip_suffix("_job").unwrap_or(ty)
}

/// The outage's cost per type, one line per type that lost something, in its unit.
pub fn outage_lost(p: &super::analyze::PointSummary) -> String {
    let lines: Vec<String> = p
        .outage_lost_by_type
        .iter()
        .filter(|(_, m)| m.mean != 0.0 || m.min != 0.0 || m.max != 0.0)
        .map(|(t, m)| {
            let ci = if m.n > 1 {
                format!(" [{:.1}–{:.1}]", m.lo, m.hi)
            } else {
                String::new()
            };
            format!(
                "{} {:.1}{ci} {}",
                short(t),
                m.mean,
                super::analyze::unit_of(t)
            )
        })
        .collect();
    if lines.is_empty() {
        "none".into()
    } else {
        lines.join("\n")
    }
}

/// The table for people: one row per point, then the question and the answer.
pub fn render(a: &Analysis) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let mut header: Vec<String> = a
        .axes
        .iter()
        .map(|x| {
            x.key
                .trim_start_matches("param.")
                .trim_start_matches("scenario.")
                .to_owned()
        })
        .collect();
    let n_axes = header.len();
    header.extend(
        [
            "runs",
            "recovery h median [p10–p90]",
            "never",
            "lost to the outage per type (beyond the baseline)",
            "peak workers",
            "worker-hours",
            "redispatches",
        ]
        .map(str::to_owned),
    );
    if let Some(w) = a.within_hours {
        header.insert(
            n_axes + 3,
            format!(
                "≤ {w} h (q ≥, {} conf.)",
                super::stats::pct(a.level.confidence)
            ),
        );
    }
    t.set_header(header);
    for p in &a.points {
        let mut row: Vec<String> = a
            .axes
            .iter()
            .map(|x| p.values.get(&x.key).cloned().unwrap_or_default())
            .collect();
        row.push(p.runs.to_string());
        row.push(match &p.recovery {
            Some(r) => format!("{} [{}–{}]", r.median, r.p10, r.p90),
            None => "–".into(),
        });
        row.push(if p.restarted == 0 {
            "–".into()
        } else {
            p.never_recovered.to_string()
        });
        if a.within_hours.is_some() {
            row.push(match &p.within {
                Some(w) => format!(
                    "{}/{} ({}){}",
                    w.k,
                    w.n,
                    super::stats::pct(w.lower),
                    if w.confident { " ✓" } else { "" }
                ),
                None => "–".into(),
            });
        }
        row.push(outage_lost(p));
        row.push(m(&p.peak_workers));
        row.push(m(&p.worker_hours));
        row.push(m(&p.redispatches));
        t.add_row(row);
    }
    for c in n_axes..n_axes + 8 {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = format!(
        "{} — {} days from {}, outage: {}; {} point(s), {}\n",
        a.base.scenario,
        a.base.days,
        a.base.start,
        a.base.outage,
        a.points.len(),
        runs_spent(a)
    );
    out += &format!("{t}\n");
    for p in a
        .points
        .iter()
        .filter(|p| !p.baseline_not_at_nrt.is_empty())
    {
        let kv: Vec<String> = p.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out += &format!(
            "baseline not at NRT at {}: {} (even without the outage these types are not at \
             near-real-time, so production never \"recovers\" there)\n",
            kv.join(", "),
            p.baseline_not_at_nrt.join(", ")
        );
    }
    out += &format!("question: {}\n", a.question);
    if let Some(g) = &a.goal {
        for ans in &g.answers {
            let group = if ans.group.is_empty() {
                String::new()
            } else {
                let kv: Vec<String> = ans.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}] ", kv.join(", "))
            };
            out += &format!("answer: {group}{}\n", ans.text);
        }
    }
    out += &format!(
        "recovery: hours from the system restart until every type is back to its nominal overdue \
         level (waves included); a run that never recovers is \"never\" (+infinity in medians \
         and quantiles) and does not meet a deadline. A claim is made when the one-sided \
         Clopper-Pearson lower bound of q (the share of runs meeting the goal) is at least {} \
         with {} confidence ✓.\n",
        super::stats::pct(a.level.probability),
        super::stats::pct(a.level.confidence)
    );
    out += &format!("reproduce: {}\n", a.command);
    let cal = if a.calibration == hrsi_sim::Calibration::default() {
        "default"
    } else {
        "changed (see --json)"
    };
    out += &format!("calibration: {cal}. {}\n", a.assumptions);
    out
}

/// The runs a plan spent and where, in words: "1 180 runs (59 per point)" or, sequential,
/// "412 runs (2–59 per point, budget 5000; a fixed 59 per point would be 1180)".
pub fn runs_spent(a: &Analysis) -> String {
    let r = &a.runs;
    let fixed = r
        .fixed_equivalent
        .map(|f| format!("; a fixed {} per point would be {f}", r.fixed_per_point))
        .unwrap_or_default();
    if r.per_point_min == r.per_point_max {
        format!("{} runs ({} per point)", r.total, r.per_point_max)
    } else {
        format!(
            "{} runs ({}–{} per point{}{fixed})",
            r.total,
            r.per_point_min,
            r.per_point_max,
            r.max_runs
                .map(|b| format!(", budget {b}"))
                .unwrap_or_default(),
        )
    }
}

/// Every run as CSV: the point's axis values, the seed, and the run's figures.
pub fn csv(plan: &Plan, records: &[RunRecord]) -> String {
    let types = hrsi_sim::job_type::ALL_TYPES;
    let mut s = String::from("point");
    for a in &plan.axes {
        s += &format!(",{}", field(&a.key));
    }
    s += ",seed,restarted,recovery_hours";
    for t in types {
        s += &format!(",catch_up_hours_{}", t.name());
    }
    for t in types {
        s += &format!(",lost_{0},lost_vs_baseline_{0}", t.name());
    }
    for r in LostReason::ALL {
        s += &format!(",lost_{}", r.name());
    }
    s += ",peak_workers,worker_hours,redispatches,steps_not_run\n";
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in records {
        s += &r.point.to_string();
        for (_, v) in plan.labels(&plan.points[r.point]) {
            s += &format!(",{}", field(&v));
        }
        // Empty: no restart; `never`: a restart after which production never came back.
        let recovery = match (r.restarted, r.recovery_hours) {
            (false, _) => String::new(),
            (true, None) => "never".to_owned(),
            (true, Some(h)) => h.to_string(),
        };
        s += &format!(",{},{},{recovery}", r.seed, r.restarted);
        for t in types {
            s += &format!(
                ",{}",
                opt(r.catch_up_by_type.get(t.name()).copied().flatten())
            );
        }
        for t in types {
            s += &format!(
                ",{},{}",
                r.lost_by_type.get(t.name()).copied().unwrap_or(0),
                r.outage_lost(t.name())
            );
        }
        for reason in LostReason::ALL {
            s += &format!(
                ",{}",
                r.lost_by_reason.get(reason.name()).copied().unwrap_or(0)
            );
        }
        s += &format!(
            ",{},{},{},{}\n",
            r.peak_workers, r.worker_hours, r.redispatches, r.steps_not_run
        );
    }
    s
}

/// A CSV field, quoted when it holds a comma or a quote (a `job_types_list` value does).
fn field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// What a shard writes and `hrsi plan merge` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    /// Format marker, [`SHARD_FORMAT`].
    pub format: String,
    /// The plan's inputs (every shard of one plan has the same).
    pub inputs: PlanInputs,
    /// Which slice.
    pub shard: Shard,
    /// The slice's runs, sorted by point and seed.
    pub records: Vec<RunRecord>,
}

/// Version of the shard file format.
pub const SHARD_FORMAT: &str = "hrsi-plan-shard/2";

impl ShardFile {
    /// As JSON (compact: a large sweep has many records).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a shard always serialises") + "\n"
    }
}

/// Combines shard files into the inputs and the records of the whole plan, refusing slices of
/// different plans, missing or repeated slices, and missing or repeated runs.
pub fn merge(files: &[(String, String)]) -> Result<(PlanInputs, Vec<RunRecord>), String> {
    let mut shards: Vec<(String, ShardFile)> = Vec::new();
    for (name, text) in files {
        let f: ShardFile = serde_json::from_str(text)
            .map_err(|e| format!("`{name}` is not a shard file of `hrsi plan --shard` ({e})"))?;
        if f.format != SHARD_FORMAT {
            return Err(format!(
                "`{name}` has format `{}`, expected `{SHARD_FORMAT}` (hint: run the shards and \
                 the merge with the same hrsi)",
                f.format
            ));
        }
        shards.push((name.clone(), f));
    }
    let Some((first_name, first)) = shards.first() else {
        return Err("no shard files given (hint: hrsi plan merge shard-*.json)".into());
    };
    let count = first.shard.count;
    // Bounded before the table of slices is made: a hand-edited file could claim any count.
    for (name, f) in &shards {
        if f.shard.count == 0 || f.shard.index >= f.shard.count {
            return Err(format!(
                "`{name}` claims to be shard {}/{}: its index is not within its count (hint: \
                 shard files come from `hrsi plan --shard I/N` with 1 ≤ I ≤ N)",
                f.shard.index + 1,
                f.shard.count
            ));
        }
    }
    if count > shards.len() {
        // Listing the missing slices is bounded too: at most a few, then how many.
        let have: std::collections::BTreeSet<usize> = shards
            .iter()
            .filter(|(_, f)| f.shard.count == count)
            .map(|(_, f)| f.shard.index)
            .collect();
        let missing: Vec<String> = (0..count)
            .filter(|i| !have.contains(i))
            .take(8)
            .map(|i| format!("{}/{count}", i + 1))
            .collect();
        let more = count - have.len();
        return Err(format!(
            "missing shard(s): {}{} (hint: give every shard file of the plan)",
            missing.join(", "),
            if more > missing.len() {
                format!(" and {} more", more - missing.len())
            } else {
                String::new()
            }
        ));
    }
    let mut seen = vec![None::<&str>; count];
    for (name, f) in &shards {
        if f.inputs != first.inputs {
            return Err(format!(
                "`{name}` is a slice of another plan than `{first_name}` (different inputs)"
            ));
        }
        if f.shard.count != count {
            return Err(format!(
                "`{name}` is shard {}/{} but `{first_name}` is one of {count}",
                f.shard.index + 1,
                f.shard.count
            ));
        }
        if let Some(other) = seen[f.shard.index] {
            return Err(format!(
                "`{name}` and `{other}` are both shard {}/{count}",
                f.shard.index + 1
            ));
        }
        seen[f.shard.index] = Some(name);
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| seen[*i].is_none())
        .map(|i| format!("{}/{count}", i + 1))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing shard(s): {}", missing.join(", ")));
    }
    let inputs = first.inputs.clone();
    let mut records: Vec<RunRecord> = shards.into_iter().flat_map(|(_, f)| f.records).collect();
    records.sort_by_key(|r| (r.point, r.seed));
    if records
        .windows(2)
        .any(|w| (w[0].point, w[0].seed) == (w[1].point, w[1].seed))
    {
        return Err("a run appears in two shards (hint: shards of one plan never overlap; were they made with different hrsi versions?)".into());
    }
    Ok((inputs, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard_file(index: usize, count: usize) -> (String, String) {
        let f = ShardFile {
            format: SHARD_FORMAT.to_owned(),
            inputs: PlanInputs::default(),
            shard: Shard { index, count },
            records: Vec::new(),
        };
        (format!("s{index}.json"), f.to_json())
    }

    #[test]
    fn a_shard_index_beyond_its_count_is_refused_not_a_panic() {
        let e = merge(&[shard_file(3, 2), shard_file(0, 2)]).unwrap_err();
        assert!(e.contains("claims to be shard 4/2"), "{e}");
        let e = merge(&[shard_file(0, 0)]).unwrap_err();
        assert!(e.contains("not within its count"), "{e}");
        // A huge count allocates nothing: it is missing slices.
        let e = merge(&[shard_file(0, usize::MAX)]).unwrap_err();
        assert!(
            e.contains("missing shard(s): 2/") && e.contains("more"),
            "{e}"
        );
        let e = merge(&[shard_file(1, 3), shard_file(0, 3)]).unwrap_err();
        assert!(e.contains("missing shard(s): 3/3"), "{e}");
    }
}
