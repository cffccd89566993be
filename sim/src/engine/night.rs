//! The GFSC creation's night-time daily pass (jobs.md §4.2): between 22:00 and 02:00 UTC, a
//! daily job per tile without new input, and the settling of the tile-days it passes.

use super::*;

impl Engine {
    pub(super) fn schedule_daily(&mut self, from: Ms) {
        let at = boundary(from, self.loops[0], 0);
        if self.daily_at.is_some_and(|d| d <= at) {
            return;
        }
        self.daily_at = Some(at);
        self.timer_set(at, Timer::Daily);
    }

    pub(super) fn daily(&mut self) {
        // Without the database the pass aborts; the database's return schedules it again.
        // Part of job creation: stopped by hand, its start schedules the pass again.
        if !self.enabled(JobType::GfscJob)
            || self.faults.database_down
            || self.service_stopped(crate::config::Service::JobCreation)
        {
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
            .hot
            .daily_start_date
            .map(|t| (t - self.cfg.start.0).div_euclid(DAY));
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
        let gap = self.hot.gfsc_gap_days;
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

    pub(super) fn settle_daily(&mut self, u: u32, uncovered: bool) {
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
}
