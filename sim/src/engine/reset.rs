//! A database reset to a backup, the engine's side: the state of the database at the backup
//! instant (rebuilt by [`crate::World::reset`]) frozen there, then given what lives outside the
//! database and survived the reset: the worker VMs (OpenStack), the record of the operation
//! (steps, outages, restarts, counters), and which units were already published once.

use super::*;

impl Engine {
    /// The database stops changing now (a backup taken at this instant is what will be
    /// restored): the services are stopped as [`Engine::stop`] does, but the statuses stay what
    /// the database holds (a run's phase rows are written at its end, which never comes).
    pub(crate) fn freeze_for_backup(&mut self) {
        let busy: Vec<(u32, Status, Ms)> = self
            .workers
            .iter()
            .filter_map(|w| match w.state {
                WState::Busy { job } => {
                    let j = &self.jobs[job as usize];
                    Some((job, j.status, j.last_change))
                }
                _ => None,
            })
            .collect();
        let (rows, written) = (self.history.len(), self.status_changes);
        self.stop();
        for (j, status, at) in busy {
            self.jobs[j as usize].status = status;
            self.jobs[j as usize].last_change = at;
        }
        self.history.truncate(rows);
        self.status_changes = written;
    }

    /// After the reset, `self` (the database's world, frozen at the backup and run down to
    /// `w`'s instant) takes from `w` (the world before the reset, stopped) what the database
    /// does not hold: the plan of steps, the worker VMs, the counters and the record of
    /// outages and restarts.
    pub(crate) fn adopt_after_reset(&mut self, w: &Engine) {
        self.cfg = Arc::clone(&w.cfg);
        self.unschedule_step();
        self.steps = w.steps.clone();
        self.step = w.step;
        self.steps_done = w.steps_done;
        self.step_origin = w.step_origin;
        self.seq += 1;
        self.step_seq = self.seq;
        self.arm_step();
        self.workers = w.workers.clone();
        self.idle = w.idle.clone();
        self.free_slots = w.free_slots.clone();
        self.n_exist = w.n_exist;
        self.n_booting = w.n_booting;
        self.n_idle = w.n_idle;
        self.n_orphan = w.n_orphan;
        self.n_workers = w.n_workers;
        self.peak_workers = w.peak_workers;
        self.worker_ms = w.worker_ms;
        self.boot_q = w.boot_q.clone();
        self.stats = w.stats.clone();
        self.events = w.events;
        self.status_changes = w.status_changes;
        self.illegal = w.illegal;
        self.timeline = w.timeline.clone();
        // The neighbours' faults are not in the database: the restore leaves them as they are.
        self.faults = w.faults;
        // Nomad's service jobs are not in the database either: one stopped by hand stays so.
        self.stopped_services = w.stopped_services;
        self.refresh_enabled();
        self.overdue_samples = w.overdue_samples.clone();
        self.published = w.published;
        self.restarts = w.restarts.clone();
        self.outages = w.outages.clone();
        self.stopped_mask = w.stopped_mask;
        self.catch = w.catch.clone();
        self.timer_cache = None;
    }

    /// Flags the units `w` had published whose job the reset removed (pending again here):
    /// done again they count under `reprocessed`, and once as published. Units are matched on
    /// what they are (type, kind, tile, sensing, input), not their index, which differs after
    /// the backup. Returns how many.
    pub(crate) fn flag_reprocessed(&mut self, w: &Engine) -> usize {
        let mut published: HashMap<RedoKey, u32> = HashMap::new();
        for u in w.units.iter().filter(|u| u.bucket == Bucket::Published) {
            *published.entry(redo_key(u)).or_default() += 1;
        }
        let mut n = 0;
        for u in self.units.iter_mut() {
            if u.bucket != Bucket::Pending {
                continue;
            }
            if let Some(c) = published.get_mut(&redo_key(u))
                && *c > 0
            {
                *c -= 1;
                u.reprocessed = true;
                n += 1;
            }
        }
        // GFSC triggers and WDS parts come from products published again, daily tile-days from
        // the night pass: created after the reset, they are flagged when they appear.
        published.retain(|_, c| *c > 0);
        self.redo = (!published.is_empty()).then_some(published);
        n
    }

    /// A unit created after a reset: flagged if the world before it had published its like.
    pub(super) fn flag_if_redone(&mut self, u: u32) {
        let Some(redo) = self.redo.as_mut() else {
            return;
        };
        let unit = &mut self.units[u as usize];
        if let Some(c) = redo.get_mut(&redo_key(unit))
            && *c > 0
        {
            *c -= 1;
            unit.reprocessed = true;
        }
    }
}

/// What a unit is, across worlds (indices differ after a backup): type, kind, tile, sensing and
/// its input (none for GFSC triggers: their trigger's publication time differs).
pub(super) type RedoKey = (usize, u8, u16, Ms, i64);

fn redo_key(u: &Unit) -> RedoKey {
    let aux = match u.kind {
        UnitKind::Input | UnitKind::Sws | UnitKind::Wds | UnitKind::Daily => u.aux,
        UnitKind::TrigFsc | UnitKind::TrigS1 => 0,
    };
    (u.ty.idx(), u.kind as u8, u.tile, u.sensing, aux)
}
