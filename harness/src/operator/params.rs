//! `hrsi params set` without its command line: the checks the runbook's "Patch system
//! parameters table content" lacks (database.md §4): names, types, `job_types_list` as the
//! services parse it, whole-second timestamps; then one UPDATE, which the table's trigger
//! records in `system_parameters_history`, read back.

use std::collections::BTreeMap;

use hrsi_sim::{
    job_type::ALL_TYPES,
    params::{self, JobTypesList, Kind, SystemParameters},
};
use serde_json::Value;

use super::{OpError, Target, failed, usage};
use crate::postgres::{quote_ident, quote_literal};

/// Longest text value accepted (docker image names, endpoints).
pub const MAX_TEXT: usize = 2048;

/// A value as `hrsi params get` prints it (`NULL` for null).
pub fn text_of(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks one `NAME=VALUE`; returns the column and the value (None = NULL).
pub fn validate(pair: &str) -> Result<(&'static str, Option<String>), OpError> {
    let (name, value) = pair.split_once('=').ok_or_else(|| {
        usage(format!(
            "`{pair}`: expected NAME=VALUE, e.g. max_number_of_worker_instances=3"
        ))
    })?;
    let name = name.trim();
    let col = params::column(name).map_err(|e| usage(e.to_string()))?;
    let mut p = SystemParameters::default();
    p.set(col.name, value).map_err(|e| usage(e.to_string()))?;
    if value.eq_ignore_ascii_case("null") {
        return Ok((col.name, None));
    }
    if value.len() > MAX_TEXT || value.chars().any(|c| c.is_control()) {
        return Err(usage(format!(
            "invalid value for `{}`: at most {MAX_TEXT} characters, no control characters",
            col.name
        )));
    }
    if col.kind == Kind::Timestamp && value.contains('.') {
        return Err(usage(format!(
            "invalid value `{value}` for `{}`: the services parse it with '%Y-%m-%dT%H:%M:%S', so whole seconds are required\n(hint: {})",
            col.name,
            value.split('.').next().unwrap_or(value)
        )));
    }
    if col.name == "job_types_list" {
        check_job_types(value)?;
    }
    let value = match col.kind {
        Kind::Int | Kind::Float | Kind::Bool => value.trim().to_owned(),
        _ => value.to_owned(),
    };
    Ok((col.name, Some(value)))
}

/// Checks every pair of one change: each valid, none given twice.
pub fn validate_all<S: AsRef<str>>(
    pairs: &[S],
) -> Result<BTreeMap<String, Option<String>>, OpError> {
    let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
    for pair in pairs {
        let (name, v) = validate(pair.as_ref())?;
        if values.insert(name.to_owned(), v).is_some() {
            return Err(usage(format!("`{name}` is given twice")));
        }
    }
    Ok(values)
}

fn check_job_types(value: &str) -> Result<(), OpError> {
    let known = ALL_TYPES.map(|t| t.name());
    match JobTypesList::parse(value) {
        JobTypesList::Valid(_) => Ok(()),
        JobTypesList::NotJson => {
            let fixed = value.replace('\'', "\"");
            let hint = if matches!(JobTypesList::parse(&fixed), JobTypesList::Valid(_)) {
                format!(
                    "JSON needs double quotes (the Python model's single-quoted default is not JSON); use:\n  job_types_list='{fixed}'"
                )
            } else {
                format!(
                    "a JSON list of job types with double quotes, e.g.\n  job_types_list='[\"{}\"]'",
                    known.join("\", \"")
                )
            };
            Err(usage(format!(
                "invalid value `{value}` for `job_types_list`: every service parses it with json.loads each loop; this is not a JSON list, so every loop would fail and no job would be created\n(hint: {hint})"
            )))
        }
        JobTypesList::UnknownType(t) => {
            let near = params::closest(t.trim_matches('"'), known.iter().copied());
            Err(usage(format!(
                "invalid value for `job_types_list`: unknown job type {t} (the services would stop with an internal error until restarted)\n(hint: {}known types: {}, test_job)",
                near.map(|n| format!("did you mean `{n}`? "))
                    .unwrap_or_default(),
                known.join(", ")
            )))
        }
    }
}

/// The UPDATE the change amounts to (for display; the real one binds its values).
pub fn update_sql(values: &BTreeMap<String, Option<String>>) -> String {
    let sets = values
        .iter()
        .map(|(k, v)| {
            let lit = match (v, params::column(k).map(|c| c.kind)) {
                (None, _) => "null".to_owned(),
                (Some(v), Ok(Kind::Int | Kind::Float | Kind::Bool)) => v.clone(),
                (Some(v), _) => quote_literal(v),
            };
            format!("    {} = {lit}", quote_ident_if_needed(k))
        })
        .collect::<Vec<_>>()
        .join(",\n");
    format!("update\n    cosims.system_parameters\nset\n{sets};")
}

fn quote_ident_if_needed(k: &str) -> String {
    if k.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        k.to_owned()
    } else {
        quote_ident(k)
    }
}

/// `  name: old -> new` per value to write, against the parameters as read (`current`): what
/// `hrsi params set` and a rehearsal's `set_param` show before they write.
pub fn change_lines(
    current: &serde_json::Map<String, Value>,
    values: &BTreeMap<String, Option<String>>,
) -> Vec<String> {
    values
        .iter()
        .map(|(k, v)| {
            let old = current
                .get(k)
                .map(text_of)
                .unwrap_or_else(|| "(missing)".into());
            let new = v.clone().unwrap_or_else(|| "NULL".into());
            format!("  {k}: {old} -> {new}")
        })
        .collect()
}

/// A change made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The `system_parameters_history` row the trigger wrote.
    pub history_id: i64,
    /// Its time (wall clock: the trigger's `now()`).
    pub time: String,
}

/// Writes checked values (from [`validate_all`]) in one UPDATE and reads them back.
pub async fn apply(
    target: &Target,
    values: &BTreeMap<String, Option<String>>,
) -> Result<Applied, OpError> {
    let (history_id, time) = target.set_params(values).await?;
    let after = target.params().await?;
    for (k, v) in values {
        let now = after.get(k).map(text_of).unwrap_or_default();
        let want = v.clone().unwrap_or_else(|| "NULL".into());
        if now != want && !same_number(&now, &want) {
            return Err(failed(format!("`{k}` reads back as `{now}`, not `{want}`")));
        }
    }
    Ok(Applied { history_id, time })
}

/// Whether two printed values are the same value (numbers, booleans, instants).
pub fn same_number(a: &str, b: &str) -> bool {
    matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
        || a.eq_ignore_ascii_case(b)
        || matches!(
            (hrsi_sim::time::Instant::parse(a), hrsi_sim::time::Instant::parse(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runbooks_single_quoted_list_is_refused_with_the_fix() {
        let e = validate("job_types_list=['fsc_rlie_job', 'rlies1_job']").unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, OpError::Usage(_)));
        assert!(
            msg.contains(r#"job_types_list='["fsc_rlie_job", "rlies1_job"]'"#),
            "{msg}"
        );
        let e = validate(r#"job_types_list=["fsc_rlie_job", "rlie_s1_job"]"#).unwrap_err();
        assert!(e.to_string().contains("did you mean `rlies1_job`"), "{e}");
        assert!(validate(r#"job_types_list=["fsc_rlie_job", "test_job"]"#).is_ok());
    }

    #[test]
    fn names_types_and_timestamps_are_checked() {
        let e = validate("max_number_of_worker_instance=3").unwrap_err();
        assert!(
            e.to_string().contains("max_number_of_worker_instances"),
            "{e}"
        );
        assert!(validate("max_number_of_worker_instances=three").is_err());
        assert!(validate("max_number_of_worker_instances=40000").is_err());
        assert!(validate("activate_backward_reprocessing=maybe").is_err());
        assert!(validate("gfsc_daily_jobs_creation_start_date=2026-11-01T00:00:00.5").is_err());
        assert_eq!(
            validate("gfsc_daily_jobs_creation_start_date=null").unwrap(),
            ("gfsc_daily_jobs_creation_start_date", None)
        );
        assert!(validate("novalue").is_err());
        assert_eq!(
            validate("max_number_of_worker_instances= 3")
                .unwrap()
                .1
                .as_deref(),
            Some("3")
        );
        assert!(
            validate_all(&[
                "max_number_of_worker_instances=3",
                "max_number_of_worker_instances=4"
            ])
            .unwrap_err()
            .to_string()
            .contains("given twice")
        );
    }

    #[test]
    fn the_dry_run_update_quotes_text_and_not_numbers() {
        let v = BTreeMap::from([
            (
                "max_number_of_worker_instances".to_owned(),
                Some("3".to_owned()),
            ),
            ("ssp_aux_version".to_owned(), Some("V'1".to_owned())),
            ("gfsc_daily_jobs_creation_start_date".to_owned(), None),
        ]);
        assert_eq!(
            update_sql(&v),
            "update\n    cosims.system_parameters\nset\n    gfsc_daily_jobs_creation_start_date = null,\n    max_number_of_worker_instances = 3,\n    ssp_aux_version = 'V''1';"
        );
    }
}
