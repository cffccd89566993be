//! `hrsi patch-test`: test a database patch on a real PostgreSQL holding data.
use std::{path::PathBuf, process::ExitCode};

use hrsi_harness::{
    dataset::DatasetSpec,
    patch::{self, DataSource, PatchReport, PatchTestOptions},
    postgres::Error,
    schema::Schema,
};

use super::exit;

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
    #[arg(long, value_name = "ARCHIVE|DUMP", conflicts_with_all = ["schema", "patches"])]
    backup: Option<String>,
    /// Use an existing server (only databases created by hrsi are changed, then dropped).
    #[arg(
        long,
        value_name = "URL",
        env = "HRSI_POSTGRES_URL",
        hide_env_values = true
    )]
    postgres_url: Option<String>,
    /// Jobs in the generated data set.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    jobs: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

const AFTER_HELP: &str = "\
What it does:
  1. loads the schema and production-shaped data (or the backup) into a throwaway cluster,
     `cosims` in database `postgres` as in production;
  2. verdict: the patch on a clone with `psql -v ON_ERROR_STOP=1 --single-transaction`;
  3. if it fails: a diagnostic pass on another clone lists every error (file:line, SQLSTATE);
  4. the runbook's test (`pg_dumpall -s`, schema only) on a second cluster; a patch that
     only fails on data is reported;
  5. a patch that applied is applied again: a failure there is a warning (not idempotent).

Exit codes:
  0  the patch applies (warnings may be printed)
  1  the patch fails
  2  bad input (missing file, bad URL, schema file with an error); nothing was tested
  3  setup failure (no PostgreSQL binaries, borg missing, server unreachable)

Examples:
  hrsi patch-test --patch database_patch.sql
  hrsi patch-test --patch fix.sql --schema init_database.sql --patches patch/
  hrsi patch-test --patch fix.sql --backup /backup/tf-tutu::pgdump_2026-11-24T04:00:02
  hrsi patch-test --patch fix.sql --postgres-url postgres://me@localhost/postgres";

/// Runs `hrsi patch-test`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return Ok(fail(&e)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(patch::run(&options)) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render(&report));
            }
            Ok(ExitCode::from(if report.passed() {
                exit::OK
            } else {
                exit::FAILED
            }))
        }
        Err(e) => Ok(fail(&e)),
    }
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
    let data = match &args.backup {
        Some(b) => DataSource::from_backup_arg(b)?,
        None => DataSource::Generated(DatasetSpec {
            jobs: args.jobs,
            ..DatasetSpec::default()
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
    })
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(if e.is_bad_input() {
        exit::USAGE
    } else {
        exit::SETUP
    })
}

fn render(r: &PatchReport) -> String {
    let mut s = format!("patch-test: `{}` against {}\n", r.patch, r.data);
    let status = |clean: bool| if clean { "applies" } else { "FAILS" };
    s.push_str(&format!(
        "  verdict (ON_ERROR_STOP=1 --single-transaction, on a clone with data): {} (psql exit {}, {} ms)\n",
        status(r.verdict.clean),
        r.verdict.exit_code.map(|c| c.to_string()).unwrap_or("-".into()),
        r.verdict.millis
    ));
    if !r.diagnostics.is_empty() {
        s.push_str(&format!(
            "  every error (diagnostic pass without stopping, on a throwaway clone): {}\n",
            r.diagnostics.len()
        ));
        for e in &r.diagnostics {
            s.push_str(&format!("    {e}\n"));
            for c in &e.context {
                s.push_str(&format!("        {c}\n"));
            }
        }
    }
    if let Some(so) = &r.schema_only {
        s.push_str(&format!(
            "  runbook variant (pg_dumpall -s, schema only): {}\n",
            status(so.clean)
        ));
    }
    if let Some(d) = &r.disagreement {
        s.push_str(&format!("  DISAGREEMENT: {d}\n"));
    }
    if let Some(second) = &r.second_application {
        s.push_str(&format!(
            "  applied twice: {}\n",
            if second.clean {
                "idempotent"
            } else {
                "second application fails"
            }
        ));
    }
    for w in &r.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    let total: u64 = r.timings_ms.iter().map(|(_, ms)| ms).sum();
    s.push_str(&format!(
        "result: {} ({} ms: {})\n",
        if r.passed() {
            "PASSED, the patch applies"
        } else {
            "FAILED, the patch does not apply"
        },
        total,
        r.timings_ms
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s
}
