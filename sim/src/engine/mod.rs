//! The discrete-event engine: one event queue, virtual time, the services' loops run only while
//! they have work (rounded to their loop boundaries arithmetically), worker runs collapsed into
//! one event each.
//!
//! One [`Engine`] holds the whole state (the database's jobs, the catalogues' inputs, Nomad's
//! queues, the worker VMs); each module below borrows it in its own `impl Engine` block:
//!
//! - `mod.rs`: the state and the constructor.
//! - `clock`: virtual time: the event queue, the service loops' timers, the one event loop.
//! - `stepping`: stepping from outside (run to an instant, act, new steps, the view).
//! - `jobs`: the jobs table (status changes checked against the trigger's table) and units.
//! - `creation`: job creation per type family (FSC/RLIE and RLIE-S1 from inputs, RLIE-S1-S2,
//!   SWS/WDS, GFSC NRT).
//! - `night`: the GFSC daily night pass.
//! - `configuration`: job configuration (dependencies, MAJA backward reprocessing).
//! - `execution`: job execution, the Nomad queue, runs, restarts and reschedules.
//! - `worker_pool`: worker pool management (creations, deletions, boots).
//! - `monitor`: the monitor's re-dispatches.
//! - `publication`: publication and the catalogue's indexing.
//! - `outage`: the operator's steps (stop, start, `set_param`).
//! - `faults`: the neighbours' faults as the services feel them (quota, Nomad API, database).
//! - `accounting`: sampling, catch-up, the outcome at the horizon (and its public types).
//! - `grid`: the flat (day, key) grid, tile bit sets, the key hasher, loop boundaries.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use crate::config::{Action, Config, Step};
use crate::inputs::{Geometry, Input, N_TILES, Product};
use crate::job_type::{ALL_TYPES, Flavor, JobType, N_FLAVORS};
use crate::model::*;
use crate::params::{JobTypesList, SystemParameters};
use crate::pool::workers_to_create_into;
use crate::rng::{Stream, normal, unit};
use crate::status::{Status, allowed_change};
use crate::time::{DAY, HOUR, MINUTE, Ms, SECOND};

use accounting::Catch;
use clock::{Timer, Until};
use grid::{FastMap, Grid, bit, boundary, set_bit};
use outage::Hot;

pub use accounting::{Baseline, Outcome, RestartRecord, Sample, TypeStats};
pub use empty::EmptySummary;
pub use faults::Faults;

/// Swaps a work list out for a spare empty one.
macro_rules! take_batch {
    ($self:ident, $list:expr) => {{
        let mut b = $self.spare.pop().unwrap_or_default();
        std::mem::swap(&mut b, &mut $list);
        b
    }};
}

mod accounting;
mod clock;
mod configuration;
mod creation;
mod empty;
mod execution;
mod faults;
pub(crate) mod grid;
mod import;
mod jobs;
mod monitor;
mod night;
mod outage;
mod publication;
mod reset;
mod services;
mod stepping;
mod trigger;
mod worker_pool;

const SAMPLE: Ms = 10 * MINUTE;
const MONITOR_LOOP: Ms = 60 * SECOND;
const WPM_LOOP: Ms = 5 * SECOND;
const SLEEPING_AFTER: Ms = 2 * MINUTE;
const NOMAD_RESTART_DELAY: Ms = 15 * SECOND;
const NOMAD_RESCHEDULE_DELAY: Ms = 5 * SECOND;
const NOMAD_RESTART_ATTEMPTS: u8 = 3;
const NOMAD_RESCHEDULE_ATTEMPTS: u8 = 1;
const QUEUED_LIMIT: Ms = 60 * MINUTE;
const STARTED_LIMIT: Ms = 30 * MINUTE;
const PROCESSING_LIMIT: Ms = 270 * MINUTE;
const GFSC_FSC_WAIT: Ms = 3 * HOUR;
const WORDS: usize = N_TILES.div_ceil(64);

#[derive(Default, Clone)]
struct TileState {
    fsc: Vec<u32>,
    init_l2a: Ms,
    since_init: u16,
    init_pending: bool,
    /// The tile's latest indexed GFSC: its catalogue `startDate` (ms) and product day.
    latest_gfsc: Option<(Ms, i64)>,
    /// The database holds no L2A history of the tile (an empty database): its first job finds
    /// no predecessor at all.
    no_history: bool,
}

/// The simulation state. It owns its config (shared, read-only) so that it can be kept, cloned
/// and forked; [`crate::World`] is its public, steppable face.
#[derive(Clone)]
pub struct Engine {
    cfg: Arc<Config>,
    geo: Geometry,
    /// Read-only after construction: shared between clones.
    inputs: Arc<[Input]>,
    next_input: usize,
    now: Ms,
    t0: Ms,
    first_day: i64,
    heap: BinaryHeap<Entry>,
    seq: u32,
    events: u64,
    status_changes: u64,
    illegal: u64,
    history: Vec<(u32, Status, Ms)>,

    params: SystemParameters,
    hot: Hot,
    types: JobTypesList,
    enabled_mask: u8,
    up: bool,
    halted: bool,
    /// Kept by [`Engine::refresh_enabled`] for the hot paths, each one flag tested: the services
    /// get through (up, not halted, a valid type list, the database answers), the worker pool's
    /// and the monitor's loops too (and the Nomad API answers), and a service loop's timer takes
    /// the rare path (the database is down, or the status trigger's cost is on).
    working: bool,
    nomad_callers: bool,
    ticks_aside: bool,
    /// The instance quota for worker VMs (`i64::MAX`: not binding).
    quota: i64,
    loops: [Ms; 4],
    /// Next loop iteration of each service for each type (`Ms::MAX`: idle). Timers are kept out
    /// of the event queue: the run loop takes the earliest of inputs, timers and queued events.
    tick_at: [[Ms; 5]; 4],
    tick_armed: u32,
    sample_at: Ms,
    boot_q: VecDeque<(Ms, u16, u32)>,
    index_q: VecDeque<(Ms, u32)>,
    timer_cache: Option<(Ms, Timer)>,

    jobs: Vec<Job>,
    units: Vec<Unit>,
    to_create: [Vec<u32>; 5],
    fsc_for_wds: Vec<u32>,
    /// FSCs of the HR-S&I Finder new to the SWS/WDS creation on an emptied database (tile,
    /// sensing): paired again with the S1 data of their day (jobs.md §1.4).
    fsc_again: Vec<(u16, Ms)>,
    /// WDS units the SWS/WDS creation finds again on an emptied database, by (tile, track,
    /// day): their parts are created for them, not as new units.
    wds_again: FastMap<(u16, u16, i64), u32>,
    to_config: [Vec<u32>; 5],
    to_exec: [Vec<u32>; 5],
    to_publish: [Vec<u32>; 5],
    reset_on_start: Vec<u32>,
    /// Emptied work lists kept for reuse: a service loop swaps its list out instead of
    /// allocating a new one every iteration.
    spare: Vec<Vec<u32>>,

    tiles: Vec<TileState>,
    tile_tracks: Vec<Vec<(u16, u16)>>,
    /// GRD input index per (day, track × slice); `NONE` where no slice was sensed.
    grd_index: Grid<u32>,
    max_grds: usize,
    input_job: Vec<u32>,

    fifo: [VecDeque<(u32, u32)>; N_FLAVORS],
    pending: [i64; 5],
    running: [i64; 5],
    workers: Vec<Worker>,
    /// Idle workers per flavour, in name order (what the worker pool walks).
    idle: [Vec<u16>; N_FLAVORS],
    free_slots: BinaryHeap<std::cmp::Reverse<u16>>,
    n_exist: [i64; N_FLAVORS],
    scratch_sleeping: Vec<u16>,
    scratch_snapshot: Vec<u16>,
    n_booting: [i64; N_FLAVORS],
    n_idle: [i64; N_FLAVORS],
    n_orphan: [i64; N_FLAVORS],
    n_workers: i64,
    wpm_at: Option<Ms>,
    peak_workers: i64,
    worker_ms: i128,

    queued_watch: VecDeque<(Ms, u32, u32)>,
    monitor_at: Option<Ms>,

    s1s2_unit: Grid<u32>,
    s1s2_ready: Vec<Vec<u32>>,
    s1s2_uncreated: usize,
    has_fsc: Vec<bool>,
    has_s1: Vec<bool>,
    s1_unpublished: Vec<i32>,
    /// WDS parts created per (day, tile): a bit per position in the tile's track list.
    wds_done: Grid<u16>,
    assemblies: FastMap<(u16, i64, u16), u32>,
    dependents: FastMap<u32, Vec<u32>>,
    s1s2_reach: i64,

    gfsc_siblings: Grid<Vec<u32>>,
    indexed_any: Vec<[u64; WORDS]>,
    indexed_s1: Vec<[u64; WORDS]>,
    indexed_count: Vec<u32>,
    /// Earliest sensing time of the FSC/WDS/SWS indexed per (day, tile) (`Ms::MAX`: none).
    gfsc_input_sensing: Grid<Ms>,
    /// Publication time of the trigger of the last GFSC NRT job inserted (the creation window's
    /// start, jobs.md §4.1 step 1); survives outages like the database does.
    gfsc_watermark: Option<Ms>,
    daily_last: Option<i64>,
    daily_first: Option<i64>,
    daily_at: Option<Ms>,
    daily_expected: FastMap<(u16, i64), u32>,
    daily_by_day: std::collections::BTreeMap<i64, Vec<u32>>,
    daily_created: Vec<(u16, i64)>,

    stats: [TypeStats; 5],
    activation: Vec<(Ms, u32)>,
    next_activation: usize,
    fresh_units: Vec<(Ms, u32)>,
    overdue_q: [VecDeque<(Ms, u32)>; 5],
    overdue: [i64; 5],
    backlog: [i64; 5],
    published: [i64; 5],
    overdue_samples: [Vec<i64>; 5],
    timeline: Vec<Sample>,
    nominal: [i64; 5],
    not_at_nrt: [bool; 5],
    nrt_allowance: [i64; 5],
    baseline_lost: Option<[u64; 5]>,
    /// Types enabled when the system last stopped (what the next restart must bring back).
    stopped_mask: u8,
    catch: [Option<Catch>; 5],
    restarts: Vec<RestartRecord>,
    outages: Vec<(Ms, Option<Ms>)>,

    /// The plan of operator steps: the executed ones, then the ones to come (replaceable with
    /// [`Engine::set_steps`]).
    steps: Vec<Step>,
    step: usize,
    step_wait: Option<Ms>,
    steps_done: usize,
    /// The heap sequence number of the next step's `Control` event, reserved when the step
    /// became next: an action from outside at the same instant takes its place in the tie order.
    step_seq: u32,
    /// When the next step's delay started (the previous step's instant, or 0).
    step_origin: Ms,

    /// The services' serial clocks for the status trigger's cost (creation, configuration,
    /// execution, publication), and the monitor's (fidelity `status_trigger_cost` only).
    serial: [trigger::Serial; 4],
    monitor_until: Ms,
    /// After a reset: the units the world before it had published that are not here yet
    /// (counted under `reprocessed` when they are created and published again).
    redo: Option<HashMap<reset::RedoKey, u32>>,
    /// The neighbours' faults in force (none unless an action sets one).
    faults: Faults,
    /// The services stopped by hand, a bit each ([`crate::config::Service::bit`]).
    stopped_services: u8,
    /// What the last [`Action::EmptyDatabase`] did.
    emptied: Option<EmptySummary>,
}

impl Engine {
    /// Builds the world of a config (geometry, inputs, warm start) ready to run.
    pub fn new(cfg: Arc<Config>, baseline: Option<&Baseline>) -> Engine {
        let cal = &cfg.calibration;
        let t0 = -((cal.warm_start_days * DAY as f64) as Ms);
        let epoch_day = cfg.start.0.div_euclid(DAY);
        let geo = Geometry::draw(cfg.seed, cal, epoch_day);
        let inputs = geo.products(cfg.seed, cal, t0, cfg.horizon);
        let first_day = t0.div_euclid(DAY) - 1;
        let n_days = ((cfg.horizon.div_euclid(DAY) + 2) - first_day) as usize;
        let mut tile_tracks = vec![Vec::new(); N_TILES];
        for (k, tr) in geo.tracks.iter().enumerate() {
            for g in 0..tr.grds {
                for &t in tr.slice_tiles(g) {
                    tile_tracks[usize::from(t)].push((k as u16, g));
                }
            }
        }
        let max_grds = geo
            .tracks
            .iter()
            .map(|t| usize::from(t.grds))
            .max()
            .unwrap_or(1);
        let mut grd_index = Grid::new(first_day, n_days, geo.tracks.len() * max_grds, NONE);
        for (i, inp) in inputs.iter().enumerate() {
            if let Product::Grd { track, slice } = inp.product
                && let Some(c) = grd_index.get_mut(
                    inp.sensing.div_euclid(DAY),
                    usize::from(track) * max_grds + usize::from(slice),
                )
            {
                *c = i as u32;
            }
        }
        let mut tiles: Vec<TileState> = (0..N_TILES).map(|_| TileState::default()).collect();
        for (t, ts) in tiles.iter_mut().enumerate() {
            // History before the warm start: each tile's last L2A a few days earlier.
            ts.init_l2a = t0 - DAY - (t as Ms % 5) * DAY;
        }
        let loops = [
            "job_creation_loop_sleep",
            "job_configuration_loop_sleep",
            "job_execution_loop_sleep",
            "job_publication_loop_sleep",
        ]
        .map(|n| cfg.params.int(n).unwrap_or(5).max(1) * SECOND);
        let steps = cfg.steps.clone();
        let mut e = Engine {
            geo,
            next_input: 0,
            now: t0,
            t0,
            first_day,
            heap: BinaryHeap::new(),
            seq: 0,
            events: 0,
            status_changes: 0,
            illegal: 0,
            history: Vec::new(),
            params: cfg.params.clone(),
            hot: Hot::of(&cfg.params),
            types: cfg.params.job_types(),
            enabled_mask: 0,
            up: true,
            halted: false,
            working: false,
            nomad_callers: false,
            ticks_aside: false,
            quota: i64::MAX,
            loops,
            tick_at: [[Ms::MAX; 5]; 4],
            tick_armed: 0,
            sample_at: 0,
            boot_q: VecDeque::new(),
            index_q: VecDeque::new(),
            timer_cache: None,
            jobs: Vec::new(),
            units: Vec::new(),
            to_create: Default::default(),
            fsc_for_wds: Vec::new(),
            fsc_again: Vec::new(),
            wds_again: FastMap::default(),
            to_config: Default::default(),
            to_exec: Default::default(),
            to_publish: Default::default(),
            reset_on_start: Vec::new(),
            spare: Vec::new(),
            tiles,
            tile_tracks,
            grd_index,
            max_grds,
            input_job: vec![NONE; inputs.len()],
            inputs: inputs.into(),
            fifo: Default::default(),
            pending: [0; 5],
            running: [0; 5],
            workers: Vec::new(),
            idle: Default::default(),
            free_slots: BinaryHeap::new(),
            n_exist: [0; N_FLAVORS],
            scratch_sleeping: Vec::new(),
            scratch_snapshot: Vec::new(),
            n_booting: [0; N_FLAVORS],
            n_idle: [0; N_FLAVORS],
            n_orphan: [0; N_FLAVORS],
            n_workers: 0,
            wpm_at: None,
            peak_workers: 0,
            worker_ms: 0,
            queued_watch: VecDeque::new(),
            monitor_at: None,
            s1s2_unit: Grid::new(first_day, n_days, N_TILES, NONE),
            s1s2_ready: vec![Vec::new(); n_days],
            s1s2_uncreated: 0,
            has_fsc: vec![false; n_days],
            has_s1: vec![false; n_days],
            s1_unpublished: vec![0; n_days],
            wds_done: Grid::new(first_day, n_days, N_TILES, 0),
            assemblies: Default::default(),
            dependents: Default::default(),
            s1s2_reach: i64::MIN,
            gfsc_siblings: Grid::new(first_day, n_days, N_TILES, Vec::new()),
            indexed_any: vec![[0; WORDS]; n_days],
            indexed_s1: vec![[0; WORDS]; n_days],
            indexed_count: vec![0; n_days],
            gfsc_input_sensing: Grid::new(first_day, n_days, N_TILES, Ms::MAX),
            gfsc_watermark: None,
            daily_last: None,
            daily_first: None,
            daily_at: None,
            daily_expected: FastMap::default(),
            daily_by_day: Default::default(),
            daily_created: Vec::new(),
            stats: Default::default(),
            activation: Vec::new(),
            next_activation: 0,
            fresh_units: Vec::new(),
            overdue_q: Default::default(),
            overdue: [0; 5],
            backlog: [0; 5],
            published: [0; 5],
            overdue_samples: Default::default(),
            timeline: Vec::new(),
            nominal: baseline.map_or([1; 5], |b| b.nominal_overdue),
            not_at_nrt: baseline.map_or([false; 5], |b| b.not_at_nrt),
            nrt_allowance: baseline.map_or([0; 5], |b| b.nrt_allowance),
            baseline_lost: baseline.map(|b| b.lost),
            stopped_mask: 0,
            catch: Default::default(),
            restarts: Vec::new(),
            outages: Vec::new(),
            steps,
            step: 0,
            step_wait: None,
            steps_done: 0,
            step_seq: 0,
            step_origin: 0,
            serial: Default::default(),
            monitor_until: Ms::MIN,
            redo: None,
            faults: Faults::default(),
            stopped_services: 0,
            emptied: None,
            cfg,
        };
        e.refresh_enabled();
        // About 2 000 jobs and 2 400 units a day: reserved up front, so growth never copies.
        let days = ((e.cfg.horizon - t0) / DAY + 1) as usize;
        e.jobs.reserve(2_200 * days);
        e.units.reserve(2_600 * days);
        e.precreate_units(baseline);
        e.schedule_step(0, 0);
        e.monitor_at = Some(e.t0);
        e.schedule_daily(e.t0);
        e
    }

    fn day_idx(&self, day: i64) -> usize {
        (day - self.first_day).clamp(0, self.has_fsc.len() as i64 - 1) as usize
    }

    fn services_ok(&self) -> bool {
        self.working
    }

    fn enabled(&self, t: JobType) -> bool {
        self.enabled_mask & (1 << t.idx()) != 0
    }

    /// Recomputes which types the services work on and whether their loops get through (after
    /// a start, stop, parameter change, fault or reset).
    fn refresh_enabled(&mut self) {
        self.enabled_mask = 0;
        if let JobTypesList::Valid(v) = &self.types
            && self.up
            && !self.halted
        {
            for t in v {
                self.enabled_mask |= 1 << t.idx();
            }
        }
        self.working = self.up
            && !self.halted
            && !self.faults.database_down
            && matches!(self.types, JobTypesList::Valid(_));
        self.nomad_callers = self.working && !self.faults.nomad_down;
        self.ticks_aside = self.faults.database_down || self.cfg.fidelity.status_trigger_cost;
        self.quota = self.faults.worker_quota.map_or(i64::MAX, i64::from);
    }

    fn give_back(&mut self, mut batch: Vec<u32>) {
        batch.clear();
        self.spare.push(batch);
    }
}
