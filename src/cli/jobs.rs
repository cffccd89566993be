//! `hrsi jobs patch`: the runbook's "Patch the system database jobs" (`update_jobs_status()`
//! of `patch_database_jobs.py`), its command line. The tool itself (selection, prediction from
//! the matrix, the run through the trigger) is `hrsi_harness::operator::jobs`, shared with the
//! rehearsal's `patch_jobs` step.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use hrsi_harness::{
    operator::jobs::{Patch, Request, summary},
    timefmt::UnixTime,
};

use super::db_target::{TargetArgs, confirm, connect, exit_code};

/// Arguments of `hrsi jobs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Post a sequence of statuses to selected jobs (stuck jobs back to an earlier status).
    #[command(after_long_help = PATCH_HELP)]
    Patch(PatchArgs),
}

/// Arguments of `hrsi jobs patch`.
#[derive(Debug, clap::Args)]
pub struct PatchArgs {
    /// Job type: fsc_rlie, rlies1, rlies1s2, sws_wds, gfsc, psa_arlie or test (the
    /// `job_types_list` names, e.g. `fsc_rlie_job`, work too).
    #[arg(long = "type", value_name = "TYPE")]
    job_type: String,
    /// Select by last status (names or ids, comma-separated), e.g. `internal_error`.
    #[arg(long, value_name = "STATUS,…", value_delimiter = ',')]
    status: Vec<String>,
    /// Select by a time window on this timestamp column of the job table, e.g.
    /// `measurement_date` (with --from, and --to).
    #[arg(long, value_name = "COLUMN", requires = "from")]
    date_column: Option<String>,
    /// Start of the window (inclusive), ISO 8601 UTC.
    #[arg(long, value_name = "TIME", requires = "date_column")]
    from: Option<String>,
    /// End of the window (exclusive) [default: now].
    #[arg(long, value_name = "TIME", requires = "date_column")]
    to: Option<String>,
    /// Only these job ids (the job table's `id`, as `job.id` in the script), comma-separated.
    #[arg(long, value_name = "ID,…", value_delimiter = ',')]
    ids: Vec<i64>,
    /// The statuses to post, in order, e.g. `error_checked,ready`.
    #[arg(long, value_name = "STATUS,…", value_delimiter = ',', required = true)]
    post: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Show the selection and the predicted outcome; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Jobs per selection request.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// Refuse selections larger than this (narrow the selection instead).
    #[arg(long, value_name = "N", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_jobs: u32,
}

const PATCH_HELP: &str = "\
Target: --api URL (or $COSIMS_DB_HTTP_API_BASE_URL), else --database-url URL (or $DATABASE_URL).

Exit codes:
  0  every selected job took every status (or dry run shown, or nothing selected)
  1  some transitions were refused (the report says which and why)
  2  bad input (unknown type, status or column; bad time); nothing changed
  3  the API or database is unreachable

Examples:
  hrsi jobs patch --type fsc_rlie --status internal_error --post error_checked,ready --dry-run
  hrsi jobs patch --type fsc_rlie --date-column measurement_date --from 2022-01-23 \\
      --ids 366230,366231 --post error_checked,ready --yes";

/// Runs `hrsi jobs …`.
pub fn run(args: Args) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let Cmd::Patch(a) = args.command;
    Ok(match runtime.block_on(patch(a)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    })
}

async fn patch(a: PatchArgs) -> Result<ExitCode> {
    let patch = Patch::new(
        &Request {
            job_type: a.job_type.clone(),
            status: a.status.clone(),
            date_column: a.date_column.clone(),
            from: a.from.clone(),
            to: a.to.clone(),
            ids: a.ids.clone(),
            post: a.post.clone(),
        },
        UnixTime::now(),
    )?;
    let target = connect(&a.target).await?;
    let plan = patch.plan(&target, a.page_size, a.max_jobs).await?;
    let post_names = patch.post_names();
    let refused_n = plan.iter().filter(|o| o.refused.is_some()).count();
    eprintln!(
        "{} {} job(s) selected on {}; to post: {}; {} predicted refused by the transition matrix",
        plan.len(),
        patch.type_name(),
        target.describe(),
        post_names,
        refused_n
    );
    if plan.is_empty() {
        println!("nothing selected: no change");
        return Ok(ExitCode::SUCCESS);
    }
    if a.dry_run {
        for o in &plan {
            println!("{}", o.line(true));
        }
        println!(
            "dry run: {} job(s) would change, {} would be refused; nothing changed",
            plan.len() - refused_n,
            refused_n
        );
        return Ok(ExitCode::SUCCESS);
    }
    for o in plan.iter().take(20) {
        eprintln!("  {}", o.line(true));
    }
    if plan.len() > 20 {
        eprintln!("  … and {} more", plan.len() - 20);
    }
    if !confirm(
        a.yes,
        &format!("post {post_names} to {} job(s)", plan.len()),
    )? {
        eprintln!("nothing changed");
        return Ok(ExitCode::SUCCESS);
    }

    // The run: every status through the trigger; a refusal ends that job's sequence.
    let outcomes = patch
        .run(&target, &plan, |o| println!("{}", o.line(false)))
        .await?;
    println!("{}", summary(&outcomes));
    Ok(if outcomes.iter().all(|o| o.refused.is_none()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::exit::FAILED)
    })
}
