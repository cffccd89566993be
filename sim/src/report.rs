//! The report of a run: stable field names for `--json`, and the timeline as CSV.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calibration::{ASSUMPTIONS, Calibration};
use crate::config::{Config, Fidelity};
use crate::engine::{Outcome, RestartRecord};
use crate::job_type::{ALL_TYPES, JobType};
use crate::model::{Bucket, LostReason};
use crate::params::Value;
use crate::recovery::{self, hours};
use crate::time::{Instant, Ms};

/// Percentiles of a duration, in hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// Everything reported for one job type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeReport {
    /// Units that should give a job and became available in the reported window.
    pub inputs: u64,
    /// Jobs created in the window (re-runs and superseded GFSC jobs included).
    pub jobs_created: u64,
    /// Units published.
    pub published: u64,
    /// Of the published, how many had nothing to publish.
    pub no_product: u64,
    /// Units not yet published at the horizon.
    pub pending: u64,
    /// GFSC units whose job a newer one replaced.
    pub superseded: u64,
    /// Units cancelled.
    pub cancelled: u64,
    /// Units lost.
    pub lost: u64,
    /// Lost units by reason.
    pub lost_reasons: BTreeMap<&'static str, u64>,
    /// Units the baseline (same seed, no outage, no step) lost: the errors every day has.
    /// Null for a run without a baseline.
    pub baseline_lost: Option<u64>,
    /// `lost` − `baseline_lost`: what the outage and the operator's steps lost beyond the
    /// daily errors (may be negative: a different run order draws other errors). Null without
    /// a baseline.
    pub lost_vs_baseline: Option<i64>,
    /// Of the published, how many were processed again after a database reset removed their
    /// job (design/simulation.md: counted under `reprocessed`, not twice).
    pub reprocessed: u64,
    /// Backward-reprocessing jobs (FSC/RLIE init mode) created in the window.
    pub backward_jobs: u64,
    /// Recovery of the last restart: hours from the system restart (the `start` step, not the
    /// type's wave) until the type is back to its nominal overdue level. Null: no restart, the
    /// type never got back before the horizon, or its baseline is not at NRT.
    pub recovery_hours: Option<f64>,
    /// Hours from the type's own restart (its wave) until it is back to its nominal overdue
    /// level (null: never, no restart, or the baseline is not at NRT). With waves this is shorter
    /// than `recovery_hours`: read recovery first.
    pub catch_up_hours: Option<f64>,
    /// False when the baseline itself is not at NRT for this type: its nominal overdue level is
    /// above `nrt_allowance` (e.g. a worker cap too small for nominal load). No catch-up or
    /// recovery is then reported for it: "back to nominal" would not mean "back at NRT".
    pub baseline_at_nrt: bool,
    /// The overdue level the NRT target allows: units available during the target plus the
    /// type's inherent wait as coded, at the rate of the baseline's busiest day (see `hrsi_sim::recovery`).
    pub nrt_allowance: i64,
    /// Availability → publication, hours.
    pub latency_hours: Percentiles,
    /// Sensing → publication, hours.
    pub age_hours: Percentiles,
    /// Jobs the monitor re-queued.
    pub redispatches: u64,
    /// The baseline's 99th percentile of overdue units (the catch-up threshold).
    pub nominal_overdue: i64,
}

/// An outage window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutageReport {
    /// When the services stopped.
    pub start: String,
    /// When they started again (null: still down at the horizon).
    pub end: Option<String>,
}

/// One wave of a restart: the instant some types were enabled again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveReport {
    /// When the types were enabled (`job_types_list` widened, or the restart itself).
    pub at: String,
    /// Hours from the system restart to this wave.
    pub after_restart_hours: f64,
    /// The types this wave enabled.
    pub job_types: Vec<&'static str>,
    /// Hours from this wave to each of its types' catch-up (null: never, or baseline not at NRT).
    pub catch_up_hours: BTreeMap<&'static str, Option<f64>>,
}

/// A restart: its recovery first (simulation.md "Recovery"), then its waves and catch-ups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestartReport {
    /// When the services started (the `start` step).
    pub at: String,
    /// Hours from this restart until every type it must bring back is back to its nominal level:
    /// the largest of `recovery_hours_by_type`. Null when some type never recovered before the
    /// horizon (its wave never came, it never caught up, or its baseline is not at NRT).
    pub recovery_hours: Option<f64>,
    /// Per type in production before the outage: hours from this restart to its catch-up instant.
    pub recovery_hours_by_type: BTreeMap<&'static str, Option<f64>>,
    /// Each wave's start instant and the per-wave catch-up, in time order.
    pub waves: Vec<WaveReport>,
    /// Catch-up hours per type enabled after this restart, from its own wave (null: not caught
    /// up, or baseline not at NRT).
    pub catch_up_hours: BTreeMap<&'static str, Option<f64>>,
}

/// The report of `hrsi simulate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Start of the reported window.
    pub start: String,
    /// End of the reported window (the horizon).
    pub end: String,
    /// Per job type, keyed by its `job_types_list` name.
    pub job_types: BTreeMap<&'static str, TypeReport>,
    /// Most worker VMs at once (booting included).
    pub peak_workers: i64,
    /// Worker VM hours, creation request to deletion.
    pub worker_hours: f64,
    /// Events processed.
    pub events: u64,
    /// Job status changes written.
    pub status_changes: u64,
    /// Transitions the status table refuses (0 unless the model is wrong).
    pub illegal_transitions: u64,
    /// Recovery of the last restart (its `recovery_hours`): hours from the system restart until
    /// every type is back to its nominal level. Null without a restart, or when some type never
    /// recovered (see `restarts`).
    pub recovery_hours: Option<f64>,
    /// Types whose baseline is not at NRT (no catch-up or recovery is reported for them).
    pub baseline_not_at_nrt: Vec<&'static str>,
    /// Outage windows.
    pub outages: Vec<OutageReport>,
    /// Restarts and their catch-ups.
    pub restarts: Vec<RestartReport>,
    /// Plan steps that never ran (a wave waiting for a catch-up that did not come).
    pub steps_not_run: usize,
    /// System parameters that differ from their defaults at the start.
    pub system_parameters: BTreeMap<&'static str, Value>,
    /// Fidelity switches.
    pub fidelity: Fidelity,
    /// The calibration used.
    pub calibration: Calibration,
    /// What the calibration's defaults are.
    pub assumptions: &'static str,
}

fn percentiles(v: &mut [u32]) -> Percentiles {
    v.sort_unstable();
    let at = |q: f64| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        Some((f64::from(v[i]) / 3600.0 * 100.0).round() / 100.0)
    };
    Percentiles {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
    }
}

fn restart_report(
    r: &RestartRecord,
    not_at_nrt: &[bool; 5],
    iso: &dyn Fn(Ms) -> String,
) -> RestartReport {
    let catch_up = |t: JobType| -> Option<f64> {
        if not_at_nrt[t.idx()] {
            return None;
        }
        Some(hours(r.caught_at[t.idx()]? - r.enabled_at[t.idx()]?))
    };
    let mut instants: Vec<Ms> = r.enabled_at.iter().flatten().copied().collect();
    instants.sort_unstable();
    instants.dedup();
    let waves = instants
        .into_iter()
        .map(|at| {
            let types: Vec<JobType> = ALL_TYPES
                .into_iter()
                .filter(|t| r.enabled_at[t.idx()] == Some(at))
                .collect();
            WaveReport {
                at: iso(at),
                after_restart_hours: hours(at - r.at),
                job_types: types.iter().map(|t| t.name()).collect(),
                catch_up_hours: types.iter().map(|&t| (t.name(), catch_up(t))).collect(),
            }
        })
        .collect();
    RestartReport {
        at: iso(r.at),
        recovery_hours: recovery::overall_ms(r, not_at_nrt).map(hours),
        recovery_hours_by_type: recovery::recovering(r)
            .map(|t| {
                let h = recovery::recovery_ms(r, t).filter(|_| !not_at_nrt[t.idx()]);
                (t.name(), h.map(hours))
            })
            .collect(),
        waves,
        catch_up_hours: ALL_TYPES
            .into_iter()
            .filter(|t| r.enabled_at[t.idx()].is_some())
            .map(|t| (t.name(), catch_up(t)))
            .collect(),
    }
}

impl Report {
    /// Builds the report of an outcome.
    pub fn new(cfg: &Config, mut out: Outcome) -> Report {
        let iso = |ms: Ms| Instant(cfg.start.0 + ms).iso();
        let last = out.restarts.last();
        let not_at_nrt = out.not_at_nrt;
        let mut job_types = BTreeMap::new();
        for t in ALL_TYPES {
            let i = t.idx();
            let mut r = TypeReport {
                inputs: 0,
                jobs_created: out.stats[i].jobs_created,
                published: 0,
                no_product: 0,
                pending: 0,
                superseded: 0,
                cancelled: 0,
                lost: 0,
                lost_reasons: BTreeMap::new(),
                baseline_lost: out.baseline_lost.map(|b| b[i]),
                lost_vs_baseline: None,
                reprocessed: 0,
                backward_jobs: out.stats[i].reprocessed,
                recovery_hours: last
                    .filter(|_| !not_at_nrt[i])
                    .and_then(|r| recovery::recovery_ms(r, t))
                    .map(hours),
                catch_up_hours: last
                    .filter(|_| !not_at_nrt[i])
                    .and_then(|r| Some(hours(r.caught_at[i]? - r.enabled_at[i]?))),
                baseline_at_nrt: !not_at_nrt[i],
                nrt_allowance: out.nrt_allowance[i],
                latency_hours: percentiles(&mut out.stats[i].latency),
                age_hours: percentiles(&mut out.stats[i].age),
                redispatches: out.stats[i].redispatches,
                nominal_overdue: out.nominal_overdue[i],
            };
            for u in out
                .units
                .iter()
                .filter(|u| u.ty == t && u.avail >= 0 && u.avail < cfg.horizon)
            {
                r.inputs += 1;
                match u.bucket {
                    Bucket::Pending => r.pending += 1,
                    Bucket::Published => {
                        r.published += 1;
                        r.no_product += u64::from(u.no_product);
                        r.reprocessed += u64::from(u.reprocessed);
                    }
                    Bucket::Superseded => r.superseded += 1,
                    Bucket::Cancelled => r.cancelled += 1,
                    Bucket::Lost => {
                        r.lost += 1;
                        debug_assert_ne!(u.reason, LostReason::None);
                        *r.lost_reasons.entry(u.reason.name()).or_default() += 1;
                    }
                }
            }
            r.lost_vs_baseline = r.baseline_lost.map(|b| r.lost as i64 - b as i64);
            job_types.insert(t.name(), r);
        }
        Report {
            seed: cfg.seed,
            start: iso(0),
            end: iso(cfg.horizon),
            job_types,
            peak_workers: out.peak_workers,
            worker_hours: (out.worker_hours * 10.0).round() / 10.0,
            events: out.events,
            status_changes: out.status_changes,
            illegal_transitions: out.illegal_transitions,
            recovery_hours: last
                .and_then(|r| recovery::overall_ms(r, &not_at_nrt))
                .map(hours),
            baseline_not_at_nrt: ALL_TYPES
                .iter()
                .filter(|t| not_at_nrt[t.idx()])
                .map(|t| t.name())
                .collect(),
            outages: out
                .outages
                .iter()
                .map(|o| OutageReport {
                    start: iso(o.0),
                    end: o.1.map(iso),
                })
                .collect(),
            restarts: out
                .restarts
                .iter()
                .map(|r| restart_report(r, &not_at_nrt, &iso))
                .collect(),
            steps_not_run: out.steps_not_run,
            system_parameters: cfg.params.changed(),
            fidelity: cfg.fidelity,
            calibration: cfg.calibration.clone(),
            assumptions: ASSUMPTIONS,
        }
    }

    /// Pretty JSON, byte-stable for the same inputs.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises") + "\n"
    }
}

/// The timeline as CSV: one row per 10 simulated minutes.
pub fn timeline_csv(cfg: &Config, out: &Outcome) -> String {
    let mut s = String::from("time,workers");
    for t in ALL_TYPES {
        let n = t.name();
        s += &format!(",{n}_backlog,{n}_overdue,{n}_running,{n}_published");
    }
    s.push('\n');
    for row in &out.timeline {
        s += &format!("{},{}", Instant(cfg.start.0 + row.at).iso(), row.workers);
        for t in ALL_TYPES {
            let i = t.idx();
            s += &format!(
                ",{},{},{},{}",
                row.backlog[i], row.overdue[i], row.running[i], row.published[i]
            );
        }
        s.push('\n');
    }
    s
}
