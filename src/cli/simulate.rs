//! `hrsi simulate`: run a scenario (or the nominal world) through the simulator and report.
//!
//! Thin by design: the scenario crate parses, validates and applies the overrides; the simulator
//! runs; this file reads files, prints and picks the exit code.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use hrsi_scenario::{Checks, Scenario, parse_calibration};
use hrsi_sim::job_type::ALL_TYPES;
use hrsi_sim::report::{TypeReport, timeline_csv};
use hrsi_sim::{Report, Restart};

use super::exit;

/// Arguments of `hrsi simulate`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = after_help())]
pub struct Args {
    /// A scenario file (YAML). Without one: the nominal world, changed by the options below.
    #[arg(value_name = "SCENARIO.yaml")]
    scenario: Option<PathBuf>,
    /// Reported period, days (the horizon; 1 to 3660) [default: 30, or the scenario's `days`].
    #[arg(long, value_name = "N")]
    days: Option<u64>,
    /// Seed of every random draw [default: 1, or the scenario's `seed`].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Start of the reported period: a date, or an ISO time at 00:00 UTC [default: 2025-01-06,
    /// or the scenario's `start`].
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
    /// Set a `cosims.system_parameters` column from the start of the run, warm start included
    /// (repeatable). `hrsi params --defaults` lists them.
    #[arg(long = "set", value_name = "PARAM=VALUE")]
    set: Vec<String>,
    /// Set a column at each restart, while the system is still down, just before the start
    /// (repeatable): what the operator does after a long outage, e.g.
    /// `gfsc_daily_jobs_creation_start_date=2025-01-09`.
    #[arg(long = "set-at-restart", value_name = "PARAM=VALUE")]
    set_at_restart: Vec<String>,
    /// A calibration file (YAML or JSON; missing keys keep their defaults).
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// Turn a fidelity switch on (repeatable): xl_worker_cap, rlies1s2_end_of_day_guards,
    /// gfsc_early_release, gfsc_start_date_is_product_date, status_trigger_cost (the database
    /// trigger's cost per status insert, growing with the history).
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
    if let Err(m) = cfg.check() {
        eprintln!("error: {m}");
        return Ok(ExitCode::from(exit::USAGE));
    }
    for w in start_warnings(&sc) {
        eprintln!("warning: {w}");
    }
    let out = hrsi_sim::run_with_baseline(&cfg);
    if let Some(path) = &args.timeline {
        write(path, &timeline_csv(&cfg, &out))?;
    }
    let report = Report::new(&cfg, out);
    let checks = sc.check(&report);
    match args.json.as_deref() {
        Some("-") => emit(&report.to_json())?,
        Some(path) => {
            write(Path::new(path), &report.to_json())?;
            emit(&render(&sc, &report, &checks))?;
        }
        None => emit(&render(&sc, &report, &checks))?,
    }
    if report.illegal_transitions > 0 {
        eprintln!(
            "warning: the model attempted {} illegal status transitions",
            report.illegal_transitions
        );
    }
    let failed: Vec<_> = checks.failed().collect();
    for c in &failed {
        eprintln!(
            "{}:{}: step `{}`: expectation `{}` not met: observed {}",
            sc.origin, c.line, c.step, c.expectation, c.observed
        );
    }
    if report.steps_not_run > 0 {
        eprintln!(
            "{} step(s) of the plan never ran before the horizon ({}): a wave waiting for a catch-up \
             that never came, or a plan longer than `days`",
            report.steps_not_run, report.end
        );
        return Ok(ExitCode::from(exit::FAILED));
    }
    if !failed.is_empty() {
        return Ok(ExitCode::from(exit::FAILED));
    }
    Ok(ExitCode::from(exit::OK))
}

/// Values given at the start that services read only at a (re)start and that suppress work:
/// `gfsc_daily_jobs_creation_start_date` makes the daily-job service start at that date from the
/// warm start on, so every day before it gets no daily job.
fn start_warnings(sc: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    let name = "gfsc_daily_jobs_creation_start_date";
    let Some(date) = sc.params.timestamp(name) else {
        return out;
    };
    let cfg = sc.to_sim_config();
    let warm = (cfg.calibration.warm_start_days * hrsi_sim::time::DAY as f64) as i64;
    let first = cfg.start.0 - warm;
    let day = hrsi_sim::time::DAY;
    let suppressed = (date.0 - first).div_euclid(day);
    if suppressed <= 1 {
        return out;
    }
    let in_window = (date.0 - cfg.start.0)
        .div_euclid(day)
        .clamp(0, cfg.horizon / day);
    out.push(format!(
        "`{name}` = {} is set from the start (warm start included): the GFSC daily-job service \
         reads it at its first pass and starts at that date, so no daily job is created for the \
         {suppressed} days before it ({in_window} of them in the reported period). The operator \
         sets it at the restart after an outage (hint: --set-at-restart {name}=DATE, or a \
         `set_param` step before the `start`)",
        date.iso().trim_end_matches("T00:00:00Z")
    ));
    out
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
        if let Some(m) = hrsi_sim::config::days_refusal(d) {
            return Err(err(format!("--days: {m}")));
        }
        sc.days = u32::try_from(d).map_err(|_| err("--days: out of range".into()))?;
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
    for s in &args.set_at_restart {
        sc.set_param_at_restart(s)
            .map_err(|e| err(format!("--set-at-restart: {e}")))?;
    }
    if !sc.restart_params.is_empty() && !sc.restarts() {
        return Err(err(
            "--set-at-restart needs a restart (hint: add --outage-start-day and --outage-days)"
                .into(),
        ));
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

/// The widest line the report for people prints: readable in a 100-column terminal.
const WIDTH: usize = 100;

/// The report for people, within [`WIDTH`] columns: one table with the job types as columns
/// (volumes, losses, recovery, latency), then the restarts and their waves, the checks and the
/// assumptions.
fn render(sc: &Scenario, r: &Report, checks: &Checks) -> String {
    let days = f64::from(sc.days);
    let mut out = String::new();
    let title = sc.name.as_deref().unwrap_or("nominal world");
    out += &wrap(
        &format!(
            "{title} — seed {}, {} → {} ({} days)",
            r.seed, r.start, r.end, sc.days
        ),
        0,
    );
    let types: Vec<(&str, &TypeReport)> = ALL_TYPES
        .iter()
        .filter_map(|t| r.job_types.get(t.name()).map(|j| (t.name(), j)))
        .collect();
    let mut t = Table::new();
    // Never wrapped: a cell split over lines ("1078 / 9") is misread.
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec![String::new()];
    header.extend(types.iter().map(|(n, _)| (*n).to_owned()));
    t.set_header(header);
    let mut row = |label: &str, f: &dyn Fn(&TypeReport) -> String| {
        let mut cells = vec![label.to_owned()];
        cells.extend(types.iter().map(|(_, j)| f(j)));
        t.add_row(cells);
    };
    let restarted = !r.restarts.is_empty();
    let h = |v: Option<f64>, j: &TypeReport| -> String {
        if !j.baseline_at_nrt {
            "not at NRT".to_owned()
        } else if !restarted {
            "–".to_owned()
        } else {
            v.map_or("never".to_owned(), |h| format!("{h:.1}"))
        }
    };
    row("inputs", &|j| j.inputs.to_string());
    row("jobs/day", &|j| {
        format!("{:.0}", j.jobs_created as f64 / days)
    });
    row("published", &|j| j.published.to_string());
    row("  no product", &|j| j.no_product.to_string());
    row("pending", &|j| j.pending.to_string());
    row("superseded", &|j| j.superseded.to_string());
    row("cancelled", &|j| j.cancelled.to_string());
    row("lost", &|j| j.lost.to_string());
    let reasons: std::collections::BTreeSet<&str> = types
        .iter()
        .flat_map(|(_, j)| j.lost_reasons.keys().copied())
        .collect();
    for reason in reasons {
        row(&format!("  {reason}"), &|j| {
            j.lost_reasons
                .get(reason)
                .map_or("·".to_owned(), u64::to_string)
        });
    }
    row("lost beyond baseline", &|j| {
        j.lost_vs_baseline.map_or("–".to_owned(), |d| d.to_string())
    });
    row("recovery h", &|j| h(j.recovery_hours, j));
    row("catch-up h (own wave)", &|j| h(j.catch_up_hours, j));
    row("latency h p50", &|j| hours(j.latency_hours.p50));
    row("latency h p95", &|j| hours(j.latency_hours.p95));
    row("latency h p99", &|j| hours(j.latency_hours.p99));
    row("redispatches", &|j| j.redispatches.to_string());
    for c in 1..=types.len() {
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
    for x in &r.restarts {
        let worst = x
            .recovery_hours_by_type
            .iter()
            .filter(|(k, _)| !r.baseline_not_at_nrt.contains(k))
            .max_by(|a, b| {
                let v = |h: &Option<f64>| h.unwrap_or(f64::INFINITY);
                v(a.1).total_cmp(&v(b.1))
            })
            .map(|(k, _)| *k);
        out += &wrap(
            &format!(
                "restart: {} — recovery {}{}",
                x.at,
                x.recovery_hours
                    .map_or("never (before the horizon)".to_owned(), |h| format!(
                        "{h:.1} h"
                    )),
                worst.map_or(String::new(), |w| format!(" (last back: {w})"))
            ),
            0,
        );
        for (i, w) in x.waves.iter().enumerate() {
            out += &wrap(
                &format!(
                    "wave {} at {} (+{:.1} h): {}",
                    i + 1,
                    w.at,
                    w.after_restart_hours,
                    w.job_types.join(", ")
                ),
                2,
            );
        }
    }
    if !r.baseline_not_at_nrt.is_empty() {
        out += &wrap(
            &format!(
                "baseline not at NRT (no catch-up or recovery reported): {}",
                r.baseline_not_at_nrt.join(", ")
            ),
            0,
        );
    }
    if r.steps_not_run > 0 {
        out += &format!("steps not run: {}\n", r.steps_not_run);
    }
    // `- expect:` steps are observations: what they expect is checked or listed below.
    let skipped = match &sc.plan {
        hrsi_scenario::Plan::Steps(s) => s
            .iter()
            .filter(|s| s.kind.harness_only() && s.kind != hrsi_scenario::StepKind::Expect)
            .count(),
        hrsi_scenario::Plan::Outages(_) => 0,
    };
    if skipped > 0 {
        out += &format!(
            "{skipped} harness-only step(s) skipped (sql, psql_file, backup, borg_extract)\n"
        );
    }
    if !checks.checked.is_empty() {
        let failed = checks.failed().count();
        out += &format!(
            "expectations checked: {}, {}\n",
            checks.checked.len(),
            if failed == 0 {
                "all hold".to_owned()
            } else {
                format!("{failed} not met (listed on standard error)")
            }
        );
        for c in &checks.checked {
            out += &wrap(&c.to_string(), 2);
        }
    }
    if !checks.not_checked.is_empty() {
        let mut by_why: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (line, what, why) in &checks.not_checked {
            by_why
                .entry(why)
                .or_default()
                .push(format!("line {line} {what}"));
        }
        for (why, items) in by_why {
            out += &wrap(&format!("not checked ({why}): {}", items.join(", ")), 0);
        }
    }
    if !r.system_parameters.is_empty() {
        let p: Vec<String> = r
            .system_parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out += &wrap(&format!("system parameters changed: {}", p.join(", ")), 0);
    }
    if !sc.restart_params.is_empty() {
        let p: Vec<String> = sc
            .restart_params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out += &wrap(&format!("set at each restart: {}", p.join(", ")), 0);
    }
    let cal = if r.calibration == hrsi_sim::Calibration::default() {
        "default"
    } else {
        "changed (see --json)"
    };
    out += &wrap(&format!("calibration: {cal}. {}", r.assumptions), 0);
    out
}

fn hours(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |h| format!("{h:.1}"))
}

/// Words wrapped to [`WIDTH`] columns; continuation lines indented two more than the first.
fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut line = " ".repeat(indent);
    let mut empty = true;
    for w in text.split(' ').filter(|w| !w.is_empty()) {
        if !empty && line.chars().count() + 1 + w.chars().count() > WIDTH {
            out += line.trim_end();
            out.push('\n');
            line = " ".repeat(indent + 2);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line += w;
        empty = false;
    }
    out += line.trim_end();
    out.push('\n');
    out
}
