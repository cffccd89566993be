//! The `hrsi` command line: one subcommand per file, dispatched from here.
//!
//! Exit codes are documented in [`exit`].
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod db_target;
pub mod docs;
pub mod exit;
pub mod jobs;
pub mod params;
pub mod params_ops;
pub mod patch_test;
pub mod plan;
pub mod rehearse;
pub mod simulate;
pub mod up;

/// Rehearse HR-S&I operations procedures and plan capacity.
#[derive(Debug, Parser)]
#[command(name = "hrsi", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate the production, an outage and its recovery (pure, deterministic, fast).
    Simulate(simulate::Args),
    /// Capacity answers with confidence: sweep settings over seeds, answer a question, plot.
    Plan(Box<plan::Args>),
    /// Test a database patch on a real PostgreSQL holding data, before production.
    PatchTest(patch_test::Args),
    /// The system parameters: `--defaults` lists them (and the calibration keys) with type,
    /// default and meaning; `get`/`set` read or change them through the API or a database URL.
    Params(params::Args),
    /// Operator procedures on jobs: `jobs patch` posts statuses to stuck jobs.
    Jobs(jobs::Args),
    /// The whole fake system (PostgreSQL, API, Nomad, OpenStack) for rehearsing by hand.
    Up(up::Args),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print the manual page (or write every command's page with --dir).
    Man(docs::ManArgs),
    /// Replay the runbook's procedures and traps: real PostgreSQL, psql, borg, stand-ins, virtual time.
    Rehearse(rehearse::Args),
}

/// Parses the arguments and runs the chosen command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Plan(args) => plan::run(*args),
        Command::PatchTest(args) => patch_test::run(args),
        Command::Params(args) => params::run(args),
        Command::Jobs(args) => jobs::run(args),
        Command::Up(args) => up::run(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
        Command::Rehearse(args) => rehearse::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}
