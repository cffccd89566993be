//! The discrete-event engine: one event queue, virtual time, the services' loops run only while
//! they have work (rounded to their loop boundaries arithmetically), worker runs collapsed into
//! one event each.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

mod gfsc;
mod import;
mod reset;

use crate::config::{Action, Config, Step};
use crate::inputs::{Geometry, Input, N_TILES, Product};
use crate::job_type::{ALL_TYPES, Flavor, JobType, N_FLAVORS};
use crate::model::*;
use crate::params::{JobTypesList, SystemParameters};
use crate::pool::workers_to_create_into;
use crate::rng::{Stream, normal, unit};
use crate::status::{Status, allowed_change};
use crate::time::{DAY, HOUR, MINUTE, Ms, SECOND};

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

/// What the baseline run (no outage, no operator step) hands to the run it is the baseline of.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// 99th percentile of `overdue(type)` per type (at least 1).
    pub nominal_overdue: [i64; 5],
    /// GFSC daily tile-days the baseline created.
    pub daily: Vec<(u16, i64)>,
    /// Types whose baseline is not at NRT (its nominal level above what the NRT target allows,
    /// [`crate::recovery::nrt_allowance`]): no catch-up or recovery is reported for them.
    pub not_at_nrt: [bool; 5],
    /// The overdue level the NRT target allows per type ([`crate::recovery::nrt_allowance`]).
    pub nrt_allowance: [i64; 5],
    /// Units the baseline lost per type in the reported window (errors every day has).
    pub lost: [u64; 5],
}

/// Per-type counters of a run.
#[derive(Debug, Clone, Default)]
pub struct TypeStats {
    /// Jobs created in the reported window.
    pub jobs_created: u64,
    /// Backward-reprocessing jobs created in the window.
    pub reprocessed: u64,
    /// Monitor re-dispatches in the window.
    pub redispatches: u64,
    /// Latencies (s) of units published in the window.
    pub latency: Vec<u32>,
    /// Ages (s) of units published in the window.
    pub age: Vec<u32>,
}

/// One row of the timeline.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Time, ms since start.
    pub at: Ms,
    /// Pending available units per type.
    pub backlog: [i64; 5],
    /// Jobs on a worker per type.
    pub running: [i64; 5],
    /// Units published so far per type.
    pub published: [i64; 5],
    /// Overdue units per type.
    pub overdue: [i64; 5],
    /// Worker VMs existing.
    pub workers: i64,
}

/// The record of a restart and its catch-up.
#[derive(Debug, Clone)]
pub struct RestartRecord {
    /// When the services started again.
    pub at: Ms,
    /// When each type was enabled again.
    pub enabled_at: [Option<Ms>; 5],
    /// Catch-up instant C per type.
    pub caught_at: [Option<Ms>; 5],
    /// Types in production when the system stopped before this restart: the ones it must bring
    /// back (a type whose wave never comes has not recovered).
    pub expected: [bool; 5],
}

/// What a finished run holds (input of the report).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Units, in creation order.
    pub units: Vec<Unit>,
    /// Jobs (only when `keep_jobs`).
    pub jobs: Vec<Job>,
    /// Per-type counters.
    pub stats: [TypeStats; 5],
    /// Most workers at once in the window.
    pub peak_workers: i64,
    /// Worker VM hours in the window.
    pub worker_hours: f64,
    /// Events processed.
    pub events: u64,
    /// Status changes written.
    pub status_changes: u64,
    /// Illegal transitions attempted (always 0 unless the model is wrong).
    pub illegal_transitions: u64,
    /// Timeline rows.
    pub timeline: Vec<Sample>,
    /// Overdue samples per type (for the baseline's nominal level).
    pub overdue_samples: [Vec<i64>; 5],
    /// Restarts.
    pub restarts: Vec<RestartRecord>,
    /// Outage windows.
    pub outages: Vec<(Ms, Option<Ms>)>,
    /// Nominal levels used for catch-up.
    pub nominal_overdue: [i64; 5],
    /// Types whose baseline is not at NRT (from the baseline).
    pub not_at_nrt: [bool; 5],
    /// The overdue level the NRT target allows per type (from the baseline; 0 without one).
    pub nrt_allowance: [i64; 5],
    /// Units the baseline lost per type (`None`: run without a baseline).
    pub baseline_lost: Option<[u64; 5]>,
    /// GFSC daily tile-days created.
    pub daily_created: Vec<(u16, i64)>,
    /// Steps that never ran before the horizon (waiting for a catch-up that did not come).
    pub steps_not_run: usize,
    /// Every status change (job index, status, time), in order (only when `keep_history`).
    pub history: Vec<(u32, Status, Ms)>,
}

#[derive(Default, Clone)]
struct TileState {
    fsc: Vec<u32>,
    init_l2a: Ms,
    since_init: u16,
    init_pending: bool,
    /// The tile's latest indexed GFSC: its catalogue `startDate` (ms) and product day.
    latest_gfsc: Option<(Ms, i64)>,
}

/// Parameters read on hot paths, refreshed when one changes.
#[derive(Clone)]
struct Hot {
    max_workers: i64,
    xl_cap: i64,
    maja_threshold: Ms,
    backward_required: u16,
    backward_active: bool,
}

impl Hot {
    fn of(p: &SystemParameters) -> Hot {
        Hot {
            max_workers: p.int("max_number_of_worker_instances").unwrap_or(210),
            xl_cap: p
                .int("max_number_of_extra_large_worker_instances")
                .unwrap_or(2),
            maja_threshold: p.int("maja_consecutive_jobs_threshold_value").unwrap_or(60) * DAY,
            backward_required: p
                .int("maja_backward_required_job_number")
                .unwrap_or(8)
                .clamp(1, 100) as u16,
            backward_active: p.bool("activate_backward_reprocessing").unwrap_or(true),
        }
    }
}

/// The engine's fixed timers, in their order at equal times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Tick(u8, u8),
    Wpm,
    Monitor,
    Daily,
    Sample,
    Boot,
    Index,
}

#[derive(Clone)]
struct Catch {
    candidate: Option<Ms>,
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
}

/// What the engine shows of itself between events (see [`crate::World`]).
pub(crate) struct View<'e> {
    pub cfg: &'e Arc<Config>,
    pub now: Ms,
    pub backlog: [i64; 5],
    pub overdue: [i64; 5],
    pub running: [i64; 5],
    pub workers: i64,
    pub up: bool,
    pub services_ok: bool,
    pub enabled: [bool; 5],
    pub restarts: &'e [RestartRecord],
    pub catching_up: [bool; 5],
    pub params: &'e SystemParameters,
    pub steps: &'e [Step],
    pub steps_done: usize,
}

/// A fast, deterministic hasher for the engine's small integer keys (no DoS concern: keys are
/// ours, not user input).
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Values keyed by (UTC day, small integer), stored flat: the engine's hottest lookups
/// (tile-days, track passes) without hashing.
#[derive(Clone)]
struct Grid<T> {
    first_day: i64,
    days: usize,
    width: usize,
    cells: Vec<T>,
}

impl<T: Clone> Grid<T> {
    fn new(first_day: i64, days: usize, width: usize, fill: T) -> Grid<T> {
        Grid {
            first_day,
            days,
            width,
            cells: vec![fill; days * width],
        }
    }

    fn index(&self, day: i64, k: usize) -> Option<usize> {
        let d = usize::try_from(day - self.first_day).ok()?;
        (d < self.days && k < self.width).then_some(d * self.width + k)
    }

    fn get(&self, day: i64, k: usize) -> Option<&T> {
        self.index(day, k).map(|i| &self.cells[i])
    }

    fn get_mut(&mut self, day: i64, k: usize) -> Option<&mut T> {
        self.index(day, k).map(|i| &mut self.cells[i])
    }
}

/// A WDS part to create: (tile, track, day), S1 sensing time, GRD input, position of the track
/// in the tile's list.
type WdsPart = ((u16, u16, i64), Ms, i64, usize);

/// Swaps a work list out for a spare empty one.
macro_rules! take_batch {
    ($self:ident, $list:expr) => {{
        let mut b = $self.spare.pop().unwrap_or_default();
        std::mem::swap(&mut b, &mut $list);
        b
    }};
}

fn bit(set: &[u64; WORDS], t: u16) -> bool {
    set[usize::from(t) / 64] >> (t % 64) & 1 == 1
}
fn set_bit(set: &mut [u64; WORDS], t: u16) {
    set[usize::from(t) / 64] |= 1 << (t % 64);
}

/// Next instant ≥ `t` on a loop of period `p` and phase `phase`.
#[inline]
fn boundary(t: Ms, p: Ms, phase: Ms) -> Ms {
    // The default 5-second loop gets a constant divisor (a multiplication, not a division):
    // this runs a few million times a simulated year.
    #[inline(always)]
    fn up(x: Ms, p: Ms) -> Ms {
        let r = x.rem_euclid(p);
        x - r + if r == 0 { 0 } else { p }
    }
    let x = t - phase;
    phase
        + match p {
            5_000 => up(x, 5_000),
            60_000 => up(x, 60_000),
            _ => up(x, p),
        }
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

    fn push(&mut self, at: Ms, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        });
    }

    fn new_unit(
        &mut self,
        ty: JobType,
        kind: UnitKind,
        avail: Ms,
        sensing: Ms,
        tile: u16,
        aux: i64,
    ) -> u32 {
        let id = self.units.len() as u32;
        self.units.push(Unit {
            avail,
            sensing,
            job: NONE,
            next: NONE,
            aux,
            aux2: NONE,
            tile,
            ty,
            bucket: Bucket::Pending,
            reason: LostReason::None,
            kind,
            active: false,
            overdue: false,
            no_product: false,
            got_s2: false,
            got_s1: false,
            reprocessed: false,
        });
        id
    }

    /// Units known from the inputs alone: RLIE-S1-S2 tile-days and the baseline's daily tile-days.
    fn precreate_units(&mut self, baseline: Option<&Baseline>) {
        let mut l1c_of: FastMap<(u16, i64), u32> = FastMap::default();
        for (i, inp) in self.inputs.iter().enumerate() {
            if let Product::L1c {
                tile,
                cloudy: false,
            } = inp.product
                && self.geo.tiles[usize::from(tile)].rlie
            {
                l1c_of.insert((tile, inp.sensing.div_euclid(DAY)), i as u32);
            }
        }
        let mut keys: Vec<(u16, i64, u32)> = l1c_of.iter().map(|(&(t, d), &i)| (t, d, i)).collect();
        keys.sort_unstable();
        for (tile, day, i) in keys {
            let mut s1: Option<u32> = None;
            for &(track, slice) in &self.tile_tracks[usize::from(tile)] {
                if let Some(g) = self.grd(track, day, slice)
                    && s1.is_none_or(|s| {
                        self.inputs[g as usize].available < self.inputs[s as usize].available
                    })
                {
                    s1 = Some(g);
                }
            }
            let Some(g) = s1 else { continue };
            let (a, b) = (self.inputs[i as usize], self.inputs[g as usize]);
            let u = self.new_unit(
                JobType::Rlies1s2Job,
                UnitKind::Input,
                a.available.max(b.available),
                a.sensing,
                tile,
                i64::from(i),
            );
            self.units[u as usize].aux2 = g;
            if let Some(c) = self.s1s2_unit.get_mut(day, usize::from(tile)) {
                *c = u;
            }
            // Not activated here: the tile-day becomes available when the later of its RLIE and
            // RLIE-S1 products is published (`s1s2_inputs_published`). The raw inputs' time is
            // kept until then, so a tile-day whose inputs never publish is still counted in the
            // window of its satellite data.
        }
        if let Some(b) = baseline {
            for &(tile, day) in &b.daily {
                let avail = (day + 1) * DAY;
                let u = self.new_unit(
                    JobType::GfscJob,
                    UnitKind::Daily,
                    avail,
                    day * DAY,
                    tile,
                    day,
                );
                self.daily_expected.insert((tile, day), u);
                self.daily_by_day.entry(day).or_default().push(u);
                self.activation.push((avail, u));
            }
        }
        self.activation.sort_unstable();
    }

    // ---------------------------------------------------------------- services state

    fn services_ok(&self) -> bool {
        self.up && !self.halted && matches!(self.types, JobTypesList::Valid(_))
    }

    fn enabled(&self, t: JobType) -> bool {
        self.enabled_mask & (1 << t.idx()) != 0
    }

    /// Recomputes which types the services work on (after a start, stop or parameter change).
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
    }

    fn tick(&mut self, svc: Svc, t: JobType) {
        if !self.enabled(t) {
            return;
        }
        let phase = (svc as i64) * 1_250;
        let at = boundary(self.now, self.loops[svc as usize], phase);
        self.tick_armed |= 1 << (svc as usize * 5 + t.idx());
        let slot = &mut self.tick_at[svc as usize][t.idx()];
        if at < *slot {
            *slot = at;
            self.timer_set(at, Timer::Tick(svc as u8, t.idx() as u8));
        }
    }

    fn kick_all(&mut self) {
        for t in ALL_TYPES {
            if !self.to_create[t.idx()].is_empty()
                || (t == JobType::SwsWdsJob && !self.fsc_for_wds.is_empty())
                || (t == JobType::Rlies1s2Job && self.s1s2_uncreated > 0)
            {
                self.tick(Svc::Creation, t);
            }
            if !self.to_config[t.idx()].is_empty() {
                self.tick(Svc::Configuration, t);
            }
            if !self.to_exec[t.idx()].is_empty() {
                self.tick(Svc::Execution, t);
            }
            if !self.to_publish[t.idx()].is_empty() {
                self.tick(Svc::Publication, t);
            }
        }
        self.wake_wpm();
        self.wake_monitor(self.now);
        self.schedule_daily(self.now);
    }

    fn set_status(&mut self, j: u32, to: Status) {
        let job = &mut self.jobs[j as usize];
        let from = if job.last_change == Ms::MIN {
            None
        } else {
            Some(job.status)
        };
        if !allowed_change(from, to) {
            self.illegal += 1;
        }
        job.status = to;
        job.last_change = self.now;
        self.status_changes += 1;
        if self.cfg.keep_history {
            self.history.push((j, to, self.now));
        }
    }

    fn new_job(&mut self, ty: JobType, tile: u16, meas: Ms, key: u64) -> u32 {
        let id = self.jobs.len() as u32;
        self.jobs.push(Job {
            ty,
            status: Status::Initialized,
            epoch: 0,
            tile,
            worker: 0,
            ext_proc: 0,
            int_proc: 0,
            restarts: 0,
            resched: 0,
            attempt: 0,
            no_product: false,
            reprocessing: false,
            waiting: false,
            in_fifo: false,
            linked_past_error: false,
            gfsc: GfscKind::S1,
            parts: (false, false),
            end: RunEnd::Done,
            meas,
            last_change: Ms::MIN,
            ready_at: 0,
            run_start: 0,
            processed_at: Ms::MIN,
            key: key ^ ((ty as u64) << 56),
            input: NONE,
            pos: 0,
            master: NONE,
            first_unit: NONE,
            start_date: meas.div_euclid(DAY) * DAY,
        });
        self.set_status(id, Status::Initialized);
        if self.now >= 0 && self.now < self.cfg.horizon {
            self.stats[ty.idx()].jobs_created += 1;
        }
        self.to_config[ty.idx()].push(id);
        self.tick(Svc::Configuration, ty);
        id
    }

    fn attach(&mut self, j: u32, u: u32) {
        self.units[u as usize].job = j;
        self.units[u as usize].next = self.jobs[j as usize].first_unit;
        self.jobs[j as usize].first_unit = u;
    }

    fn leave_pending(&mut self, u: u32, bucket: Bucket, reason: LostReason) {
        let unit = &mut self.units[u as usize];
        if unit.bucket != Bucket::Pending {
            return;
        }
        unit.bucket = bucket;
        unit.reason = reason;
        let ty = unit.ty.idx();
        if unit.overdue {
            self.overdue[ty] -= 1;
        }
        if unit.active {
            self.backlog[ty] -= 1;
        }
    }

    fn units_of(&self, j: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut u = self.jobs[j as usize].first_unit;
        while u != NONE {
            out.push(u);
            u = self.units[u as usize].next;
        }
        out
    }

    fn finish_units(&mut self, j: u32, bucket: Bucket, reason: LostReason) {
        let mut u = self.jobs[j as usize].first_unit;
        while u != NONE {
            self.leave_pending(u, bucket, reason);
            u = self.units[u as usize].next;
        }
    }

    // ---------------------------------------------------------------- the run

    /// Runs to the horizon and returns the outcome.
    pub fn run(mut self) -> Outcome {
        let horizon = self.cfg.horizon;
        self.run_until(horizon);
        self.finish_at(horizon)
    }

    /// Processes the earliest event if it comes strictly before `limit`: `None` when there is
    /// none, else whether it was the sampling timer (where catch-up is confirmed).
    #[inline(always)]
    fn step_one(&mut self, limit: Ms) -> Option<bool> {
        // Inputs are already sorted by availability and timers are a fixed set of slots: both
        // are merged with the queue instead of going through it. At equal times: queued events,
        // then timers, then inputs.
        let ti = self
            .inputs
            .get(self.next_input)
            .map_or(Ms::MAX, |i| i.available);
        let te = self.heap.peek().map_or(Ms::MAX, |e| e.at);
        let (tt, timer) = self.next_timer();
        let t = ti.min(te).min(tt);
        if t >= limit {
            return None;
        }
        self.now = t;
        self.events += 1;
        if te == t {
            let e = self.heap.pop().expect("peeked");
            self.dispatch(e.ev);
            Some(false)
        } else if tt == t {
            self.fire(timer);
            Some(timer == Timer::Sample)
        } else {
            let i = self.next_input;
            self.next_input += 1;
            self.on_input(i);
            Some(false)
        }
    }

    /// Processes every event strictly before `t` (capped at the horizon); `now` becomes that
    /// instant. Earlier instants than `now` change nothing.
    pub(crate) fn run_until(&mut self, t: Ms) {
        let limit = t.min(self.cfg.horizon);
        while self.step_one(limit).is_some() {}
        self.now = self.now.max(limit);
    }

    /// Runs until a sample finds every type of `types` caught up (no catch-up pending, the
    /// condition of a step's `caught_up`), at most to `limit` (exclusive, capped at the horizon).
    /// `Some(instant)`: the world stands right after that sample, where a step waiting for this
    /// condition would act; `None`: not caught up before the limit, the world stands at it.
    pub(crate) fn run_until_caught_up(&mut self, types: &[JobType], limit: Ms) -> Option<Ms> {
        let limit = limit.min(self.cfg.horizon);
        loop {
            match self.step_one(limit) {
                None => {
                    self.now = self.now.max(limit);
                    return None;
                }
                Some(true) if types.iter().all(|t| self.catch[t.idx()].is_none()) => {
                    // A step waiting for this pushes its Control event now: its sequence number.
                    self.seq += 1;
                    self.step_seq = self.seq;
                    return Some(self.now);
                }
                Some(_) => {}
            }
        }
    }

    /// An operator action at `now`, taken as the next step of the plan would be: inserted
    /// after the executed steps (the steps still to come count their delay from it), in the
    /// tie order the step's Control event would have had among the events queued for `now`.
    pub(crate) fn act(&mut self, action: Action) {
        // Queued events of this instant with a lower sequence number come first in a batch run.
        while let Some(e) = self.heap.peek() {
            if e.at != self.now || e.seq >= self.step_seq {
                break;
            }
            let e = self.heap.pop().expect("peeked");
            self.events += 1;
            self.dispatch(e.ev);
        }
        self.unschedule_step();
        let k = self.steps_done;
        self.steps.insert(
            k,
            Step {
                caught_up: Vec::new(),
                after: self.now - self.step_origin,
                action,
            },
        );
        // The Control event a batch run dispatches here is one event.
        self.events += 1;
        self.control(k);
    }

    /// Replaces the steps not yet executed with `steps` (the first one counts its delay from the
    /// last executed step, or from 0): the world continues as a fresh run of the executed steps
    /// followed by these would. A timed step due before `now` acts at `now`.
    pub(crate) fn set_steps(&mut self, steps: Vec<Step>) {
        self.unschedule_step();
        self.steps.truncate(self.steps_done);
        self.steps.extend(steps);
        self.arm_step();
    }

    /// Read access for [`crate::World`].
    pub(crate) fn view(&self) -> View<'_> {
        View {
            cfg: &self.cfg,
            now: self.now,
            backlog: self.backlog,
            overdue: self.overdue,
            running: self.running,
            workers: self.n_workers,
            up: self.up,
            services_ok: self.services_ok(),
            enabled: std::array::from_fn(|t| self.enabled(ALL_TYPES[t])),
            restarts: &self.restarts,
            catching_up: std::array::from_fn(|t| self.catch[t].is_some()),
            params: &self.params,
            steps: &self.steps,
            steps_done: self.steps_done,
        }
    }

    /// Takes the next step's Control event out of the queue (or stops its catch-up wait).
    fn unschedule_step(&mut self) {
        self.step_wait = None;
        if self.heap.iter().any(|e| matches!(e.ev, Ev::Control(_))) {
            self.heap.retain(|e| !matches!(e.ev, Ev::Control(_)));
        }
    }

    /// The earliest timer: service loops (by service, then type), worker pool, monitor, GFSC
    /// daily pass, sampling.
    fn next_timer(&mut self) -> (Ms, Timer) {
        if let Some(cached) = self.timer_cache {
            return cached;
        }
        let best = self.scan_timers();
        self.timer_cache = Some(best);
        best
    }

    /// A timer was set to `at`: the cache stays valid when it does not move the minimum.
    fn timer_set(&mut self, at: Ms, t: Timer) {
        if let Some((c, ct)) = self.timer_cache
            && (at < c || (at == c && t < ct))
        {
            self.timer_cache = Some((at, t));
        }
    }

    fn scan_timers(&self) -> (Ms, Timer) {
        let mut best = (self.sample_at, Timer::Sample);
        let mut consider = |at: Ms, t: Timer| {
            if at < best.0 || (at == best.0 && t < best.1) {
                best = (at, t);
            }
        };
        // Only the armed service loops (a bit per service and type).
        let mut armed = self.tick_armed;
        while armed != 0 {
            let k = armed.trailing_zeros() as usize;
            armed &= armed - 1;
            let (s, t) = (k / 5, k % 5);
            consider(self.tick_at[s][t], Timer::Tick(s as u8, t as u8));
        }
        consider(self.wpm_at.unwrap_or(Ms::MAX), Timer::Wpm);
        consider(self.monitor_at.unwrap_or(Ms::MAX), Timer::Monitor);
        consider(self.daily_at.unwrap_or(Ms::MAX), Timer::Daily);
        consider(self.boot_q.front().map_or(Ms::MAX, |b| b.0), Timer::Boot);
        consider(self.index_q.front().map_or(Ms::MAX, |b| b.0), Timer::Index);
        best
    }

    fn fire(&mut self, timer: Timer) {
        self.timer_cache = None;
        match timer {
            Timer::Tick(s, t) => {
                self.tick_at[usize::from(s)][usize::from(t)] = Ms::MAX;
                self.tick_armed &= !(1 << (usize::from(s) * 5 + usize::from(t)));
                let ty = ALL_TYPES[usize::from(t)];
                if self.enabled(ty) {
                    match s {
                        0 => self.creation(ty),
                        1 => self.configuration(ty),
                        2 => self.execution(ty),
                        _ => self.publication(ty),
                    }
                }
            }
            Timer::Wpm => {
                self.wpm_at = None;
                self.wpm();
            }
            Timer::Monitor => {
                self.monitor_at = None;
                self.monitor();
            }
            Timer::Daily => {
                self.daily_at = None;
                self.daily();
            }
            Timer::Sample => self.sample(),
            Timer::Boot => {
                let (_, w, epoch) = self.boot_q.pop_front().expect("a boot is due");
                self.on_boot(w, epoch);
            }
            Timer::Index => {
                let (_, j) = self.index_q.pop_front().expect("an indexing is due");
                self.on_indexed(j);
            }
        }
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Wake(j, epoch) => {
                let job = &self.jobs[j as usize];
                if job.epoch == epoch && job.status == Status::Configured {
                    let ty = job.ty;
                    self.to_config[ty.idx()].push(j);
                    self.tick(Svc::Configuration, ty);
                }
            }
            Ev::RunEnd(j, epoch) => {
                if self.jobs[j as usize].epoch == epoch {
                    self.on_run_end(j);
                }
            }
            Ev::Restart(j, epoch) => {
                if self.jobs[j as usize].epoch == epoch {
                    let w = self.jobs[j as usize].worker;
                    self.start_run(j, w);
                }
            }
            Ev::Reschedule(j, epoch) => {
                if self.jobs[j as usize].epoch == epoch {
                    self.enqueue_nomad(j);
                }
            }
            Ev::Control(i) => self.control(i as usize),
        }
    }

    // ---------------------------------------------------------------- inputs and creation

    fn on_input(&mut self, i: usize) {
        let inp = self.inputs[i];
        match inp.product {
            Product::L1c { tile, .. } => {
                self.input_unit(JobType::FscRlieJob, UnitKind::Input, i, tile);
            }
            Product::Grd { track, slice } => {
                self.input_unit(JobType::Rlies1Job, UnitKind::Input, i, 0);
                let tr = usize::from(track);
                for k in 0..self.geo.tracks[tr].slice_tiles(slice).len() {
                    let t = self.geo.tracks[tr].slice_tiles(slice)[k];
                    if self.geo.tiles[usize::from(t)].mountain {
                        self.input_unit(JobType::SwsWdsJob, UnitKind::Sws, i, t);
                    }
                }
            }
        }
    }

    /// A unit that arrives with input product `i`, queued for its type's creation loop.
    fn input_unit(&mut self, ty: JobType, kind: UnitKind, i: usize, tile: u16) {
        let inp = self.inputs[i];
        let u = self.new_unit(ty, kind, inp.available, inp.sensing, tile, i as i64);
        self.fresh(u);
        self.to_create[ty.idx()].push(u);
        self.tick(Svc::Creation, ty);
    }

    fn fresh(&mut self, u: u32) {
        if self.units[u as usize].avail >= 0 {
            self.fresh_units.push((self.units[u as usize].avail, u));
        }
    }

    fn creation(&mut self, t: JobType) {
        match t {
            JobType::FscRlieJob => {
                let batch = take_batch!(self, self.to_create[0]);
                for &u in &batch {
                    let (tile, sensing, i) = {
                        let x = &self.units[u as usize];
                        (x.tile, x.sensing, x.aux as usize)
                    };
                    let j = self.new_job(t, tile, sensing, i as u64);
                    if let Product::L1c { cloudy, .. } = self.inputs[i].product {
                        self.jobs[j as usize].no_product = cloudy;
                    }
                    self.input_job[i] = j;
                    let ts = &mut self.tiles[usize::from(tile)];
                    self.jobs[j as usize].pos = ts.fsc.len() as u32;
                    self.jobs[j as usize].input = i as u32;
                    ts.fsc.push(j);
                    self.attach(j, u);
                    let d = self.day_idx(sensing.div_euclid(DAY));
                    self.has_fsc[d] = true;
                }
                self.give_back(batch);
            }
            JobType::Rlies1Job => {
                let batch = take_batch!(self, self.to_create[1]);
                for &u in &batch {
                    let (sensing, i) = (
                        self.units[u as usize].sensing,
                        self.units[u as usize].aux as usize,
                    );
                    let j = self.new_job(t, 0, sensing, i as u64);
                    if let Product::Grd { track, slice } = self.inputs[i].product {
                        let tr = &self.geo.tracks[usize::from(track)];
                        let any_rlie = tr
                            .slice_tiles(slice)
                            .iter()
                            .any(|&x| self.geo.tiles[usize::from(x)].rlie);
                        self.jobs[j as usize].no_product = !any_rlie;
                    }
                    self.input_job[i] = j;
                    self.jobs[j as usize].input = i as u32;
                    self.attach(j, u);
                    let d = self.day_idx(sensing.div_euclid(DAY));
                    self.has_s1[d] = true;
                    self.s1_unpublished[d] += 1;
                }
                self.give_back(batch);
            }
            JobType::Rlies1s2Job => self.create_rlies1s2(),
            JobType::SwsWdsJob => self.create_sws_wds(),
            JobType::GfscJob => self.create_gfsc(),
        }
    }

    fn create_rlies1s2(&mut self) {
        let today = self.now.div_euclid(DAY);
        let mut start = today - 1;
        if self.cfg.fidelity.rlies1s2_end_of_day_guards {
            let h = self
                .params
                .int("rlies1s2_min_delay_from_end_of_day_hours")
                .unwrap_or(8);
            if self.now < (start + 1) * DAY + h * HOUR {
                start -= 1;
            }
        }
        let abs = self.params.int("rlies1s2_max_search_window_days_absolute");
        let mut steps = 0;
        while start > self.first_day {
            let d = self.day_idx(start);
            if self.has_fsc[d] && self.has_s1[d] {
                break;
            }
            if abs.is_some_and(|a| steps >= a) {
                break;
            }
            start -= 1;
            steps += 1;
        }
        let min_w = self
            .params
            .int("rlies1s2_min_search_window_days")
            .unwrap_or(7);
        let max_w = self
            .params
            .int("rlies1s2_max_search_window_days")
            .unwrap_or(31);
        let wait_h = self
            .params
            .int("rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products")
            .unwrap_or(24);
        let mut prev_created = true;
        let mut k = 0;
        while k <= max_w {
            let day = start - k;
            if day <= self.first_day || (k > min_w && !prev_created) {
                break;
            }
            let d = self.day_idx(day);
            let skip = self.cfg.fidelity.rlies1s2_end_of_day_guards
                && self.s1_unpublished[d] > 0
                && self.now <= (day + 1) * DAY + wait_h * HOUR;
            let units = if skip {
                Vec::new()
            } else {
                std::mem::take(&mut self.s1s2_ready[d])
            };
            prev_created = !units.is_empty();
            for u in units {
                self.s1s2_uncreated -= 1;
                let (tile, sensing) = (self.units[u as usize].tile, self.units[u as usize].sensing);
                let j = self.new_job(JobType::Rlies1s2Job, tile, sensing, u64::from(u));
                self.attach(j, u);
            }
            k += 1;
        }
        // Tile-days the backward scan can no longer reach are lost for good.
        let reach = start - max_w;
        for d in 0..self.day_idx(reach) {
            for u in std::mem::take(&mut self.s1s2_ready[d]) {
                self.s1s2_uncreated -= 1;
                self.leave_pending(u, Bucket::Lost, LostReason::OutsideSearchWindow);
            }
        }
        self.s1s2_reach = reach;
        // Days still waiting become creatable as the calendar moves: look again after midnight.
        if self.s1s2_uncreated > 0 {
            self.tick_armed |= 1 << (Svc::Creation as usize * 5 + JobType::Rlies1s2Job.idx());
            let slot = &mut self.tick_at[Svc::Creation as usize][JobType::Rlies1s2Job.idx()];
            let at = (today + 1) * DAY;
            if at < *slot {
                *slot = at;
                self.timer_set(
                    at,
                    Timer::Tick(Svc::Creation as u8, JobType::Rlies1s2Job.idx() as u8),
                );
            }
        }
    }

    fn create_sws_wds(&mut self) {
        // SWS parts (mountain tile x datatake), keyed by (tile, track, day).
        let mut sws: FastMap<(u16, u16, i64), u32> = FastMap::default();
        let mut order: Vec<(u16, u16, i64)> = Vec::new();
        for u in std::mem::take(&mut self.to_create[3]) {
            let unit = &self.units[u as usize];
            if let Product::Grd { track, .. } = self.inputs[unit.aux as usize].product {
                let key = (unit.tile, track, unit.sensing.div_euclid(DAY));
                sws.insert(key, u);
                order.push(key);
            }
        }
        // WDS parts: each new FSC with S1 data of the same day already available.
        let mut wds: Vec<WdsPart> = Vec::new();
        for fj in std::mem::take(&mut self.fsc_for_wds) {
            let (tile, meas) = (self.jobs[fj as usize].tile, self.jobs[fj as usize].meas);
            let day = meas.div_euclid(DAY);
            let done = self
                .wds_done
                .get(day, usize::from(tile))
                .copied()
                .unwrap_or(0);
            for (pos, &(track, slice)) in self.tile_tracks[usize::from(tile)].iter().enumerate() {
                if let Some(g) = self.grd(track, day, slice) {
                    let grd = self.inputs[g as usize];
                    if grd.available <= self.now && done & (1 << pos) == 0 {
                        wds.push(((tile, track, day), grd.sensing, i64::from(g), pos));
                    }
                }
            }
        }
        wds.sort_unstable_by_key(|w| w.0);
        wds.dedup_by_key(|w| w.0);
        for (key, sensing, g, pos) in wds {
            if let Some(done) = self.wds_done.get_mut(key.2, usize::from(key.0)) {
                *done |= 1 << pos;
            }
            let u = self.new_unit(
                JobType::SwsWdsJob,
                UnitKind::Wds,
                self.now,
                sensing,
                key.0,
                g,
            );
            self.fresh(u);
            let j = self.new_job(
                JobType::SwsWdsJob,
                key.0,
                sensing,
                (u64::from(key.0) << 40) ^ (u64::from(key.1) << 24) ^ key.2 as u64,
            );
            self.jobs[j as usize].parts = (false, true);
            self.assign_master(j, key);
            self.attach(j, u);
            if let Some(su) = sws.remove(&key) {
                self.jobs[j as usize].parts.0 = true;
                self.attach(j, su);
            }
        }
        for key in order {
            if let Some(u) = sws.remove(&key) {
                let sensing = self.units[u as usize].sensing;
                let j = self.new_job(
                    JobType::SwsWdsJob,
                    key.0,
                    sensing,
                    (u64::from(key.0) << 40) ^ (u64::from(key.1) << 24) ^ key.2 as u64 ^ 1,
                );
                self.jobs[j as usize].parts = (true, false);
                self.assign_master(j, key);
                self.attach(j, u);
            }
        }
    }

    /// S1 slices are assembled two by two per datatake: the first job of an assembly is its
    /// master (it builds the assembly file); the others wait for it (jobs.md §1.4, E8).
    fn assign_master(&mut self, j: u32, (tile, track, day): (u16, u16, i64)) {
        let Some(&(_, slice)) = self.tile_tracks[usize::from(tile)]
            .iter()
            .find(|(t, _)| *t == track)
        else {
            return;
        };
        match self.assemblies.get(&(track, day, slice / 2)) {
            Some(&m) => {
                self.jobs[j as usize].master = m;
                self.dependents.entry(m).or_default().push(j);
            }
            None => {
                self.assemblies.insert((track, day, slice / 2), j);
            }
        }
    }

    fn configure_sws(&mut self, j: u32) {
        let m = self.jobs[j as usize].master;
        if m == NONE {
            return self.make_ready(j);
        }
        let master = &self.jobs[m as usize];
        let failed = master.first_unit != NONE
            && self.units[master.first_unit as usize].bucket == Bucket::Lost;
        match master.status {
            Status::Processed | Status::StartPublication | Status::Published | Status::Done => {
                self.make_ready(j)
            }
            _ if failed => {
                // No assembly file will ever exist: the dependent is cancelled.
                self.set_status(j, Status::Cancelled);
                self.finish_units(j, Bucket::Cancelled, LostReason::None);
            }
            _ => self.jobs[j as usize].waiting = true,
        }
    }

    /// The GRD input of a track's slice on a day.
    fn grd(&self, track: u16, day: i64, slice: u16) -> Option<u32> {
        let k = usize::from(track) * self.max_grds + usize::from(slice);
        self.grd_index.get(day, k).copied().filter(|&g| g != NONE)
    }

    fn create_gfsc(&mut self) {
        let mut trig = take_batch!(self, self.to_create[4]);
        self.drop_triggers_before_window(&mut trig);
        // One job per (tile, product day) in a pass: group the triggers.
        trig.sort_unstable_by_key(|&u| {
            let x = &self.units[u as usize];
            (x.tile, x.sensing.div_euclid(DAY), u)
        });
        let key = |e: &Self, u: u32| {
            let x = &e.units[u as usize];
            (x.tile, x.sensing.div_euclid(DAY))
        };
        let mut i = 0;
        while i < trig.len() {
            let (tile, day) = key(self, trig[i]);
            let k = i + trig[i..]
                .iter()
                .take_while(|&&u| key(self, u) == (tile, day))
                .count();
            let group = &trig[i..k];
            let s1 = group
                .iter()
                .any(|&u| self.units[u as usize].kind == UnitKind::TrigS1);
            let fsc_pub = group
                .iter()
                .filter(|&&u| self.units[u as usize].kind == UnitKind::TrigFsc)
                .map(|&u| self.units[u as usize].aux)
                .max()
                .unwrap_or(self.now);
            let nth = self
                .gfsc_siblings
                .get(day, usize::from(tile))
                .map_or(0, Vec::len) as u64;
            let j = self.new_job(
                JobType::GfscJob,
                tile,
                day * DAY,
                (u64::from(tile) << 40) ^ ((day as u64) << 8) ^ nth,
            );
            let early = self.cfg.fidelity.gfsc_early_release
                && bit(&self.indexed_s1[self.day_idx(day)], tile);
            let job = &mut self.jobs[j as usize];
            job.gfsc = if s1 || early {
                GfscKind::S1
            } else {
                GfscKind::Fsc
            };
            job.ready_at = fsc_pub + GFSC_FSC_WAIT;
            let start = self.gfsc_start_date(tile, day);
            self.jobs[j as usize].start_date = start;
            self.gfsc_watermark = Some(self.trigger_publication(&trig[i..k]));
            for &u in &trig[i..k] {
                self.attach(j, u);
            }
            i = k;
            // Older siblings still waiting are evaluated again: the newer job overrides them.
            if let Some(sib) = self.gfsc_siblings.get_mut(day, usize::from(tile)) {
                for &o in sib.iter() {
                    if self.jobs[o as usize].status == Status::Configured {
                        self.to_config[4].push(o);
                    }
                }
                sib.push(j);
            }
        }
        self.give_back(trig);
    }

    fn schedule_daily(&mut self, from: Ms) {
        let at = boundary(from, self.loops[0], 0);
        if self.daily_at.is_some_and(|d| d <= at) {
            return;
        }
        self.daily_at = Some(at);
        self.timer_set(at, Timer::Daily);
    }

    fn daily(&mut self) {
        if !self.enabled(JobType::GfscJob) {
            return;
        }
        let hour = self.now.rem_euclid(DAY) / HOUR;
        let today = self.now.div_euclid(DAY);
        if !(hour >= 22 || hour <= 2) {
            self.schedule_daily(today * DAY + 22 * HOUR);
            return;
        }
        let yesterday = today - 1;
        let param_day = self
            .params
            .timestamp("gfsc_daily_jobs_creation_start_date")
            .map(|i| (i.0 - self.cfg.start.0).div_euclid(DAY));
        let next = match self.daily_last {
            Some(d) => d + 1,
            None => param_day.unwrap_or(yesterday).max(self.first_day + 1),
        };
        if next > yesterday {
            self.schedule_daily((today + 1) * DAY);
            return;
        }
        let d = self.day_idx(next);
        if self.indexed_count[d] == 0 {
            // An NRT interruption: nothing is created and the day is retried later.
            self.schedule_daily(self.now + 10 * MINUTE);
            return;
        }
        let gap = self
            .params
            .int("gapfilling_search_default_duration_in_days")
            .unwrap_or(7);
        for tile in 0..N_TILES as u16 {
            if bit(&self.indexed_any[d], tile) {
                continue;
            }
            let Some((start, product_day)) = self.tiles[usize::from(tile)].latest_gfsc else {
                continue;
            };
            // "Input GFSC too old": D (00:00) ≥ startDate + 7 d; or startDate on D itself.
            if product_day < today - 2 * gap
                || next * DAY >= start + gap * DAY
                || start.div_euclid(DAY) == next
            {
                continue;
            }
            let j = self.new_job(
                JobType::GfscJob,
                tile,
                next * DAY,
                (u64::from(tile) << 40) ^ ((next as u64) << 8) ^ 0xDA,
            );
            self.jobs[j as usize].gfsc = GfscKind::Daily;
            self.jobs[j as usize].start_date = start;
            let u = match self.daily_expected.remove(&(tile, next)) {
                Some(u) => u,
                None => {
                    let u = self.new_unit(
                        JobType::GfscJob,
                        UnitKind::Daily,
                        self.now,
                        next * DAY,
                        tile,
                        next,
                    );
                    self.fresh(u);
                    u
                }
            };
            self.attach(j, u);
            self.daily_created.push((tile, next));
        }
        // Expected tile-days settle when the service passes them: days before its first day
        // since the restart were never covered (lost); on a covered day, a tile without a daily
        // job either got a product-triggered GFSC instead (superseded) or nothing (lost).
        let first = *self.daily_first.get_or_insert(next);
        let passed: Vec<i64> = self.daily_by_day.range(..=next).map(|(d, _)| *d).collect();
        for d in passed {
            for u in self.daily_by_day.remove(&d).unwrap_or_default() {
                self.settle_daily(u, d < first);
            }
        }
        self.daily_last = Some(next);
        self.schedule_daily(self.now + self.loops[0]);
    }

    fn settle_daily(&mut self, u: u32, uncovered: bool) {
        let unit = &self.units[u as usize];
        if unit.job != NONE {
            return;
        }
        let (tile, day) = (unit.tile, unit.aux);
        let got_nrt = self
            .gfsc_siblings
            .get(day, usize::from(tile))
            .is_some_and(|s| !s.is_empty());
        if uncovered {
            self.leave_pending(u, Bucket::Lost, LostReason::DailyJobNotCreated);
        } else if got_nrt {
            self.leave_pending(u, Bucket::Superseded, LostReason::None);
        } else {
            self.leave_pending(u, Bucket::Lost, LostReason::DailyInputNotReady);
        }
    }

    // ---------------------------------------------------------------- configuration

    fn configuration(&mut self, t: JobType) {
        let mut batch = take_batch!(self, self.to_config[t.idx()]);
        batch.sort_unstable();
        batch.dedup();
        for &j in &batch {
            let st = self.jobs[j as usize].status;
            if st != Status::Initialized && st != Status::Configured {
                continue;
            }
            if st == Status::Initialized {
                self.set_status(j, Status::Configured);
            }
            match t {
                JobType::FscRlieJob => self.configure_fsc(j),
                JobType::GfscJob => self.configure_gfsc(j),
                JobType::SwsWdsJob => self.configure_sws(j),
                _ => self.make_ready(j),
            }
        }
        self.give_back(batch);
    }

    fn give_back(&mut self, mut batch: Vec<u32>) {
        batch.clear();
        self.spare.push(batch);
    }

    fn make_ready(&mut self, j: u32) {
        self.jobs[j as usize].waiting = false;
        self.set_status(j, Status::Ready);
        let t = self.jobs[j as usize].ty;
        self.to_exec[t.idx()].push(j);
        self.tick(Svc::Execution, t);
    }

    fn configure_fsc(&mut self, j: u32) {
        if self.jobs[j as usize].reprocessing {
            return self.make_ready(j);
        }
        let tile = usize::from(self.jobs[j as usize].tile);
        let pos = self.jobs[j as usize].pos as usize;
        let mut pred: Option<Ms> = None;
        let mut past_error = false;
        for k in (0..pos).rev() {
            let p = &self.jobs[self.tiles[tile].fsc[k] as usize];
            match p.status {
                Status::InternalError | Status::ExternalError | Status::Cancelled => {
                    past_error = true;
                    continue;
                }
                Status::Processed | Status::StartPublication | Status::Published | Status::Done => {
                    if p.no_product {
                        continue;
                    }
                    pred = Some(p.meas);
                    break;
                }
                _ => {
                    self.jobs[j as usize].waiting = true;
                    return;
                }
            }
        }
        let pred = pred.unwrap_or(self.tiles[tile].init_l2a);
        let meas = self.jobs[j as usize].meas;
        let threshold = self.hot.maja_threshold;
        let ts = &mut self.tiles[tile];
        if meas - pred > threshold {
            ts.since_init = 0;
            ts.init_pending = true;
        } else {
            ts.since_init = ts.since_init.saturating_add(1);
        }
        let required = self.hot.backward_required;
        if ts.init_pending && ts.since_init >= required && self.hot.backward_active {
            ts.init_pending = false;
            // One backward job and the re-runs of the degraded dates: reprocessing priority.
            for r in 0..required {
                let rj = self.new_job(
                    JobType::FscRlieJob,
                    tile as u16,
                    meas - i64::from(r + 1) * DAY,
                    (tile as u64) << 32 ^ meas as u64 ^ u64::from(r),
                );
                self.jobs[rj as usize].reprocessing = true;
                if self.now >= 0 && self.now < self.cfg.horizon {
                    self.stats[0].reprocessed += 1;
                }
            }
        }
        self.jobs[j as usize].linked_past_error = past_error;
        self.make_ready(j);
    }

    fn configure_gfsc(&mut self, j: u32) {
        let (tile, day) = (
            self.jobs[j as usize].tile,
            self.jobs[j as usize].meas.div_euclid(DAY),
        );
        let newer = self
            .gfsc_siblings
            .get(day, usize::from(tile))
            .is_some_and(|s| {
                s.iter().any(|&o| {
                    o > j
                        && matches!(
                            self.jobs[o as usize].status,
                            Status::Initialized | Status::Configured | Status::Ready
                        )
                })
            });
        if newer {
            self.set_status(j, Status::Cancelled);
            self.finish_units(j, Bucket::Superseded, LostReason::None);
            return;
        }
        let job = &self.jobs[j as usize];
        if job.gfsc == GfscKind::Fsc && self.now < job.ready_at {
            let (at, epoch) = (boundary(job.ready_at, self.loops[1], 1_250), job.epoch);
            self.push(at, Ev::Wake(j, epoch));
            return;
        }
        self.make_ready(j);
    }

    // ---------------------------------------------------------------- execution, Nomad, workers

    fn execution(&mut self, t: JobType) {
        let mut batch = take_batch!(self, self.to_exec[t.idx()]);
        // Priority only orders the jobs readied in the same pass (stable sort).
        if matches!(t, JobType::FscRlieJob | JobType::SwsWdsJob) {
            batch.sort_by_key(|&j| self.jobs[j as usize].reprocessing);
        }
        for &j in &batch {
            if self.jobs[j as usize].status != Status::Ready {
                continue;
            }
            self.set_status(j, Status::Queued);
            self.queued_watch
                .push_back((self.now, j, self.jobs[j as usize].epoch));
            self.wake_monitor(self.now + QUEUED_LIMIT);
            self.enqueue_nomad(j);
        }
        self.give_back(batch);
    }

    fn enqueue_nomad(&mut self, j: u32) {
        let job = &mut self.jobs[j as usize];
        job.in_fifo = true;
        let (f, ty, epoch) = (job.ty.flavor() as usize, job.ty, job.epoch);
        self.fifo[f].push_back((j, epoch));
        self.pending[ty.idx()] += 1;
        self.place(f);
        self.wake_wpm_for_pending();
    }

    fn place(&mut self, f: usize) {
        while let Some(&(j, epoch)) = self.fifo[f].front() {
            let job = &self.jobs[j as usize];
            if job.epoch != epoch || !job.in_fifo {
                self.fifo[f].pop_front();
                continue;
            }
            let Some(w) = self.pop_idle(f) else { return };
            self.fifo[f].pop_front();
            let ty = self.jobs[j as usize].ty;
            self.jobs[j as usize].in_fifo = false;
            self.pending[ty.idx()] -= 1;
            self.n_idle[f] -= 1;
            self.workers[usize::from(w)].state = WState::Busy { job: j };
            self.running[ty.idx()] += 1;
            self.start_run(j, w);
        }
    }

    /// Nomad places on the most recently named eligible idle node.
    fn pop_idle(&mut self, f: usize) -> Option<u16> {
        let i = self.idle[f].iter().rposition(|&w| {
            matches!(
                self.workers[usize::from(w)].state,
                WState::Idle { eligible: true, .. }
            )
        })?;
        Some(self.idle[f].remove(i))
    }

    fn add_idle(&mut self, f: usize, w: u16) {
        let i = self.idle[f].partition_point(|&x| x < w);
        self.idle[f].insert(i, w);
    }

    fn start_run(&mut self, j: u32, w: u16) {
        let seed = self.cfg.seed;
        let cfg = Arc::clone(&self.cfg);
        let cal = &cfg.calibration;
        let job = &mut self.jobs[j as usize];
        job.worker = w;
        job.attempt += 1;
        job.epoch += 1;
        job.run_start = self.now;
        let (key, n) = (job.key, u64::from(job.attempt));
        let median = cal.minutes(job.ty) * MINUTE as f64;
        let dur = (median * (cal.duration_sigma * normal(seed, Stream::Durations, key, n)).exp())
            .max(1000.0) as Ms;
        let (pre, proc) = (dur / 10, dur * 8 / 10);
        let u = unit(seed, Stream::Errors, key, 3 * n);
        let phase_u = unit(seed, Stream::Errors, key, 3 * n + 1);
        let at_u = unit(seed, Stream::Errors, key, 3 * n + 2);
        let (phase, phase_start, phase_len) = if phase_u < cal.error_processing_share {
            (Status::Processing, pre, proc)
        } else if phase_u < cal.error_processing_share + (1.0 - cal.error_processing_share) / 2.0 {
            (Status::PreProcessing, 0, pre)
        } else {
            (Status::PostProcessing, pre + proc, dur - pre - proc)
        };
        let err_at = phase_start + (at_u * phase_len as f64) as Ms;
        let mut end = (dur, RunEnd::Done);
        if u < cal.internal_error_rate {
            end = (err_at, RunEnd::Internal(phase));
        } else if u < cal.internal_error_rate + cal.external_error_rate {
            end = (err_at, RunEnd::External(phase));
        }
        // The monitor resets runs that stay too long in started/pre_processing or processing.
        let started_reset = boundary(self.now + STARTED_LIMIT, MONITOR_LOOP, 0) - self.now;
        if pre > started_reset && end.0 > started_reset {
            end = (started_reset, RunEnd::MonitorReset(Status::PreProcessing));
        }
        let proc_reset = boundary(self.now + pre + PROCESSING_LIMIT, MONITOR_LOOP, 0) - self.now;
        if proc > proc_reset - pre && end.0 > proc_reset {
            end = (proc_reset, RunEnd::MonitorReset(Status::Processing));
        }
        let epoch = job.epoch;
        job.end = end.1;
        self.set_status(j, Status::Started);
        self.push(self.now + end.0, Ev::RunEnd(j, epoch));
    }

    /// Writes the phase statuses a run went through up to `phase`.
    fn walk_to(&mut self, j: u32, phase: Status) {
        for s in [
            Status::PreProcessing,
            Status::Processing,
            Status::PostProcessing,
        ] {
            if s.id() > phase.id() {
                break;
            }
            let cur = self.jobs[j as usize].status;
            if cur.is_running() && cur.id() < s.id() {
                self.set_status(j, s);
            }
        }
    }

    fn release_worker(&mut self, j: u32) {
        let w = self.jobs[j as usize].worker;
        let ty = self.jobs[j as usize].ty;
        self.running[ty.idx()] -= 1;
        let f = ty.flavor() as usize;
        if matches!(self.workers[usize::from(w)].state, WState::Busy { job } if job == j) {
            self.workers[usize::from(w)].state = WState::Idle {
                since: self.now,
                eligible: true,
            };
            self.n_idle[f] += 1;
            self.add_idle(f, w);
            self.place(f);
            self.wake_wpm_for_idle(w);
        }
    }

    fn on_run_end(&mut self, j: u32) {
        let end = self.jobs[j as usize].end;
        match end {
            RunEnd::Done => {
                self.walk_to(j, Status::PostProcessing);
                self.set_status(j, Status::Processed);
                self.jobs[j as usize].processed_at = self.now;
                self.release_worker(j);
                let t = self.jobs[j as usize].ty;
                self.to_publish[t.idx()].push(j);
                self.tick(Svc::Publication, t);
                self.wake_waiters(j);
            }
            RunEnd::External(phase) => {
                self.walk_to(j, phase);
                self.set_status(j, Status::ExternalError);
                if phase == Status::Processing {
                    self.jobs[j as usize].ext_proc += 1;
                }
                if self.jobs[j as usize].ext_proc >= 3 {
                    self.fail(j, LostReason::Failed);
                } else {
                    self.nomad_restart(j);
                }
                self.wake_waiters(j);
            }
            RunEnd::Internal(phase) => {
                self.walk_to(j, phase);
                self.set_status(j, Status::InternalError);
                let retry = phase == Status::Processing && self.jobs[j as usize].int_proc < 2;
                if phase == Status::Processing {
                    self.jobs[j as usize].int_proc += 1;
                }
                if retry {
                    self.set_status(j, Status::ErrorChecked);
                    self.nomad_restart(j);
                } else {
                    self.fail(j, LostReason::Failed);
                    self.wake_waiters(j);
                }
            }
            RunEnd::MonitorReset(phase) => {
                self.walk_to(j, phase);
                self.release_worker(j);
                self.redispatch(j);
            }
        }
    }

    fn fail(&mut self, j: u32, reason: LostReason) {
        if self.jobs[j as usize].status != Status::InternalError && reason == LostReason::Failed {
            self.set_status(j, Status::InternalError);
        }
        self.jobs[j as usize].epoch += 1;
        self.release_worker(j);
        self.finish_units(j, Bucket::Lost, reason);
    }

    fn nomad_restart(&mut self, j: u32) {
        let job = &mut self.jobs[j as usize];
        job.restarts += 1;
        job.epoch += 1;
        let epoch = job.epoch;
        if job.restarts <= NOMAD_RESTART_ATTEMPTS {
            self.push(self.now + NOMAD_RESTART_DELAY, Ev::Restart(j, epoch));
        } else if job.resched < NOMAD_RESCHEDULE_ATTEMPTS {
            job.resched += 1;
            job.restarts = 0;
            self.release_worker(j);
            self.push(self.now + NOMAD_RESCHEDULE_DELAY, Ev::Reschedule(j, epoch));
        } else {
            self.release_worker(j);
            self.finish_units(j, Bucket::Lost, LostReason::StuckInExternalError);
            self.wake_waiters(j);
        }
    }

    fn redispatch(&mut self, j: u32) {
        self.set_status(j, Status::InternalError);
        self.set_status(j, Status::ErrorChecked);
        self.set_status(j, Status::Ready);
        let job = &mut self.jobs[j as usize];
        job.epoch += 1;
        job.restarts = 0;
        job.resched = 0;
        let t = job.ty;
        if self.now >= 0 && self.now < self.cfg.horizon {
            self.stats[t.idx()].redispatches += 1;
        }
        self.to_exec[t.idx()].push(j);
        self.tick(Svc::Execution, t);
    }

    /// A job left the "on its way" states (processed, or failed for good): the jobs waiting on
    /// it are evaluated again (its FSC/RLIE time-series successor, its SWS/WDS assembly's
    /// dependents).
    fn wake_waiters(&mut self, j: u32) {
        let job = &self.jobs[j as usize];
        if job.ty == JobType::SwsWdsJob {
            // Woken on a transient error too; the list is kept until the master is final.
            let done = matches!(job.status, Status::Processed | Status::Done)
                || (job.first_unit != NONE
                    && self.units[job.first_unit as usize].bucket == Bucket::Lost);
            let dependents = if done {
                self.dependents.remove(&j)
            } else {
                self.dependents.get(&j).cloned()
            };
            for d in dependents.unwrap_or_default() {
                if self.jobs[d as usize].waiting
                    && self.jobs[d as usize].status == Status::Configured
                {
                    self.to_config[3].push(d);
                    self.tick(Svc::Configuration, JobType::SwsWdsJob);
                }
            }
            return;
        }
        if job.ty != JobType::FscRlieJob || job.reprocessing {
            return;
        }
        let (tile, pos) = (usize::from(job.tile), job.pos as usize);
        // The job waiting on this one is the first waiting job after it: jobs in between ran
        // past it (their own predecessor was in an error status) and do not block.
        let waiting = self.tiles[tile].fsc[pos + 1..].iter().copied().find(|&s| {
            self.jobs[s as usize].waiting && self.jobs[s as usize].status == Status::Configured
        });
        if let Some(s) = waiting {
            self.to_config[0].push(s);
            self.tick(Svc::Configuration, JobType::FscRlieJob);
        }
    }

    fn on_boot(&mut self, w: u16, epoch: u32) {
        let wk = &mut self.workers[usize::from(w)];
        if wk.epoch != epoch || wk.state != WState::Booting {
            return;
        }
        let f = wk.flavor as usize;
        // A fresh node has no allocation at all: "sleeping" at once for the worker pool.
        wk.state = WState::Idle {
            since: self.now - SLEEPING_AFTER,
            eligible: true,
        };
        self.n_booting[f] -= 1;
        self.n_idle[f] += 1;
        self.add_idle(f, w);
        self.place(f);
        self.wake_wpm_for_idle(w);
    }

    // The worker pool's next useful loop moves only earlier through these two changes, so they
    // update it directly instead of rescanning every idle worker (`wpm_needed_at`).

    /// A worker that is still idle after Nomad's placement: deletable once it sleeps.
    fn wake_wpm_for_idle(&mut self, w: u16) {
        let wk = self.workers[usize::from(w)];
        let WState::Idle { since, .. } = wk.state else {
            return;
        };
        if !ALL_TYPES
            .iter()
            .any(|&t| t.flavor() == wk.flavor && self.enabled(t))
        {
            return;
        }
        let at = boundary((since + SLEEPING_AFTER).max(self.now), WPM_LOOP, 500);
        self.wpm_at_or_earlier(at);
    }

    /// A job more in a Nomad queue: workers may be needed.
    fn wake_wpm_for_pending(&mut self) {
        if !self.services_ok() {
            return;
        }
        let mut need = 0;
        for t in ALL_TYPES.into_iter().filter(|&t| self.enabled(t)) {
            let f = t.flavor() as usize;
            need += self.pending[t.idx()] - (self.n_booting[f] + self.n_idle[f]);
        }
        if need > 0 && self.hot.max_workers > self.n_workers {
            self.wpm_at_or_earlier(boundary(self.now, WPM_LOOP, 500));
        }
    }

    fn wake_wpm(&mut self) {
        if self
            .wpm_at
            .is_some_and(|x| x <= boundary(self.now, WPM_LOOP, 500))
        {
            // Already due at the next loop boundary or earlier.
            return;
        }
        if let Some(at) = self.wpm_needed_at(boundary(self.now, WPM_LOOP, 500)) {
            self.wpm_at_or_earlier(at);
        }
    }

    /// The first loop boundary from `earliest` at which the worker pool would create or delete
    /// anything, given the current state: loops that would do nothing are not simulated.
    fn wpm_needed_at(&self, earliest: Ms) -> Option<Ms> {
        if !self.services_ok() {
            return None;
        }
        let slots = self.hot.max_workers - self.n_workers;
        let mut need = 0;
        let mut flavors = [false; N_FLAVORS];
        for t in ALL_TYPES.into_iter().filter(|&t| self.enabled(t)) {
            let f = t.flavor() as usize;
            need += self.pending[t.idx()] - (self.n_booting[f] + self.n_idle[f]);
            flavors[f] = true;
        }
        if (need > 0 && slots > 0)
            || self
                .n_orphan
                .iter()
                .zip(flavors)
                .any(|(&n, on)| on && n > 0)
        {
            return Some(earliest);
        }
        let mut first: Option<Ms> = None;
        for (f, idle) in self.idle.iter().enumerate() {
            if !flavors[f] {
                continue;
            }
            for &w in idle {
                if let WState::Idle { since, eligible } = self.workers[usize::from(w)].state {
                    let at = if eligible {
                        since + SLEEPING_AFTER
                    } else {
                        earliest
                    };
                    first = Some(first.map_or(at, |x: Ms| x.min(at)));
                }
            }
        }
        first.map(|at| boundary(at.max(earliest), WPM_LOOP, 500))
    }

    fn wpm_at_or_earlier(&mut self, at: Ms) {
        if self.wpm_at.is_some_and(|x| x <= at) || !self.services_ok() {
            return;
        }
        self.wpm_at = Some(at);
        self.timer_set(at, Timer::Wpm);
    }

    fn delete_worker(&mut self, w: u16) {
        let wk = self.workers[usize::from(w)];
        let f = wk.flavor as usize;
        match wk.state {
            WState::Idle { .. } => {
                self.n_idle[f] -= 1;
                self.idle[f].retain(|&x| x != w);
            }
            WState::Booting => self.n_booting[f] -= 1,
            WState::Orphan => self.n_orphan[f] -= 1,
            WState::Busy { .. } | WState::Free => {}
        }
        self.n_exist[f] -= 1;
        self.free_slots.push(std::cmp::Reverse(w));
        let from = wk.created.max(0);
        let to = self.now.min(self.cfg.horizon);
        if to > from {
            self.worker_ms += i128::from(to - from);
        }
        self.workers[usize::from(w)].state = WState::Free;
        self.n_workers -= 1;
    }

    fn wpm(&mut self) {
        if !self.services_ok() {
            return;
        }
        let mut list = [JobType::FscRlieJob; 5];
        let n = match &self.types {
            JobTypesList::Valid(v) => {
                let n = v.len().min(5);
                list[..n].copy_from_slice(&v[..n]);
                n
            }
            _ => 0,
        };
        let list = &list[..n];
        let slots = self.hot.max_workers - self.n_workers;
        let mut needs = [0i64; 5];
        for (i, t) in list.iter().enumerate() {
            let f = t.flavor() as usize;
            needs[i] = self.pending[t.idx()] - (self.n_booting[f] + self.n_idle[f]);
        }
        let needs = &needs[..n];
        let mut result = [0i64; 5];
        workers_to_create_into(needs, slots, &mut result);
        if self.cfg.fidelity.xl_worker_cap {
            let cap = self.hot.xl_cap;
            let xl = self.n_exist[Flavor::HmXlarge as usize];
            for (i, t) in list.iter().enumerate() {
                if *t == JobType::SwsWdsJob {
                    result[i] = result[i].min((cap - xl).max(0));
                }
            }
        }
        // Names come from os-worker-001 … os-worker-<max> (orchestration.md §3.6): when the
        // sizing asks for more than the free names (its rounding can), the creation loop takes
        // the free ones and then fails on the next (IndexError), skipping the deletion phase.
        let free_names = (self.hot.max_workers - self.n_workers).max(0);
        let asked = result[..n].iter().sum::<i64>().max(0);
        let mut names = asked.min(free_names);
        let mut aborted = false;
        for (i, t) in list.iter().enumerate() {
            for _ in 0..result[i].max(0) {
                if names == 0 {
                    aborted = true;
                    break;
                }
                names -= 1;
                self.create_worker(t.flavor());
            }
        }
        if !aborted {
            let mut snapshot = std::mem::take(&mut self.scratch_snapshot);
            snapshot.clear();
            snapshot.extend(self.idle.iter().flatten().copied().filter(|&w| {
                matches!(
                    self.workers[usize::from(w)].state,
                    WState::Idle {
                        eligible: false,
                        ..
                    }
                )
            }));
            for (i, t) in list.iter().enumerate() {
                if result[i] != 0 {
                    continue;
                }
                self.delete_idle(t.flavor(), &snapshot);
            }
            self.scratch_snapshot = snapshot;
        }
        if let Some(at) = self.wpm_needed_at(self.now + WPM_LOOP) {
            self.wpm_at_or_earlier(at);
        }
    }

    fn create_worker(&mut self, flavor: Flavor) {
        let slot = match self.free_slots.pop() {
            Some(std::cmp::Reverse(s)) => usize::from(s),
            None => {
                self.workers.push(Worker {
                    state: WState::Free,
                    flavor,
                    created: 0,
                    epoch: 0,
                });
                self.workers.len() - 1
            }
        };
        self.n_exist[flavor as usize] += 1;
        let w = &mut self.workers[slot];
        w.state = WState::Booting;
        w.flavor = flavor;
        w.created = self.now;
        w.epoch += 1;
        let epoch = w.epoch;
        self.n_booting[flavor as usize] += 1;
        self.n_workers += 1;
        if self.now >= 0 && self.now < self.cfg.horizon {
            self.peak_workers = self.peak_workers.max(self.n_workers);
        }
        let boot = (self.cfg.calibration.worker_boot_minutes * MINUTE as f64) as Ms;
        // Boot time is constant: a FIFO in time order, not the event queue.
        let at = self.now + boot;
        if self.boot_q.is_empty() {
            self.timer_set(at, Timer::Boot);
        }
        self.boot_q.push_back((at, slot as u16, epoch));
    }

    /// Deletion for one type whose creation count is 0: switch a third of the sleeping nodes
    /// off, delete those switched off at the loop's start, and one stale worker.
    fn delete_idle(&mut self, flavor: Flavor, snapshot: &[u16]) {
        let f = flavor as usize;
        if self.idle[f].is_empty() && self.n_orphan[f] == 0 {
            return;
        }
        let mut sleeping = std::mem::take(&mut self.scratch_sleeping);
        sleeping.clear();
        sleeping.extend(self.idle[f].iter().copied().filter(|&w| {
            matches!(self.workers[usize::from(w)].state, WState::Idle { since, .. } if self.now - since >= SLEEPING_AFTER)
        }));
        let n = sleeping.len();
        let k = if n == 1 {
            1
        } else {
            (n / 3).clamp(1, 10).min(n)
        };
        for &w in sleeping.iter().take(k) {
            if let WState::Idle {
                since,
                eligible: true,
            } = self.workers[usize::from(w)].state
            {
                self.workers[usize::from(w)].state = WState::Idle {
                    since,
                    eligible: false,
                };
            }
        }
        let mut deleted = 0;
        for &w in &sleeping {
            if deleted == 10 {
                break;
            }
            if snapshot.contains(&w) {
                self.delete_worker(w);
                deleted += 1;
            }
        }
        self.scratch_sleeping = sleeping;
        if self.n_orphan[f] > 0
            && let Some(w) = (0..self.workers.len() as u16).find(|&w| {
                let wk = &self.workers[usize::from(w)];
                wk.flavor == flavor && wk.state == WState::Orphan
            })
        {
            self.delete_worker(w);
        }
    }

    // ---------------------------------------------------------------- monitor

    fn wake_monitor(&mut self, at: Ms) {
        if !self.services_ok() {
            return;
        }
        let at = boundary(at.max(self.now), MONITOR_LOOP, 0);
        if self.monitor_at.is_some_and(|x| x <= at) {
            return;
        }
        self.monitor_at = Some(at);
        self.timer_set(at, Timer::Monitor);
    }

    fn monitor(&mut self) {
        if !self.services_ok() {
            return;
        }
        // After a restart Nomad knows none of the jobs in flight: their summaries answer 404
        // and, unchanged for more than 5 minutes, they are reset.
        for j in std::mem::take(&mut self.reset_on_start) {
            let st = self.jobs[j as usize].status;
            if matches!(
                st,
                Status::Queued
                    | Status::Started
                    | Status::PreProcessing
                    | Status::Processing
                    | Status::PostProcessing
            ) && self.enabled(self.jobs[j as usize].ty)
            {
                self.redispatch(j);
            } else if st.is_running() || st == Status::Queued {
                self.reset_on_start.push(j);
            }
        }
        while let Some(&(at, j, epoch)) = self.queued_watch.front() {
            if at + QUEUED_LIMIT > self.now {
                break;
            }
            self.queued_watch.pop_front();
            let (ty, in_fifo) = (self.jobs[j as usize].ty, self.jobs[j as usize].in_fifo);
            let job = &self.jobs[j as usize];
            if job.epoch == epoch && job.status == Status::Queued && self.enabled(ty) {
                if in_fifo {
                    self.jobs[j as usize].in_fifo = false;
                    self.pending[ty.idx()] -= 1;
                }
                self.redispatch(j);
            }
        }
        if let Some(&(at, _, _)) = self.queued_watch.front() {
            self.wake_monitor(at + QUEUED_LIMIT);
        }
        if !self.reset_on_start.is_empty() {
            self.wake_monitor(self.now + MONITOR_LOOP);
        }
    }

    // ---------------------------------------------------------------- publication and indexing

    fn publication(&mut self, t: JobType) {
        let batch = take_batch!(self, self.to_publish[t.idx()]);
        for &j in &batch {
            if self.jobs[j as usize].status != Status::Processed {
                continue;
            }
            let no_product = self.jobs[j as usize].no_product;
            if !no_product {
                self.set_status(j, Status::StartPublication);
                self.set_status(j, Status::Published);
            }
            self.set_status(j, Status::Done);
            let in_window = self.now >= 0 && self.now <= self.cfg.horizon;
            let mut next = self.jobs[j as usize].first_unit;
            while next != NONE {
                let u = next;
                next = self.units[u as usize].next;
                if self.units[u as usize].bucket != Bucket::Pending {
                    continue;
                }
                self.units[u as usize].no_product = no_product;
                self.leave_pending(u, Bucket::Published, LostReason::None);
                let unit = &self.units[u as usize];
                if unit.avail >= 0 {
                    self.published[t.idx()] += 1;
                    if in_window {
                        let (lat, age) = (
                            (self.now - unit.avail) / SECOND,
                            (self.now - unit.sensing) / SECOND,
                        );
                        self.stats[t.idx()].latency.push(lat.max(0) as u32);
                        self.stats[t.idx()].age.push(age.max(0) as u32);
                    }
                }
            }
            self.on_published(j);
            // Only FSC, SWS/WDS and GFSC products are read back from the catalogue.
            if !no_product
                && matches!(
                    t,
                    JobType::FscRlieJob | JobType::SwsWdsJob | JobType::GfscJob
                )
            {
                let at = self.now + (self.cfg.calibration.indexing_minutes * MINUTE as f64) as Ms;
                // Indexing delay is constant: a FIFO in time order, not the event queue.
                if self.index_q.is_empty() {
                    self.timer_set(at, Timer::Index);
                }
                self.index_q.push_back((at, j));
            }
        }
        self.give_back(batch);
    }

    /// RLIE-S1-S2 reads the database: published RLIE and RLIE-S1 count at publication.
    fn on_published(&mut self, j: u32) {
        let job = &self.jobs[j as usize];
        match job.ty {
            JobType::FscRlieJob if !job.no_product && !job.reprocessing => {
                if let Some(&u) = self
                    .s1s2_unit
                    .get(job.meas.div_euclid(DAY), usize::from(job.tile))
                    && u != NONE
                {
                    let was = self.units[u as usize].got_s2;
                    self.units[u as usize].got_s2 = true;
                    self.s1s2_inputs_published(u, was);
                }
            }
            JobType::Rlies1Job => {
                let d = self.day_idx(job.meas.div_euclid(DAY));
                self.s1_unpublished[d] -= 1;
                let i = job.input as usize;
                if let Product::Grd { track, slice } = self.inputs[i].product {
                    let day = self.inputs[i].sensing.div_euclid(DAY);
                    let tr = usize::from(track);
                    for k in 0..self.geo.tracks[tr].slice_tiles(slice).len() {
                        let t = self.geo.tracks[tr].slice_tiles(slice)[k];
                        if let Some(&u) = self.s1s2_unit.get(day, usize::from(t))
                            && u != NONE
                        {
                            let was = self.units[u as usize].got_s1;
                            self.units[u as usize].got_s1 = true;
                            self.s1s2_inputs_published(u, was);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// An RLIE or RLIE-S1 product of tile-day unit `u` was published (`was`: that side was
    /// already published before). When the second side arrives, the tile-day becomes available
    /// (simulation.md, latency of types triggered by HR-S&I products).
    fn s1s2_inputs_published(&mut self, u: u32, was: bool) {
        let unit = &mut self.units[u as usize];
        if !was && unit.got_s2 && unit.got_s1 && unit.bucket == Bucket::Pending && !unit.active {
            unit.avail = self.now;
            self.fresh(u);
        }
        self.s1s2_progress(u);
    }

    fn s1s2_progress(&mut self, u: u32) {
        let unit = &self.units[u as usize];
        if unit.got_s2 && unit.got_s1 && unit.job == NONE && unit.bucket == Bucket::Pending {
            let day = unit.sensing.div_euclid(DAY);
            if day < self.s1s2_reach {
                self.leave_pending(u, Bucket::Lost, LostReason::OutsideSearchWindow);
                return;
            }
            let d = self.day_idx(day);
            if !self.s1s2_ready[d].contains(&u) {
                self.s1s2_ready[d].push(u);
                self.s1s2_uncreated += 1;
                self.tick(Svc::Creation, JobType::Rlies1s2Job);
            }
        }
    }

    fn on_indexed(&mut self, j: u32) {
        let job = self.jobs[j as usize].clone();
        let day = job.meas.div_euclid(DAY);
        let d = self.day_idx(day);
        match job.ty {
            JobType::FscRlieJob if !job.reprocessing => {
                self.mark_indexed(d, job.tile, false);
                self.note_gfsc_input(job.tile, job.meas);
                self.fsc_for_wds.push(j);
                self.tick(Svc::Creation, JobType::SwsWdsJob);
                let published_at =
                    self.now - (self.cfg.calibration.indexing_minutes * MINUTE as f64) as Ms;
                let u = self.new_unit(
                    JobType::GfscJob,
                    UnitKind::TrigFsc,
                    self.now,
                    job.meas,
                    job.tile,
                    published_at,
                );
                self.fresh(u);
                self.to_create[4].push(u);
                self.tick(Svc::Creation, JobType::GfscJob);
            }
            JobType::SwsWdsJob => {
                self.mark_indexed(d, job.tile, true);
                self.note_gfsc_input(job.tile, job.meas);
                let n = u8::from(job.parts.0) + u8::from(job.parts.1);
                for _ in 0..n {
                    let u = self.new_unit(
                        JobType::GfscJob,
                        UnitKind::TrigS1,
                        self.now,
                        job.meas,
                        job.tile,
                        0,
                    );
                    self.fresh(u);
                    self.to_create[4].push(u);
                }
                self.tick(Svc::Creation, JobType::GfscJob);
            }
            JobType::GfscJob => {
                let ts = &mut self.tiles[usize::from(job.tile)];
                ts.latest_gfsc = Some((job.start_date, day));
            }
            _ => {}
        }
    }

    fn mark_indexed(&mut self, d: usize, tile: u16, s1: bool) {
        if !bit(&self.indexed_any[d], tile) {
            set_bit(&mut self.indexed_any[d], tile);
            self.indexed_count[d] += 1;
        }
        if s1 {
            set_bit(&mut self.indexed_s1[d], tile);
        }
    }

    // ---------------------------------------------------------------- plan of operator steps

    /// Step `i` becomes the next one, its delay counted from `origin`. Its sequence number is
    /// reserved even when it waits for a catch-up or does not exist yet, so that a step set
    /// later ([`Engine::set_steps`], [`Engine::act`]) keeps the tie order of a batch run.
    fn schedule_step(&mut self, i: usize, origin: Ms) {
        self.seq += 1;
        self.step_seq = self.seq;
        self.step_origin = origin;
        self.step = i;
        self.arm_step();
    }

    /// Queues the next step's Control event with its reserved sequence number, or starts its
    /// catch-up wait.
    fn arm_step(&mut self) {
        let Some(step) = self.steps.get(self.step) else {
            return;
        };
        if step.caught_up.is_empty() {
            self.heap.push(Entry {
                at: (self.step_origin + step.after).max(self.now),
                seq: self.step_seq,
                ev: Ev::Control(self.step as u32),
            });
        } else {
            self.step_wait = Some(self.step_origin);
        }
    }

    fn control(&mut self, i: usize) {
        let step = self.steps[i].clone();
        match step.action {
            Action::Stop => self.stop(),
            Action::Start => self.start(),
            Action::SetParam { name, value } => self.set_param(&name, &value),
        }
        self.steps_done += 1;
        self.schedule_step(i + 1, self.now);
    }

    fn stop(&mut self) {
        if !self.up {
            return;
        }
        self.up = false;
        self.stopped_mask = self.enabled_mask;
        self.refresh_enabled();
        self.outages.push((self.now, None));
        self.tick_at = [[Ms::MAX; 5]; 4];
        self.tick_armed = 0;
        self.wpm_at = None;
        self.monitor_at = None;
        self.daily_at = None;
        self.timer_cache = None;
        for f in 0..N_FLAVORS {
            self.fifo[f].clear();
            self.idle[f].clear();
        }
        self.pending = [0; 5];
        self.running = [0; 5];
        for j in 0..self.jobs.len() {
            let job = &mut self.jobs[j];
            job.in_fifo = false;
            if job.status == Status::Queued || job.status.is_running() {
                job.epoch += 1;
                self.reset_on_start.push(j as u32);
            }
        }
        for w in 0..self.workers.len() {
            let wk = self.workers[w];
            let f = wk.flavor as usize;
            match wk.state {
                WState::Free | WState::Orphan => continue,
                WState::Booting => self.n_booting[f] -= 1,
                WState::Idle { .. } => self.n_idle[f] -= 1,
                WState::Busy { job } => {
                    // The run stops with its server: its status stays where it was.
                    let phase = self.phase_at(job);
                    self.walk_to(job, phase);
                }
            }
            self.workers[w].state = WState::Orphan;
            self.n_orphan[f] += 1;
        }
        // A task waiting for a Nomad restart never gets it: the new Nomad does not know it and
        // the monitor does not watch external_error / error_checked.
        for j in 0..self.jobs.len() as u32 {
            if matches!(
                self.jobs[j as usize].status,
                Status::ExternalError | Status::ErrorChecked
            ) {
                self.jobs[j as usize].epoch += 1;
                self.finish_units(j, Bucket::Lost, LostReason::StuckInExternalError);
                // Its time-series successor no longer waits for it (re-evaluated at start).
                self.wake_waiters(j);
            }
        }
        self.queued_watch.clear();
        self.catch = Default::default();
    }

    fn phase_at(&self, j: u32) -> Status {
        let job = &self.jobs[j as usize];
        let elapsed = self.now - job.run_start;
        let median = self.cfg.calibration.minutes(job.ty) * MINUTE as f64;
        // Without the drawn duration at hand, the phase follows the median's proportions.
        if (elapsed as f64) < median * 0.1 {
            Status::PreProcessing
        } else if (elapsed as f64) < median * 0.9 {
            Status::Processing
        } else {
            Status::PostProcessing
        }
    }

    fn start(&mut self) {
        if self.up {
            return;
        }
        self.up = true;
        self.halted = false;
        if let Some(o) = self.outages.last_mut() {
            o.1 = Some(self.now);
        }
        self.loops = [
            "job_creation_loop_sleep",
            "job_configuration_loop_sleep",
            "job_execution_loop_sleep",
            "job_publication_loop_sleep",
        ]
        .map(|n| self.params.int(n).unwrap_or(5).max(1) * SECOND);
        self.types = self.params.job_types();
        if matches!(self.types, JobTypesList::UnknownType(_)) {
            self.halted = true;
        }
        self.refresh_enabled();
        self.daily_last = None;
        self.daily_first = None;
        self.daily_at = None;
        self.wpm_at = None;
        self.monitor_at = None;
        self.timer_cache = None;
        let mut rec = RestartRecord {
            at: self.now,
            enabled_at: [None; 5],
            caught_at: [None; 5],
            expected: std::array::from_fn(|t| self.stopped_mask & (1 << t) != 0),
        };
        for t in ALL_TYPES {
            if self.enabled(t) {
                rec.enabled_at[t.idx()] = Some(self.now);
                self.catch[t.idx()] = Some(Catch { candidate: None });
            }
        }
        self.restarts.push(rec);
        self.kick_all();
    }

    fn set_param(&mut self, name: &str, value: &str) {
        if self.params.set(name, value).is_err() {
            return;
        }
        self.hot = Hot::of(&self.params);
        if name == "job_types_list" {
            let before: Vec<bool> = ALL_TYPES.iter().map(|&t| self.enabled(t)).collect();
            self.types = self.params.job_types();
            if matches!(self.types, JobTypesList::UnknownType(_)) && self.up {
                self.halted = true;
            }
            self.refresh_enabled();
            for t in ALL_TYPES {
                if !before[t.idx()]
                    && self.enabled(t)
                    && let Some(r) = self.restarts.last_mut()
                {
                    r.enabled_at[t.idx()] = Some(self.now);
                    self.catch[t.idx()] = Some(Catch { candidate: None });
                }
            }
            if self.up {
                self.tick_at = [[Ms::MAX; 5]; 4];
                self.tick_armed = 0;
                self.timer_cache = None;
                self.kick_all();
            }
        } else if name.starts_with("max_number_of") {
            self.wake_wpm();
        }
    }

    // ---------------------------------------------------------------- sampling, catch-up

    fn sample(&mut self) {
        let now = self.now;
        while let Some(&(a, u)) = self.activation.get(self.next_activation) {
            if a > now {
                break;
            }
            self.next_activation += 1;
            if a >= 0 {
                self.fresh_units.push((a, u));
            }
        }
        let mut fresh = std::mem::take(&mut self.fresh_units);
        fresh.sort_unstable();
        let target = (self.cfg.calibration.nrt_target_hours * HOUR as f64) as Ms;
        for (a, u) in fresh {
            let unit = &mut self.units[u as usize];
            if unit.bucket != Bucket::Pending {
                continue;
            }
            unit.active = true;
            self.backlog[unit.ty.idx()] += 1;
            self.overdue_q[unit.ty.idx()].push_back((a, u));
        }
        for t in 0..5 {
            while let Some(&(a, u)) = self.overdue_q[t].front() {
                if a + target > now {
                    break;
                }
                self.overdue_q[t].pop_front();
                let unit = &mut self.units[u as usize];
                if unit.bucket == Bucket::Pending && !unit.overdue {
                    unit.overdue = true;
                    self.overdue[t] += 1;
                }
            }
            self.overdue_samples[t].push(self.overdue[t]);
        }
        self.track_catch_up();
        if self.cfg.timeline {
            self.timeline.push(Sample {
                at: now,
                backlog: self.backlog,
                running: self.running,
                published: self.published,
                overdue: self.overdue,
                workers: self.n_workers,
            });
        }
        self.sample_at = now + SAMPLE;
    }

    fn track_catch_up(&mut self) {
        let w = (self.cfg.calibration.confirm_window_hours * HOUR as f64) as Ms;
        for ty in ALL_TYPES {
            let t = ty.idx();
            let on = self.enabled(ty);
            let Some(c) = self.catch[t].as_mut() else {
                continue;
            };
            if !on {
                c.candidate = None;
                continue;
            }
            if self.overdue[t] <= self.nominal[t] {
                let cand = *c.candidate.get_or_insert(self.now);
                if self.now - cand >= w {
                    if let Some(r) = self.restarts.last_mut() {
                        r.caught_at[t] = Some(cand);
                    }
                    self.catch[t] = None;
                }
            } else {
                c.candidate = None;
            }
        }
        if let Some(origin) = self.step_wait {
            let step = &self.steps[self.step];
            let done = step.caught_up.iter().all(|t| self.catch[t.idx()].is_none());
            if done {
                self.step_wait = None;
                let at = self.now.max(origin) + step.after;
                self.push(at, Ev::Control(self.step as u32));
            }
        }
    }

    // ---------------------------------------------------------------- end of run

    /// The outcome with the reported window ending at `horizon` (the config's, or `now` for a
    /// look at a world still running).
    pub(crate) fn finish_at(mut self, horizon: Ms) -> Outcome {
        let today = horizon.div_euclid(DAY);
        // RLIE-S1-S2 tile-days the backward scan can no longer reach are lost.
        let max_w = self
            .params
            .int("rlies1s2_max_search_window_days")
            .unwrap_or(31);
        let param_day = self
            .params
            .timestamp("gfsc_daily_jobs_creation_start_date")
            .map(|i| (i.0 - self.cfg.start.0).div_euclid(DAY));
        for u in 0..self.units.len() as u32 {
            let unit = &self.units[u as usize];
            if unit.bucket != Bucket::Pending || unit.job != NONE {
                continue;
            }
            let day = unit.sensing.div_euclid(DAY);
            match (unit.ty, unit.kind) {
                (JobType::Rlies1s2Job, _) => {
                    let s2_job = self.input_job[unit.aux as usize];
                    let s1_job = self.input_job[unit.aux2 as usize];
                    let failed = |j: u32| {
                        j != NONE
                            && self
                                .units_of(j)
                                .iter()
                                .any(|&x| self.units[x as usize].bucket == Bucket::Lost)
                    };
                    if failed(s2_job) || failed(s1_job) {
                        self.leave_pending(u, Bucket::Lost, LostReason::InputFailed);
                    } else if day < today - 1 - max_w {
                        self.leave_pending(u, Bucket::Lost, LostReason::OutsideSearchWindow);
                    }
                }
                (JobType::GfscJob, UnitKind::Daily) => {
                    // The service walks forward from its first day: days before it, or passed
                    // without a job, are never created.
                    let reach_from = self.daily_first.or(param_day).unwrap_or(today - 1);
                    if day < reach_from {
                        self.settle_daily(u, true);
                    } else if self.daily_last.is_some_and(|l| day <= l) {
                        self.settle_daily(u, false);
                    }
                }
                _ => {}
            }
        }
        let worker_ms: i128 = self
            .workers
            .iter()
            .filter(|w| w.state != WState::Free)
            .map(|w| i128::from((horizon - w.created.max(0)).max(0)))
            .sum::<i128>()
            + self.worker_ms;
        let steps_not_run = self.steps.len() - self.steps_done;
        Outcome {
            jobs: if self.cfg.keep_jobs {
                std::mem::take(&mut self.jobs)
            } else {
                Vec::new()
            },
            units: std::mem::take(&mut self.units),
            stats: std::mem::take(&mut self.stats),
            peak_workers: self.peak_workers,
            worker_hours: worker_ms as f64 / HOUR as f64,
            events: self.events,
            status_changes: self.status_changes,
            illegal_transitions: self.illegal,
            timeline: std::mem::take(&mut self.timeline),
            overdue_samples: std::mem::take(&mut self.overdue_samples),
            restarts: std::mem::take(&mut self.restarts),
            outages: std::mem::take(&mut self.outages),
            nominal_overdue: self.nominal,
            not_at_nrt: self.not_at_nrt,
            nrt_allowance: self.nrt_allowance,
            baseline_lost: self.baseline_lost,
            daily_created: std::mem::take(&mut self.daily_created),
            steps_not_run,
            history: std::mem::take(&mut self.history),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::boundary;

    #[test]
    fn boundary_is_the_next_loop_instant_at_or_after_t() {
        for p in [1_000, 5_000, 7_000, 60_000] {
            for phase in [0, 500, 1_250, 3_750] {
                for t in (-130_000..130_000).step_by(333) {
                    let b = boundary(t, p, phase);
                    assert!(b >= t && b - t < p, "t {t} p {p} phase {phase}: {b}");
                    assert_eq!((b - phase).rem_euclid(p), 0);
                }
            }
        }
    }
}
