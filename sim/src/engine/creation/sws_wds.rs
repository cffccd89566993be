//! SWS/WDS creation (jobs.md §1.4): SWS parts per mountain tile and datatake, WDS parts per
//! new FSC with S1 data of the same day, and the S1 assembly masters (edge E8).

use super::*;

/// A WDS part to create: (tile, track, day), S1 sensing time, GRD input, position of the track
/// in the tile's list.
type WdsPart = ((u16, u16, i64), Ms, i64, usize);

impl Engine {
    pub(super) fn create_sws_wds(&mut self) {
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
        // WDS parts: each new FSC with S1 data of the same day already available (the FSCs
        // of the Finder an emptied database makes new again too).
        let mut wds: Vec<WdsPart> = Vec::new();
        let again = std::mem::take(&mut self.fsc_again);
        let found_again = !again.is_empty();
        let mut new_fscs = std::mem::take(&mut self.fsc_for_wds);
        let fscs = new_fscs
            .iter()
            .map(|&fj| (self.jobs[fj as usize].tile, self.jobs[fj as usize].meas))
            .chain(again);
        for (tile, meas) in fscs {
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
        // Its buffer is kept for the next loop's FSCs (this runs at every creation loop).
        new_fscs.clear();
        self.fsc_for_wds = new_fscs;
        wds.sort_unstable_by_key(|w| w.0);
        wds.dedup_by_key(|w| w.0);
        for (key, sensing, g, pos) in wds {
            if let Some(done) = self.wds_done.get_mut(key.2, usize::from(key.0)) {
                *done |= 1 << pos;
            }
            // Empty but after a fresh volume: no hashing at every part.
            let again = if self.wds_again.is_empty() {
                None
            } else {
                self.wds_again.remove(&key)
            };
            let u = match again {
                Some(u) => u,
                None => {
                    let u = self.new_unit(
                        JobType::SwsWdsJob,
                        UnitKind::Wds,
                        self.now,
                        sensing,
                        key.0,
                        g,
                    );
                    self.fresh(u);
                    u
                }
            };
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
        if found_again {
            // A WDS part found again whose pairing did not come back: gone with the database.
            let mut left: Vec<u32> = self.wds_again.drain().map(|(_, u)| u).collect();
            left.sort_unstable();
            for u in left {
                if self.units[u as usize].bucket == Bucket::Pending {
                    self.leave_pending(u, Bucket::Lost, LostReason::DatabaseEmptied);
                }
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
}
