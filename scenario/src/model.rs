//! A validated scenario: names resolved, durations and dates typed, values checked.

use std::collections::BTreeMap;

use hrsi_sim::time::{Instant, Ms};
use hrsi_sim::{Calibration, Fidelity, JobType, Restart, SystemParameters};

/// A scenario file, validated. Build it with [`Scenario::from_yaml_str`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Where it came from (a file name), for messages.
    pub origin: String,
    /// Title.
    pub name: Option<String>,
    /// What the scenario rehearses.
    pub about: Option<String>,
    /// Seed of every random draw (1 when the file gives none).
    pub seed: u64,
    /// Start of the reported period: midnight UTC.
    pub start: Instant,
    /// Reported period, days (the horizon).
    pub days: u32,
    /// The calibration (defaults unless the file gives a mapping, or the loader resolved
    /// [`Scenario::calibration_file`]).
    pub calibration: Calibration,
    /// A calibration file named by the scenario, relative to it, still to be read by the
    /// loader (see [`Scenario::set_calibration`]).
    pub calibration_file: Option<String>,
    /// System parameters at the start (SQL defaults, then the file's `system_parameters`).
    pub params: SystemParameters,
    /// Fidelity switches.
    pub fidelity: Fidelity,
    /// Warm start (nominal history before the reported period), when the file sets it: overrides
    /// the calibration's `warm_start_days`.
    pub history: Option<Ms>,
    /// What happens during the run.
    pub plan: Plan,
    /// Parameters the operator sets at each restart, while the system is still down, just
    /// before the `start` (`hrsi simulate --set-at-restart NAME=VALUE`), as (column, value).
    pub restart_params: Vec<(String, String)>,
}

/// The operator's plan: outages in shorthand, or the canonical steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// `outages:` (each expands into stop, advance, start and, for waves, the three waves).
    Outages(Vec<Outage>),
    /// `steps:`, in order.
    Steps(Vec<ScenarioStep>),
}

/// One outage of the shorthand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// When the system stops, ms since the scenario's start.
    pub start: Ms,
    /// How long it stays down, ms.
    pub length: Ms,
    /// How it restarts.
    pub restart: Restart,
}

/// One step of a scenario: an operator's action or an observation, with its expectations.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioStep {
    /// The line of the step in the file (for transcripts).
    pub line: u64,
    /// What is done.
    pub kind: StepKind,
    /// What should be observed after it (checked by the harness).
    pub expect: Option<Expect>,
}

/// The step kinds: the runbook's vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `prod_env_destroy.sh module.core` (`confirm: no` answers no: nothing happens).
    Stop {
        /// The answer to the script's confirmation.
        confirm: bool,
    },
    /// `prod_env_apply.sh module.core`.
    Start {
        /// The answer to the script's confirmation.
        confirm: bool,
    },
    /// The deployment scripts with another target or other answers than `module.core` and
    /// `yes` (harness only: the simulator's stop and start are the whole core module).
    Script {
        /// `prod_env_destroy.sh` (true) or `prod_env_apply.sh`.
        destroy: bool,
        /// The Terraform target.
        target: String,
        /// What the operator types at each prompt, in order.
        answers: Vec<String>,
    },
    /// Let virtual time pass.
    Advance(Ms),
    /// `UPDATE cosims.system_parameters SET …`, in the order written.
    SetParam(Vec<ParamSetting>),
    /// Let time pass until the types are caught up (simulation.md, "Catch-up").
    RunUntil {
        /// Which types.
        caught_up: CaughtUp,
        /// The most the operator waits (checked by the harness).
        within: Option<Ms>,
    },
    /// An SQL statement run with psql (harness only), as at the prompt: no `ON_ERROR_STOP`.
    Sql(String),
    /// An SQL statement run with `psql -c`, with or without `-v ON_ERROR_STOP=1`.
    SqlWith {
        /// The statement(s).
        query: String,
        /// `-v ON_ERROR_STOP=1`.
        on_error_stop: bool,
    },
    /// `psql -f FILE` (harness only).
    PsqlFile {
        /// The file, relative to the rehearsal's working directory.
        file: String,
        /// `-v ON_ERROR_STOP=1`.
        on_error_stop: bool,
        /// `--single-transaction`.
        single_transaction: bool,
    },
    /// `pg_dumpall [-s] > FILE` (harness only).
    PgDumpall {
        /// `-s`: schema only, as the runbook's patch procedure.
        schema_only: bool,
        /// The dump file, in the rehearsal's working directory.
        to: String,
    },
    /// `borg list` of the backup repository (harness only).
    BorgList,
    /// The runbook's reset (harness only): `DROP SCHEMA cosims CASCADE` then `psql -f FILE`.
    Restore {
        /// The dump.
        file: String,
        /// Run the `DROP SCHEMA` first (the trap: without it).
        drop_schema: bool,
        /// PostgreSQL is killed when psql reaches the first line containing this text.
        killed_at: Option<String>,
    },
    /// `terraform plan` of a target (harness only): prints the plan, changes nothing.
    TfPlan {
        /// `apply` (false) or `destroy` (true).
        destroy: bool,
        /// The target.
        target: String,
        /// `public` (the public configuration, 10 in core) or `runbook` (13, with the
        /// reconstructed dashboard proxy).
        runbook_configuration: bool,
    },
    /// A fresh database volume (harness only): the cold volume destroyed and created again.
    FreshVolume {
        /// The answer to Terraform's confirmation.
        confirm: bool,
    },
    /// PostgreSQL restarted on tf-tutu (`systemctl restart postgresql`; harness only).
    PostgresRestart,
    /// A service definition edited in the Nomad UI: not persistent (harness only).
    NomadEdit(NomadChange),
    /// A service's `.nomad` file edited on tf-tete: persistent (harness only).
    NomadJobFile(NomadChange),
    /// `nomad job run <file>.nomad` (harness only).
    NomadRun {
        /// The job.
        job: String,
    },
    /// `nomad job stop` (harness only).
    NomadStop {
        /// The job.
        job: String,
    },
    /// Waits until a stopped service has disappeared from Nomad (GC; harness only).
    NomadWaitGone {
        /// The job.
        job: String,
        /// The most the operator waits.
        within: Ms,
    },
    /// A fault injected into the stand-ins or the database (harness only).
    Fault(Fault),
    /// `pg_dumpall` into borg, as the 04:00 job (harness only).
    Backup,
    /// `borg extract` (harness only).
    BorgExtract {
        /// Archive name (`latest` for the newest).
        archive: String,
        /// Where to write the dump.
        to: String,
    },
    /// `hrsi jobs patch … --yes` (harness only): statuses posted to selected jobs through the
    /// operator tool and the database's API.
    PatchJobs(JobsPatch),
    /// `hrsi patch-test` (harness only): the patch's sandboxed verdict on the rehearsal's data.
    PatchTest(PatchTest),
    /// Only observations (`- expect: …`).
    Expect,
}

/// A `patch_jobs` step: `hrsi jobs patch` with its selection and the statuses to post, as
/// written (the tool checks them again when it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsPatch {
    /// Job type (`fsc_rlie_job`, or the tool's short name `fsc_rlie`).
    pub job_type: String,
    /// Select by last status (names).
    pub status: Vec<String>,
    /// Only these job ids (the job table's `id`).
    pub ids: Vec<i64>,
    /// The statuses to post, in order.
    pub post: Vec<String>,
}

/// A `patch_test` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchTest {
    /// The patch, as written: relative to the scenario file.
    pub patch: String,
    /// Where `patch:` is written (line, column), for errors found when the file is looked up.
    pub at: (u64, u64),
    /// The data: a dump an earlier step wrote (`pg_dumpall`, `borg_extract`) in the
    /// rehearsal's working directory; `None`: a dump of the rehearsal's database taken now.
    pub backup: Option<String>,
}

impl StepKind {
    /// Whether only the harness can carry the step out (the simulator skips it).
    pub fn harness_only(&self) -> bool {
        matches!(
            self,
            StepKind::Sql(_)
                | StepKind::SqlWith { .. }
                | StepKind::PsqlFile { .. }
                | StepKind::Backup
                | StepKind::BorgExtract { .. }
                | StepKind::Expect
                | StepKind::Script { .. }
                | StepKind::PgDumpall { .. }
                | StepKind::BorgList
                | StepKind::Restore { .. }
                | StepKind::TfPlan { .. }
                | StepKind::FreshVolume { .. }
                | StepKind::PostgresRestart
                | StepKind::NomadEdit(_)
                | StepKind::NomadJobFile(_)
                | StepKind::NomadRun { .. }
                | StepKind::NomadStop { .. }
                | StepKind::NomadWaitGone { .. }
                | StepKind::Fault(_)
                | StepKind::PatchJobs(_)
                | StepKind::PatchTest(_)
        )
    }

    /// The step's key in a scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Stop { .. } => "stop",
            StepKind::Start { .. } => "start",
            StepKind::Script { destroy: true, .. } => "stop",
            StepKind::Script { destroy: false, .. } => "start",
            StepKind::Advance(_) => "advance",
            StepKind::SetParam(_) => "set_param",
            StepKind::RunUntil { .. } => "run_until",
            StepKind::Sql(_) | StepKind::SqlWith { .. } => "sql",
            StepKind::PsqlFile { .. } => "psql_file",
            StepKind::Backup => "backup",
            StepKind::BorgExtract { .. } => "borg_extract",
            StepKind::PgDumpall { .. } => "pg_dumpall",
            StepKind::BorgList => "borg_list",
            StepKind::Restore { .. } => "restore",
            StepKind::TfPlan { .. } => "plan",
            StepKind::FreshVolume { .. } => "fresh_volume",
            StepKind::PostgresRestart => "postgres_restart",
            StepKind::NomadEdit(_) => "nomad_edit",
            StepKind::NomadJobFile(_) => "nomad_job_file",
            StepKind::NomadRun { .. } => "nomad_run",
            StepKind::NomadStop { .. } => "nomad_stop",
            StepKind::NomadWaitGone { .. } => "nomad_wait_gone",
            StepKind::Fault(_) => "fault",
            StepKind::PatchJobs(_) => "patch_jobs",
            StepKind::PatchTest(_) => "patch_test",
            StepKind::Expect => "expect",
        }
    }
}

/// A change to a Nomad service definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NomadChange {
    /// The job (`worker-pool-management`).
    pub job: String,
    /// New image: a full reference, or a tag that replaces the current one.
    pub image: Option<String>,
    /// New CPU ask, MHz.
    pub cpu: Option<u64>,
}

/// A fault the stand-ins or the database offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The PostgreSQL server process is killed (SIGKILL).
    PostgresKilled,
    /// The Nomad API answers 503 to the next `n` requests.
    Nomad5xx(u32),
    /// The Nomad API answers 503 to every request for this long of virtual time, ms (the
    /// simulated services feel it).
    Nomad5xxFor(hrsi_sim::time::Ms),
    /// A Nomad client node stops heartbeating: its allocations are lost.
    NomadLostNode(String),
    /// The OpenStack project's instance quota is set to `n`.
    OpenStackQuota(u64),
    /// Every OpenStack token issued so far expires.
    OpenStackTokenExpired,
}

/// One parameter of a `set_param` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSetting {
    /// Column of `cosims.system_parameters`.
    pub name: String,
    /// The value as the database would hold it (lists become JSON with double quotes).
    pub value: String,
    /// Why hrsi refuses the value (only when the step's `expect: {refused: …}` says so).
    pub refused: Option<String>,
}

/// The types a `run_until` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaughtUp {
    /// Every type enabled in `job_types_list` at that point.
    All,
    /// These types.
    Types(Vec<JobType>),
}

/// Observations after a step. The harness checks them; the simulator does not.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Expect {
    /// Terraform's plan summary (`add`, `change`, `destroy`).
    pub plan: Option<PlanCounts>,
    /// Nomad jobs that must be running.
    pub nomad_running: Vec<String>,
    /// Lost units per type.
    pub lost: BTreeMap<JobType, Count>,
    /// Lost units per type and reason.
    pub lost_reasons: BTreeMap<JobType, BTreeMap<String, Count>>,
    /// Units lost beyond the baseline's (same seed, no outage, no step) per type:
    /// `max(0, lost − baseline_lost)`. What the outage itself lost, told apart from the errors
    /// every day has. Checked by the simulator.
    pub lost_vs_baseline: BTreeMap<JobType, Count>,
    /// Catch-up hours per type, from the type's own (re)start (its wave). Checked by the
    /// simulator against the last restart before the step.
    pub catch_up_hours: BTreeMap<JobType, HoursBound>,
    /// Recovery hours from the system restart, per type (`None`: the run's recovery, the
    /// largest over the types; written `all`). Checked by the simulator.
    pub recovery_hours: BTreeMap<Option<JobType>, HoursBound>,
    /// SQL checks.
    pub sql: Vec<SqlCheck>,
    /// The step is refused by hrsi with a message containing this text.
    pub refused: Option<String>,
    /// Services failing at this point.
    pub services_failing: Option<Services>,
    /// Only errors matching these patterns are acceptable (e.g. a restore).
    pub errors_only: Vec<String>,
    /// The exit code of the step's command (psql, a deployment script).
    pub exit_code: Option<i32>,
    /// Errors that must have been printed (patterns).
    pub errors: Vec<String>,
    /// No error may have been printed.
    pub no_errors: bool,
    /// Lines the step's output must contain (patterns).
    pub output: Vec<String>,
    /// Lines the step's output must not contain (patterns).
    pub no_output: Vec<String>,
    /// Nomad job states: `running`, `pending`, `dead` or `absent`.
    pub nomad_jobs: BTreeMap<String, String>,
    /// What Nomad service definitions must say.
    pub nomad_spec: BTreeMap<String, NomadSpec>,
    /// The OpenStack project's servers.
    pub openstack_servers: Option<ServersCheck>,
    /// Types caught up (simulation.md) at this point.
    pub caught_up: Option<CaughtUp>,
    /// Backlog (pending available units) per type at this point.
    pub backlog: BTreeMap<JobType, Count>,
    /// Worker VMs of the simulated pool at this point.
    pub workers: Option<Count>,
    /// Whether the PostgreSQL server answers.
    pub database_running: Option<bool>,
    /// A `patch_test` step's verdict: `applies`, `applies-with-findings`, `fails`,
    /// `timed-out` or `not-run`.
    pub verdict: Option<String>,
    /// Patterns each of which a finding of a `patch_test` step (`KIND: MESSAGE`) must match.
    pub findings: Vec<String>,
}

/// What a Nomad service definition must say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NomadSpec {
    /// The image reference must end with this (a tag, or the whole reference).
    pub image: Option<String>,
    /// The CPU ask, MHz.
    pub cpu: Option<u64>,
    /// `yes`: a running allocation runs this very definition (the job's current version), as
    /// `nomad job status` shows it; `no`: none does (an old version still runs, or the new one
    /// is not placed).
    pub running: Option<bool>,
}

/// The OpenStack project's servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServersCheck {
    /// How many servers exist.
    pub count: Option<Count>,
    /// Names that must exist.
    pub include: Vec<String>,
    /// Names that must not exist.
    pub exclude: Vec<String>,
}

/// Terraform plan counts; `None` is not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanCounts {
    /// Resources added.
    pub add: Option<u32>,
    /// Resources changed.
    pub change: Option<u32>,
    /// Resources destroyed.
    pub destroy: Option<u32>,
}

/// An SQL check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlCheck {
    /// The query (`:now` is the scenario's virtual time).
    pub query: String,
    /// The expected value, as text.
    pub equals: Option<String>,
    /// The result must equal the same query on the backup.
    pub equals_backup: bool,
}

/// A count to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `== n`.
    Eq(u64),
    /// `> n`.
    Gt(u64),
    /// `>= n`.
    Ge(u64),
    /// `< n`.
    Lt(u64),
    /// `<= n`.
    Le(u64),
}

impl Count {
    /// Whether a value satisfies the comparison.
    pub fn holds(self, v: u64) -> bool {
        match self {
            Count::Eq(n) => v == n,
            Count::Gt(n) => v > n,
            Count::Ge(n) => v >= n,
            Count::Lt(n) => v < n,
            Count::Le(n) => v <= n,
        }
    }

    /// Parses `"> 0"`, `">=5"`, `"== 3"` or `"3"`.
    pub fn parse(s: &str) -> Option<Count> {
        let s = s.trim();
        let (ctor, rest): (fn(u64) -> Count, &str) = if let Some(r) = s.strip_prefix(">=") {
            (Count::Ge, r)
        } else if let Some(r) = s.strip_prefix("<=") {
            (Count::Le, r)
        } else if let Some(r) = s.strip_prefix("==") {
            (Count::Eq, r)
        } else if let Some(r) = s.strip_prefix('>') {
            (Count::Gt, r)
        } else if let Some(r) = s.strip_prefix('<') {
            (Count::Lt, r)
        } else {
            (Count::Eq, s)
        };
        rest.trim().parse().ok().map(ctor)
    }
}

/// A bound on a number of hours. A type that never caught up counts as infinitely late: it
/// fails `<`/`<=` bounds and meets `>`/`>=` ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoursBound {
    /// The comparison.
    pub op: BoundOp,
    /// The hours compared with.
    pub hours: f64,
}

/// The comparison of an [`HoursBound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundOp {
    /// `<`.
    Lt,
    /// `<=` (a bare number).
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl HoursBound {
    /// Whether an observed value (`None`: never) meets the bound.
    pub fn holds(self, v: Option<f64>) -> bool {
        let v = v.unwrap_or(f64::INFINITY);
        match self.op {
            BoundOp::Lt => v < self.hours,
            BoundOp::Le => v <= self.hours,
            BoundOp::Gt => v > self.hours,
            BoundOp::Ge => v >= self.hours,
        }
    }

    /// Parses `"<= 48h"`, `"< 30"`, `"> 2.5 h"` or `"48"` (at most 48 h); hours are finite and
    /// between 0 and 10⁶.
    pub fn parse(s: &str) -> Option<HoursBound> {
        let s = s.trim();
        let (op, rest) = if let Some(r) = s.strip_prefix("<=") {
            (BoundOp::Le, r)
        } else if let Some(r) = s.strip_prefix(">=") {
            (BoundOp::Ge, r)
        } else if let Some(r) = s.strip_prefix('<') {
            (BoundOp::Lt, r)
        } else if let Some(r) = s.strip_prefix('>') {
            (BoundOp::Gt, r)
        } else {
            (BoundOp::Le, s)
        };
        let rest = rest.trim();
        let rest = rest.strip_suffix('h').unwrap_or(rest).trim_end();
        let hours: f64 = rest.parse().ok()?;
        (hours.is_finite() && (0.0..=1e6).contains(&hours)).then_some(HoursBound { op, hours })
    }
}

impl std::fmt::Display for HoursBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            BoundOp::Lt => "<",
            BoundOp::Le => "<=",
            BoundOp::Gt => ">",
            BoundOp::Ge => ">=",
        };
        write!(f, "{op} {} h", self.hours)
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Eq(n) => write!(f, "== {n}"),
            Count::Gt(n) => write!(f, "> {n}"),
            Count::Ge(n) => write!(f, ">= {n}"),
            Count::Lt(n) => write!(f, "< {n}"),
            Count::Le(n) => write!(f, "<= {n}"),
        }
    }
}

/// Which services (`all`, `none`, or a list of names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Services {
    /// Every service that reads `job_types_list`.
    All,
    /// None.
    None,
    /// These services.
    Named(Vec<String>),
}
