//! Plain data of a run: jobs, units (what the conservation law counts), workers and events.

use crate::job_type::{Flavor, JobType};
use crate::status::Status;
use crate::time::Ms;

/// No unit / no job.
pub const NONE: u32 = u32::MAX;

/// Where a unit ends (design/simulation.md, "Lost, and the conservation law").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bucket {
    /// Created or not, not yet published.
    Pending,
    /// Published (possibly with nothing to publish).
    Published,
    /// A GFSC job replaced by a newer one.
    Superseded,
    /// Cancelled as the real system cancels.
    Cancelled,
    /// Lost, with a reason.
    Lost,
}

/// Why a unit is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LostReason {
    /// Not lost.
    None,
    /// RLIE-S1-S2 tile-day older than the backward window.
    OutsideSearchWindow,
    /// GFSC daily job of a day the service never covered.
    DailyJobNotCreated,
    /// GFSC daily tile-day the night pass covered without a job: the tile's latest GFSC was not
    /// indexed yet or already too old for it (catch-up reordering), and no product came either.
    DailyInputNotReady,
    /// The job ended in `internal_error` after its retries.
    Failed,
    /// The job ran out of Nomad restarts and reschedules: stuck in `external_error`, which the
    /// monitor does not watch.
    StuckInExternalError,
    /// An input job failed, so the inputs this unit needs never appear.
    InputFailed,
    /// A GFSC FSC trigger sensed more than `gapfilling_search_default_duration_in_days` before
    /// the creation window start (the watermark): the NRT creation query never returns it
    /// (jobs.md §4.1 step 1, edge E9).
    TriggerBeforeWindow,
    /// An operator closed the job by hand (`done`, `published`) before it was processed: no
    /// product exists.
    ClosedByHand,
    /// The job went with the database (a fresh volume) before it was published, and its input
    /// is older than the creation service's look-back on an empty database: never created
    /// again.
    DatabaseEmptied,
}

impl LostReason {
    /// Every reason a batch run can lose a unit for (all but [`LostReason::None`]), in report
    /// order. [`LostReason::DatabaseEmptied`] is not among them: only a rehearsal's fresh volume
    /// gives it, never a batch run's steps (so `hrsi plan`'s columns stay those a plan can see).
    pub const ALL: [LostReason; 8] = [
        LostReason::OutsideSearchWindow,
        LostReason::DailyJobNotCreated,
        LostReason::DailyInputNotReady,
        LostReason::Failed,
        LostReason::StuckInExternalError,
        LostReason::InputFailed,
        LostReason::TriggerBeforeWindow,
        LostReason::ClosedByHand,
    ];

    /// Every reason a unit can be lost for: [`LostReason::ALL`] and those only a rehearsal
    /// gives ([`LostReason::DatabaseEmptied`]); what a scenario's `lost_reasons` may name.
    pub const EVERY: [LostReason; 9] = {
        let mut every = [LostReason::DatabaseEmptied; 9];
        let mut i = 0;
        while i < LostReason::ALL.len() {
            every[i] = LostReason::ALL[i];
            i += 1;
        }
        every
    };

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            LostReason::None => "none",
            LostReason::OutsideSearchWindow => "outside_search_window",
            LostReason::DailyJobNotCreated => "daily_job_not_created",
            LostReason::DailyInputNotReady => "daily_input_not_ready",
            LostReason::Failed => "failed",
            LostReason::StuckInExternalError => "stuck_in_external_error",
            LostReason::InputFailed => "input_failed",
            LostReason::TriggerBeforeWindow => "trigger_before_window",
            LostReason::ClosedByHand => "closed_by_hand",
            LostReason::DatabaseEmptied => "database_emptied",
        }
    }
}

/// What produced a unit (for GFSC triggers and SWS/WDS parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// An input product (L1C, GRD) or a tile-day.
    Input,
    /// SWS part of an S1 datatake on a mountain tile.
    Sws,
    /// WDS part: an S1 datatake paired with a same-day FSC.
    Wds,
    /// GFSC trigger: an FSC product.
    TrigFsc,
    /// GFSC trigger: a WDS or SWS product.
    TrigS1,
    /// GFSC daily tile-day.
    Daily,
}

/// One unit of the conservation law.
#[derive(Debug, Clone)]
pub struct Unit {
    /// When the input that should give a job became available.
    pub avail: Ms,
    /// Sensing time of the input.
    pub sensing: Ms,
    /// The job serving it, or [`NONE`].
    pub job: u32,
    /// Next unit of the same job.
    pub next: u32,
    /// Type-specific: input index, or FSC publication time for triggers.
    pub aux: i64,
    /// Type-specific second reference (e.g. the S1 input of a tile-day).
    pub aux2: u32,
    /// Tile.
    pub tile: u16,
    /// Job type it counts for.
    pub ty: JobType,
    /// Its bucket.
    pub bucket: Bucket,
    /// Its lost reason.
    pub reason: LostReason,
    /// What it is.
    pub kind: UnitKind,
    /// Counted in the backlog.
    pub active: bool,
    /// Counted as overdue.
    pub overdue: bool,
    /// Published with nothing to publish.
    pub no_product: bool,
    /// RLIE-S1-S2: a published RLIE (S2) exists for the tile-day.
    pub got_s2: bool,
    /// RLIE-S1-S2: a published RLIE-S1 covers the tile-day.
    pub got_s1: bool,
    /// Published before a database reset removed its job: to be done again (a published one
    /// counts under `reprocessed`, once).
    pub reprocessed: bool,
}

/// A GFSC job's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GfscKind {
    /// Triggered only by FSC: waits 3 h after the FSC's publication (as coded).
    Fsc,
    /// Triggered by a WDS or SWS: ready at once.
    S1,
    /// A night-time daily job.
    Daily,
}

/// How the current worker run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Processed.
    Done,
    /// External error in the given phase status.
    External(Status),
    /// Internal error in the given phase status.
    Internal(Status),
    /// The monitor resets it (too long in the given status).
    MonitorReset(Status),
    /// Placed while the database was unavailable: the worker could not read its parameters and
    /// Nomad gave up on it; nothing was written.
    Unrecorded,
}

/// One job row.
#[derive(Debug, Clone)]
pub struct Job {
    /// Type.
    pub ty: JobType,
    /// Current status (the last row of its history).
    pub status: Status,
    /// Invalidates events scheduled for an earlier state.
    pub epoch: u32,
    /// Tile.
    pub tile: u16,
    /// Worker running it.
    pub worker: u16,
    /// Earlier external errors right after `processing`.
    pub ext_proc: u8,
    /// Earlier internal errors right after `processing`.
    pub int_proc: u8,
    /// Nomad restarts of the current allocation.
    pub restarts: u8,
    /// Nomad reschedules used.
    pub resched: u8,
    /// Worker attempts so far (key of the keyed draws).
    pub attempt: u16,
    /// No product to publish (cloudy L1C, GRD over no RLIE tile).
    pub no_product: bool,
    /// A backward-reprocessing job (priority `reprocessing`).
    pub reprocessing: bool,
    /// Waiting for its FSC/RLIE predecessor.
    pub waiting: bool,
    /// In a Nomad queue.
    pub in_fifo: bool,
    /// Readied while its predecessor was in an error status (the as-coded wait rule).
    pub linked_past_error: bool,
    /// GFSC kind, SWS/WDS parts.
    pub gfsc: GfscKind,
    /// SWS part, WDS part (SWS/WDS jobs).
    pub parts: (bool, bool),
    /// How the current run ends.
    pub end: RunEnd,
    /// Sensing (measurement) time.
    pub meas: Ms,
    /// Last status change.
    pub last_change: Ms,
    /// GFSC: earliest time an FSC-triggered job may become ready.
    pub ready_at: Ms,
    /// When the current run started.
    pub run_start: Ms,
    /// When it reached `processed` (or [`Ms::MIN`]).
    pub processed_at: Ms,
    /// Key of its keyed random draws.
    pub key: u64,
    /// Input product index (FSC/RLIE, RLIE-S1), or [`NONE`].
    pub input: u32,
    /// FSC/RLIE: position in its tile's time series.
    pub pos: u32,
    /// SWS/WDS: the master job of its S1 assembly ([`NONE`] for masters and other types).
    pub master: u32,
    /// First unit it serves.
    pub first_unit: u32,
    /// GFSC: catalogue `startDate` of its product, ms (see `gfsc_start_date`).
    pub start_date: Ms,
}

/// A worker VM's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WState {
    /// No VM with this name.
    Free,
    /// Created, Nomad node not ready yet.
    Booting,
    /// Ready node without allocation; `eligible` false once switched off for deletion.
    Idle {
        /// Last allocation change.
        since: Ms,
        /// Schedulable.
        eligible: bool,
    },
    /// Running a job.
    Busy {
        /// Its job.
        job: u32,
    },
    /// A VM without a Nomad node (its server was destroyed): stale.
    Orphan,
}

/// A worker VM (`os-worker-NNN`, NNN = slot + 1).
#[derive(Debug, Clone, Copy)]
pub struct Worker {
    /// State.
    pub state: WState,
    /// Flavour.
    pub flavor: Flavor,
    /// Creation request time.
    pub created: Ms,
    /// Bumped at each creation, so stale boot events are ignored.
    pub epoch: u32,
}

/// The orchestrator services whose loops are simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Svc {
    /// Job creation.
    Creation = 0,
    /// Job configuration.
    Configuration = 1,
    /// Job execution.
    Execution = 2,
    /// Job publication.
    Publication = 3,
}

/// A simulation event.
#[derive(Debug, Clone, Copy)]
pub enum Ev {
    /// A waiting job's timer (GFSC 3-hour rule).
    Wake(u32, u32),
    /// A worker run ends (done, error, monitor reset).
    RunEnd(u32, u32),
    /// Nomad restarts a failed task in place.
    Restart(u32, u32),
    /// Nomad reschedules a failed allocation.
    Reschedule(u32, u32),
    /// The next step of the plan.
    Control(u32),
}

/// A queued event: ordered by time, then by insertion.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// When.
    pub at: Ms,
    /// Tie-breaker.
    pub seq: u32,
    /// What.
    pub ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}
