//! The job creation service (orchestration.md §1.1, jobs.md §1): its loop per type, the
//! FSC/RLIE and RLIE-S1 jobs created straight from the L1C and GRD inputs, and the units
//! known from the inputs alone (RLIE-S1-S2 tile-days, the baseline's GFSC daily tile-days).

mod gfsc;
mod rlies1s2;
mod sws_wds;

use super::*;

impl Engine {
    /// Units known from the inputs alone: RLIE-S1-S2 tile-days and the baseline's daily tile-days.
    pub(super) fn precreate_units(&mut self, baseline: Option<&Baseline>) {
        let mut l1c_of: FastMap<(u16, i64), u32> = FastMap::default();
        for (i, inp) in self.inputs.iter().enumerate() {
            if let Product::L1c {
                tile,
                cloudy: false,
            } = inp.product
                && self.geo.tiles[usize::from(tile)].rlie
            {
                l1c_of.insert((tile, inp.sensing.div_euclid(DAY)), i as u32);
            }
        }
        let mut keys: Vec<(u16, i64, u32)> = l1c_of.iter().map(|(&(t, d), &i)| (t, d, i)).collect();
        keys.sort_unstable();
        for (tile, day, i) in keys {
            let mut s1: Option<u32> = None;
            for &(track, slice) in &self.tile_tracks[usize::from(tile)] {
                if let Some(g) = self.grd(track, day, slice)
                    && s1.is_none_or(|s| {
                        self.inputs[g as usize].available < self.inputs[s as usize].available
                    })
                {
                    s1 = Some(g);
                }
            }
            let Some(g) = s1 else { continue };
            let (a, b) = (self.inputs[i as usize], self.inputs[g as usize]);
            let u = self.new_unit(
                JobType::Rlies1s2Job,
                UnitKind::Input,
                a.available.max(b.available),
                a.sensing,
                tile,
                i64::from(i),
            );
            self.units[u as usize].aux2 = g;
            if let Some(c) = self.s1s2_unit.get_mut(day, usize::from(tile)) {
                *c = u;
            }
            // Not activated here: the tile-day becomes available when the later of its RLIE and
            // RLIE-S1 products is published (`s1s2_inputs_published`). The raw inputs' time is
            // kept until then, so a tile-day whose inputs never publish is still counted in the
            // window of its satellite data.
        }
        if let Some(b) = baseline {
            for &(tile, day) in &b.daily {
                let avail = (day + 1) * DAY;
                let u = self.new_unit(
                    JobType::GfscJob,
                    UnitKind::Daily,
                    avail,
                    day * DAY,
                    tile,
                    day,
                );
                self.daily_expected.insert((tile, day), u);
                self.daily_by_day.entry(day).or_default().push(u);
                self.activation.push((avail, u));
            }
        }
        self.activation.sort_unstable();
    }

    pub(super) fn on_input(&mut self, i: usize) {
        let inp = self.inputs[i];
        match inp.product {
            Product::L1c { tile, .. } => {
                self.input_unit(JobType::FscRlieJob, UnitKind::Input, i, tile);
            }
            Product::Grd { track, slice } => {
                self.input_unit(JobType::Rlies1Job, UnitKind::Input, i, 0);
                let tr = usize::from(track);
                for k in 0..self.geo.tracks[tr].slice_tiles(slice).len() {
                    let t = self.geo.tracks[tr].slice_tiles(slice)[k];
                    if self.geo.tiles[usize::from(t)].mountain {
                        self.input_unit(JobType::SwsWdsJob, UnitKind::Sws, i, t);
                    }
                }
            }
        }
    }

    /// A unit that arrives with input product `i`, queued for its type's creation loop.
    fn input_unit(&mut self, ty: JobType, kind: UnitKind, i: usize, tile: u16) {
        let inp = self.inputs[i];
        let u = self.new_unit(ty, kind, inp.available, inp.sensing, tile, i as i64);
        self.fresh(u);
        self.to_create[ty.idx()].push(u);
        self.tick(Svc::Creation, ty);
    }

    pub(super) fn creation(&mut self, t: JobType) {
        match t {
            JobType::FscRlieJob => {
                let batch = take_batch!(self, self.to_create[0]);
                for &u in &batch {
                    let (tile, sensing, i) = {
                        let x = &self.units[u as usize];
                        (x.tile, x.sensing, x.aux as usize)
                    };
                    let j = self.new_job(t, tile, sensing, i as u64);
                    if let Product::L1c { cloudy, .. } = self.inputs[i].product {
                        self.jobs[j as usize].no_product = cloudy;
                    }
                    self.input_job[i] = j;
                    let ts = &mut self.tiles[usize::from(tile)];
                    self.jobs[j as usize].pos = ts.fsc.len() as u32;
                    self.jobs[j as usize].input = i as u32;
                    ts.fsc.push(j);
                    self.attach(j, u);
                    let d = self.day_idx(sensing.div_euclid(DAY));
                    self.has_fsc[d] = true;
                }
                self.give_back(batch);
            }
            JobType::Rlies1Job => {
                let batch = take_batch!(self, self.to_create[1]);
                for &u in &batch {
                    let (sensing, i) = (
                        self.units[u as usize].sensing,
                        self.units[u as usize].aux as usize,
                    );
                    let j = self.new_job(t, 0, sensing, i as u64);
                    if let Product::Grd { track, slice } = self.inputs[i].product {
                        let tr = &self.geo.tracks[usize::from(track)];
                        let any_rlie = tr
                            .slice_tiles(slice)
                            .iter()
                            .any(|&x| self.geo.tiles[usize::from(x)].rlie);
                        self.jobs[j as usize].no_product = !any_rlie;
                    }
                    self.input_job[i] = j;
                    self.jobs[j as usize].input = i as u32;
                    self.attach(j, u);
                    let d = self.day_idx(sensing.div_euclid(DAY));
                    self.has_s1[d] = true;
                    self.s1_unpublished[d] += 1;
                }
                self.give_back(batch);
            }
            JobType::Rlies1s2Job => self.create_rlies1s2(),
            JobType::SwsWdsJob => self.create_sws_wds(),
            JobType::GfscJob => self.create_gfsc(),
        }
    }

    /// The GRD input of a track's slice on a day.
    pub(super) fn grd(&self, track: u16, day: i64, slice: u16) -> Option<u32> {
        let k = usize::from(track) * self.max_grds + usize::from(slice);
        self.grd_index.get(day, k).copied().filter(|&g| g != NONE)
    }
}
