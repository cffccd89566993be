//! `hrsi patch-test`: test a database patch on a real PostgreSQL holding data, in a sandbox
//! the patch cannot leave.
use std::{path::PathBuf, process::ExitCode, time::Duration};

use hrsi_harness::{
    dataset::DatasetSpec,
    patch::{self, DataSource, PatchReport, PatchTestOptions, Policy, exit},
    postgres::{Error, redact_url},
    schema::Schema,
    world::{HistorySpec, MAX_HISTORY_DAYS},
};

/// Arguments of `hrsi patch-test`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The SQL patch to test.
    #[arg(long, value_name = "FILE")]
    patch: PathBuf,
    /// Start from this schema (e.g. production's `init_database.sql`) instead of hrsi's own.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Apply these `*.sql` patches (in name order) on top of the schema first.
    #[arg(long, value_name = "DIR")]
    patches: Option<PathBuf>,
    /// Test against a backup instead of generated data: `REPO::ARCHIVE` (borg) or a
    /// `database-all.sql` dump.
    #[arg(long, value_name = "ARCHIVE|DUMP", conflicts_with_all = ["schema", "patches", "postgres_url"])]
    backup: Option<String>,
    /// Copy the data from this server (READ ONLY: pg_dump into hrsi's own cluster; the patch
    /// never runs there). Prefer the HRSI_POSTGRES_URL variable: `ps` shows the command line.
    #[arg(
        long,
        value_name = "URL",
        env = "HRSI_POSTGRES_URL",
        hide_env_values = true,
        conflicts_with_all = ["schema", "patches"]
    )]
    postgres_url: Option<String>,
    /// Test against N generated jobs (the small synthetic data set) instead of the
    /// production-shaped history.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000), conflicts_with = "history_days")]
    jobs: Option<u32>,
    /// Days of simulated production after the warm start in the default data (the
    /// simulator's history, ending now).
    #[arg(long, value_name = "DAYS", default_value_t = HistorySpec::default().days, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_HISTORY_DAYS)))]
    history_days: u32,
    /// Also test this revert script: apply, revert, apply again, compare digests.
    #[arg(long, value_name = "FILE")]
    revert: Option<PathBuf>,
    /// Accept destructive changes (drops, TRUNCATE, mass DELETE/UPDATE). For one statement,
    /// the comment `hrsi: allow-destructive` on the line above it does the same.
    #[arg(long)]
    allow_destructive: bool,
    /// Let the patch use server programs and files (COPY … PROGRAM, pg_read_file, dblink,
    /// …): it then runs as a superuser of the throwaway cluster.
    #[arg(long)]
    allow_server_programs: bool,
    /// Longest a strong lock (SHARE or stronger) may be held, e.g. `5s`, `500ms`.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    lock_budget: Duration,
    /// Limit for the whole test.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = duration)]
    timeout: Duration,
    /// Limit for one statement of the patch.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = duration)]
    statement_timeout: Duration,
    /// Write the report as JSON to FILE, or to standard output with `-` (or no value).
    /// The exit code is the same.
    #[arg(long, value_name = "FILE|-", num_args = 0..=1, default_missing_value = "-")]
    json: Option<String>,
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = if let Some(ms) = s.strip_suffix("ms") {
        ms.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{s}` is not a duration (e.g. 500ms, 30s, 10m)"))?
    } else {
        Duration::from_millis(hrsi_sim::time::parse_duration(s)? as u64)
    };
    if d.is_zero() || d > Duration::from_secs(24 * 3600) {
        return Err(format!("`{s}`: give a duration above 0 and at most 24h"));
    }
    Ok(d)
}

const AFTER_HELP: &str = "\
What it does:
  1. reads the patch with hrsi's own splitter and refuses, before anything runs, every psql
     meta-command not on a short allow-list (\\set, \\unset, \\echo, \\qecho, \\warn,
     \\if/\\elif/\\else/\\endif, \\q, \\i/\\ir inside the patch's directory; \\timing, \\pset, \\t,
     \\x, \\a, \\restrict, \\unrestrict, \\encoding have no effect), and server programs or files
     (COPY ... PROGRAM, pg_read_file, lo_import, dblink, ALTER SYSTEM, ...) unless
     --allow-server-programs;
  2. starts ONE throwaway cluster (never your server) and loads the schema and
     production-shaped data, a backup, or a read-only copy of --postgres-url into database
     `postgres`, as in production; no psql ever reads the patch and no client runs as root;
  3. verdict: the patch on a clone, in one transaction, stopping at the first error, as role
     hrsi_patch (owner of the data, no superuser); per statement: duration, rows, the
     strongest lock and how long it is held, table rewrite, WAL bytes, size delta;
  4. the runbook's test (pg_dump -s, schema only) in another database, at the same time;
  5. fails: a diagnostic pass without stopping lists every error; VACUUM or CREATE INDEX
     CONCURRENTLY get their own verdict, applied outside a transaction;
     applies: a second application (idempotence) and, with --revert, apply/revert/apply;
  6. findings: destructive changes (with what they destroy), locks over --lock-budget, no
     lock_timeout before ACCESS EXCLUSIVE, rewrites, a job_types_list the services cannot read.

Exit codes:
  0    the patch applies, no finding that stops it
  1    the patch fails, or timed out (\"timed out at FILE:LINE after N s\")
  2    bad input (missing or empty patch, refused meta-command, bad URL, bad --backup,
       schema file with an error); nothing was run
  3    setup failure (no PostgreSQL binaries, borg missing, source server unreachable)
  4    the patch applies, with findings not acknowledged (destructive, lock over budget,
       bad job_types_list, failing revert), or uses server programs (not run)
  129, 130, 143  interrupted by SIGHUP, SIGINT, SIGTERM (clusters stopped, files removed)

Examples:
  hrsi patch-test --patch database_patch.sql
  hrsi patch-test --patch fix.sql --schema init_database.sql --patches patch/
  hrsi patch-test --patch fix.sql --backup /backup/tf-tutu::pgdump_2026-11-24T04:00:02
  HRSI_POSTGRES_URL=postgres://me@db/postgres hrsi patch-test --patch fix.sql --json report.json";

/// Runs `hrsi patch-test`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return Ok(fail(&e)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        // On a signal the test's future is dropped here: the cluster stops, its directory
        // and every temporary file are removed, child processes are killed.
        let r = tokio::select! {
            r = patch::run(&options) => Ok(r),
            _ = int.recv() => Err(2),
            _ = term.recv() => Err(15),
            _ = hup.recv() => Err(1),
        };
        Ok::<_, std::io::Error>(r)
    })?;
    match outcome {
        Err(signo) => {
            eprintln!(
                "hrsi patch-test: interrupted (signal {signo}); the cluster was stopped and its files removed"
            );
            Ok(ExitCode::from(128 + signo))
        }
        Ok(Ok(report)) => {
            emit(&args, &report)?;
            Ok(ExitCode::from(report.exit_code))
        }
        Ok(Err(e)) => Ok(fail(&e)),
    }
}

fn emit(args: &Args, report: &PatchReport) -> anyhow::Result<()> {
    match args.json.as_deref() {
        Some("-") => println!("{}", serde_json::to_string_pretty(report)?),
        Some(path) => {
            std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")
                .map_err(|e| anyhow::anyhow!("failed to write `{path}`: {e}"))?;
            print!("{}", report.render());
        }
        None => print!("{}", report.render()),
    }
    Ok(())
}

fn options(args: &Args) -> Result<PatchTestOptions, Error> {
    std::fs::File::open(&args.patch).map_err(|source| Error::ReadInput {
        path: args.patch.clone(),
        source,
    })?;
    let schema = match (&args.schema, &args.patches) {
        (Some(s), p) => Schema::from_files(s, p.as_deref())?,
        (None, Some(p)) => Schema::builtin_with_patches(p)?,
        (None, None) => Schema::builtin(),
    };
    let data = match (&args.backup, args.jobs) {
        (Some(b), _) => DataSource::from_backup_arg(b)?,
        (None, Some(jobs)) => DataSource::Generated(DatasetSpec {
            jobs,
            ..DatasetSpec::default()
        }),
        (None, None) => DataSource::History(HistorySpec {
            days: args.history_days,
            ..HistorySpec::default()
        }),
    };
    if let Some(url) = &args.postgres_url {
        hrsi_harness::postgres::ConnParams::parse(url)?;
    }
    Ok(PatchTestOptions {
        patch: args.patch.clone(),
        schema,
        data,
        postgres_url: args.postgres_url.clone(),
        revert: args.revert.clone(),
        policy: Policy {
            allow_destructive: args.allow_destructive,
            allow_server_programs: args.allow_server_programs,
            lock_budget_ms: args.lock_budget.as_millis() as u64,
        },
        timeout: args.timeout,
        statement_timeout: args.statement_timeout,
    })
}

fn fail(e: &Error) -> ExitCode {
    // Messages carry no secret (URLs are redacted where they are built); this is a second
    // guard for a URL the user passed that appears verbatim.
    let mut text = e.to_string();
    if let Ok(url) = std::env::var("HRSI_POSTGRES_URL")
        && !url.is_empty()
    {
        text = text.replace(&url, &redact_url(&url));
    }
    eprintln!("error: {text}");
    ExitCode::from(if e.is_bad_input() {
        exit::BAD_INPUT
    } else {
        exit::SETUP
    })
}
