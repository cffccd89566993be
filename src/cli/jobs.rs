//! `hrsi jobs patch`: the runbook's "Patch the system database jobs" (`update_jobs_status()`
//! of `patch_database_jobs.py`): select jobs of one type by last status or by a time window on
//! one of their date columns, optionally by id, then post a sequence of statuses through the
//! transition trigger, job by job, and report what changed and what the matrix refused.
//!
//! Differences from the script, on purpose: the selection is paged (the script's first method
//! fails on `done`, which holds most jobs); a refused transition is reported and the next job
//! is patched (the script stops at the first exception); the current status is the last
//! history row, as the trigger reads it, so the prediction matches the trigger.

use std::{collections::BTreeMap, process::ExitCode};

use anyhow::Result;
use clap::Subcommand;
use hrsi_sim::status::{ALL, Status, allowed, allowed_change};

use super::db_target::{Refusal, Selection, Target, TargetArgs, confirm, exit_code, usage};

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

/// The job tables, by type name (database.md §1.3).
const TYPES: &[(&str, &str)] = &[
    ("fsc_rlie", "fsc_rlie_jobs"),
    ("rlies1", "rlies1_jobs"),
    ("rlies1s2", "rlies1s2_jobs"),
    ("sws_wds", "sws_wds_jobs"),
    ("gfsc", "gfsc_jobs"),
    ("psa_arlie", "psa_arlie_jobs"),
    ("test", "test_jobs"),
];

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

fn table_for(t: &str) -> Result<&'static str> {
    let short = t.strip_suffix("_job").unwrap_or(t);
    TYPES
        .iter()
        .find(|(n, _)| *n == short)
        .map(|(_, table)| *table)
        .ok_or_else(|| {
            let near = hrsi_sim::params::closest(short, TYPES.iter().map(|(n, _)| *n));
            usage(format!(
                "unknown job type `{t}`{}\n(hint: one of {})",
                near.map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default(),
                TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ))
        })
}

/// A status by name or id.
pub fn parse_status(s: &str) -> Result<Status> {
    let s = s.trim();
    if let Ok(id) = s.parse::<u8>() {
        return Status::from_id(id).ok_or_else(|| usage(format!("unknown status id {id} (1..16)")));
    }
    ALL.iter()
        .copied()
        .find(|st| st.name() == s)
        .ok_or_else(|| {
            let near = hrsi_sim::params::closest(s, ALL.iter().map(|st| st.name()));
            usage(format!(
                "unknown status `{s}`{}\n(hint: one of {})",
                near.map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default(),
                ALL.iter()
                    .map(|st| st.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

fn sql_time(s: &str) -> Result<String> {
    let i = hrsi_sim::time::Instant::parse(s).map_err(usage)?;
    Ok(hrsi_harness::timefmt::UnixTime(i.0.div_euclid(1000)).sql())
}

fn now_sql() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    hrsi_harness::timefmt::UnixTime(secs).sql()
}

/// Why the matrix refuses `from → to`.
pub fn matrix_reason(from: Option<Status>, to: Status) -> String {
    let targets: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|t| allowed_change(from, *t))
        .map(Status::name)
        .collect();
    match from {
        None => format!("a job's first status must be one of {}", targets.join(", ")),
        Some(f) => format!(
            "the matrix allows {} -> {} only (not {})",
            f.name(),
            targets.join(", "),
            to.name()
        ),
    }
}

/// What happened (or would happen) to one job.
#[derive(Debug, Clone)]
struct Outcome {
    id: i64,
    parent: i64,
    from: Option<Status>,
    /// Statuses taken, in order.
    taken: Vec<Status>,
    /// The refused step: (from, to, why).
    refused: Option<(Option<Status>, Status, String)>,
}

fn name(s: Option<Status>) -> &'static str {
    s.map_or("(no status)", Status::name)
}

fn report_line(o: &Outcome, dry: bool) -> String {
    let mut path = vec![name(o.from)];
    path.extend(o.taken.iter().map(|s| s.name()));
    let head = format!("job {} (parent {}): {}", o.id, o.parent, path.join(" -> "));
    match &o.refused {
        None => head,
        Some((from, to, why)) => format!(
            "{head}: {} {} -> {}: {why}",
            if dry { "would be refused" } else { "refused" },
            name(*from),
            to.name()
        ),
    }
}

async fn patch(a: PatchArgs) -> Result<ExitCode> {
    let table = table_for(&a.job_type)?;
    let statuses = a
        .status
        .iter()
        .map(|s| parse_status(s))
        .collect::<Result<Vec<_>>>()?;
    let post = a
        .post
        .iter()
        .map(|s| parse_status(s))
        .collect::<Result<Vec<_>>>()?;
    if post.is_empty() {
        return Err(usage("--post needs at least one status"));
    }
    let window = match (&a.date_column, &a.from) {
        (Some(col), Some(from)) => {
            if col.is_empty()
                || !col
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(usage(format!("`{col}` is not a column name")));
            }
            let to = match &a.to {
                Some(t) => sql_time(t)?,
                None => now_sql(),
            };
            Some((col.clone(), sql_time(from)?, to))
        }
        _ => None,
    };
    if statuses.is_empty() && window.is_none() && a.ids.is_empty() {
        return Err(usage(
            "no selection: give --status, or --date-column with --from, and/or --ids\n(hint: patching every job of a type is never what the runbook asks)",
        ));
    }
    if a.ids.len() > 1000 {
        return Err(usage(
            "at most 1000 --ids; select by status or time window instead",
        ));
    }
    let sel = Selection {
        statuses: statuses.iter().map(|s| s.id()).collect(),
        window,
        ids: a.ids.clone(),
    };
    let target = Target::connect(&a.target).await?;
    if table == "psa_arlie_jobs" && !sel.statuses.is_empty() && matches!(target, Target::Api { .. })
    {
        // The status selection reads the dashboard view, and the legacy PSA/ARLIE table has none.
        return Err(usage(
            "psa_arlie jobs have no view to select by status through the API\n(hint: use --database-url, or select by --date-column / --ids)",
        ));
    }

    // The selection, page by page.
    let mut jobs: Vec<(i64, i64)> = Vec::new();
    let mut after = 0i64;
    loop {
        let page = target.select_jobs(table, &sel, after, a.page_size).await?;
        let n = page.len();
        if let Some(last) = page.last() {
            after = last.1;
        }
        jobs.extend(page);
        if jobs.len() > a.max_jobs as usize {
            return Err(usage(format!(
                "more than {} jobs match; narrow the selection (a shorter time window, --ids) or raise --max-jobs",
                a.max_jobs
            )));
        }
        if n < a.page_size as usize {
            break;
        }
    }
    let mut current: BTreeMap<i64, u8> = BTreeMap::new();
    for chunk in jobs.chunks(a.page_size as usize) {
        let parents: Vec<i64> = chunk.iter().map(|j| j.1).collect();
        current.extend(target.current_status(&parents).await?);
    }

    // The prediction, from the matrix.
    let plan: Vec<Outcome> = jobs
        .iter()
        .map(|&(id, parent)| {
            let from = current.get(&parent).and_then(|s| Status::from_id(*s));
            let mut o = Outcome {
                id,
                parent,
                from,
                taken: Vec::new(),
                refused: None,
            };
            let mut cur = from;
            for &s in &post {
                if !allowed_change(cur, s) {
                    o.refused = Some((cur, s, matrix_reason(cur, s)));
                    break;
                }
                o.taken.push(s);
                cur = Some(s);
            }
            o
        })
        .collect();
    let post_names: Vec<&str> = post.iter().map(|s| s.name()).collect();
    let refused_n = plan.iter().filter(|o| o.refused.is_some()).count();
    eprintln!(
        "{} {} job(s) selected on {}; to post: {}; {} predicted refused by the transition matrix",
        jobs.len(),
        table.trim_end_matches("_jobs"),
        target.describe(),
        post_names.join(" -> "),
        refused_n
    );
    if jobs.is_empty() {
        println!("nothing selected: no change");
        return Ok(ExitCode::SUCCESS);
    }
    if a.dry_run {
        for o in &plan {
            println!("{}", report_line(o, true));
        }
        println!(
            "dry run: {} job(s) would change, {} would be refused; nothing changed",
            plan.len() - refused_n,
            refused_n
        );
        return Ok(ExitCode::SUCCESS);
    }
    for o in plan.iter().take(20) {
        eprintln!("  {}", report_line(o, true));
    }
    if plan.len() > 20 {
        eprintln!("  … and {} more", plan.len() - 20);
    }
    if !confirm(
        a.yes,
        &format!("post {} to {} job(s)", post_names.join(" -> "), jobs.len()),
    )? {
        eprintln!("nothing changed");
        return Ok(ExitCode::SUCCESS);
    }

    // The run: every status through the trigger; a refusal ends that job's sequence.
    let mut outcomes = Vec::with_capacity(jobs.len());
    for p in &plan {
        let mut o = Outcome {
            taken: Vec::new(),
            refused: None,
            ..p.clone()
        };
        let mut cur = o.from;
        for &s in &post {
            match target.post_status(o.parent, s.id()).await? {
                Ok(()) => {
                    o.taken.push(s);
                    cur = Some(s);
                }
                Err(Refusal { code, message }) => {
                    let why = match cur {
                        Some(f) if !allowed(f, s) => {
                            format!("{message} ({code}); {}", matrix_reason(cur, s))
                        }
                        _ => format!("{message} ({code})"),
                    };
                    o.refused = Some((cur, s, why));
                    break;
                }
            }
        }
        println!("{}", report_line(&o, false));
        outcomes.push(o);
    }
    let refused = outcomes.iter().filter(|o| o.refused.is_some()).count();
    let changed = outcomes.iter().filter(|o| !o.taken.is_empty()).count();
    println!(
        "changed {changed} job(s) ({} fully), {refused} refused, of {} selected",
        outcomes.len() - refused,
        outcomes.len()
    );
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::exit::FAILED)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_statuses_parse_with_suggestions() {
        assert_eq!(table_for("fsc_rlie_job").unwrap(), "fsc_rlie_jobs");
        assert_eq!(table_for("gfsc").unwrap(), "gfsc_jobs");
        assert!(format!("{}", table_for("fscrlie").unwrap_err()).contains("fsc_rlie"));
        assert_eq!(parse_status("13").unwrap(), Status::InternalError);
        assert_eq!(parse_status("error_checked").unwrap(), Status::ErrorChecked);
        assert!(format!("{}", parse_status("error_check").unwrap_err()).contains("error_checked"));
        assert!(parse_status("17").is_err());
    }

    #[test]
    fn the_matrix_reason_lists_the_allowed_targets() {
        assert_eq!(
            matrix_reason(Some(Status::InternalError), Status::Ready),
            "the matrix allows internal_error -> internal_error, external_error, error_checked only (not ready)"
        );
    }
}
