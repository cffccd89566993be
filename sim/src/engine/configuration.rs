//! The job configuration service (orchestration.md §1.2, jobs.md §0.4): a job's dependencies
//! (the FSC/RLIE time series and MAJA backward reprocessing, the SWS/WDS assembly master,
//! the GFSC siblings and FSC wait) before it is `ready`.

use super::*;

impl Engine {
    pub(super) fn configuration(&mut self, t: JobType) {
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
        let pred = match pred {
            Some(p) => p,
            // An empty database: the tile's first job finds no predecessor at all and, with
            // backward reprocessing on, waits for a backward initialisation that never comes;
            // its successors wait on it (jobs.md §3 rule 2). Off: init mode.
            None if self.tiles[tile].no_history => {
                if pos == 0 && self.hot.backward_active {
                    self.jobs[j as usize].waiting = true;
                    return;
                }
                Ms::MIN / 2
            }
            None => self.tiles[tile].init_l2a,
        };
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
}
