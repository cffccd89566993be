//! `hrsi rehearse`: replay the runbook's procedures and traps against real PostgreSQL, psql,
//! pg_dumpall and borg, the Nomad and OpenStack stand-ins and the infrastructure model.
use std::{io::IsTerminal, path::PathBuf, process::ExitCode, sync::Arc};

use hrsi_harness::rehearse::{self, ScenarioResult, SuiteReport};

use super::exit;

/// Arguments of `hrsi rehearse`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    merge: Option<Sub>,
    /// Scenario files or directories (default `scenarios/`).
    paths: Vec<PathBuf>,
    /// Only scenarios whose file or name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// List the scenarios that would run, and stop.
    #[arg(long)]
    list: bool,
    /// Scenarios at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Run only slice I of N (1-based); merge the JSON of every slice with `hrsi rehearse merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Write JUnit XML (a testsuite per scenario, a testcase per step).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the results as JSON (`-`: standard output).
    #[arg(long, value_name = "FILE|-")]
    json: Option<String>,
    /// Print every transcript (failed ones are always printed).
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Write each transcript to DIR/<file>.txt.
    #[arg(long, value_name = "DIR")]
    transcripts: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Merge the JSON results of shards: the same output as one machine.
    Merge {
        /// The shards' JSON files.
        files: Vec<PathBuf>,
        /// Write the merged JSON here (`-`: standard output).
        #[arg(long, value_name = "FILE|-")]
        json: Option<String>,
        /// Write JUnit XML of the merged results.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
}

const AFTER_HELP: &str = "\
Each scenario runs in its own world: its own PostgreSQL cluster when a step acts on the whole
server (stop/start, pg_dumpall, backup, restore), else a clone of a template; its own Nomad and
OpenStack stand-ins on loopback ports; one virtual clock. `advance` and `run_until` run the
simulator over the actions as they happened; the transcript shows, beside it, what
`hrsi simulate` predicts for the same file.

Exit codes:
  0  every expectation of every scenario held
  1  an expectation did not hold, or a step could not be carried out
  2  bad input (a scenario file with an error, a bad option); nothing ran
  3  setup failure (no PostgreSQL binaries, borg missing)

Examples:
  hrsi rehearse
  hrsi rehearse scenarios/reset-from-backup.yaml -v
  hrsi rehearse --filter trap --junit rehearse.xml
  hrsi rehearse --shard 1/3 --json shard-1.json && hrsi rehearse merge shard-*.json";

/// Runs `hrsi rehearse`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Sub::Merge { files, json, junit }) = args.merge {
        let mut parts = Vec::new();
        for f in &files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {}: {e}", f.display());
                    return Ok(ExitCode::from(exit::USAGE));
                }
            };
            match serde_json::from_str::<SuiteReport>(&text) {
                Ok(r) => parts.push(r),
                Err(e) => {
                    eprintln!(
                        "error: {}:{}:{}: not the JSON of `hrsi rehearse --json`: {e}",
                        f.display(),
                        e.line(),
                        e.column()
                    );
                    return Ok(ExitCode::from(exit::USAGE));
                }
            }
        }
        let merged = match SuiteReport::merge(parts) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(exit::USAGE));
            }
        };
        return finish(&merged, json.as_deref(), junit.as_ref(), false);
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        args.paths.clone()
    };
    let files = match rehearse::discover(&paths) {
        Ok(f) => f,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return Ok(ExitCode::from(exit::USAGE));
        }
    };
    let mut files = rehearse::filter(files, args.filter.as_deref());
    // Chosen before sharding: every shard prepares the worlds one machine would.
    let choice = rehearse::bases::Choice::of(&files);
    if let Some(s) = &args.shard {
        match rehearse::parse_shard(s) {
            Ok((i, n)) => files = rehearse::shard(files, i, n),
            Err(e) => {
                eprintln!("error: --shard {e}");
                return Ok(ExitCode::from(exit::USAGE));
            }
        }
    }
    if args.list {
        for f in &files {
            println!("{}  {}", f.rel, f.scenario.name.as_deref().unwrap_or(""));
        }
        return Ok(ExitCode::from(exit::OK));
    }
    if files.is_empty() {
        eprintln!("error: no scenario to rehearse (check the paths and --filter)");
        return Ok(ExitCode::from(exit::USAGE));
    }
    if let Some(j) = args.jobs
        && !(1..=64).contains(&j)
    {
        eprintln!("error: --jobs {j}: between 1 and 64");
        return Ok(ExitCode::from(exit::USAGE));
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let jobs = args.jobs.unwrap_or(cores);
    let total = files.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.max(2))
        .enable_all()
        .build()?;
    let tty = std::io::stderr().is_terminal();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let progress: Arc<dyn Fn(&ScenarioResult) + Send + Sync> = {
        let done = done.clone();
        Arc::new(move |r: &ScenarioResult| {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if tty {
                eprintln!(
                    "[{n}/{total}] {} {} ({} ms)",
                    if r.passed() { "PASS" } else { "FAIL" },
                    r.file,
                    r.wall_ms
                );
            }
        })
    };
    let t0 = std::time::Instant::now();
    let report = runtime.block_on(rehearse::run_suite_with(files, choice, jobs, progress));
    let wall = t0.elapsed();
    if let Some(dir) = &args.transcripts {
        std::fs::create_dir_all(dir)?;
        for s in &report.scenarios {
            let name = s.file.replace('/', "__").replace(".yaml", ".txt");
            std::fs::write(dir.join(name), s.render())?;
        }
    }
    let to_stdout_json = args.json.as_deref() == Some("-");
    if !to_stdout_json {
        for s in &report.scenarios {
            if args.verbose || !s.passed() {
                println!("{}", s.render());
            }
        }
        print!("{}", report.summary(true));
        println!("wall time {} ms on {jobs} job(s)", wall.as_millis());
    }
    if report.scenarios.iter().any(|s| {
        s.error
            .as_deref()
            .is_some_and(|e| e.starts_with("setup failed"))
    }) {
        finish(&report, args.json.as_deref(), args.junit.as_ref(), true)?;
        return Ok(ExitCode::from(exit::SETUP));
    }
    finish(&report, args.json.as_deref(), args.junit.as_ref(), true)
}

fn finish(
    report: &SuiteReport,
    json: Option<&str>,
    junit: Option<&PathBuf>,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    match json {
        Some("-") => print!("{}", report.to_json()),
        Some(f) => std::fs::write(f, report.to_json())?,
        None if !quiet => print!("{}", report.summary(false)),
        None => {}
    }
    if let Some(j) = junit {
        std::fs::write(j, rehearse::junit::to_junit(report))?;
    }
    Ok(ExitCode::from(if report.passed() {
        exit::OK
    } else {
        exit::FAILED
    }))
}
