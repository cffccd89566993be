//! `hrsi params --defaults`: every system parameter and calibration key, with its type,
//! default, meaning and whether the model reads it (the catalogue lives in `hrsi_sim::catalogue`);
//! `hrsi params get|set` read and change a database's parameters (`params_ops`).
use std::process::ExitCode;

use hrsi_sim::catalogue::{self, Group, ModelReads};

use super::exit;

/// Arguments of `hrsi params`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_long_help = super::params_ops::AFTER_HELP)]
pub struct Args {
    #[command(subcommand)]
    command: Option<super::params_ops::Cmd>,
    /// List every system parameter and calibration key with its type, default, meaning and
    /// whether the model reads it.
    #[arg(long)]
    defaults: bool,
    /// The list as JSON (stable field names: group, name, kind, default, meaning,
    /// read_by_system, model_reads).
    #[arg(long, requires = "defaults")]
    json: bool,
}

/// Runs `hrsi params`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(command) = args.command {
        return super::params_ops::run(command);
    }
    if !args.defaults {
        eprintln!(
            "error: nothing to do (hint: `hrsi params --defaults` lists every parameter, \
             `hrsi params get` reads a database's, `hrsi params set NAME=VALUE` changes them)"
        );
        return Ok(ExitCode::from(exit::USAGE));
    }
    let entries = catalogue::entries();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::from(exit::OK));
    }
    let mut out = String::new();
    for (group, title) in [
        (
            Group::SystemParameter,
            "System parameters (cosims.system_parameters; hrsi simulate --set NAME=VALUE)",
        ),
        (
            Group::Calibration,
            "Calibration (assumptions of the model; hrsi simulate --calibration FILE)",
        ),
    ] {
        out += &format!("{title}\n");
        for e in entries.iter().filter(|e| e.group == group) {
            let reads = match e.model_reads {
                ModelReads::Yes => "read by the model".to_owned(),
                ModelReads::WithFidelity(f) => format!("read by the model with --fidelity {f}"),
                ModelReads::No => "ignored by the model".to_owned(),
            };
            let system = if group == Group::SystemParameter && !e.read_by_system {
                ", no system code reads it"
            } else {
                ""
            };
            let head = format!("  {} ({}, default ", e.name, e.kind);
            let room = 100usize.saturating_sub(head.chars().count() + 1).max(8);
            out += &format!("{head}{})\n", short(&e.default, room));
            out += &wrap(&format!("{reads}{system}: {}", e.meaning), 6, 100);
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(ExitCode::from(exit::OK))
}

/// A long default (the job types list) stays on its line: at most `room` characters.
fn short(s: &str, room: usize) -> String {
    if s.chars().count() > room {
        format!("{}…", s.chars().take(room - 1).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Words wrapped to `width` columns, indented.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + w.len() > width {
            out += &format!("{}{line}\n", " ".repeat(indent));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += w;
    }
    if !line.is_empty() {
        out += &format!("{}{line}\n", " ".repeat(indent));
    }
    out
}
