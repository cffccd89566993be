//! A snapshot from a finished run: the engine's jobs and status changes (kept when the config
//! asks for `keep_jobs` and `keep_history`), with the product ids, paths and dates the database
//! rows carry derived from the run's inputs, which are regenerated from the seed.
//!
//! Ids and names are deterministic; their shapes follow the real products (S2 L1C, S1 GRD, FSC,
//! GFSC names) without claiming their exact checksums or orbit numbers: they are assumptions,
//! stable for one seed, unique where the schema has a unique key.

use std::sync::Arc;

use super::{
    Change, Detail, FscRlie, Gfsc, Job, Priority, RlieS1, RlieS1S2, Snapshot, SnapshotError,
    SwsWds, params_text,
};
use crate::config::Config;
use crate::engine::Outcome;
use crate::engine::grid::FastMap;
use crate::inputs::{Geometry, Input, Product};
use crate::job_type::JobType;
use crate::model::{self, GfscKind, NONE, UnitKind};
use crate::status::Status;
use crate::time::{DAY, HOUR, Instant, MINUTE, Ms, SECOND};

/// The services registered as jobs in `other_jobs`, created first, started at the warm start.
pub const SERVICES: [&str; 6] = [
    "job-creation",
    "job-configuration",
    "job-execution",
    "job-publication",
    "monitor",
    "manage-worker-pool",
];

/// How the simulator's jobs become database rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// `parent_jobs.id` of the first row (the six service jobs come first).
    pub first_id: i64,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { first_id: 1 }
    }
}

/// A plausible, unique MGRS tile id (`32TLR`) for the simulator's tile index.
pub fn tile_name(t: u16) -> String {
    let t = u32::from(t);
    let zone = 28 + t % 12;
    let band = b"STUVW"[(t / 12 % 5) as usize] as char;
    let col = (b'A' + (t / 60 % 24) as u8) as char;
    let row = (b'A' + (t * 7 % 20) as u8) as char;
    format!("{zone}{band}{col}{row}")
}

/// `YYYYMMDDTHHMMSS` of a virtual instant.
fn compact(epoch: Instant, t: Ms) -> String {
    let iso = Instant(epoch.0 + t).iso();
    let mut s: String = iso[..19]
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    s.truncate(15);
    s
}

struct Names<'a> {
    epoch: Instant,
    geo: &'a Geometry,
}

impl Names<'_> {
    fn l1c(&self, tile: u16, sensing: Ms, available: Ms) -> String {
        let sat = if sensing.div_euclid(DAY) % 2 == 0 {
            'A'
        } else {
            'B'
        };
        format!(
            "S2{sat}_MSIL1C_{}_N0511_R{:03}_T{}_{}",
            compact(self.epoch, sensing),
            u32::from(tile) % 143 + 1,
            tile_name(tile),
            compact(self.epoch, available)
        )
    }

    fn grd(&self, track: u16, sensing: Ms) -> String {
        let day = sensing.div_euclid(DAY);
        // Absolute orbit: 175 orbits per 12-day cycle, one track per orbit.
        let orbit = 50_000 + day * 175 / 12 + i64::from(track);
        format!(
            "S1A_IW_GRDH_1SDV_{}_{}_{orbit:06}_{:06X}",
            compact(self.epoch, sensing),
            compact(self.epoch, sensing + 25 * SECOND),
            (orbit * 0x2F + i64::from(track)) & 0xFF_FFFF
        )
    }

    fn fsc(&self, tile: u16, day: i64) -> String {
        let sensing = day * DAY + self.geo.tiles[usize::from(tile)].s2_time_of_day;
        format!(
            "FSC_{}_S2_T{}_V102_1",
            compact(self.epoch, sensing),
            tile_name(tile)
        )
    }

    fn ymd(&self, t: Ms) -> String {
        compact(self.epoch, t)[..8].to_owned()
    }
}

impl Snapshot {
    /// Runs a config (with its baseline, as `hrsi simulate` does) recording every status change,
    /// and returns the database's view at the horizon.
    pub fn record(cfg: &Config, opts: &BuildOptions) -> Result<Snapshot, SnapshotError> {
        let cfg = Config {
            keep_jobs: true,
            keep_history: true,
            ..cfg.clone()
        };
        let out = crate::run_with_baseline(&cfg);
        Snapshot::from_outcome(&cfg, &out, opts)
    }

    /// The database's view of a finished run of `cfg` (which must have kept jobs and history).
    pub fn from_outcome(
        cfg: &Config,
        out: &Outcome,
        opts: &BuildOptions,
    ) -> Result<Snapshot, SnapshotError> {
        super::kept::KeptSnapshot::default().build(cfg, out, opts)
    }
}

/// What the rows of every job are built from besides the job itself: the inputs regenerated
/// from the seed, the names' epoch, the config's figures. Fixed for one config.
#[derive(Clone)]
pub(super) struct Env {
    pub(super) seed: u64,
    pub(super) start: Instant,
    pub(super) horizon: Ms,
    pub(super) calibration: crate::calibration::Calibration,
    pub(super) first: i64,
    pub(super) gap: i64,
    pub(super) indexing: Ms,
    pub(super) t0: Ms,
    geo: Geometry,
    inputs: Vec<Input>,
    /// The six service jobs, built once: every snapshot of the world shares them.
    services: Vec<Arc<Job>>,
}

impl Env {
    pub(super) fn new(cfg: &Config, opts: &BuildOptions) -> Env {
        let cal = &cfg.calibration;
        // The engine's inputs, regenerated exactly as it draws them (same seed, same window).
        let t0 = -((cal.warm_start_days * DAY as f64) as Ms);
        let geo = Geometry::draw(cfg.seed, cal, cfg.start.0.div_euclid(DAY));
        let inputs = geo.products(cfg.seed, cal, t0, cfg.horizon);
        let mut env = Env {
            seed: cfg.seed,
            start: cfg.start,
            horizon: cfg.horizon,
            calibration: cal.clone(),
            first: opts.first_id,
            gap: gap_days(cfg),
            indexing: (cal.indexing_minutes * MINUTE as f64) as Ms,
            t0,
            geo,
            inputs,
            services: Vec::new(),
        };
        env.services = env.build_services();
        env
    }

    /// Whether the rows of `cfg` and `opts` are built from this.
    pub(super) fn serves(&self, cfg: &Config, opts: &BuildOptions) -> bool {
        self.seed == cfg.seed
            && self.start == cfg.start
            && self.horizon == cfg.horizon
            && self.first == opts.first_id
            && self.gap == gap_days(cfg)
            && self.calibration == cfg.calibration
    }

    fn names(&self) -> Names<'_> {
        Names {
            epoch: self.start,
            geo: &self.geo,
        }
    }

    pub(super) fn id_of(&self, j: u32) -> i64 {
        self.first + SERVICES.len() as i64 + i64::from(j)
    }

    /// The six service jobs as `other_jobs` holds them in `out`'s database: created and
    /// `started` at the warm start, or, after the database was emptied (a fresh volume), at the
    /// services' first start on it (orchestration.md §0: each service looks up or creates its
    /// row at its start and posts `started`; on a kept database the trigger refuses that second
    /// `started`, so the row keeps its first one). None while no service started on an emptied
    /// database.
    pub(super) fn services_of(&self, out: &Outcome) -> Vec<Arc<Job>> {
        match out.emptied_at {
            None => self.services.clone(),
            Some(e) => match out.restarts.iter().map(|r| r.at).find(|&a| a >= e) {
                Some(at) => self.services_started_at(at),
                None => Vec::new(),
            },
        }
    }

    fn build_services(&self) -> Vec<Arc<Job>> {
        self.services_started_at(self.t0)
    }

    fn services_started_at(&self, at: Ms) -> Vec<Arc<Job>> {
        SERVICES
            .iter()
            .enumerate()
            .map(|(k, s)| Job {
                id: self.first + k as i64,
                name: (*s).to_owned(),
                priority: None,
                nomad_id: None,
                tile_id: String::new(),
                detail: Detail::Service,
                history: vec![Change {
                    status: Status::Started,
                    at,
                    error_subtype: None,
                }],
            })
            .map(Arc::new)
            .collect()
    }

    /// The L1C of an FSC/RLIE job: its id, DIAS publication, whether cloudy.
    fn l1c(&self, job: &model::Job) -> (String, Ms, bool) {
        let names = self.names();
        match self.inputs.get(job.input as usize) {
            Some(inp) if job.input != NONE => {
                let cloudy = matches!(inp.product, Product::L1c { cloudy: true, .. });
                (
                    names.l1c(job.tile, inp.sensing, inp.available),
                    inp.available,
                    cloudy,
                )
            }
            // A backward re-run: the older L1C of that date, published long ago.
            _ => {
                let dias = job.meas + 2 * HOUR;
                (names.l1c(job.tile, job.meas, dias), dias, false)
            }
        }
    }
}

fn gap_days(cfg: &Config) -> i64 {
    cfg.params
        .int("gapfilling_search_default_duration_in_days")
        .unwrap_or(7)
}

/// A change row of the engine's history, `after` the job's previous status.
pub(super) fn change(after: Option<Status>, status: Status, at: Ms) -> Change {
    Change {
        status,
        at,
        error_subtype: error_subtype(after, status),
    }
}

/// What a job's rows read besides its own fields and history: the builder's running contexts
/// at its place (the jobs before it) and its units. Equal reads, fields and history give
/// equal rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reads {
    /// FSC/RLIE backward re-runs of the same L1C so far, this one included (0: NRT).
    backward: u32,
    /// SWS/WDS: the FSC publication of its tile-day.
    fsc_published: Option<Ms>,
    /// SWS/WDS: its first unit's GRD input.
    sws_input: u32,
    /// GFSC: an S1 trigger among its units, the latest trigger, the publication date it
    /// carries, its number among the GFSC jobs of its tile-day.
    gfsc: (bool, Option<Ms>, Option<Ms>, u32),
}

/// The builder's running state: contexts of backward re-runs, published FSCs per tile-day,
/// the GFSC watermark and GFSC jobs per tile-day. Rebuilt at every build, one lookup per job
/// of 20 000 to 60 000: keyed with the engine's integer hasher, not SipHash (the keys are
/// ours, not an attacker's).
#[derive(Default)]
pub(super) struct Contexts {
    backward: FastMap<String, u32>,
    fsc_published: FastMap<(u16, i64), Ms>,
    gfsc_watermark: Option<Ms>,
    gfsc_seen: FastMap<(u16, i64), u32>,
}

impl Contexts {
    /// What `job` reads at its place, moving the contexts past it. `published`: when its
    /// history first entered `published` (read by NRT FSC/RLIE jobs only); `l1c`: its L1C id
    /// (FSC/RLIE backward re-runs only).
    pub(super) fn reads(
        &mut self,
        env: &Env,
        out: &Outcome,
        job: &model::Job,
        published: Option<Ms>,
        l1c: Option<&str>,
    ) -> Reads {
        let day = job.meas.div_euclid(DAY);
        let mut r = Reads {
            backward: 0,
            fsc_published: None,
            sws_input: NONE,
            gfsc: (false, None, None, 0),
        };
        match job.ty {
            JobType::FscRlieJob => {
                if job.reprocessing {
                    let l1c = l1c.expect("the L1C of a backward re-run");
                    let n = match self.backward.get_mut(l1c) {
                        Some(n) => n,
                        None => self.backward.entry(l1c.to_owned()).or_insert(0),
                    };
                    *n += 1;
                    r.backward = *n;
                } else if let Some(p) = published {
                    self.fsc_published.entry((job.tile, day)).or_insert(p);
                }
            }
            JobType::SwsWdsJob => {
                // The first unit attached (the chain runs newest first).
                r.sws_input = units(out, job).last().map_or(NONE, |u| u.aux as u32);
                if job.parts.1 {
                    r.fsc_published = self.fsc_published.get(&(job.tile, day)).copied();
                }
            }
            JobType::GfscJob => {
                let s1 = units(out, job).any(|u| u.kind == UnitKind::TrigS1);
                let trigger = units(out, job)
                    .filter(|u| matches!(u.kind, UnitKind::TrigFsc | UnitKind::TrigS1))
                    .map(|u| u.avail - env.indexing)
                    .max();
                let pub_date = if job.gfsc == GfscKind::Daily {
                    self.gfsc_watermark
                } else {
                    trigger
                };
                if let Some(t) = trigger {
                    self.gfsc_watermark = Some(self.gfsc_watermark.map_or(t, |w| w.max(t)));
                }
                let n = self.gfsc_seen.entry((job.tile, day)).or_insert(0);
                *n += 1;
                r.gfsc = (s1, trigger, pub_date, *n);
            }
            JobType::Rlies1Job | JobType::Rlies1s2Job => {}
        }
        r
    }
}

/// The rows of engine job `j` from its fields, history and reads.
pub(super) fn build_job(
    env: &Env,
    j: u32,
    job: &model::Job,
    history: Vec<Change>,
    reads: &Reads,
    l1c: Option<(String, Ms, bool)>,
) -> Job {
    let names = env.names();
    let inputs = &env.inputs;
    let published = first_at(&history, Status::Published);
    let processed = first_at(&history, Status::Processed);
    let tile = tile_name(job.tile);
    let day = job.meas.div_euclid(DAY);
    let id = env.id_of(j);
    let detail = match job.ty {
        JobType::FscRlieJob => {
            let (l1c_id, dias, cloudy) = l1c.unwrap_or_else(|| env.l1c(job));
            let nrt = !job.reprocessing;
            let reprocessing_context = match reads.backward {
                _ if nrt => "None".to_owned(),
                1 => "backward".to_owned(),
                n => format!("backward_{n}"),
            };
            let has_product = processed.is_some() && !job.no_product;
            Detail::FscRlie(FscRlie {
                nrt,
                l1c_path: format!(
                    "/eodata/Sentinel-2/MSI/L1C/{}/{l1c_id}.SAFE",
                    names.ymd(job.meas)
                ),
                l1c_id,
                l1c_cloud_cover: if cloudy { 95 } else { (job.key % 70) as i32 },
                l1c_snow_cover: ((job.key >> 8) % 100) as i32,
                measurement_date: job.meas,
                l1c_esa_creation_date: job.meas + (dias - job.meas) / 3,
                l1c_dias_publication_date: Some(dias),
                maja_mode: Some(if nrt { "nominal" } else { "backward" }.to_owned()),
                l2a_status: Some(
                    match (processed, job.no_product) {
                        (None, _) => "pending",
                        (Some(_), true) => "generation_aborted",
                        (Some(_), false) => "generated",
                    }
                    .to_owned(),
                ),
                fsc_path: has_product.then(|| {
                    format!(
                        "s3://hrsi/FSC/{}/{}",
                        names.ymd(job.meas),
                        names.fsc(job.tile, day)
                    )
                }),
                fsc_completion_date: processed,
                fsc_json_publication_date: published,
                reprocessing_context,
            })
        }
        JobType::Rlies1Job => {
            let inp = grd_input(inputs, job.input);
            let (track, s) = inp.map_or((0, job.meas), |(t, i)| (t, i.sensing));
            Detail::RlieS1(RlieS1 {
                s1grd_id: names.grd(track, s),
                measurement_date_start: s,
                measurement_date_end: s + 25 * SECOND,
                s1grd_dias_publication_date: inp.map(|(_, i)| i.available),
                completion_date: processed,
                publication_date: published,
                reprocessing_context: Some("nrt".to_owned()),
            })
        }
        JobType::Rlies1s2Job => Detail::RlieS1S2(RlieS1S2 {
            process_date: day * DAY,
            tile_id_dup: tile.clone(),
            measurement_date: job.meas,
            completion_date: processed,
            publication_date: published,
        }),
        JobType::SwsWdsJob => {
            let inp = grd_input(inputs, reads.sws_input);
            let (track, slice) = match inp.map(|(_, i)| i.product) {
                Some(Product::Grd { track, slice }) => (track, slice),
                _ => (0, 0),
            };
            let s = inp.map_or(job.meas, |(_, i)| i.sensing);
            let fsc = job.parts.1.then(|| names.fsc(job.tile, day));
            Detail::SwsWds(SwsWds {
                nrt: true,
                measurement_date: job.meas,
                s1_id_list: names.grd(track, s),
                fsc_publication_latest_date: fsc.as_ref().and(reads.fsc_published),
                fsc_id_list: fsc,
                s1_dias_publication_latest_date: inp.map(|(_, i)| i.available),
                assembly_id: Some(format!(
                    "S1_{track:03}_{}_{}",
                    names.ymd(job.meas),
                    slice / 2
                )),
                assembly_master_job_id: Some(if job.master == NONE {
                    id
                } else {
                    env.id_of(job.master)
                }),
                assembly_status: Some(
                    if processed.is_some() {
                        "generated"
                    } else {
                        "pending"
                    }
                    .to_owned(),
                ),
                completion_date: processed,
                publication_date: published,
            })
        }
        JobType::GfscJob => {
            let (s1, _, pub_date, n) = reads.gfsc;
            let missions = if s1 { "S1-S2" } else { "S2" };
            let gap = env.gap;
            Detail::Gfsc(Gfsc {
                nrt: true,
                missions: Some(missions.to_owned()),
                triggering_product_id: match job.gfsc {
                    GfscKind::Daily => None,
                    GfscKind::S1 => Some(format!("WDS_{}_T{tile}", names.ymd(job.meas))),
                    GfscKind::Fsc => Some(names.fsc(job.tile, day)),
                },
                triggering_product_publication_date: pub_date,
                gfsc_id: format!(
                    "GFSC_{}-{gap:03}_{missions}_T{tile}_V101_{n}",
                    names.ymd(job.meas)
                ),
                product_date: day * DAY,
                sensing_start_date: Some(job.start_date),
                sensing_end_date: Some(day * DAY + DAY - SECOND),
                aggregation_timespan: Some(gap as i16),
                completion_date: processed,
                publication_date: published,
            })
        }
    };
    let queued = first_at(&history, Status::Queued);
    Job {
        id,
        name: format!(
            "{}_{}_{}",
            job.ty.name(),
            if tile_matters(job.ty) { &tile } else { "S1" },
            compact(env.start, job.meas)
        ),
        priority: Some(if job.reprocessing {
            Priority::Reprocessing
        } else {
            Priority::Nrt
        }),
        nomad_id: queued.map(|q| {
            format!(
                "{}/dispatch-{}-{:08x}",
                job.ty.nomad_job(),
                (env.start.0 + q) / 1000,
                id
            )
        }),
        tile_id: if tile_matters(job.ty) {
            tile
        } else {
            String::new()
        },
        detail,
        history,
    }
}

/// The L1C of an FSC/RLIE job, when it needs one built.
pub(super) fn l1c_of(env: &Env, job: &model::Job) -> Option<(String, Ms, bool)> {
    (job.ty == JobType::FscRlieJob).then(|| env.l1c(job))
}

/// The snapshot of `jobs` at the config's horizon, with the resume points they give.
pub(super) fn assemble(cfg: &Config, jobs: Vec<Arc<Job>>, resume: super::ResumePoints) -> Snapshot {
    Snapshot {
        epoch: cfg.start,
        at: cfg.horizon,
        params: Some(params_text(&cfg.params)),
        resume,
        jobs,
    }
}

fn tile_matters(t: JobType) -> bool {
    t != JobType::Rlies1Job
}

/// Error subtypes the services write with an error status (database.md §2.3), `after` the
/// job's previous status. Only job execution takes a job out of `ready` into `internal_error`:
/// a dispatch Nomad refused (5xx, 400, 404), "Nomad Command Error" (orchestration.md §1.3).
fn error_subtype(after: Option<Status>, s: Status) -> Option<String> {
    match s {
        Status::InternalError if after == Some(Status::Ready) => {
            Some("Nomad Command Error".to_owned())
        }
        Status::InternalError => Some("Processing Error".to_owned()),
        Status::ExternalError => Some("Input Download Error".to_owned()),
        _ => None,
    }
}

pub(super) fn first_at(h: &[Change], s: Status) -> Option<Ms> {
    h.iter().find(|c| c.status == s).map(|c| c.at)
}

/// The units of a job, newest first (as they were attached).
fn units<'a>(out: &'a Outcome, job: &model::Job) -> impl Iterator<Item = &'a model::Unit> {
    std::iter::successors(out.units.get(job.first_unit as usize), |u| {
        out.units.get(u.next as usize)
    })
}

fn grd_input(inputs: &[Input], i: u32) -> Option<(u16, &Input)> {
    let inp = inputs.get(i as usize)?;
    match inp.product {
        Product::Grd { track, .. } => Some((track, inp)),
        Product::L1c { .. } => None,
    }
}
