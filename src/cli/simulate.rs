//! `hrsi simulate`: run a scenario (or the nominal world) through the simulator and report.
//!
//! Thin by design: the scenario crate parses, validates and applies the overrides; the simulator
//! runs; this file reads files, prints and picks the exit code.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use hrsi_scenario::{Scenario, parse_calibration};
use hrsi_sim::report::{Percentiles, timeline_csv};
use hrsi_sim::{Report, Restart};

use super::exit;

/// Arguments of `hrsi simulate`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = after_help())]
pub struct Args {
    /// A scenario file (YAML). Without one: the nominal world, changed by the options below.
    #[arg(value_name = "SCENARIO.yaml")]
    scenario: Option<PathBuf>,
    /// Reported period, days (the horizon).
    #[arg(long, value_name = "N")]
    days: Option<u32>,
    /// Seed of every random draw.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Start of the reported period: a date, or an ISO time at 00:00 UTC.
    #[arg(long, value_name = "DATE")]
    start: Option<String>,
    /// An outage starting this many days after the start (with --outage-days).
    #[arg(long, value_name = "D", requires = "outage_days")]
    outage_start_day: Option<f64>,
    /// Length of the outage, days (fractions allowed: 0.5 is 12 hours).
    #[arg(long, value_name = "D", requires = "outage_start_day")]
    outage_days: Option<f64>,
    /// How the system restarts after the outage: everything at once, or the runbook's three
    /// waves (each when the previous types are caught up).
    #[arg(long, value_enum, value_name = "all|waves")]
    restart: Option<RestartArg>,
    /// Set a `cosims.system_parameters` column at the start (repeatable).
    #[arg(long = "set", value_name = "PARAM=VALUE")]
    set: Vec<String>,
    /// A calibration file (YAML or JSON; missing keys keep their defaults).
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// Turn a fidelity switch on (repeatable): xl_worker_cap, rlies1s2_end_of_day_guards,
    /// gfsc_early_release.
    #[arg(long, value_name = "NAME")]
    fidelity: Vec<String>,
    /// Write the report as JSON to FILE, or to standard output with `-` (no table then).
    #[arg(long, value_name = "FILE|-")]
    json: Option<String>,
    /// Write the timeline (one row per 10 simulated minutes) as CSV.
    #[arg(long, value_name = "FILE.csv")]
    timeline: Option<PathBuf>,
}

/// `--restart`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RestartArg {
    All,
    Waves,
}

impl From<RestartArg> for Restart {
    fn from(r: RestartArg) -> Restart {
        match r {
            RestartArg::All => Restart::All,
            RestartArg::Waves => Restart::Waves,
        }
    }
}

fn after_help() -> String {
    format!(
        "\
Options override the scenario file. The run is deterministic: the same scenario, options and
seed give the same bytes of JSON.

Exit codes:
  0  the run completed, every step of the plan ran, every `run_until` met its `within`
  1  some steps never ran before the horizon (a wave waiting for a catch-up that never came),
     or a `run_until` took longer than its `within`
  2  bad input (missing or invalid scenario, bad option value); nothing ran

Examples:
  hrsi simulate                                    # 30 nominal days
  hrsi simulate scenarios/outage-5-days-waves.yaml
  hrsi simulate --outage-start-day 3 --outage-days 5 --restart waves --days 20
  hrsi simulate --set max_number_of_worker_instances=300 --outage-start-day 3 --outage-days 5
  hrsi simulate scenarios/nominal.yaml --seed 11 --json - > report.json
  hrsi simulate scenarios/stop-1-day.yaml --timeline timeline.csv

{}",
        hrsi_sim::calibration::ASSUMPTIONS
    )
}

/// Runs `hrsi simulate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sc = match scenario(&args) {
        Ok(sc) => sc,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(ExitCode::from(exit::USAGE));
        }
    };
    let mut cfg = sc.to_sim_config();
    cfg.timeline = args.timeline.is_some();
    let out = hrsi_sim::run_with_baseline(&cfg);
    if let Some(path) = &args.timeline {
        write(path, &timeline_csv(&cfg, &out))?;
    }
    let report = Report::new(&cfg, out);
    match args.json.as_deref() {
        Some("-") => emit(&report.to_json())?,
        Some(path) => {
            write(Path::new(path), &report.to_json())?;
            emit(&render(&sc, &report))?;
        }
        None => emit(&render(&sc, &report))?,
    }
    if report.illegal_transitions > 0 {
        eprintln!(
            "warning: the model attempted {} illegal status transitions",
            report.illegal_transitions
        );
    }
    let late = sc.late_waits(&report);
    for w in &late {
        eprintln!("{}: {w}", sc.origin);
    }
    if report.steps_not_run > 0 {
        eprintln!(
            "{} step(s) of the plan never ran before the horizon ({}): a wave waiting for a catch-up \
             that never came, or a plan longer than `days`",
            report.steps_not_run, report.end
        );
        return Ok(ExitCode::from(exit::FAILED));
    }
    if !late.is_empty() {
        return Ok(ExitCode::from(exit::FAILED));
    }
    Ok(ExitCode::from(exit::OK))
}

/// Prints to standard output; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)
        .map_err(|e| anyhow::anyhow!("failed to write `{}`: {e}", path.display()))
}

/// The scenario with the options applied, or the message to print (exit 2).
fn scenario(args: &Args) -> Result<Scenario, String> {
    let mut sc = match &args.scenario {
        None => Scenario::nominal("command line"),
        Some(path) => {
            let origin = path.display().to_string();
            let src = read(path)?;
            let mut sc = Scenario::from_yaml_str(&src, &origin).map_err(|e| e.to_string())?;
            if let Some(file) = sc.calibration_file.clone() {
                // Relative to the scenario file, so a scenario directory can be moved whole.
                let p = path.parent().unwrap_or(Path::new(".")).join(&file);
                sc.set_calibration(calibration(&p)?);
            }
            sc
        }
    };
    let err = |e: String| format!("error: {e}");
    if let Some(p) = &args.calibration {
        sc.set_calibration(calibration(p)?);
    }
    if let Some(d) = args.days {
        if d == 0 {
            return Err(err("--days must be at least 1".into()));
        }
        sc.days = d;
    }
    if let Some(s) = args.seed {
        sc.seed = s;
    }
    if let Some(s) = &args.start {
        sc.set_start(s).map_err(|e| err(format!("--start: {e}")))?;
    }
    for s in &args.set {
        sc.set_param(s).map_err(|e| err(format!("--set: {e}")))?;
    }
    for f in &args.fidelity {
        sc.set_fidelity(f)
            .map_err(|e| err(format!("--fidelity: {e}")))?;
    }
    let restart = args.restart.map(Restart::from);
    match (args.outage_start_day, args.outage_days) {
        (Some(s), Some(d)) => sc
            .set_outage(s, d, restart.unwrap_or(Restart::All))
            .map_err(err)?,
        _ => {
            if let Some(r) = restart {
                sc.set_restart(r).map_err(err)?;
            }
        }
    }
    Ok(sc)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("error: cannot read `{}`: {e}", path.display()))
}

fn calibration(path: &Path) -> Result<hrsi_sim::Calibration, String> {
    parse_calibration(&read(path)?, &path.display().to_string()).map_err(|e| e.to_string())
}

/// The report for people: one row per job type, then workers, outages, restarts, assumptions.
fn render(sc: &Scenario, r: &Report) -> String {
    let days = f64::from(sc.days);
    let mut out = String::new();
    let title = sc.name.as_deref().unwrap_or("nominal world");
    out += &format!(
        "{title} — seed {}, {} → {} ({} days)\n",
        r.seed, r.start, r.end, sc.days
    );
    let last_restart = r.restarts.last();
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec![
        "job type",
        "inputs",
        "jobs/day",
        "published",
        "no product",
        "pending",
        "superseded",
        "cancelled",
        "lost",
        "catch-up h",
        "latency h p50/p95/p99",
        "redispatches",
    ]);
    for (name, j) in &r.job_types {
        let lost = if j.lost_reasons.is_empty() {
            j.lost.to_string()
        } else {
            let reasons: Vec<String> = j
                .lost_reasons
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            format!("{} ({})", j.lost, reasons.join(", "))
        };
        let catch_up = match last_restart.map(|x| x.catch_up_hours.get(name)) {
            _ if !j.baseline_at_nrt => "not at NRT".to_owned(),
            None | Some(None) => "–".to_owned(),
            Some(Some(None)) => "never".to_owned(),
            Some(Some(Some(h))) => format!("{h:.1}"),
        };
        t.add_row(vec![
            name.to_string(),
            j.inputs.to_string(),
            format!("{:.0}", j.jobs_created as f64 / days),
            j.published.to_string(),
            j.no_product.to_string(),
            j.pending.to_string(),
            j.superseded.to_string(),
            j.cancelled.to_string(),
            lost,
            catch_up,
            percentiles(&j.latency_hours),
            j.redispatches.to_string(),
        ]);
    }
    for c in (1..12).filter(|&c| c != 8) {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    out += &format!("{t}\n");
    out += &format!(
        "peak workers: {}    worker-hours: {:.1}\n",
        r.peak_workers, r.worker_hours
    );
    if r.outages.is_empty() {
        out += "outages: none\n";
    }
    for o in &r.outages {
        out += &format!(
            "outage: {} → {}\n",
            o.start,
            o.end.as_deref().unwrap_or("(still down at the horizon)")
        );
    }
    let h = |v: &Option<f64>| v.map_or("never".to_owned(), |h| format!("{h:.1} h"));
    for x in &r.restarts {
        let per_type: Vec<String> = x
            .recovery_hours_by_type
            .iter()
            .map(|(k, v)| format!("{k} {}", not_at_nrt(r, k).unwrap_or_else(|| h(v))))
            .collect();
        out += &format!(
            "restart: {} — recovery {} ({})\n",
            x.at,
            h(&x.recovery_hours),
            per_type.join(", ")
        );
        for w in &x.waves {
            let caught: Vec<String> = w
                .catch_up_hours
                .iter()
                .map(|(k, v)| format!("{k} {}", not_at_nrt(r, k).unwrap_or_else(|| h(v))))
                .collect();
            out += &format!(
                "  wave at {} (+{:.1} h): caught up after {}\n",
                w.at,
                w.after_restart_hours,
                caught.join(", ")
            );
        }
    }
    if !r.baseline_not_at_nrt.is_empty() {
        out += &format!(
            "baseline not at NRT (no catch-up or recovery reported): {}\n",
            r.baseline_not_at_nrt.join(", ")
        );
    }
    if r.steps_not_run > 0 {
        out += &format!("steps not run: {}\n", r.steps_not_run);
    }
    let skipped = sc.harness_only_steps();
    if skipped > 0 {
        out += &format!(
            "{skipped} harness-only step(s) skipped (sql, psql_file, backup, borg_extract, expect)\n"
        );
    }
    if !r.system_parameters.is_empty() {
        let p: Vec<String> = r
            .system_parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out += &format!("system parameters changed: {}\n", p.join(", "));
    }
    let cal = if r.calibration == hrsi_sim::Calibration::default() {
        "default"
    } else {
        "changed (see --json)"
    };
    out += &format!("calibration: {cal}. {}\n", r.assumptions);
    out
}

/// "baseline not at NRT" for a type whose baseline is late without any outage.
fn not_at_nrt(r: &Report, name: &str) -> Option<String> {
    r.baseline_not_at_nrt
        .contains(&name)
        .then(|| "baseline not at NRT".to_owned())
}

fn percentiles(p: &Percentiles) -> String {
    let f = |v: Option<f64>| v.map_or("–".to_owned(), |h| format!("{h:.1}"));
    format!("{}/{}/{}", f(p.p50), f(p.p95), f(p.p99))
}
