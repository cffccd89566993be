//! What a run needs: seed, calendar, calibration, parameters, fidelity switches and the plan of
//! operator steps (stop, start, parameter changes, waves).

use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::job_type::JobType;
use crate::params::SystemParameters;
use crate::time::{DAY, Instant, Ms};

/// Documented intents the code does not carry out: all off by default (as coded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fidelity {
    /// Cap SWS/WDS workers at `max_number_of_extra_large_worker_instances` (read by no code).
    pub xl_worker_cap: bool,
    /// RLIE-S1-S2: wait 8 h after the end of a day, and for its RLIE-S1 up to 24 h (inactive as
    /// coded because of an operator-precedence error).
    pub rlies1s2_end_of_day_guards: bool,
    /// GFSC: release an FSC-triggered job early when a same-day WDS/SWS exists (overwritten as
    /// coded by the 3-hour rule).
    pub gfsc_early_release: bool,
    /// GFSC daily jobs: read the latest GFSC's catalogue `startDate` as its product date (the
    /// other reading of jobs.md §4.2 step 3). Off: `startDate` is the earliest input sensing time
    /// (the facts' inference), which skips more tiles as "input GFSC too old".
    pub gfsc_start_date_is_product_date: bool,
    /// Every inserted status costs what the database's `check_status_change` trigger takes to
    /// aggregate the whole `job_status_changes` table (database.md §7.12): `base + slope × rows`
    /// per insert (calibration `status_insert_*`, `status_history_rows`), serial within each
    /// service's loop and added to a worker's run for its own posts. Off (as the other switches,
    /// and so that every output stays what it was): inserts are free.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub status_trigger_cost: bool,
}

impl Fidelity {
    /// Every switch by name, with its state (serialised output omits `status_trigger_cost`
    /// while it is off, so that reports made before it existed keep their bytes).
    pub fn switches(&self) -> [(&'static str, bool); 5] {
        [
            ("xl_worker_cap", self.xl_worker_cap),
            (
                "rlies1s2_end_of_day_guards",
                self.rlies1s2_end_of_day_guards,
            ),
            ("gfsc_early_release", self.gfsc_early_release),
            (
                "gfsc_start_date_is_product_date",
                self.gfsc_start_date_is_product_date,
            ),
            ("status_trigger_cost", self.status_trigger_cost),
        ]
    }

    /// Turns a switch on or off by name; `Err` with the known names when there is none.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), Vec<&'static str>> {
        let slot = match name {
            "xl_worker_cap" => &mut self.xl_worker_cap,
            "rlies1s2_end_of_day_guards" => &mut self.rlies1s2_end_of_day_guards,
            "gfsc_early_release" => &mut self.gfsc_early_release,
            "gfsc_start_date_is_product_date" => &mut self.gfsc_start_date_is_product_date,
            "status_trigger_cost" => &mut self.status_trigger_cost,
            _ => return Err(self.switches().iter().map(|s| s.0).collect()),
        };
        *slot = on;
        Ok(())
    }
}

/// An operator action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `prod_env_destroy.sh module.core`: every service stops; inputs keep arriving.
    Stop,
    /// `prod_env_apply.sh module.core`: services start again.
    Start,
    /// `UPDATE cosims.system_parameters SET name = value`.
    SetParam {
        /// Column.
        name: String,
        /// Value as text.
        value: String,
    },
    /// The OpenStack project's instance quota for worker VMs from now on (`None`: lifted): Nova
    /// refuses the worker pool's creations beyond it (403).
    WorkerQuota(Option<u32>),
    /// The Nomad HTTP API answers 5xx from now on (dispatches fail, the worker pool and the
    /// monitor skip their loops).
    NomadUnavailable,
    /// The Nomad HTTP API answers again.
    NomadAvailable,
    /// The database does not answer from now on (PostgreSQL killed or stopped, a restore in
    /// progress): the services' calls fail and nothing is written.
    DatabaseUnavailable,
    /// The database answers again.
    DatabaseAvailable,
    /// `nomad job stop SERVICE`: one orchestrator service stops (its loop no longer runs); the
    /// others, Nomad's scheduler and the runs already placed carry on.
    StopService(Service),
    /// `nomad job run SERVICE.nomad` of a stopped service: it starts again (a fresh process:
    /// it reads its loop sleep, and job creation remembers no night pass).
    StartService(Service),
    /// A fresh database volume under the services: `cosims` holds no job and the schema's
    /// default parameters; started on it, the creation services fall back to their
    /// empty-database look-backs (jobs.md §0.2) and the FSC/RLIE time series has no history.
    EmptyDatabase,
}

/// An orchestrator service, one Nomad service job each (orchestration.md §1), in the order of
/// its bit in the engine's mask of services stopped by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// `job-creation`: new jobs from the catalogues, and GFSC's night pass.
    JobCreation,
    /// `job-configuration`: `initialized`/`configured` jobs made `ready`.
    JobConfiguration,
    /// `job-execution`: `ready` jobs dispatched to Nomad (`queued`).
    JobExecution,
    /// `job-publication`: `processed` jobs published (`done`).
    JobPublication,
    /// `worker-pool-management`: worker VMs created and deleted.
    WorkerPoolManagement,
    /// `monitor`: jobs stuck in Nomad re-dispatched.
    Monitor,
}

impl Service {
    /// Every service, in mask order.
    pub const ALL: [Service; 6] = [
        Service::JobCreation,
        Service::JobConfiguration,
        Service::JobExecution,
        Service::JobPublication,
        Service::WorkerPoolManagement,
        Service::Monitor,
    ];

    /// The Nomad job's name (`nomad job stop NAME`).
    pub fn nomad_job(self) -> &'static str {
        match self {
            Service::JobCreation => "job-creation",
            Service::JobConfiguration => "job-configuration",
            Service::JobExecution => "job-execution",
            Service::JobPublication => "job-publication",
            Service::WorkerPoolManagement => "worker-pool-management",
            Service::Monitor => "monitor",
        }
    }

    /// The service a Nomad job name runs (`None`: not an orchestrator service).
    pub fn of_nomad_job(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.nomad_job() == name)
    }

    /// Its bit in a mask of services.
    pub const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// One step: wait until the listed types are caught up (if any), then `after` more, then act.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Types that must be caught up first (the wave condition).
    pub caught_up: Vec<JobType>,
    /// Delay after the previous step (or after the catch-up), ms.
    pub after: Ms,
    /// What to do.
    pub action: Action,
}

/// How to restart after an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// All types at once.
    All,
    /// The runbook's three waves, each when the previous types are caught up.
    Waves,
}

/// The runbook's three waves of `job_types_list`.
pub const WAVES: [&[JobType]; 3] = [
    &[JobType::FscRlieJob, JobType::Rlies1Job],
    &[
        JobType::FscRlieJob,
        JobType::Rlies1Job,
        JobType::SwsWdsJob,
        JobType::Rlies1s2Job,
    ],
    &[
        JobType::FscRlieJob,
        JobType::Rlies1Job,
        JobType::SwsWdsJob,
        JobType::Rlies1s2Job,
        JobType::GfscJob,
    ],
];

/// `job_types_list` text (valid JSON, double quotes) for a list of types.
pub fn job_types_json(types: &[JobType]) -> String {
    let names: Vec<String> = types.iter().map(|t| format!("\"{}\"", t.name())).collect();
    format!("[{}]", names.join(", "))
}

/// The steps of one outage `[start, start + length)` followed by a restart plan. With waves,
/// the list is reduced to wave 1 while stopped (as the runbook does before starting) and widened
/// when the previous wave is caught up.
pub fn outage_steps(start: Ms, length: Ms, restart: Restart, prev_end: Ms) -> Vec<Step> {
    let mut steps = vec![Step {
        caught_up: vec![],
        after: start - prev_end,
        action: Action::Stop,
    }];
    match restart {
        Restart::All => steps.push(Step {
            caught_up: vec![],
            after: length,
            action: Action::Start,
        }),
        Restart::Waves => {
            steps.push(Step {
                caught_up: vec![],
                after: length,
                action: Action::SetParam {
                    name: "job_types_list".into(),
                    value: job_types_json(WAVES[0]),
                },
            });
            steps.push(Step {
                caught_up: vec![],
                after: 0,
                action: Action::Start,
            });
            for w in 1..WAVES.len() {
                steps.push(Step {
                    caught_up: WAVES[w - 1]
                        .iter()
                        .copied()
                        .filter(|t| !prev_has(w, *t))
                        .collect(),
                    after: 0,
                    action: Action::SetParam {
                        name: "job_types_list".into(),
                        value: job_types_json(WAVES[w]),
                    },
                });
            }
        }
    }
    steps
}

fn prev_has(w: usize, t: JobType) -> bool {
    // The condition for wave w is on the types wave w-1 added (earlier ones are already caught up).
    w >= 2 && WAVES[w - 2].contains(&t)
}

/// Everything a run depends on. Same config ⇒ same bytes of output.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed of every random draw.
    pub seed: u64,
    /// Calendar start of the reported period (UTC).
    pub start: Instant,
    /// Reported period length, ms.
    pub horizon: Ms,
    /// Calibration (assumptions).
    pub calibration: Calibration,
    /// System parameters at the start.
    pub params: SystemParameters,
    /// Fidelity switches.
    pub fidelity: Fidelity,
    /// Operator steps.
    pub steps: Vec<Step>,
    /// Collect the timeline (every 10 simulated minutes).
    pub timeline: bool,
    /// Keep per-job records (tests, audits).
    pub keep_jobs: bool,
    /// Keep every status change (what a database snapshot holds); needs `keep_jobs` too.
    pub keep_history: bool,
}

impl Config {
    /// The default world: seed 1, 2025-01-06, 30 days, default calibration and parameters.
    pub fn new(seed: u64) -> Config {
        Config {
            seed,
            start: Instant::parse(DEFAULT_START).expect("valid default start"),
            horizon: 30 * DAY,
            calibration: Calibration::default(),
            params: SystemParameters::default(),
            fidelity: Fidelity::default(),
            steps: Vec::new(),
            timeline: false,
            keep_jobs: false,
            keep_history: false,
        }
    }

    /// Sets the plan to one outage `[start, start + length)` (ms since the start) and a restart
    /// plan. Several outages: compose [`outage_steps`] with each origin.
    pub fn with_outage(mut self, start: Ms, length: Ms, restart: Restart) -> Config {
        self.steps = outage_steps(start, length, restart, 0);
        self
    }
}

/// Default start of the reported period: a winter Monday (snow season).
pub const DEFAULT_START: &str = "2025-01-06T00:00:00Z";

/// The longest reported period a run accepts, days (10 years). A simulated year holds about
/// 170 MB and takes about 1 s: memory and time grow with the days, so longer studies are split.
pub const MAX_DAYS: u32 = 3_660;

/// The longest warm start (`history:`, `warm_start_days`), days: it is simulated like the
/// reported period, and 60 days already reach every backward window of the system.
pub const MAX_WARM_START_DAYS: f64 = 60.0;

/// Why a reported period of `days` is refused, or `None`.
pub fn days_refusal(days: u64) -> Option<String> {
    if days == 0 {
        return Some("the reported period must be at least 1 day".into());
    }
    (days > u64::from(MAX_DAYS)).then(|| {
        format!(
            "{days} days is more than the {MAX_DAYS} (10 years) a run accepts: a simulated year \
             needs about 170 MB and 1 s, so {days} days would need about {} GB (hint: split the \
             study into runs of at most {MAX_DAYS} days)",
            (days as f64 * 0.47 / 1024.0).ceil()
        )
    })
}

impl Config {
    /// Checks every bound before anything runs: the horizon, the warm start and the calibration
    /// (finite, in range). A config that passes runs in bounded memory and time.
    pub fn check(&self) -> Result<(), String> {
        if self.horizon <= 0 {
            return Err("the reported period must be at least 1 day".into());
        }
        if let Some(m) = days_refusal((self.horizon as u64).div_ceil(DAY as u64)) {
            return Err(m);
        }
        self.calibration.validate()
    }
}
