//! The jobs table and the units it serves: a job's status history (every change checked
//! against the database trigger's table), the units a job carries, and how a unit leaves
//! `pending` (published, superseded, cancelled or lost).

use super::*;

impl Engine {
    pub(super) fn new_unit(
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
        if self.redo.is_some() {
            self.flag_if_redone(id);
        }
        id
    }

    pub(super) fn set_status(&mut self, j: u32, to: Status) {
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

    pub(super) fn new_job(&mut self, ty: JobType, tile: u16, meas: Ms, key: u64) -> u32 {
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

    pub(super) fn attach(&mut self, j: u32, u: u32) {
        self.units[u as usize].job = j;
        self.units[u as usize].next = self.jobs[j as usize].first_unit;
        self.jobs[j as usize].first_unit = u;
    }

    pub(super) fn leave_pending(&mut self, u: u32, bucket: Bucket, reason: LostReason) {
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

    pub(super) fn units_of(&self, j: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut u = self.jobs[j as usize].first_unit;
        while u != NONE {
            out.push(u);
            u = self.units[u as usize].next;
        }
        out
    }

    pub(super) fn finish_units(&mut self, j: u32, bucket: Bucket, reason: LostReason) {
        let mut u = self.jobs[j as usize].first_unit;
        while u != NONE {
            self.leave_pending(u, bucket, reason);
            u = self.units[u as usize].next;
        }
    }

    pub(super) fn fresh(&mut self, u: u32) {
        if self.units[u as usize].avail >= 0 {
            self.fresh_units.push((self.units[u as usize].avail, u));
        }
    }
}
