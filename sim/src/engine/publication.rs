//! The job publication service and the catalogue's indexing (orchestration.md §1.4, §6): units
//! published, RLIE-S1-S2 inputs counted at publication, and the GFSC and WDS triggers of the
//! products indexed.

use super::*;

impl Engine {
    pub(super) fn publication(&mut self, t: JobType) {
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

    pub(super) fn on_indexed(&mut self, j: u32) {
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
}
