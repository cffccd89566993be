//! `hrsi params get` and `hrsi params set`: the runbook's "Patch system parameters table
//! content", with the checks the real procedure lacks (database.md §4): names, types,
//! `job_types_list` as the services parse it, whole-second timestamps. Every change lands in
//! `system_parameters_history` through the table's trigger.

use std::{collections::BTreeMap, process::ExitCode};

use anyhow::Result;
use clap::Subcommand;
use hrsi_harness::postgres::{quote_ident, quote_literal};
use hrsi_sim::{
    job_type::ALL_TYPES,
    params::{self, COLUMNS, JobTypesList, Kind, SystemParameters},
};
use serde_json::Value;

use super::db_target::{Target, TargetArgs, confirm, exit_code, usage};

/// `get` or `set`.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print the parameters (all, or one value for scripts).
    Get(GetArgs),
    /// Change parameters: validated, shown, confirmed, recorded in the history table.
    Set(SetArgs),
}

/// Arguments of `hrsi params get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// One parameter: prints its value alone (NULL prints nothing).
    name: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Print JSON (the row as the API returns it).
    #[arg(long)]
    json: bool,
}

/// Arguments of `hrsi params set`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// `NAME=VALUE` pairs; `NAME=null` sets NULL.
    #[arg(required = true, value_name = "NAME=VALUE")]
    pairs: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Show the change and the UPDATE it would run; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
}

pub(super) const AFTER_HELP: &str = "\
Target: --api URL (or $COSIMS_DB_HTTP_API_BASE_URL), else --database-url URL (or $DATABASE_URL).

Exit codes:
  0  done (or dry run shown)
  1  the database refused the change
  2  bad input (unknown name, wrong type, invalid job_types_list); nothing changed
  3  the API or database is unreachable

Examples:
  hrsi params get
  hrsi params get max_number_of_worker_instances
  hrsi params set max_number_of_worker_instances=3 --dry-run
  hrsi params set 'job_types_list=[\"fsc_rlie_job\", \"rlies1_job\"]' rlies1s2_max_search_window_days=40 --yes";

/// Longest text value accepted (docker image names, endpoints).
const MAX_TEXT: usize = 2048;

/// Runs `hrsi params get|set`.
/// Runs `hrsi params get` or `hrsi params set`.
pub fn run(command: Cmd) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = match command {
        Cmd::Get(a) => runtime.block_on(get(a)),
        Cmd::Set(a) => runtime.block_on(set(a)),
    };
    Ok(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn get(a: GetArgs) -> Result<()> {
    if let Some(n) = &a.name {
        params::column(n).map_err(|e| usage(e.to_string()))?;
    }
    let target = Target::connect(&a.target).await?;
    let row = target.params().await?;
    if let Some(n) = &a.name {
        let v = row.get(n.as_str()).cloned().unwrap_or(Value::Null);
        if a.json {
            println!("{v}");
        } else if !v.is_null() {
            println!("{}", text_of(&v));
        }
        return Ok(());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&row)?);
        return Ok(());
    }
    let width = COLUMNS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in COLUMNS {
        let v = row
            .get(c.name)
            .map(text_of)
            .unwrap_or_else(|| "(missing)".into());
        let default = c.default.unwrap_or("NULL");
        let same = v == default || same_number(&v, default);
        let note = if same {
            String::new()
        } else {
            format!("   (default {default})")
        };
        println!("{:width$}  {v}{note}", c.name);
    }
    // Columns of a user's schema that hrsi does not know.
    for (k, v) in &row {
        if k != "id" && params::column(k).is_err() {
            println!("{k:width$}  {}   (not a known parameter)", text_of(v));
        }
    }
    Ok(())
}

/// Checks one `NAME=VALUE`; returns the column and the value (None = NULL).
pub fn validate(pair: &str) -> Result<(&'static str, Option<String>)> {
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

fn check_job_types(value: &str) -> Result<()> {
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

async fn set(a: SetArgs) -> Result<()> {
    let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
    for pair in &a.pairs {
        let (name, v) = validate(pair)?;
        if values.insert(name.to_owned(), v).is_some() {
            return Err(usage(format!("`{name}` is given twice")));
        }
    }
    let target = Target::connect(&a.target).await?;
    let current = target.params().await?;
    eprintln!("On {}:", target.describe());
    for (k, v) in &values {
        let old = current
            .get(k)
            .map(text_of)
            .unwrap_or_else(|| "(missing)".into());
        let new = v.clone().unwrap_or_else(|| "NULL".into());
        eprintln!("  {k}: {old} -> {new}");
    }
    let sql = update_sql(&values);
    if a.dry_run {
        println!("{sql}");
        if let Target::Api { base, .. } = &target {
            let body: serde_json::Map<String, Value> = values
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
                .collect();
            println!(
                "-- through the API: PATCH {base}/system_parameters {}",
                Value::Object(body)
            );
        }
        eprintln!("dry run: nothing changed");
        return Ok(());
    }
    if !confirm(a.yes, "change these system parameters")? {
        eprintln!("nothing changed");
        return Ok(());
    }
    let (history_id, time) = target.set_params(&values).await?;
    let after = target.params().await?;
    for (k, v) in &values {
        let now = after.get(k).map(text_of).unwrap_or_default();
        let want = v.clone().unwrap_or_else(|| "NULL".into());
        if now != want && !same_number(&now, &want) {
            return Err(anyhow::anyhow!("`{k}` reads back as `{now}`, not `{want}`"));
        }
    }
    println!(
        "changed {} parameter(s); history row {history_id} at {time}",
        values.len()
    );
    Ok(())
}

fn same_number(a: &str, b: &str) -> bool {
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
        let msg = format!("{e:#}");
        assert!(
            msg.contains(r#"job_types_list='["fsc_rlie_job", "rlies1_job"]'"#),
            "{msg}"
        );
        let e = validate(r#"job_types_list=["fsc_rlie_job", "rlie_s1_job"]"#).unwrap_err();
        assert!(
            format!("{e:#}").contains("did you mean `rlies1_job`"),
            "{e:#}"
        );
        assert!(validate(r#"job_types_list=["fsc_rlie_job", "test_job"]"#).is_ok());
    }

    #[test]
    fn names_types_and_timestamps_are_checked() {
        let e = validate("max_number_of_worker_instance=3").unwrap_err();
        assert!(
            format!("{e}").contains("max_number_of_worker_instances"),
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
