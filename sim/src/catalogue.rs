//! The catalogue of every knob a run has: the columns of `cosims.system_parameters` and the
//! calibration keys, each with its type, default, meaning and whether the model reads it. Pure
//! data for `hrsi params --defaults` and for the operator tools; near-miss names get a
//! suggestion.

use serde::Serialize;

use crate::calibration::Calibration;
use crate::params::{COLUMNS, Column, Kind};

/// Which table a knob belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// A column of `cosims.system_parameters` (`--set NAME=VALUE`).
    SystemParameter,
    /// A calibration key (an assumption of the model; `--calibration FILE`).
    Calibration,
}

/// Whether the model reads a knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelReads {
    /// Setting it changes the run.
    Yes,
    /// Only with this fidelity switch on (the real code does not act on it).
    WithFidelity(&'static str),
    /// The model ignores it: setting it changes nothing in the run.
    No,
}

/// One knob.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// System parameter or calibration.
    pub group: Group,
    /// Its name.
    pub name: &'static str,
    /// SQL type for a parameter (`smallint`, `float`, `boolean`, `text`, `timestamp`); `number`
    /// for a calibration value.
    pub kind: &'static str,
    /// Default as text (`NULL` for a NULL column).
    pub default: String,
    /// What it means (and its unit).
    pub meaning: &'static str,
    /// Whether the real system's code reads it (parameters; calibration: always true).
    pub read_by_system: bool,
    /// Whether the model reads it.
    pub model_reads: ModelReads,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Int => "smallint",
        Kind::Float => "float",
        Kind::Bool => "boolean",
        Kind::Text => "text",
        Kind::Timestamp => "timestamp",
    }
}

/// Meaning of a system parameter (jobs.md §8, database.md §4, orchestration.md).
fn param_meaning(name: &str) -> &'static str {
    match name {
        "max_number_of_worker_instances" => {
            "most worker VMs (names os-worker-001 … os-worker-<max>); read by the worker pool"
        }
        "max_number_of_vcpus" => "vCPU quota the worker pool sizes against (920)",
        "max_time_for_worker_without_nomad_allocation" => {
            "minutes before a worker without a Nomad allocation is deleted (stale worker)"
        }
        "max_ratio_of_vcpus_to_be_used" => "not read: 0.95 is hard-coded in the worker pool",
        "max_number_of_extra_large_worker_instances" => {
            "intended cap of hm.xlarge (SWS/WDS) workers; no code enforces it"
        }
        "job_types_list" => {
            "JSON list of the job types every service works on (double quotes: json.loads)"
        }
        "s1_search_default_duration_in_days" => {
            "days SWS/WDS looks back for S1 and FSC when the database is empty"
        }
        "s1_processing_start_date" => "SWS/WDS: older sensing is cancelled",
        "s2_search_default_duration_in_days" => {
            "days FSC/RLIE looks back when the database is empty"
        }
        "s2_processing_start_date" => "FSC/RLIE: older sensing is cancelled",
        "gapfilling_search_default_duration_in_days" => {
            "GFSC aggregation timespan (days): input window, FSC-trigger look-back before the \
             creation window, 'input GFSC too old' limit of daily jobs"
        }
        "maja_consecutive_jobs_threshold_value" => {
            "days without an L2A after which FSC/RLIE restarts in init mode"
        }
        "maja_backward_required_job_number" => {
            "L1Cs of a backward (init) reprocessing; degraded-quality threshold"
        }
        "activate_backward_reprocessing" => "FSC/RLIE backward reprocessing jobs on/off",
        "rabbitmq_communication_endpoint" => "message bus endpoint (secret in production)",
        "docker_image_for_si_processing"
        | "docker_image_for_test_job_processing"
        | "docker_image_for_rliepart2_processing"
        | "docker_image_for_gfsc_processing"
        | "docker_image_for_sws_wds_processing" => "processing container image of a job type",
        "worker_init_package_tag" => "not read: worker init package tag",
        "ssp_aux_version" => "version of the SWS/WDS auxiliary data",
        "job_creation_loop_sleep" => "seconds between two creation loop iterations",
        "job_configuration_loop_sleep" => "seconds between two configuration loop iterations",
        "job_execution_loop_sleep" => "seconds between two execution loop iterations",
        "job_publication_loop_sleep" => "seconds between two publication loop iterations",
        "rlies1s2_min_delay_from_end_of_day_hours" => {
            "intended RLIE-S1-S2 delay after the end of a day (no effect as coded)"
        }
        "rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products" => {
            "intended RLIE-S1-S2 wait for RLIE-S1 products (no effect as coded)"
        }
        "rlies1s2_min_search_window_days" => "RLIE-S1-S2 minimum backward scan, days",
        "rlies1s2_max_search_window_days" => {
            "RLIE-S1-S2 maximum backward scan, days: must exceed a downtime"
        }
        "rlies1s2_max_search_window_days_absolute" => {
            "cap on the RLIE-S1-S2 roll-back to a day with inputs (NULL: unbounded)"
        }
        "rlies1s2_earliest_date" => "RLIE-S1-S2 floor date",
        "rlies1s2_sleep_seconds_between_loop" => {
            "if set, the RLIE-S1-S2 creation iteration crashes (missing import); not modelled"
        }
        "gfsc_daily_jobs_creation_start_date" => {
            "first day of GFSC daily jobs after a (re)start, read only at the service's first \
             night pass: set it at the restart after a long outage"
        }
        _ => "",
    }
}

fn param_model_reads(name: &str) -> ModelReads {
    match name {
        "max_number_of_worker_instances"
        | "job_types_list"
        | "gapfilling_search_default_duration_in_days"
        | "maja_consecutive_jobs_threshold_value"
        | "maja_backward_required_job_number"
        | "activate_backward_reprocessing"
        | "job_creation_loop_sleep"
        | "job_configuration_loop_sleep"
        | "job_execution_loop_sleep"
        | "job_publication_loop_sleep"
        | "rlies1s2_min_search_window_days"
        | "rlies1s2_max_search_window_days"
        | "rlies1s2_max_search_window_days_absolute"
        | "gfsc_daily_jobs_creation_start_date" => ModelReads::Yes,
        "max_number_of_extra_large_worker_instances" => ModelReads::WithFidelity("xl_worker_cap"),
        "rlies1s2_min_delay_from_end_of_day_hours"
        | "rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products" => {
            ModelReads::WithFidelity("rlies1s2_end_of_day_guards")
        }
        _ => ModelReads::No,
    }
}

/// Calibration keys: meaning and unit (the defaults come from [`Calibration::default`]).
const CALIBRATION: &[(&str, &str)] = &[
    (
        "s2_l1c_per_day",
        "Sentinel-2 L1C tile products per day over EEA39",
    ),
    (
        "s1_grd_per_day",
        "Sentinel-1 GRD products per day (one satellite)",
    ),
    (
        "s1_passes_per_tile_per_cycle",
        "mean S1 passes per tile per 12-day cycle",
    ),
    (
        "s1_passes_per_mountain_tile_per_cycle",
        "mean S1 passes per mountain tile per 12-day cycle",
    ),
    (
        "s1_morning_pass_fraction",
        "share of S1 tracks passing in the morning (0-1)",
    ),
    (
        "s2_dark_tile_fraction",
        "share of tiles without S2 acquisitions (polar night, 0-0.9)",
    ),
    ("fsc_rlie_minutes", "median FSC/RLIE processing, minutes"),
    ("rlies1_minutes", "median RLIE-S1 processing, minutes"),
    ("rlies1s2_minutes", "median RLIE-S1-S2 processing, minutes"),
    ("sws_wds_minutes", "median SWS/WDS processing, minutes"),
    ("gfsc_minutes", "median GFSC processing, minutes"),
    (
        "duration_sigma",
        "log-normal spread (sigma of the log) of every processing time",
    ),
    (
        "worker_boot_minutes",
        "worker creation request until its Nomad node is ready, minutes",
    ),
    (
        "availability_min_hours",
        "input availability after sensing, minimum, hours",
    ),
    (
        "availability_max_hours",
        "input availability after sensing, maximum, hours",
    ),
    (
        "internal_error_rate",
        "probability that a worker run ends in an internal error",
    ),
    (
        "external_error_rate",
        "probability that a worker run ends in an external error",
    ),
    (
        "error_processing_share",
        "share of errors raised during processing (0-1)",
    ),
    (
        "no_product_rate",
        "share of FSC/RLIE with nothing to publish (too cloudy)",
    ),
    (
        "indexing_minutes",
        "publication until the catalogue lists the product, minutes",
    ),
    (
        "warm_start_days",
        "nominal days simulated before the reported period (not reported)",
    ),
    ("nrt_target_hours", "NRT target on latency, hours"),
    (
        "confirm_window_hours",
        "catch-up confirmation window W, hours",
    ),
    (
        "status_insert_base_ms",
        "status trigger cost per insert, empty history, ms (--fidelity status_trigger_cost)",
    ),
    (
        "status_insert_ms_per_million_rows",
        "status trigger cost per insert per million history rows, ms",
    ),
    (
        "status_history_rows",
        "rows of job_status_changes before the world starts (production: 1.2 M)",
    ),
];

/// Every system parameter (in table order), then every calibration key.
pub fn entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = COLUMNS
        .iter()
        .map(|c: &Column| Entry {
            group: Group::SystemParameter,
            name: c.name,
            kind: kind_name(c.kind),
            default: c.default.unwrap_or("NULL").to_owned(),
            meaning: param_meaning(c.name),
            read_by_system: c.read,
            model_reads: param_model_reads(c.name),
        })
        .collect();
    let defaults = Calibration::default().to_full_value();
    for (name, meaning) in CALIBRATION {
        out.push(Entry {
            group: Group::Calibration,
            name,
            kind: "number",
            default: defaults[name].to_string(),
            meaning,
            read_by_system: true,
            model_reads: ModelReads::Yes,
        });
    }
    out
}

/// The catalogue entry of a name.
pub fn find(name: &str) -> Option<Entry> {
    entries().into_iter().find(|e| e.name == name)
}

/// The known name a near-miss most likely means: one that contains every word of it (plurals
/// folded: `max_number_of_workers` → `max_number_of_worker_instances`), else the closest by
/// edit distance. `None` when nothing is close.
pub fn suggest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let words = |s: &str| -> Vec<String> {
        s.to_ascii_lowercase()
            .split(['_', '-', '.', ' '])
            .filter(|w| !w.is_empty())
            .map(|w| {
                w.strip_suffix('s')
                    .filter(|r| r.len() > 2)
                    .unwrap_or(w)
                    .to_owned()
            })
            .collect()
    };
    let want = words(name);
    if want.len() >= 2 {
        let by_words = candidates
            .clone()
            .filter(|c| {
                let have = words(c);
                want.iter().all(|w| have.contains(w))
            })
            .min_by_key(|c| (c.len(), *c));
        if by_words.is_some() {
            return by_words;
        }
    }
    crate::params::closest(name, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_and_calibration_key_is_listed_with_a_meaning() {
        let all = entries();
        for c in COLUMNS {
            let e = all.iter().find(|e| e.name == c.name).expect("listed");
            assert!(!e.meaning.is_empty(), "{}: no meaning", c.name);
        }
        let cal = Calibration::default().to_full_value();
        let keys: Vec<&String> = cal.as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            CALIBRATION.len(),
            "a calibration key without an entry"
        );
        for k in keys {
            assert!(
                all.iter()
                    .any(|e| e.name == k && e.group == Group::Calibration),
                "{k}"
            );
        }
        let w = find("max_number_of_worker_instances").unwrap();
        assert_eq!(
            (w.kind, w.default.as_str(), w.model_reads),
            ("smallint", "210", ModelReads::Yes)
        );
        assert_eq!(
            find("max_number_of_vcpus").unwrap().model_reads,
            ModelReads::No
        );
        assert_eq!(find("fsc_rlie_minutes").unwrap().default, "40.0");
    }

    #[test]
    fn near_misses_suggest_the_right_name() {
        let names = || COLUMNS.iter().map(|c| c.name);
        assert_eq!(
            suggest("max_number_of_workers", names()),
            Some("max_number_of_worker_instances")
        );
        assert_eq!(
            suggest("max_worker_instances", names()),
            Some("max_number_of_worker_instances")
        );
        assert_eq!(suggest("job_type_list", names()), Some("job_types_list"));
        assert_eq!(
            suggest("rlies1s2_max_search_window", names()),
            Some("rlies1s2_max_search_window_days")
        );
        assert_eq!(suggest("zzz", names()), None);
    }
}
