//! RLIE-S1-S2 creation (jobs.md §1.3): the backward search window over the days whose RLIE
//! and RLIE-S1 products are both published, and the tile-days it can no longer reach.

use super::*;

impl Engine {
    pub(super) fn create_rlies1s2(&mut self) {
        let today = self.now.div_euclid(DAY);
        let mut start = today - 1;
        if self.cfg.fidelity.rlies1s2_end_of_day_guards {
            let h = self.hot.s1s2_min_delay_hours;
            if self.now < (start + 1) * DAY + h * HOUR {
                start -= 1;
            }
        }
        let abs = self.hot.s1s2_window_absolute;
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
        let (min_w, max_w) = (self.hot.s1s2_min_window, self.hot.s1s2_max_window);
        let wait_h = self.hot.s1s2_wait_hours;
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
                // Keyed by the tile-day, not the unit's index: units are numbered tile by tile
                // over the whole horizon, so the index (and with it the run's draws) would
                // change with the number of days simulated after the job.
                let key = (u64::from(tile) << 40) ^ ((day as u64) << 8) ^ 0x51;
                let j = self.new_job(JobType::Rlies1s2Job, tile, sensing, key);
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

    /// An RLIE or RLIE-S1 product of tile-day unit `u` was published (`was`: that side was
    /// already published before). When the second side arrives, the tile-day becomes available
    /// (simulation.md, latency of types triggered by HR-S&I products).
    pub(in crate::engine) fn s1s2_inputs_published(&mut self, u: u32, was: bool) {
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
}
