//! Running a plan: every (point, seed) once, each baseline once, in parallel (rayon), results
//! collected and sorted so the output does not depend on the thread count.
//!
//! A baseline depends on the seed, the calibration, the parameters and the horizon, not on the
//! outage or the restart plan (design/simulation.md, "Catch-up"): runs that differ only in
//! scenario settings share one. Shards split the work by baseline, so no baseline is computed
//! twice across shards either.

use std::collections::BTreeMap;

use hrsi_sim::{Baseline, Config, Report, World, time::Ms};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::sweep::Plan;

/// What one run gives the plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// Point index.
    pub point: usize,
    /// Seed.
    pub seed: u64,
    /// Whether the run had a restart (an outage); without one there is no recovery to measure.
    pub restarted: bool,
    /// Recovery (design/simulation.md, "Recovery"): hours from the system restart until every
    /// type is back to its nominal overdue level, waves included. `None`: never before the
    /// horizon (a wave that never came, a type that never caught up or whose baseline is not
    /// at NRT), or no restart.
    pub recovery_hours: Option<f64>,
    /// Each type's recovery, from the system restart.
    pub recovery_by_type: BTreeMap<String, Option<f64>>,
    /// Each type's catch-up, from its own wave (shorter than its recovery with waves).
    pub catch_up_by_type: BTreeMap<String, Option<f64>>,
    /// Hours from the restart to each wave after the first (the instants types were enabled).
    pub waves_after_restart_hours: Vec<f64>,
    /// Types whose baseline is not at NRT (their recovery is never defined).
    pub baseline_not_at_nrt: Vec<String>,
    /// Units lost by reason.
    pub lost_by_reason: BTreeMap<String, u64>,
    /// Units lost per type (each in its own unit).
    pub lost_by_type: BTreeMap<String, u64>,
    /// Units the baseline (same seed, no outage) lost per type: what every day loses to errors.
    pub baseline_lost_by_type: BTreeMap<String, u64>,
    /// Most worker VMs at once.
    pub peak_workers: i64,
    /// Worker VM hours.
    pub worker_hours: f64,
    /// Jobs the monitor re-queued.
    pub redispatches: u64,
    /// Plan steps that never ran (a wave waiting for a catch-up that never came).
    pub steps_not_run: usize,
}

impl RunRecord {
    /// What the outage cost per type: units lost beyond the baseline's (may be negative for a
    /// type whose random errors happened to be fewer).
    pub fn outage_lost(&self, ty: &str) -> i64 {
        let run = self.lost_by_type.get(ty).copied().unwrap_or(0) as i64;
        let base = self.baseline_lost_by_type.get(ty).copied().unwrap_or(0) as i64;
        run - base
    }
}

/// A slice of a sweep: shard `index` of `count` (0-based index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with I in 1..=N (as people number shards; a CI matrix or Nomad meta value).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "`--shard {text}` is not `I/N` with 1 ≤ I ≤ N (hint: `--shard 2/4` runs the second of four slices)"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (i, n): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || i == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
    }
}

/// How runs of one baseline group are simulated.
enum Fork {
    /// A run without steps: its baseline's record.
    Baseline(usize, usize),
    /// A run simulated from its start.
    Alone(usize, usize),
    /// Runs branching off the group's world at their first step's instant (the key).
    Trunk {
        group: usize,
        trunk: Box<Config>,
        branches: BTreeMap<Ms, Vec<usize>>,
    },
}

impl Fork {
    fn group(&self) -> usize {
        match self {
            Fork::Baseline(g, _) | Fork::Alone(g, _) | Fork::Trunk { group: g, .. } => *g,
        }
    }
}

/// The work of a plan (or of one shard): baselines to compute, runs to make.
pub struct Work {
    baselines: Vec<Config>,
    runs: Vec<(usize, u64, Config, usize)>,
}

impl Work {
    /// Lays out the runs of a plan, grouped by baseline; with a shard, only its groups.
    pub fn new(plan: &Plan, shard: Option<Shard>) -> Result<Work, String> {
        let pairs: Vec<(usize, u64)> = plan
            .points
            .iter()
            .flat_map(|p| plan.seeds.iter().map(move |&s| (p.index, s)))
            .collect();
        Work::of(plan, &pairs, shard)
    }

    /// Lays out the given runs (point, seed) of a plan: one round of sequential replications.
    pub fn of(plan: &Plan, pairs: &[(usize, u64)], shard: Option<Shard>) -> Result<Work, String> {
        let mut keys: BTreeMap<String, usize> = BTreeMap::new();
        let mut groups: Vec<Config> = Vec::new();
        let mut runs = Vec::new();
        for &(point, seed) in pairs {
            {
                let p = &plan.points[point];
                let cfg = plan.config(p, seed)?;
                let base = Config {
                    steps: Vec::new(),
                    timeline: false,
                    keep_jobs: false,
                    ..cfg.clone()
                };
                // Config has no Hash; its Debug text is complete and deterministic (sorted maps).
                let key = format!("{base:?}");
                let next = groups.len();
                let g = *keys.entry(key).or_insert(next);
                if g == next {
                    groups.push(base);
                }
                runs.push((p.index, seed, cfg, g));
            }
        }
        let Some(shard) = shard else {
            return Ok(Work {
                baselines: groups,
                runs,
            });
        };
        // Groups in order of first use, dealt round-robin: every shard computes each of its
        // baselines once and the slices stay within one group of each other in size.
        let mine = |g: usize| g % shard.count == shard.index;
        let mut remap = vec![usize::MAX; groups.len()];
        let mut baselines = Vec::new();
        for (g, cfg) in groups.into_iter().enumerate() {
            if mine(g) {
                remap[g] = baselines.len();
                baselines.push(cfg);
            }
        }
        let runs = runs
            .into_iter()
            .filter(|r| mine(r.3))
            .map(|(p, s, c, g)| (p, s, c, remap[g]))
            .collect();
        Ok(Work { baselines, runs })
    }

    /// Runs (simulations with an outage or not).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Baselines to compute.
    pub fn baselines(&self) -> usize {
        self.baselines.len()
    }

    /// The runs by shared prefix. Every run of a baseline group is the group's world (its
    /// baseline's config, no step) up to its first step's instant when that step is timed: the
    /// group is simulated once, as a trunk, and each run branches off at its first step (in a
    /// sweep of restart plans or outage starts, every point of a seed shares the warm start and
    /// the days before the earliest stop). Runs without steps take their baseline's record; runs
    /// that wait for a catch-up first run alone.
    fn forks(&self) -> Vec<Fork> {
        let mut trunk_of: BTreeMap<(usize, [bool; 3]), usize> = BTreeMap::new();
        let mut forks: Vec<Fork> = Vec::new();
        for (i, (_, _, cfg, g)) in self.runs.iter().enumerate() {
            let shared = cfg
                .steps
                .first()
                .filter(|s| s.caught_up.is_empty() && s.after > 0 && s.after < cfg.horizon);
            let Some(first) = shared else {
                let alone = if cfg.steps.is_empty() {
                    Fork::Baseline
                } else {
                    Fork::Alone
                };
                forks.push(alone(*g, i));
                continue;
            };
            let next = forks.len();
            // What the group's key leaves out: what a run keeps for its outcome.
            let keeps = [cfg.timeline, cfg.keep_jobs, cfg.keep_history];
            let k = *trunk_of.entry((*g, keeps)).or_insert(next);
            if k == next {
                forks.push(Fork::Trunk {
                    group: *g,
                    trunk: Box::new(Config {
                        steps: Vec::new(),
                        ..cfg.clone()
                    }),
                    branches: BTreeMap::new(),
                });
            }
            if let Fork::Trunk { branches, .. } = &mut forks[k] {
                branches.entry(first.after).or_default().push(i);
            }
        }
        forks
    }

    /// Baselines, then runs, in parallel on the current rayon pool; `tick` is called after each
    /// (for a progress bar). Records come back sorted by point, then seed. A run without an
    /// outage is its own baseline: its record comes from the baseline's simulation.
    pub fn execute(&self, tick: &(dyn Fn() + Sync)) -> Vec<RunRecord> {
        let baselines: Vec<(Baseline, RunRecord)> = self
            .baselines
            .par_iter()
            .map(|cfg| {
                let b = baseline(cfg);
                tick();
                b
            })
            .collect();
        let mut records: Vec<RunRecord> = self
            .forks()
            .par_iter()
            .flat_map(|fork| {
                let (b, nominal) = &baselines[fork.group()];
                let finish = |i: usize, out: Option<hrsi_sim::Outcome>| {
                    let (point, seed, cfg, _) = &self.runs[i];
                    let mut rec = match out {
                        None => RunRecord {
                            point: *point,
                            ..nominal.clone()
                        },
                        Some(out) => record(*point, *seed, cfg, out),
                    };
                    rec.baseline_lost_by_type = nominal.lost_by_type.clone();
                    tick();
                    rec
                };
                match fork {
                    Fork::Baseline(_, i) => vec![finish(*i, None)],
                    Fork::Alone(_, i) => {
                        vec![finish(*i, Some(hrsi_sim::run(&self.runs[*i].2, Some(b))))]
                    }
                    // Each branch continues from a copy of the trunk given its own steps: byte
                    // for byte a fresh run (tests/sim_stepped.rs, and the test below).
                    Fork::Trunk {
                        trunk, branches, ..
                    } => {
                        let mut trunk = World::new((**trunk).clone(), Some(b));
                        let mut records = Vec::new();
                        for (&at, runs) in branches {
                            trunk.run_until(at);
                            records.par_extend(runs.par_iter().map(|&i| {
                                let mut w = trunk.clone();
                                w.set_steps(self.runs[i].2.steps.clone());
                                finish(i, Some(w.finish()))
                            }));
                        }
                        records
                    }
                }
            })
            .collect();
        records.sort_by_key(|r| (r.point, r.seed));
        records
    }
}

/// A baseline group's simulation: the baseline the group's runs are judged against, and the
/// record of a run without an outage (it is its own baseline).
fn baseline(cfg: &Config) -> (Baseline, RunRecord) {
    let out = hrsi_sim::run_with_baseline(cfg);
    let b = Baseline {
        nominal_overdue: out.nominal_overdue,
        daily: out.daily_created.clone(),
        not_at_nrt: out.not_at_nrt,
        nrt_allowance: out.nrt_allowance,
        lost: out.baseline_lost.unwrap_or_default(),
    };
    let mut r = record(0, cfg.seed, cfg, out);
    r.baseline_lost_by_type = r.lost_by_type.clone();
    (b, r)
}

/// Runs one point and seed with its timeline (for the backlog plot of the chosen plan).
pub fn timeline(
    plan: &Plan,
    point: usize,
    seed: u64,
) -> Result<(Config, hrsi_sim::Outcome), String> {
    let mut cfg = plan.config(&plan.points[point], seed)?;
    cfg.timeline = true;
    let out = hrsi_sim::run_with_baseline(&cfg);
    Ok((cfg, out))
}

fn record(point: usize, seed: u64, cfg: &Config, out: hrsi_sim::Outcome) -> RunRecord {
    let restarted = !out.restarts.is_empty();
    let steps_not_run = out.steps_not_run;
    let report = Report::new(cfg, out);
    let mut lost_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut lost_by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut redispatches = 0;
    for (name, t) in &report.job_types {
        redispatches += t.redispatches;
        lost_by_type.insert((*name).to_owned(), t.lost);
        for (k, v) in &t.lost_reasons {
            *lost_by_reason.entry((*k).to_owned()).or_default() += v;
        }
    }
    let by_type = |m: &BTreeMap<&'static str, Option<f64>>| -> BTreeMap<String, Option<f64>> {
        m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    let last = report.restarts.last();
    RunRecord {
        point,
        seed,
        restarted,
        recovery_hours: if restarted {
            report.recovery_hours
        } else {
            None
        },
        recovery_by_type: last
            .map(|r| by_type(&r.recovery_hours_by_type))
            .unwrap_or_default(),
        catch_up_by_type: last.map(|r| by_type(&r.catch_up_hours)).unwrap_or_default(),
        waves_after_restart_hours: last
            .map(|r| {
                r.waves
                    .iter()
                    .map(|w| w.after_restart_hours)
                    .filter(|h| *h > 0.0)
                    .collect()
            })
            .unwrap_or_default(),
        baseline_not_at_nrt: report
            .baseline_not_at_nrt
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
        lost_by_reason,
        lost_by_type,
        baseline_lost_by_type: BTreeMap::new(),
        peak_workers: report.peak_workers,
        worker_hours: report.worker_hours,
        redispatches,
        steps_not_run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::sweep::PlanInputs;

    /// Every run of the work simulated from its start, as before runs shared their prefix.
    fn fresh(work: &Work) -> Vec<RunRecord> {
        let baselines: Vec<(Baseline, RunRecord)> = work.baselines.iter().map(baseline).collect();
        let mut records: Vec<RunRecord> = work
            .runs
            .iter()
            .map(|(point, seed, cfg, g)| {
                let (b, nominal) = &baselines[*g];
                let mut r = if cfg.steps.is_empty() {
                    RunRecord {
                        point: *point,
                        ..nominal.clone()
                    }
                } else {
                    record(*point, *seed, cfg, hrsi_sim::run(cfg, Some(b)))
                };
                r.baseline_lost_by_type = nominal.lost_by_type.clone();
                r
            })
            .collect();
        records.sort_by_key(|r| (r.point, r.seed));
        records
    }

    #[test]
    fn runs_forked_from_their_shared_prefix_give_the_records_of_fresh_runs() {
        for sweeps in [
            vec!["scenario.restart=all,waves", "scenario.outage_days=1,2"],
            // Two stops at different instants: two prefixes per seed.
            vec![
                "scenario.outage_start_day=1,2.5",
                "scenario.restart=all,waves",
            ],
        ] {
            let plan = Plan::new(PlanInputs {
                days: Some(6),
                outage_start_day: Some(2.0),
                outage_days: Some(1.0),
                sweeps: sweeps.iter().map(|s| (*s).to_owned()).collect(),
                replications: Some(2),
                ..PlanInputs::default()
            })
            .unwrap();
            let work = Work::new(&plan, None).unwrap();
            let forks = work.forks();
            assert!(
                forks.iter().all(|f| matches!(f, Fork::Trunk { branches, .. } if branches.len() > 1 || branches.values().any(|r| r.len() > 1))),
                "{sweeps:?}: the runs of a seed share a trunk"
            );
            let ticks = std::sync::atomic::AtomicUsize::new(0);
            let forked = work.execute(&|| {
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
            assert_eq!(
                ticks.into_inner(),
                work.baselines() + work.runs(),
                "one tick per run"
            );
            assert_eq!(
                serde_json::to_string(&forked).unwrap(),
                serde_json::to_string(&fresh(&work)).unwrap(),
                "{sweeps:?}"
            );
        }
    }

    #[test]
    fn shard_specs_are_one_based_and_checked() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains("hint"), "{e}");
        }
    }
}
