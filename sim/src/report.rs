//! The report of a run: stable field names for `--json`, and the timeline as CSV.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calibration::{ASSUMPTIONS, Calibration};
use crate::config::{Config, Fidelity};
use crate::engine::Outcome;
use crate::job_type::ALL_TYPES;
use crate::model::{Bucket, LostReason};
use crate::params::Value;
use crate::time::{HOUR, Instant, Ms};

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
    /// Backward-reprocessing jobs (FSC/RLIE init mode).
    pub reprocessed: u64,
    /// Hours from the type's restart until it is back to its nominal overdue level (null: never).
    pub catch_up_hours: Option<f64>,
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

/// A restart and the catch-up of each type it enabled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestartReport {
    /// When the services started.
    pub at: String,
    /// Catch-up hours per type enabled after this restart (null: not caught up).
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

fn hours(ms: Ms) -> f64 {
    (ms as f64 / HOUR as f64 * 100.0).round() / 100.0
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

impl Report {
    /// Builds the report of an outcome.
    pub fn new(cfg: &Config, mut out: Outcome) -> Report {
        let iso = |ms: Ms| Instant(cfg.start.0 + ms).iso();
        let last = out.restarts.last();
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
                reprocessed: out.stats[i].reprocessed,
                catch_up_hours: last.and_then(|r| Some(hours(r.caught_at[i]? - r.enabled_at[i]?))),
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
                .map(|r| RestartReport {
                    at: iso(r.at),
                    catch_up_hours: ALL_TYPES
                        .iter()
                        .filter(|t| r.enabled_at[t.idx()].is_some())
                        .map(|t| {
                            (
                                t.name(),
                                r.caught_at[t.idx()]
                                    .map(|c| hours(c - r.enabled_at[t.idx()].unwrap_or(c))),
                            )
                        })
                        .collect(),
                })
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
