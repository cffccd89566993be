//! GFSC creation (jobs.md §4.1): one NRT job per (tile, product day) among the triggers of a
//! pass, and the rules that read the catalogue's dates: the NRT creation window (the watermark
//! and its FSC look-back, edge E9) and the `startDate` of a GFSC product (what the night-time
//! daily jobs test for "input GFSC too old").

use super::*;

impl Engine {
    /// The aggregation timespan: `gapfilling_search_default_duration_in_days` (7).
    fn gfsc_gap_days(&self) -> i64 {
        self.hot.gfsc_gap_days
    }

    /// Drops the FSC triggers the creation query never returns: sensed before the window start
    /// − 7 d, the window start being the last inserted GFSC job's trigger publication − 1 s, or
    /// yesterday 00:00 UTC when no GFSC job exists yet. WDS/SWS triggers are queried from
    /// 2022-01-01 on, which every simulated one passes.
    fn drop_triggers_before_window(&mut self, trig: &mut Vec<u32>) {
        let start = match self.gfsc_watermark {
            Some(w) => w - SECOND,
            None => (self.now.div_euclid(DAY) - 1) * DAY,
        };
        let floor = start - self.gfsc_gap_days() * DAY;
        let mut dropped = false;
        for &u in trig.iter() {
            let x = &self.units[u as usize];
            if x.kind == UnitKind::TrigFsc && x.sensing < floor {
                self.leave_pending(u, Bucket::Lost, LostReason::TriggerBeforeWindow);
                dropped = true;
            }
        }
        if dropped {
            trig.retain(|&u| self.units[u as usize].bucket == Bucket::Pending);
        }
    }

    /// Publication time of the product that triggers a job of this group of triggers: the
    /// latest one (publication = indexing − the indexing delay, constant).
    fn trigger_publication(&self, group: &[u32]) -> Ms {
        let delay = (self.cfg.calibration.indexing_minutes * MINUTE as f64) as Ms;
        group
            .iter()
            .map(|&u| self.units[u as usize].avail - delay)
            .max()
            .unwrap_or(self.now)
    }

    /// An FSC, WDS or SWS of `tile` sensed at `sensing` is in the catalogue.
    pub(in crate::engine) fn note_gfsc_input(&mut self, tile: u16, sensing: Ms) {
        if let Some(c) = self
            .gfsc_input_sensing
            .get_mut(sensing.div_euclid(DAY), usize::from(tile))
        {
            *c = (*c).min(sensing);
        }
    }

    /// The catalogue `startDate` of a new NRT GFSC of (tile, product day): the earliest sensing
    /// time among the tile's FSC/WDS/SWS indexed in [day − 6, day] (jobs.md §4.2 step 3, the
    /// facts' inference), or 00:00 of the product day with `gfsc_start_date_is_product_date`.
    fn gfsc_start_date(&self, tile: u16, day: i64) -> Ms {
        if self.cfg.fidelity.gfsc_start_date_is_product_date {
            return day * DAY;
        }
        // Days before the simulated history hold nothing: the scan never goes past them.
        let first = (day - (self.gfsc_gap_days() - 1).max(0)).max(self.first_day);
        (first..=day)
            .filter_map(|d| self.gfsc_input_sensing.get(d, usize::from(tile)))
            .copied()
            .find(|&s| s != Ms::MAX)
            .unwrap_or(day * DAY)
    }

    pub(super) fn create_gfsc(&mut self) {
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
}
