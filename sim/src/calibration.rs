//! Quantities the public sources do not give: processing durations, boot time, delays, error
//! rates and the geometry behind the daily volumes. Every default is an **assumption**, printed
//! with every report (design/simulation.md, "Calibration").

use serde::{Deserialize, Serialize};

/// The calibration used by a run. Deserialises from a partial file: missing keys keep their
/// defaults; unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Calibration {
    /// Sentinel-2 L1C tile products per day over EEA39 (documented 400–600 FSC/RLIE jobs).
    pub s2_l1c_per_day: f64,
    /// Sentinel-1 GRD products per day, one satellite (documented 80–120 RLIE-S1 jobs).
    pub s1_grd_per_day: f64,
    /// Mean S1 passes per tile per 12-day cycle (geometry; tuned so RLIE-S1-S2 and SWS/WDS land
    /// on their documented volumes).
    pub s1_passes_per_tile_per_cycle: f64,
    /// Mean S1 passes per mountain tile per 12-day cycle (real geometry: 6.1 orbits per
    /// mountain tile with two satellites' worth of products; tuned for the SWS/WDS volume).
    pub s1_passes_per_mountain_tile_per_cycle: f64,
    /// Share of S1 tracks passing in the morning (descending); the others pass in the evening.
    /// WDS pairs an FSC with S1 data of the same day published before it: morning passes.
    pub s1_morning_pass_fraction: f64,
    /// Share of EEA39 tiles without any S2 acquisition in the simulated season (polar night).
    pub s2_dark_tile_fraction: f64,
    /// Median processing minutes, FSC/RLIE.
    pub fsc_rlie_minutes: f64,
    /// Median processing minutes, RLIE-S1.
    pub rlies1_minutes: f64,
    /// Median processing minutes, RLIE-S1-S2.
    pub rlies1s2_minutes: f64,
    /// Median processing minutes, SWS/WDS.
    pub sws_wds_minutes: f64,
    /// Median processing minutes, GFSC.
    pub gfsc_minutes: f64,
    /// Log-normal spread (σ of the log) of every processing time.
    pub duration_sigma: f64,
    /// Minutes from a worker's creation request until its Nomad node is ready.
    pub worker_boot_minutes: f64,
    /// Input availability after sensing, minimum hours (uniform).
    pub availability_min_hours: f64,
    /// Input availability after sensing, maximum hours (uniform).
    pub availability_max_hours: f64,
    /// Probability that one worker run ends in an internal error.
    pub internal_error_rate: f64,
    /// Probability that one worker run ends in an external error.
    pub external_error_rate: f64,
    /// Share of errors raised during processing (the rest in pre/post-processing).
    pub error_processing_share: f64,
    /// Share of FSC/RLIE jobs with nothing to publish (too cloudy: L2A not generated).
    pub no_product_rate: f64,
    /// Minutes from publication until the Finder/WMS catalogue lists the product.
    pub indexing_minutes: f64,
    /// Days of nominal production simulated before the reported period (not reported).
    pub warm_start_days: f64,
    /// NRT target on latency, hours.
    pub nrt_target_hours: f64,
    /// Catch-up confirmation window W, hours.
    pub confirm_window_hours: f64,
    /// The status trigger's cost per insert with an empty history, ms (fidelity
    /// `status_trigger_cost`; the least-squares line through `benches/trigger.rs`: 18 / 59 /
    /// 414 ms per insert at 10 k / 100 k / 1 M rows; database.md §7.12: ~10 ms empty). A job's
    /// first status pays only this (the trigger finds no history to aggregate).
    #[serde(skip_serializing_if = "is_default_insert_base")]
    pub status_insert_base_ms: f64,
    /// The status trigger's cost per insert per million rows of `job_status_changes`, ms (the
    /// same line: 398 ms per million; production saw 0.3–0.4 s in all at 1.2 M rows, this line
    /// gives 0.49 s there).
    #[serde(skip_serializing_if = "is_default_insert_slope")]
    pub status_insert_ms_per_million_rows: f64,
    /// Rows of `job_status_changes` when the world starts (before its warm start adds its own):
    /// production's history, 1.2 M as the facts observed (database.md §7.12).
    #[serde(skip_serializing_if = "is_default_history_rows")]
    pub status_history_rows: f64,
}

/// Defaults of the trigger's cost (omitted from serialised output while they are the defaults,
/// so that reports made before they existed keep their bytes).
const INSERT_BASE_MS: f64 = 16.5;
const INSERT_MS_PER_MILLION_ROWS: f64 = 398.0;
const HISTORY_ROWS: f64 = 1_200_000.0;

fn is_default_insert_base(v: &f64) -> bool {
    *v == INSERT_BASE_MS
}
fn is_default_insert_slope(v: &f64) -> bool {
    *v == INSERT_MS_PER_MILLION_ROWS
}
fn is_default_history_rows(v: &f64) -> bool {
    *v == HISTORY_ROWS
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            s2_l1c_per_day: 500.0,
            s1_grd_per_day: 100.0,
            s1_passes_per_tile_per_cycle: 2.7,
            s1_passes_per_mountain_tile_per_cycle: 10.0,
            s1_morning_pass_fraction: 0.65,
            s2_dark_tile_fraction: 0.18,
            fsc_rlie_minutes: 40.0,
            rlies1_minutes: 20.0,
            rlies1s2_minutes: 5.0,
            sws_wds_minutes: 60.0,
            gfsc_minutes: 5.0,
            duration_sigma: 0.5,
            worker_boot_minutes: 4.0,
            availability_min_hours: 1.0,
            availability_max_hours: 6.0,
            internal_error_rate: 0.01,
            external_error_rate: 0.02,
            error_processing_share: 0.7,
            no_product_rate: 0.10,
            indexing_minutes: 10.0,
            warm_start_days: 10.0,
            nrt_target_hours: 3.0,
            confirm_window_hours: 6.0,
            status_insert_base_ms: INSERT_BASE_MS,
            status_insert_ms_per_million_rows: INSERT_MS_PER_MILLION_ROWS,
            status_history_rows: HISTORY_ROWS,
        }
    }
}

/// The one-paragraph label printed wherever a calibration is shown.
pub const ASSUMPTIONS: &str = "Calibration defaults are ASSUMPTIONS (no processing time, boot time, \
availability delay or error rate is published for HR-S&I): FSC/RLIE 40 min, RLIE-S1 20 min, \
RLIE-S1-S2 5 min, SWS/WDS 60 min, GFSC 5 min (log-normal, sigma 0.5), worker boot 4 min, inputs \
available 1-6 h after sensing, errors 1 % internal / 2 % external per run, 10 % cloudy L1C without \
product, indexing 10 min, 10 days of warm start; geometry drawn per seed and tuned to the documented \
daily volumes (18 % of tiles in polar night, S1 passes per tile 2.7 / mountain tile 10 per 12 days, \
65 % morning passes). Override them with a calibration file.";

impl Calibration {
    /// Median processing time of a type, minutes.
    pub fn minutes(&self, t: crate::job_type::JobType) -> f64 {
        use crate::job_type::JobType::*;
        match t {
            FscRlieJob => self.fsc_rlie_minutes,
            Rlies1Job => self.rlies1_minutes,
            Rlies1s2Job => self.rlies1s2_minutes,
            SwsWdsJob => self.sws_wds_minutes,
            GfscJob => self.gfsc_minutes,
        }
    }

    /// Every value by name, the ones omitted from serialised output at their defaults included.
    pub fn to_full_value(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("calibration is serialisable");
        let obj = v.as_object_mut().expect("calibration is an object");
        for (k, x) in [
            ("status_insert_base_ms", self.status_insert_base_ms),
            (
                "status_insert_ms_per_million_rows",
                self.status_insert_ms_per_million_rows,
            ),
            ("status_history_rows", self.status_history_rows),
        ] {
            obj.insert(k.to_owned(), serde_json::json!(x));
        }
        v
    }

    /// Sets one value by name (for `hrsi plan --sweep calib.NAME=...`).
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        let mut v = self.to_full_value();
        let obj = v.as_object_mut().expect("calibration is an object");
        if !obj.contains_key(name) {
            let hint = crate::catalogue::suggest(name, obj.keys().map(String::as_str))
                .map(|h| format!(" (hint: did you mean `{h}`?)"))
                .unwrap_or_default();
            return Err(format!("unknown calibration value `{name}`{hint}"));
        }
        obj.insert(name.to_owned(), serde_json::json!(value));
        // A refused value leaves the calibration as it was.
        let next: Calibration = serde_json::from_value(v).map_err(|e| e.to_string())?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Refuses values the model cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("s2_l1c_per_day", self.s2_l1c_per_day),
            ("s1_grd_per_day", self.s1_grd_per_day),
            (
                "s1_passes_per_tile_per_cycle",
                self.s1_passes_per_tile_per_cycle,
            ),
            (
                "s1_passes_per_mountain_tile_per_cycle",
                self.s1_passes_per_mountain_tile_per_cycle,
            ),
            ("fsc_rlie_minutes", self.fsc_rlie_minutes),
            ("rlies1_minutes", self.rlies1_minutes),
            ("rlies1s2_minutes", self.rlies1s2_minutes),
            ("sws_wds_minutes", self.sws_wds_minutes),
            ("gfsc_minutes", self.gfsc_minutes),
            ("nrt_target_hours", self.nrt_target_hours),
        ];
        for (n, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!(
                    "calibration `{n}` must be a positive number, got {v}"
                ));
            }
        }
        let shares = [
            ("s2_dark_tile_fraction", self.s2_dark_tile_fraction),
            ("s1_morning_pass_fraction", self.s1_morning_pass_fraction),
            ("internal_error_rate", self.internal_error_rate),
            ("external_error_rate", self.external_error_rate),
            ("error_processing_share", self.error_processing_share),
            ("no_product_rate", self.no_product_rate),
        ];
        for (n, v) in shares {
            let max = if matches!(n, "error_processing_share" | "s1_morning_pass_fraction") {
                1.0
            } else {
                0.9
            };
            if !(0.0..=max).contains(&v) {
                return Err(format!(
                    "calibration `{n}` must be a share between 0 and {max}, got {v}"
                ));
            }
        }
        if self.internal_error_rate + self.external_error_rate > 0.5 {
            return Err("calibration error rates add up to more than 0.5 per run".into());
        }
        let nonneg = [
            ("duration_sigma", self.duration_sigma),
            ("worker_boot_minutes", self.worker_boot_minutes),
            ("availability_min_hours", self.availability_min_hours),
            ("indexing_minutes", self.indexing_minutes),
            ("warm_start_days", self.warm_start_days),
            ("confirm_window_hours", self.confirm_window_hours),
            ("status_insert_base_ms", self.status_insert_base_ms),
            (
                "status_insert_ms_per_million_rows",
                self.status_insert_ms_per_million_rows,
            ),
            ("status_history_rows", self.status_history_rows),
        ];
        for (n, v) in nonneg {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "calibration `{n}` must be zero or positive, got {v}"
                ));
            }
        }
        // Upper bounds keep a run finite: each is far beyond anything plausible, and above
        // them memory (inputs per day) or the event count (delays, durations) explode.
        let most = [
            ("s2_l1c_per_day", self.s2_l1c_per_day, 5_000.0),
            ("s1_grd_per_day", self.s1_grd_per_day, 1_000.0),
            (
                "s1_passes_per_tile_per_cycle",
                self.s1_passes_per_tile_per_cycle,
                50.0,
            ),
            (
                "s1_passes_per_mountain_tile_per_cycle",
                self.s1_passes_per_mountain_tile_per_cycle,
                50.0,
            ),
            ("fsc_rlie_minutes", self.fsc_rlie_minutes, 1_440.0),
            ("rlies1_minutes", self.rlies1_minutes, 1_440.0),
            ("rlies1s2_minutes", self.rlies1s2_minutes, 1_440.0),
            ("sws_wds_minutes", self.sws_wds_minutes, 1_440.0),
            ("gfsc_minutes", self.gfsc_minutes, 1_440.0),
            ("worker_boot_minutes", self.worker_boot_minutes, 1_440.0),
            ("availability_min_hours", self.availability_min_hours, 240.0),
            ("availability_max_hours", self.availability_max_hours, 240.0),
            ("indexing_minutes", self.indexing_minutes, 1_440.0),
            (
                "warm_start_days",
                self.warm_start_days,
                crate::config::MAX_WARM_START_DAYS,
            ),
            ("nrt_target_hours", self.nrt_target_hours, 240.0),
            ("confirm_window_hours", self.confirm_window_hours, 240.0),
            // A minute per insert, or ten billion rows, is beyond any database the services
            // could run on; the bounds keep the cost of one insert finite.
            (
                "status_insert_base_ms",
                self.status_insert_base_ms,
                60_000.0,
            ),
            (
                "status_insert_ms_per_million_rows",
                self.status_insert_ms_per_million_rows,
                60_000.0,
            ),
            ("status_history_rows", self.status_history_rows, 1e10),
        ];
        for (n, v, max) in most {
            if !(v.is_finite() && v <= max) {
                return Err(format!(
                    "calibration `{n}` must be at most {max}, got {v} (larger values make a run \
                     take unbounded memory or time)"
                ));
            }
        }
        if self.availability_max_hours < self.availability_min_hours {
            return Err(
                "calibration `availability_max_hours` is below `availability_min_hours`".into(),
            );
        }
        if self.duration_sigma > 3.0 {
            return Err(format!(
                "calibration `duration_sigma` {} is implausibly large (max 3)",
                self.duration_sigma
            ));
        }
        Ok(())
    }
}
