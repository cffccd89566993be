//! A fresh database volume (runbook "Trap: the automatic backup re-use"): the services start on
//! an empty `cosims`, the schema's default parameters and no job at all. Everything the
//! database held is gone; what lives outside it stays: the catalogues (the DIAS finder, the
//! HR-S&I Finder with every product published so far), the worker VMs, Nomad, and the record of
//! the operation (steps, outages, restarts, counters).
//!
//! The creation services find no last inserted job and fall back to their empty-database rules
//! (jobs.md §0.2, §1, §4.1):
//!
//! - FSC/RLIE: L1Cs published since now − `s2_search_default_duration_in_days` (7 d);
//! - RLIE-S1: GRDs published since yesterday 00:00 UTC (hard-coded, not the parameter);
//! - SWS/WDS: the S1 search since now − `s1_search_default_duration_in_days` (7 d);
//! - GFSC NRT: triggers published since yesterday 00:00 UTC; the night pass starts at
//!   yesterday (or `gfsc_daily_jobs_creation_start_date`), as after any start;
//! - RLIE-S1-S2 reads the database only: the published RLIE and RLIE-S1 it pairs are gone, so
//!   only tile-days whose products are published again get a job;
//! - SWS/WDS's FSC search has no watermark either: the FSCs the HR-S&I Finder published since
//!   now − `s1_search_default_duration_in_days`, sensed at most 30 days before that, are new
//!   to it, and each is paired again with the S1 data of its day (its S1 search reaches back to
//!   the FSC's sensing day): their WDS parts are done again.
//!
//! And the FSC/RLIE time series has no history: the first job of a tile finds no predecessor
//! at all and, with `activate_backward_reprocessing` on (the default), waits "to perform
//! backward initialisation" for ever; every later job of the tile waits on it (jobs.md §3
//! rule 2, the facts' inference: a deadlock, only on an empty database). Turning
//! `activate_backward_reprocessing` off frees them: the next configuration loop starts each tile
//! in init mode.
//!
//! Units (simulation.md "Lost"): a unit whose input the services find again is done again:
//! pending, and if it had been published, flagged `reprocessed` (counted once). A unit still
//! pending whose job is gone and whose input is older than the look-back is lost
//! (`database_emptied`). A unit already published, superseded, cancelled or lost outside the
//! look-back keeps its bucket. A WDS part paired again is the unit it was (pending again,
//! `reprocessed` if it had been published); a pending one whose FSC is outside the look-back
//! is lost (`database_emptied`); an FSC of the look-back whose day's S1 data never gave a WDS
//! part before gives a new one.

use super::*;

/// What [`Engine::empty_database`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EmptySummary {
    /// When the database was emptied.
    pub at: Ms,
    /// Jobs the database held: all gone.
    pub jobs_removed: usize,
    /// Units the services find again and will do again (their inputs inside the look-back).
    pub units_again: usize,
    /// Of them, units already published once: counted under `reprocessed` when done again.
    pub units_to_redo: usize,
    /// Units still pending whose job went with the database and whose input is older than
    /// the look-back: lost (`database_emptied`).
    pub units_lost: usize,
}

/// Where each creation service starts on an empty database (publication time, ms).
struct LookBack {
    fsc: Ms,
    rlies1: Ms,
    sws: Ms,
    gfsc: Ms,
}

impl Engine {
    /// What the last [`Action::EmptyDatabase`] did (`None`: none happened).
    pub(crate) fn emptied(&self) -> Option<&EmptySummary> {
        self.emptied.as_ref()
    }

    /// The database is replaced by an empty one with the default parameters. The services are
    /// stopped around it if they run. Returns what went and what will be done again.
    pub(super) fn empty_database(&mut self) -> EmptySummary {
        let was_up = self.up;
        if was_up {
            self.stop();
        }
        // The catalogue indexes what was published before the volume went.
        while let Some((_, j)) = self.index_q.pop_front() {
            self.on_indexed(j);
        }
        self.params = SystemParameters::default();
        self.hot = Hot::of(&self.params);
        self.types = self.params.job_types();
        let today = self.now.div_euclid(DAY);
        let days = |name: &str| self.params.int(name).unwrap_or(7).max(0) * DAY;
        let look = LookBack {
            fsc: self.now - days("s2_search_default_duration_in_days"),
            rlies1: (today - 1) * DAY,
            sws: self.now - days("s1_search_default_duration_in_days"),
            gfsc: (today - 1) * DAY,
        };
        let mut sum = EmptySummary {
            at: self.now,
            jobs_removed: self.jobs.len(),
            ..EmptySummary::default()
        };
        self.forget_jobs();
        let delay = (self.cfg.calibration.indexing_minutes * MINUTE as f64) as Ms;
        for q in &mut self.to_create {
            q.clear();
        }
        // The SWS/WDS creation's FSC search finds no watermark either (jobs.md §1.4): the FSCs
        // the HR-S&I Finder published since the S1 look-back, sensed at most 30 days before
        // it, are new to it, and each is paired again with the S1 data of its day (the S1
        // search reaches back to the FSC's day).
        let fsc_floor = look.sws - 30 * DAY;
        let mut fsc_again: Vec<(u16, Ms)> = self
            .units
            .iter()
            .filter(|u| {
                u.ty == JobType::GfscJob
                    && u.kind == UnitKind::TrigFsc
                    && u.avail - delay >= look.sws
                    && u.sensing >= fsc_floor
            })
            .map(|u| (u.tile, u.sensing))
            .collect();
        fsc_again.sort_unstable();
        fsc_again.dedup_by_key(|&mut (t, s)| (t, s.div_euclid(DAY)));
        let fsc_days: std::collections::BTreeSet<(u16, i64)> = fsc_again
            .iter()
            .map(|&(t, s)| (t, s.div_euclid(DAY)))
            .collect();
        self.wds_again.clear();
        for u in 0..self.units.len() as u32 {
            let unit = &self.units[u as usize];
            let published_at = match unit.kind {
                UnitKind::TrigFsc | UnitKind::TrigS1 => unit.avail - delay,
                _ => unit.avail,
            };
            let again = match (unit.ty, unit.kind) {
                (JobType::FscRlieJob, _) => Some(published_at >= look.fsc),
                (JobType::Rlies1Job, _) => Some(published_at >= look.rlies1),
                (JobType::SwsWdsJob, UnitKind::Sws) => Some(published_at >= look.sws),
                (JobType::GfscJob, UnitKind::TrigFsc | UnitKind::TrigS1) => {
                    Some(published_at >= look.gfsc)
                }
                // Daily tile-days: the night pass decides (below); RLIE-S1-S2 tile-days come
                // back with their products; WDS parts are not paired again (module doc).
                _ => None,
            };
            let pending = unit.bucket == Bucket::Pending;
            match again {
                Some(true) => {
                    if !pending {
                        self.reopen(u);
                        sum.units_to_redo += usize::from(self.units[u as usize].reprocessed);
                    }
                    sum.units_again += 1;
                    let ty = self.units[u as usize].ty.idx();
                    self.to_create[ty].push(u);
                }
                Some(false) if pending => {
                    self.leave_pending(u, Bucket::Lost, LostReason::DatabaseEmptied);
                    sum.units_lost += 1;
                }
                Some(false) => {}
                None => match (unit.ty, unit.kind) {
                    (JobType::GfscJob, UnitKind::Daily) => {
                        // Back in the night pass's expected set: done again from its first day
                        // on, settled as never covered before it.
                        let (tile, day) = (unit.tile, unit.aux);
                        if !pending && unit.bucket == Bucket::Published && day >= today - 1 {
                            self.reopen(u);
                            sum.units_to_redo += 1;
                            sum.units_again += 1;
                        }
                        if self.units[u as usize].bucket == Bucket::Pending {
                            self.daily_expected.insert((tile, day), u);
                            let list = self.daily_by_day.entry(day).or_default();
                            if !list.contains(&u) {
                                list.push(u);
                            }
                        }
                    }
                    (JobType::Rlies1s2Job, _) if pending => {
                        let unit = &mut self.units[u as usize];
                        unit.got_s2 = false;
                        unit.got_s1 = false;
                    }
                    (JobType::SwsWdsJob, UnitKind::Wds) => {
                        let day = unit.sensing.div_euclid(DAY);
                        let track = match self.inputs.get(unit.aux as usize).map(|i| i.product) {
                            Some(Product::Grd { track, .. }) => Some(track),
                            _ => None,
                        };
                        let key = track.map(|track| (unit.tile, track, day));
                        match key {
                            Some(key)
                                if fsc_days.contains(&(unit.tile, day))
                                    && !self.wds_again.contains_key(&key) =>
                            {
                                if !pending {
                                    self.reopen(u);
                                    sum.units_to_redo +=
                                        usize::from(self.units[u as usize].reprocessed);
                                }
                                sum.units_again += 1;
                                self.wds_again.insert(key, u);
                            }
                            _ if pending => {
                                self.leave_pending(u, Bucket::Lost, LostReason::DatabaseEmptied);
                                sum.units_lost += 1;
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                },
            }
        }
        self.fsc_again = fsc_again;
        self.refresh_enabled();
        if was_up {
            self.start();
        }
        sum
    }

    /// Backward reprocessing turned off: the configuration service, which evaluates every
    /// `configured` job each loop, finds the first job of a tile without history ready for
    /// init mode (only tiles of an empty database wait so; none in a batch run).
    pub(super) fn wake_fsc_without_history(&mut self) {
        let mut any = false;
        for t in 0..self.tiles.len() {
            let ts = &self.tiles[t];
            let Some(&j) = ts.fsc.first() else { continue };
            let job = &self.jobs[j as usize];
            if ts.no_history && job.waiting && job.status == Status::Configured {
                self.to_config[0].push(j);
                any = true;
            }
        }
        if any {
            self.tick(Svc::Configuration, JobType::FscRlieJob);
        }
    }

    /// A unit settled before (published, or lost or cancelled with its job) is pending again:
    /// the services create its job again. One published before counts under `reprocessed`.
    fn reopen(&mut self, u: u32) {
        let unit = &mut self.units[u as usize];
        unit.reprocessed |= unit.bucket == Bucket::Published;
        unit.bucket = Bucket::Pending;
        unit.reason = LostReason::None;
        unit.no_product = false;
        unit.active = false;
        unit.overdue = false;
        self.fresh(u);
    }

    /// Every job the database held, and every trace of them in the services' state, is gone:
    /// the job table starts again at its first id.
    fn forget_jobs(&mut self) {
        self.jobs.clear();
        self.history.clear();
        for u in &mut self.units {
            u.job = NONE;
            u.next = NONE;
        }
        self.input_job.fill(NONE);
        for ts in &mut self.tiles {
            ts.fsc.clear();
            ts.since_init = 0;
            ts.init_pending = false;
            ts.no_history = true;
        }
        for q in self
            .to_config
            .iter_mut()
            .chain(self.to_exec.iter_mut())
            .chain(self.to_publish.iter_mut())
        {
            q.clear();
        }
        self.reset_on_start.clear();
        self.fsc_for_wds.clear();
        for f in &mut self.fifo {
            f.clear();
        }
        self.queued_watch.clear();
        // The status trigger's serial clocks hold work lists of jobs (fidelity switch only).
        self.serial = Default::default();
        // Events of the jobs (runs, restarts, waits) go with them; the plan's steps stay.
        self.heap.retain(|e| matches!(e.ev, Ev::Control(_)));
        self.assemblies.clear();
        self.dependents.clear();
        self.gfsc_siblings.fill(Vec::new());
        self.wds_done.fill(0);
        self.has_fsc.fill(false);
        self.has_s1.fill(false);
        self.s1_unpublished.fill(0);
        for d in &mut self.s1s2_ready {
            d.clear();
        }
        self.s1s2_uncreated = 0;
        self.s1s2_reach = i64::MIN;
        self.gfsc_watermark = None;
        self.daily_last = None;
        self.daily_first = None;
    }
}
