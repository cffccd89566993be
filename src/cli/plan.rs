//! `hrsi plan`: sweep, replicate, answer (see [`crate::plan`]); `hrsi plan merge`: combine the
//! shard files of a sweep run in slices (a CI matrix, a Nomad parameterized job).
//!
//! This file reads files, sets up the thread pool and the progress bar, prints and picks the
//! exit code; the planning itself is in `src/plan/`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use hrsi_scenario::{Scenario, parse_calibration};
use hrsi_sim::Restart;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::exit;

mod paths;
use crate::plan::output::{self, SHARD_FORMAT, ShardFile};
use crate::plan::{Analysis, Goal, Plan, PlanInputs, RunRecord, ScenarioSource, Shard, Work};
use crate::plan::{analyze, exec, plots, report};
use paths::{Outputs, Sink};

/// Arguments of `hrsi plan`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_long_help = after_help())]
pub struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Combine the shard files of one plan (`--shard I/N --out FILE`) into its outputs.
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// Shard files, one per slice, in any order.
    #[arg(value_name = "SHARD.json", required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// A scenario file (YAML) as the base. Without one: the nominal world and the options below.
    #[arg(value_name = "SCENARIO.yaml")]
    scenario: Option<PathBuf>,
    /// Reported period, days (the horizon).
    #[arg(long, value_name = "N")]
    days: Option<u32>,
    /// First seed (with --replications): seeds SEED, SEED+1, ...
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Start of the reported period: a date, or an ISO time at 00:00 UTC.
    #[arg(long, value_name = "DATE")]
    start: Option<String>,
    /// An outage starting this many days after the start (with --outage-days).
    #[arg(long, value_name = "D")]
    outage_start_day: Option<f64>,
    /// Length of the outage, days.
    #[arg(long, value_name = "D")]
    outage_days: Option<f64>,
    /// How the system restarts after the outage.
    #[arg(long, value_enum, value_name = "all|waves")]
    restart: Option<RestartArg>,
    /// Set a `cosims.system_parameters` column at the start (repeatable).
    #[arg(long = "set", value_name = "PARAM=VALUE")]
    set: Vec<String>,
    /// A calibration file (YAML or JSON; missing keys keep their defaults).
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// Turn a fidelity switch on (repeatable).
    #[arg(long, value_name = "NAME")]
    fidelity: Vec<String>,
    /// A swept axis (repeatable): `param.NAME=VALUES`, `calib.NAME=VALUES` or
    /// `scenario.outage_days|outage_start_day|restart|days|gfsc_start_date=VALUES`; VALUES is a
    /// list `1,3,5` or a range `20..210:10` (end included).
    #[arg(long, value_name = "AXIS=VALUES")]
    sweep: Vec<String>,
    /// Seeds per point: N (SEED..SEED+N-1; default 10 without a goal), or `auto` (the default
    /// with --goal): more seeds only where they can change the answer, up to --max-runs.
    #[arg(long, value_name = "N|auto", value_parser = replications)]
    replications: Option<Replications>,
    /// The budget of --replications auto, in runs (default 5000; baselines not counted).
    #[arg(long, value_name = "N")]
    max_runs: Option<u64>,
    /// The share of runs that must meet the goal for a claim (default 0.95).
    #[arg(long, value_name = "P")]
    probability: Option<f64>,
    /// The confidence of every claim: one-sided Clopper-Pearson (default 0.95).
    #[arg(long, value_name = "C")]
    confidence: Option<f64>,
    /// The seeds, as a list or a range (instead of --replications).
    #[arg(long, value_name = "LIST")]
    seeds: Option<String>,
    /// The question to answer.
    #[arg(long, value_enum)]
    goal: Option<GoalArg>,
    /// Deadline for catching up, hours from the restart (worker-cap; shown for every point).
    #[arg(long, value_name = "HOURS")]
    within: Option<f64>,
    /// Run one slice of the sweep (1-based) and write its runs to --out, for `hrsi plan merge`.
    #[arg(long, value_name = "I/N", requires = "out")]
    shard: Option<String>,
    /// The shard file to write (with --shard).
    #[arg(long, value_name = "FILE", requires = "shard")]
    out: Option<PathBuf>,
    /// Check every input and output and print the work the plan would do; run nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
struct OutArgs {
    /// Write the analysis as JSON to FILE, or to standard output with `-` (no table then).
    #[arg(long, value_name = "FILE|-", value_parser = sink)]
    json: Option<Sink>,
    /// Write the timeline of the chosen point's first seed (one row per 10 simulated minutes)
    /// as CSV to FILE, or to standard output with `-` (no table then).
    #[arg(long, value_name = "FILE|-", value_parser = sink)]
    timeline: Option<Sink>,
    /// Write every run as CSV.
    #[arg(long, value_name = "FILE.csv")]
    csv: Option<PathBuf>,
    /// Write the plots (SVG with the font embedded, and PNG) into DIR.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Write a self-contained HTML report, DIR/index.html.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Worker threads (default: all cores; more than the cores would not help).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn sink(s: &str) -> Result<Sink, String> {
    if s.is_empty() {
        return Err("an empty path (hint: name a file, or `-` for standard output)".into());
    }
    Ok(Sink::parse(s))
}

impl OutArgs {
    /// Every output of the command, for checking before anything runs.
    fn outputs(&self, shard_out: &Option<PathBuf>) -> Outputs {
        let mut o = Outputs::default();
        o.sink("--json", &self.json);
        o.sink("--timeline", &self.timeline);
        o.file("--csv", &self.csv);
        o.file("--out", shard_out);
        o.dir("--plots", &self.plots);
        o.dir("--report", &self.report);
        o
    }
}

#[derive(Debug, Clone, Copy)]
enum Replications {
    Fixed(u32),
    Auto,
}

fn replications(s: &str) -> Result<Replications, String> {
    if s == "auto" {
        return Ok(Replications::Auto);
    }
    s.parse::<u32>()
        .map(Replications::Fixed)
        .map_err(|_| format!("`{s}` is not a number of runs (1 to 4294967295) or `auto`"))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RestartArg {
    All,
    Waves,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum GoalArg {
    /// Smallest max_number_of_worker_instances catching up within --within hours.
    WorkerCap,
    /// Smallest RLIE-S1-S2 search window losing no tile-day outside it.
    SearchWindow,
    /// Whether gfsc_daily_jobs_creation_start_date must be set at the restart.
    GfscStartDate,
    /// Which restart plan is faster, which is cheaper.
    Restart,
    /// The outage length beyond which products are lost whatever the workers.
    OutageLimit,
}

impl From<GoalArg> for Goal {
    fn from(g: GoalArg) -> Goal {
        match g {
            GoalArg::WorkerCap => Goal::WorkerCap,
            GoalArg::SearchWindow => Goal::SearchWindow,
            GoalArg::GfscStartDate => Goal::GfscStartDate,
            GoalArg::Restart => Goal::Restart,
            GoalArg::OutageLimit => Goal::OutageLimit,
        }
    }
}

fn after_help() -> String {
    format!(
        "\
Each point of the sweep runs once per seed, every point the same seeds (common random numbers);
each baseline (seed, parameters, calibration, horizon) is computed once and shared by the points
that differ only in scenario settings. A claim \"with 95 % confidence\" is made only when the
one-sided Clopper-Pearson lower bound of q, the probability that a run meets the goal, is at
least --probability (0.95) at --confidence (0.95): 59 runs without a failure are the fewest
that can show it. Otherwise the answer says what the runs support (\"at least 74.1 % of runs,
95 % confidence, n = 10\") and how many more runs would settle it. With a goal, --replications
auto (the default) adds seeds only where they can still change the answer, up to --max-runs.
A run that never recovers is \"never\": +infinity in medians, never dropped, and it does not meet a
deadline. Output is the same bytes for the same inputs, whatever the number of threads or shards.

Exit codes:
  0  the plan ran (and the goal, if any, has an answer the runs support)
  1  no swept value is shown to meet the goal at --probability with --confidence (the answer
     says what the runs support and how many more would settle it)
  2  bad input (sweep syntax, unknown parameter or calibration name, bad shard spec); nothing ran

Examples:
  hrsi plan --days 30 --outage-start-day 5 --outage-days 5 --restart waves \\
      --sweep param.max_number_of_worker_instances=20..210:10 --goal worker-cap --within 48
  hrsi plan --days 20 --outage-start-day 3 --outage-days 5 \\
      --sweep param.rlies1s2_max_search_window_days=3..15:2 --goal search-window
  hrsi plan --days 12 --outage-start-day 3 --outage-days 5 --goal gfsc-start-date
  hrsi plan scenarios/outage-5-days-waves.yaml --goal restart --report out/
  hrsi plan --days 30 --outage-start-day 3 --sweep scenario.outage_days=1..10 \\
      --sweep param.max_number_of_worker_instances=100,210,400 --goal outage-limit
  hrsi plan --days 10 --outage-start-day 2 --outage-days 2 --replications 3 --timeline -
  hrsi plan --days 10 --outage-start-day 2 --outage-days 2 --sweep scenario.restart=all,waves \\
      --replications 20 --shard 2/4 --out shard-2.json     # slice 2 of 4 (CI matrix, Nomad job)
  hrsi plan merge shard-1.json shard-2.json shard-3.json shard-4.json \\
      --json plan.json --report out/
  hrsi plan --days 30 --outage-start-day 5 --outage-days 5 --restart waves --dry-run \\
      --sweep param.max_number_of_worker_instances=20..210:10 --goal worker-cap --within 48

{}",
        hrsi_sim::calibration::ASSUMPTIONS
    )
}

/// Runs `hrsi plan` or `hrsi plan merge`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.sub {
        Some(Sub::Merge(m)) => merge(m),
        None => plan(args.plan, args.out),
    }
}

fn usage(msg: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("error: {msg}");
    Ok(ExitCode::from(exit::USAGE))
}

fn plan(a: PlanArgs, out: OutArgs) -> anyhow::Result<ExitCode> {
    let inputs = match inputs(&a) {
        Ok(i) => i,
        Err(e) => return usage(e),
    };
    let shard = match a.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    if shard.is_some()
        && (out.json.is_some()
            || out.timeline.is_some()
            || out.csv.is_some()
            || out.plots.is_some()
            || out.report.is_some())
    {
        return usage(
            "--shard writes only its shard file (hint: give --json/--timeline/--csv/--plots/\
             --report to `hrsi plan merge`)",
        );
    }
    let plan = match Plan::new(inputs) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    if let Err(e) = out.outputs(&a.out).check() {
        return usage(e);
    }
    if shard.is_some() && plan.sequential.is_some() {
        return usage(
            "--shard needs a fixed number of runs per point: sequential replications decide \
             each round from the last (hint: add --replications 59, or run without --shard)",
        );
    }
    let pool = match pool(out.threads) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    if a.dry_run {
        return dry_run(&plan, shard);
    }
    let records = if plan.sequential.is_some() {
        let mut round = 0;
        match crate::plan::sequential::run(&plan, &mut |w: &Work| {
            round += 1;
            execute(&pool, w, None, Some(round))
        }) {
            Ok((r, _)) => r,
            Err(e) => return usage(e),
        }
    } else {
        let work = match Work::new(&plan, shard) {
            Ok(w) => w,
            Err(e) => return usage(e),
        };
        execute(&pool, &work, shard, None)
    };
    if let (Some(shard), Some(path)) = (shard, &a.out) {
        let file = ShardFile {
            format: SHARD_FORMAT.to_owned(),
            inputs: plan.inputs.clone(),
            shard,
            records,
        };
        write(path, file.to_json().as_bytes())?;
        eprintln!(
            "plan: shard {}/{} written to `{}`",
            shard.index + 1,
            shard.count,
            path.display()
        );
        return Ok(ExitCode::from(exit::OK));
    }
    finish(&plan, &records, &out, &pool)
}

/// `--dry-run`: what would run, on standard error; nothing on standard output.
fn dry_run(plan: &Plan, shard: Option<Shard>) -> anyhow::Result<ExitCode> {
    let work = match plan.sequential {
        Some(budget) => {
            let first = crate::plan::sequential::next_round(plan, &[]);
            let w = match Work::of(plan, &first, None) {
                Ok(w) => w,
                Err(e) => return usage(e),
            };
            format!(
                "replications auto: first round {} runs + {} baselines, at most {budget} runs",
                w.runs(),
                w.baselines()
            )
        }
        None => {
            let w = match Work::new(plan, shard) {
                Ok(w) => w,
                Err(e) => return usage(e),
            };
            format!("{} runs + {} baselines", w.runs(), w.baselines())
        }
    };
    eprintln!(
        "plan: dry run: {} point(s) of {} day(s), {work}; inputs and outputs checked, nothing ran",
        plan.points.len(),
        plan.base.days
    );
    Ok(ExitCode::from(exit::OK))
}

fn merge(m: MergeArgs) -> anyhow::Result<ExitCode> {
    if let Err(e) = m.out.outputs(&None).check() {
        return usage(e);
    }
    let mut files = Vec::new();
    for f in &m.files {
        match std::fs::read_to_string(f) {
            Ok(t) => files.push((f.display().to_string(), t)),
            Err(e) => return usage(format!("cannot read `{}`: {e}", f.display())),
        }
    }
    let (inputs, records) = match output::merge(&files) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let plan = match Plan::new(inputs) {
        Ok(p) => p,
        Err(e) => return usage(format!("the shards' plan is invalid here: {e}")),
    };
    let expected = plan.points.len() * plan.seeds.len();
    if records.len() != expected
        || records
            .iter()
            .any(|r| r.point >= plan.points.len() || !plan.seeds.contains(&r.seed))
    {
        return usage(format!(
            "the shards hold {} runs, the plan has {expected} (hint: were they made with \
             different hrsi versions?)",
            records.len()
        ));
    }
    let pool = match pool(m.out.threads) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    finish(&plan, &records, &m.out, &pool)
}

fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match threads {
        Some(0) => return Err("--threads must be at least 1".into()),
        // Runs are CPU-bound: threads past the cores only add memory (a run's world each).
        Some(n) if n > cores => {
            return Err(format!(
                "--threads {n} is more than the {cores} core(s) this machine offers, which would \
                 not run faster (hint: --threads {cores}, or leave it out)"
            ));
        }
        _ => {}
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| format!("cannot start the thread pool: {e}"))
}

/// CPU seconds of this process (user + system), from /proc; `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn execute(
    pool: &rayon::ThreadPool,
    work: &Work,
    shard: Option<Shard>,
    round: Option<usize>,
) -> Vec<RunRecord> {
    let total = (work.baselines() + work.runs()) as u64;
    let slice = shard
        .map(|s| format!(" (shard {}/{})", s.index + 1, s.count))
        .or(round.map(|r| format!(" (round {r})")))
        .unwrap_or_default();
    eprintln!(
        "plan: {} runs, {} baselines{slice}, {} threads",
        work.runs(),
        work.baselines(),
        pool.current_num_threads()
    );
    // indicatif draws nothing when stderr is not a terminal: CI logs keep only the two lines.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} simulations, {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let records = pool.install(|| work.execute(&|| bar.inc(1)));
    bar.finish_and_clear();
    let cpu = match (c0, cpu_seconds()) {
        (Some(a), Some(b)) => format!(", CPU {:.1} s", b - a),
        _ => String::new(),
    };
    eprintln!(
        "plan: {} simulations in {:.1} s{cpu}",
        total,
        t0.elapsed().as_secs_f64()
    );
    records
}

fn finish(
    plan: &Plan,
    records: &[RunRecord],
    out: &OutArgs,
    pool: &rayon::ThreadPool,
) -> anyhow::Result<ExitCode> {
    let a = analyze(plan, records);
    if let Some(path) = &out.csv {
        write(path, output::csv(plan, records).as_bytes())?;
    }
    if out.plots.is_some() || out.report.is_some() {
        let charts = match pool.install(|| charts(plan, &a, records)) {
            Ok(c) => c,
            Err(e) => anyhow::bail!("failed to draw the plots: {e}"),
        };
        if let Some(dir) = &out.plots {
            mkdir(dir)?;
            for c in &charts {
                let svg = plots::svg(c).map_err(anyhow::Error::msg)?;
                write(
                    &dir.join(format!("{}.svg", c.stem)),
                    plots::embed_font(&svg).as_bytes(),
                )?;
                plots::png_file(c, &dir.join(format!("{}.png", c.stem)))
                    .map_err(anyhow::Error::msg)?;
            }
        }
        if let Some(dir) = &out.report {
            mkdir(dir)?;
            let html = report::html(&a, &charts).map_err(anyhow::Error::msg)?;
            write(&dir.join("index.html"), html.as_bytes())?;
        }
    }
    if let Some(t) = &out.timeline {
        let chosen = chosen_point(&a);
        let (cfg, outcome) =
            exec::timeline(plan, chosen, plan.seeds[0]).map_err(anyhow::Error::msg)?;
        let csv = hrsi_sim::report::timeline_csv(&cfg, &outcome);
        match t {
            Sink::Stdout => emit(&csv)?,
            Sink::File(p) => write(p, csv.as_bytes())?,
        }
    }
    match &out.json {
        Some(Sink::Stdout) => emit(&output::to_json(&a))?,
        Some(Sink::File(path)) => {
            write(path, output::to_json(&a).as_bytes())?;
            if out.timeline != Some(Sink::Stdout) {
                emit(&output::render(&a))?;
            }
        }
        None if out.timeline == Some(Sink::Stdout) => {}
        None => emit(&output::render(&a))?,
    }
    Ok(ExitCode::from(if unanswered(&a) {
        exit::FAILED
    } else {
        exit::OK
    }))
}

/// A goal whose answer lies outside the swept values (no cap, no window meets it).
fn unanswered(a: &Analysis) -> bool {
    a.goal.as_ref().is_some_and(|g| {
        matches!(g.goal, Goal::WorkerCap | Goal::SearchWindow)
            && g.answers.iter().any(|x| x.value.is_none())
    })
}

/// The point whose timeline is shown: the goal's answer, else the first point.
fn chosen_point(a: &Analysis) -> usize {
    a.goal.as_ref().and_then(|g| g.chosen_point).unwrap_or(0)
}

/// Seeds the backlog band is drawn over (each one more simulation with its timeline).
const BAND_SEEDS: usize = 10;

/// The plots that apply: the chosen plan's backlog over its first seeds, recovery against the
/// swept value, lost to the outage against its length per type.
fn charts(plan: &Plan, a: &Analysis, records: &[RunRecord]) -> Result<Vec<plots::Chart>, String> {
    use rayon::prelude::*;
    let chosen = chosen_point(a);
    let n = records
        .iter()
        .filter(|r| r.point == chosen)
        .count()
        .clamp(1, BAND_SEEDS);
    let runs: Vec<_> = plan.seeds[..n.min(plan.seeds.len())]
        .par_iter()
        .map(|&seed| exec::timeline(plan, chosen, seed))
        .collect::<Result<_, _>>()?;
    let label: Vec<String> = plan
        .labels(&plan.points[chosen])
        .into_iter()
        .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(&k)))
        .collect();
    let label = if label.is_empty() {
        "the plan".to_owned()
    } else {
        label.join(", ")
    };
    let mut c = vec![plots::backlog_chart(&runs, &label)];
    c.extend(plots::recovery_chart(plan, a, records));
    c.extend(plots::lost_charts(plan, a));
    Ok(c)
}

fn inputs(a: &PlanArgs) -> Result<PlanInputs, String> {
    let mut i = PlanInputs {
        days: a.days,
        seed: a.seed,
        start: a.start.clone(),
        outage_start_day: a.outage_start_day,
        outage_days: a.outage_days,
        restart: a.restart.map(|r| match r {
            RestartArg::All => Restart::All,
            RestartArg::Waves => Restart::Waves,
        }),
        set: a.set.clone(),
        fidelity: a.fidelity.clone(),
        sweeps: a.sweep.clone(),
        replications: match a.replications {
            Some(Replications::Fixed(n)) => Some(n),
            _ => None,
        },
        auto: matches!(a.replications, Some(Replications::Auto)),
        max_runs: a.max_runs,
        probability: a.probability,
        confidence: a.confidence,
        seeds: a.seeds.clone(),
        goal: a.goal.map(Goal::from),
        within_hours: a.within,
        ..PlanInputs::default()
    };
    if let Some(path) = &a.scenario {
        let origin = path.display().to_string();
        let text = read(path)?;
        // Parsed here too, only to find the calibration file it names (relative to it).
        let sc = Scenario::from_yaml_str(&text, &origin).map_err(|e| e.to_string())?;
        if let Some(file) = &sc.calibration_file {
            let p = path.parent().unwrap_or(Path::new(".")).join(file);
            i.calibration = Some(calibration(&p)?);
        }
        i.scenario = Some(ScenarioSource { origin, text });
    }
    if let Some(p) = &a.calibration {
        i.calibration = Some(calibration(p)?);
        i.calibration_file = Some(p.display().to_string());
    }
    Ok(i)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

fn calibration(path: &Path) -> Result<hrsi_sim::Calibration, String> {
    parse_calibration(&read(path)?, &path.display().to_string()).map_err(|e| e.to_string())
}

fn mkdir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("failed to create `{}`: {e}", dir.display()))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| anyhow::anyhow!("failed to write `{}`: {e}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_reads_proc() {
        assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
    }
}
