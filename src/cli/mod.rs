//! The `hrsi` command line: one subcommand per file, dispatched from here.
//!
//! Exit codes are documented in [`exit`].
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod exit;
pub mod patch_test;
pub mod plan;
pub mod rehearse;
pub mod simulate;

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
