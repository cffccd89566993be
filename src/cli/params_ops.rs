//! `hrsi params get` and `hrsi params set`: the runbook's "Patch system parameters table
//! content", with the checks the real procedure lacks (database.md §4): names, types,
//! `job_types_list` as the services parse it, whole-second timestamps. Every change lands in
//! `system_parameters_history` through the table's trigger.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use hrsi_harness::operator::params::{
    apply, change_lines, same_number, text_of, update_sql, validate_all,
};
use hrsi_sim::params::{self, COLUMNS};
use serde_json::Value;

use super::db_target::{Target, TargetArgs, confirm, connect, exit_code, usage};

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

async fn get(a: GetArgs) -> Result<()> {
    if let Some(n) = &a.name {
        params::column(n).map_err(|e| usage(e.to_string()))?;
    }
    let target = connect(&a.target).await?;
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

async fn set(a: SetArgs) -> Result<()> {
    let values = validate_all(&a.pairs)?;
    let target = connect(&a.target).await?;
    let current = target.params().await?;
    eprintln!("On {}:", target.describe());
    for line in change_lines(&current, &values) {
        eprintln!("{line}");
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
    let applied = apply(&target, &values).await?;
    let (history_id, time) = (applied.history_id, applied.time);
    println!(
        "changed {} parameter(s); history row {history_id} at {time}",
        values.len()
    );
    Ok(())
}
