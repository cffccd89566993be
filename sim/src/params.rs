//! `cosims.system_parameters`: every column with its SQL default, and how the services read
//! them (database.md §4).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::job_type::JobType;
use crate::time::{Instant, Ms};

/// The SQL type of a parameter, which decides how a value is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `smallint` / `bigint`.
    Int,
    /// `float`.
    Float,
    /// `boolean`.
    Bool,
    /// `text`.
    Text,
    /// `timestamp` (nullable).
    Timestamp,
}

/// One column: name, type, SQL default (`None` = NULL), whether any code reads it.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// SQL type.
    pub kind: Kind,
    /// SQL default as text, `None` for NULL.
    pub default: Option<&'static str>,
    /// Whether the simulated system reads it (`false`: no code reads it, as in the real system).
    pub read: bool,
}

const fn col(name: &'static str, kind: Kind, default: Option<&'static str>, read: bool) -> Column {
    Column {
        name,
        kind,
        default,
        read,
    }
}

/// Default `job_types_list`, with double quotes as in `init_database.sql`.
pub const DEFAULT_JOB_TYPES_LIST: &str =
    r#"["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]"#;

/// Every column of `cosims.system_parameters` except `id`.
pub const COLUMNS: &[Column] = &[
    col(
        "max_number_of_worker_instances",
        Kind::Int,
        Some("210"),
        true,
    ),
    col("max_number_of_vcpus", Kind::Int, Some("920"), true),
    col(
        "max_time_for_worker_without_nomad_allocation",
        Kind::Int,
        Some("15"),
        true,
    ),
    col(
        "max_ratio_of_vcpus_to_be_used",
        Kind::Float,
        Some("0.95"),
        false,
    ),
    col(
        "max_number_of_extra_large_worker_instances",
        Kind::Int,
        Some("2"),
        false,
    ),
    col(
        "job_types_list",
        Kind::Text,
        Some(DEFAULT_JOB_TYPES_LIST),
        true,
    ),
    col(
        "s1_search_default_duration_in_days",
        Kind::Int,
        Some("7"),
        true,
    ),
    col(
        "s1_processing_start_date",
        Kind::Timestamp,
        Some("2021-06-24T00:00:00"),
        true,
    ),
    col(
        "s2_search_default_duration_in_days",
        Kind::Int,
        Some("7"),
        true,
    ),
    col(
        "s2_processing_start_date",
        Kind::Timestamp,
        Some("2020-05-01T00:00:00"),
        true,
    ),
    col(
        "gapfilling_search_default_duration_in_days",
        Kind::Int,
        Some("7"),
        true,
    ),
    col(
        "maja_consecutive_jobs_threshold_value",
        Kind::Int,
        Some("60"),
        true,
    ),
    col(
        "maja_backward_required_job_number",
        Kind::Int,
        Some("8"),
        true,
    ),
    col(
        "activate_backward_reprocessing",
        Kind::Bool,
        Some("true"),
        true,
    ),
    col(
        "rabbitmq_communication_endpoint",
        Kind::Text,
        Some("hidden_value"),
        true,
    ),
    col(
        "docker_image_for_si_processing",
        Kind::Text,
        Some("hidden_value"),
        true,
    ),
    col(
        "docker_image_for_test_job_processing",
        Kind::Text,
        Some("hidden_value"),
        true,
    ),
    col(
        "docker_image_for_rliepart2_processing",
        Kind::Text,
        Some("hidden_value"),
        true,
    ),
    col(
        "docker_image_for_gfsc_processing",
        Kind::Text,
        Some("hidden_value"),
        true,
    ),
    col(
        "docker_image_for_sws_wds_processing",
        Kind::Text,
        Some("hidden_value"),
        true,
    ),
    col(
        "worker_init_package_tag",
        Kind::Text,
        Some("hidden_value"),
        false,
    ),
    col("ssp_aux_version", Kind::Text, Some("V20211119"), true),
    col("job_creation_loop_sleep", Kind::Int, Some("5"), true),
    col("job_configuration_loop_sleep", Kind::Int, Some("5"), true),
    col("job_execution_loop_sleep", Kind::Int, Some("5"), true),
    col("job_publication_loop_sleep", Kind::Int, Some("5"), true),
    col(
        "rlies1s2_min_delay_from_end_of_day_hours",
        Kind::Int,
        Some("8"),
        true,
    ),
    col(
        "rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products",
        Kind::Int,
        Some("24"),
        true,
    ),
    col(
        "rlies1s2_min_search_window_days",
        Kind::Int,
        Some("7"),
        true,
    ),
    col(
        "rlies1s2_max_search_window_days",
        Kind::Int,
        Some("31"),
        true,
    ),
    col(
        "rlies1s2_max_search_window_days_absolute",
        Kind::Int,
        None,
        true,
    ),
    col(
        "rlies1s2_earliest_date",
        Kind::Timestamp,
        Some("2021-05-01T00:00:00"),
        true,
    ),
    col("rlies1s2_sleep_seconds_between_loop", Kind::Int, None, true),
    col(
        "gfsc_daily_jobs_creation_start_date",
        Kind::Timestamp,
        None,
        true,
    ),
];

/// A parameter value as the database holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text (also timestamps, kept as given, ISO).
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Text(v) => f.write_str(v),
        }
    }
}

/// Why a parameter could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// No such column.
    #[error("unknown system parameter `{name}`{}", hint.as_ref().map(|h| format!(" (hint: did you mean `{h}`?)")).unwrap_or_default())]
    Unknown {
        /// The name given.
        name: String,
        /// The closest column name.
        hint: Option<String>,
    },
    /// The value does not parse as the column's type.
    #[error("invalid value `{value}` for `{name}`: {reason}")]
    Invalid {
        /// Column.
        name: String,
        /// Value given.
        value: String,
        /// What was expected.
        reason: String,
    },
}

/// How the services would read `job_types_list` (parsed with `json.loads` each loop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobTypesList {
    /// A valid list of known types, in order.
    Valid(Vec<JobType>),
    /// Not JSON (e.g. single quotes): every service fails each loop, does nothing, and recovers
    /// by itself once the value is fixed.
    NotJson,
    /// Valid JSON naming an unknown type: an internal error puts the services to sleep until they
    /// are restarted.
    UnknownType(String),
}

impl JobTypesList {
    /// Parses the text as the services do.
    pub fn parse(text: &str) -> JobTypesList {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return JobTypesList::NotJson;
        };
        let Some(items) = v.as_array() else {
            return JobTypesList::NotJson;
        };
        let mut out = Vec::new();
        for it in items {
            let Some(name) = it.as_str() else {
                return JobTypesList::UnknownType(it.to_string());
            };
            match JobType::from_name(name) {
                Some(t) => out.push(t),
                // test_job is accepted by the real system; it produces nothing we model.
                None if name == "test_job" => {}
                None => return JobTypesList::UnknownType(name.to_owned()),
            }
        }
        JobTypesList::Valid(out)
    }
}

/// The one row of `cosims.system_parameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemParameters {
    values: BTreeMap<&'static str, Value>,
}

impl Default for SystemParameters {
    fn default() -> Self {
        let values = COLUMNS
            .iter()
            .map(|c| {
                (
                    c.name,
                    c.default
                        .map_or(Value::Null, |d| parse_value(c, d).expect("valid default")),
                )
            })
            .collect();
        SystemParameters { values }
    }
}

/// The column with this name, or an error with the closest name as a hint.
pub fn column(name: &str) -> Result<&'static Column, ParamError> {
    COLUMNS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ParamError::Unknown {
            name: name.to_owned(),
            hint: crate::catalogue::suggest(name, COLUMNS.iter().map(|c| c.name))
                .map(str::to_owned),
        })
}

/// The candidate closest to `name` by edit distance, if reasonably close.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_value(c: &Column, text: &str) -> Result<Value, ParamError> {
    let bad = |reason: &str| ParamError::Invalid {
        name: c.name.to_owned(),
        value: text.to_owned(),
        reason: reason.to_owned(),
    };
    if text.eq_ignore_ascii_case("null") {
        return Ok(Value::Null);
    }
    Ok(match c.kind {
        Kind::Int => {
            let v: i64 = text
                .trim()
                .parse()
                .map_err(|_| bad("expected an integer"))?;
            if !(-32768..=32767).contains(&v) && c.name != "rlies1s2_sleep_seconds_between_loop" {
                return Err(bad("out of range for smallint (-32768..32767)"));
            }
            Value::Int(v)
        }
        Kind::Float => Value::Float(text.trim().parse().map_err(|_| bad("expected a number"))?),
        Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "on" | "1" => Value::Bool(true),
            "false" | "f" | "no" | "off" | "0" => Value::Bool(false),
            _ => return Err(bad("expected true or false")),
        },
        Kind::Timestamp => {
            Instant::parse(text).map_err(|e| bad(&e))?;
            Value::Text(text.trim().to_owned())
        }
        Kind::Text => Value::Text(text.to_owned()),
    })
}

impl SystemParameters {
    /// Sets a column from its text form, as `UPDATE cosims.system_parameters SET name = 'text'`
    /// would coerce it. `job_types_list` is stored as given, even when not valid JSON: that is
    /// what the database accepts (the services then fail to read it).
    pub fn set(&mut self, name: &str, text: &str) -> Result<(), ParamError> {
        let c = column(name)?;
        let v = parse_value(c, text)?;
        self.values.insert(c.name, v);
        Ok(())
    }

    /// The value of a column.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Integer value of a column (`None` when NULL).
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }

    /// Boolean value of a column.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(Value::Bool(v)) => Some(*v),
            _ => None,
        }
    }

    /// A timestamp column as an instant (`None` when NULL).
    pub fn timestamp(&self, name: &str) -> Option<Instant> {
        match self.values.get(name) {
            Some(Value::Text(v)) => Instant::parse(v).ok(),
            _ => None,
        }
    }

    /// `job_types_list` as the services read it.
    pub fn job_types(&self) -> JobTypesList {
        match self.values.get("job_types_list") {
            Some(Value::Text(t)) => JobTypesList::parse(t),
            _ => JobTypesList::NotJson,
        }
    }

    /// All columns that differ from their SQL default, sorted by name.
    pub fn changed(&self) -> BTreeMap<&'static str, Value> {
        let defaults = SystemParameters::default();
        self.values
            .iter()
            .filter(|(k, v)| defaults.values.get(*k) != Some(*v))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }
}

/// A parameter change at a given simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamChange {
    /// When (ms since start).
    pub at: Ms,
    /// Column.
    pub name: String,
    /// Text value.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_sql_defaults() {
        let p = SystemParameters::default();
        assert_eq!(p.int("max_number_of_worker_instances"), Some(210));
        assert_eq!(p.int("rlies1s2_max_search_window_days"), Some(31));
        assert_eq!(
            p.get("gfsc_daily_jobs_creation_start_date"),
            Some(&Value::Null)
        );
        assert_eq!(
            p.job_types(),
            JobTypesList::Valid(crate::job_type::ALL_TYPES.to_vec())
        );
        assert_eq!(COLUMNS.len(), 34);
    }

    #[test]
    fn single_quoted_list_is_not_json_and_unknown_name_is_an_internal_error() {
        assert_eq!(
            JobTypesList::parse("['fsc_rlie_job', 'rlies1_job']"),
            JobTypesList::NotJson
        );
        assert_eq!(
            JobTypesList::parse(r#"["fsc_rlie_job", "rlie_s1_job"]"#),
            JobTypesList::UnknownType("rlie_s1_job".into())
        );
    }

    #[test]
    fn unknown_names_get_a_hint_and_bad_values_a_reason() {
        let mut p = SystemParameters::default();
        let e = p.set("max_number_of_worker_instance", "40").unwrap_err();
        assert!(
            e.to_string()
                .contains("did you mean `max_number_of_worker_instances`"),
            "{e}"
        );
        let e = p.set("max_number_of_worker_instances", "many").unwrap_err();
        assert!(e.to_string().contains("expected an integer"), "{e}");
        p.set("gfsc_daily_jobs_creation_start_date", "2025-01-10")
            .unwrap();
        assert_eq!(
            p.timestamp("gfsc_daily_jobs_creation_start_date"),
            Instant::parse("2025-01-10").ok()
        );
    }
}
