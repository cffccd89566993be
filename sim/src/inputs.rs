//! The world's inputs: EEA39 tiles, Sentinel-1 tracks, and the L1C and GRD products they give,
//! each with a sensing time and the time the DIAS catalogue shows it.
//!
//! Geometry is drawn once per seed (an assumption tuned so the documented daily volumes hold):
//! each tile has S2 acquisition days in a 10-day cycle (two satellites) at a fixed time of day,
//! each S1 track passes once per 12-day cycle (one satellite) over a fixed set of tiles, in the
//! morning or the evening, and cuts its pass into GRD slices.

use crate::calibration::Calibration;
use crate::rng::{Stream, stream, uniform};
use crate::time::{DAY, HOUR, MINUTE, Ms, SECOND};

/// EEA39 Sentinel-2 tiles.
pub const N_TILES: usize = 1054;
/// Tiles without RLIE (1054 − 1000).
pub const N_NO_RLIE_TILES: usize = 54;
/// Mountain tiles (SWS).
pub const N_MOUNTAIN_TILES: usize = 165;
/// Distinct Sentinel-1 relative orbits over EEA39.
pub const N_TRACKS: usize = 71;
/// Relative orbits that cross mountain tiles.
pub const N_MOUNTAIN_TRACKS: usize = 48;
const S2_CYCLE_DAYS: i64 = 10;
const S1_CYCLE_DAYS: i64 = 12;

/// One tile's fixed properties.
#[derive(Debug, Clone)]
pub struct Tile {
    /// In the RLIE zone (1000 tiles).
    pub rlie: bool,
    /// A mountain tile (SWS).
    pub mountain: bool,
    /// S2 acquisition days in the 10-day cycle (empty for dark tiles).
    pub s2_days: Vec<u8>,
    /// S2 sensing time of day.
    pub s2_time_of_day: Ms,
}

/// One S1 relative orbit.
#[derive(Debug, Clone)]
pub struct Track {
    /// Day of the 12-day cycle it passes.
    pub cycle_day: u8,
    /// Sensing start time of day.
    pub time_of_day: Ms,
    /// Tiles covered, in along-track order; chunked into `grds` slices.
    pub tiles: Vec<u16>,
    /// GRD slices per pass.
    pub grds: u16,
}

impl Track {
    /// Tiles covered by slice `g` of a pass.
    pub fn slice_tiles(&self, g: u16) -> &[u16] {
        let n = self.tiles.len();
        let k = usize::from(self.grds);
        let g = usize::from(g);
        &self.tiles[n * g / k..n * (g + 1) / k]
    }
}

/// What an input product is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// A Sentinel-2 L1C of a tile; `cloudy`: MAJA will abort (no L2A, nothing to publish).
    L1c {
        /// Tile index.
        tile: u16,
        /// Too cloudy.
        cloudy: bool,
    },
    /// A Sentinel-1 GRD slice of a track pass.
    Grd {
        /// Track index.
        track: u16,
        /// Slice within the pass.
        slice: u16,
    },
}

/// An input product with its times.
#[derive(Debug, Clone, Copy)]
pub struct Input {
    /// What it is.
    pub product: Product,
    /// Sensing time.
    pub sensing: Ms,
    /// When the DIAS catalogue shows it.
    pub available: Ms,
}

/// The fixed world of a seed: tiles, tracks.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// The 1054 tiles.
    pub tiles: Vec<Tile>,
    /// The 71 tracks.
    pub tracks: Vec<Track>,
    /// Day (days since epoch) of the cycles' origin.
    pub epoch_day: i64,
}

fn shuffle<T>(v: &mut [T], rng: &mut rand::rngs::ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = (uniform(rng) * (i + 1) as f64) as usize;
        v.swap(i, j.min(i));
    }
}

/// Draws `k` distinct values from `0..n`.
fn pick(n: usize, k: usize, rng: &mut rand::rngs::ChaCha8Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    shuffle(&mut all, rng);
    all.truncate(k.min(n));
    all.sort_unstable();
    all
}

/// An integer with mean `mean`: floor or ceil.
fn around(mean: f64, rng: &mut rand::rngs::ChaCha8Rng) -> usize {
    let f = mean.floor();
    f as usize + usize::from(uniform(rng) < mean - f)
}

impl Geometry {
    /// Draws the geometry of a seed.
    pub fn draw(seed: u64, cal: &Calibration, epoch_day: i64) -> Geometry {
        let mut rng = stream(seed, Stream::Inputs);
        let mut order: Vec<usize> = (0..N_TILES).collect();
        shuffle(&mut order, &mut rng);
        let mut rlie = vec![true; N_TILES];
        let mut mountain = vec![false; N_TILES];
        let mut dark = vec![false; N_TILES];
        for &t in &order[..N_NO_RLIE_TILES] {
            rlie[t] = false;
        }
        shuffle(&mut order, &mut rng);
        for &t in &order[..N_MOUNTAIN_TILES] {
            mountain[t] = true;
        }
        shuffle(&mut order, &mut rng);
        let n_dark = (cal.s2_dark_tile_fraction * N_TILES as f64).round() as usize;
        // Dark (polar-night) tiles are northern lowland: never mountain tiles here.
        let mut k = 0;
        for &t in &order {
            if k == n_dark {
                break;
            }
            if !mountain[t] {
                dark[t] = true;
                k += 1;
            }
        }
        let active = N_TILES - n_dark;
        let per_cycle = cal.s2_l1c_per_day * S2_CYCLE_DAYS as f64 / active as f64;
        let tiles = (0..N_TILES)
            .map(|t| {
                let s2_days = if dark[t] {
                    Vec::new()
                } else {
                    let n = around(per_cycle, &mut rng).clamp(1, S2_CYCLE_DAYS as usize);
                    pick(S2_CYCLE_DAYS as usize, n, &mut rng)
                        .into_iter()
                        .map(|d| d as u8)
                        .collect()
                };
                // Sentinel-2 crosses Europe mid-morning, west later.
                let s2_time_of_day =
                    9 * HOUR + 40 * MINUTE + (uniform(&mut rng) * 2.0 * HOUR as f64) as Ms;
                Tile {
                    rlie: rlie[t],
                    mountain: mountain[t],
                    s2_days,
                    s2_time_of_day,
                }
            })
            .collect::<Vec<_>>();
        let mut tracks: Vec<Track> = (0..N_TRACKS)
            .map(|_| {
                let morning = uniform(&mut rng) < cal.s1_morning_pass_fraction;
                let base = if morning {
                    5 * HOUR
                } else {
                    16 * HOUR + 30 * MINUTE
                };
                Track {
                    cycle_day: (uniform(&mut rng) * S1_CYCLE_DAYS as f64) as u8,
                    time_of_day: base + (uniform(&mut rng) * 1.5 * HOUR as f64) as Ms,
                    tiles: Vec::new(),
                    grds: 1,
                }
            })
            .collect();
        for (t, tile) in tiles.iter().enumerate() {
            let (mean, pool) = if tile.mountain {
                (cal.s1_passes_per_mountain_tile_per_cycle, N_MOUNTAIN_TRACKS)
            } else {
                (cal.s1_passes_per_tile_per_cycle, N_TRACKS)
            };
            // At most 10 relative orbits cross one tile (tiles_tracks_sws_wds_process.yml).
            let k = around(mean, &mut rng).min(10);
            for tr in pick(pool, k, &mut rng) {
                tracks[tr].tiles.push(t as u16);
            }
        }
        let covered: usize = tracks.iter().map(|t| t.tiles.len()).sum();
        let grds_per_cycle = cal.s1_grd_per_day * S1_CYCLE_DAYS as f64;
        for tr in &mut tracks {
            let share = grds_per_cycle * tr.tiles.len() as f64 / covered.max(1) as f64;
            tr.grds = (around(share, &mut rng).max(1)).min(tr.tiles.len().max(1)) as u16;
        }
        Geometry {
            tiles,
            tracks,
            epoch_day,
        }
    }

    /// The input products sensed in `[from, to)` (ms since start), sorted by availability.
    pub fn products(&self, seed: u64, cal: &Calibration, from: Ms, to: Ms) -> Vec<Input> {
        let mut rng = stream(seed, Stream::Inputs);
        // Skip the geometry draws: products use their own sub-stream.
        rng.set_word_pos(1 << 40);
        let first_day = from.div_euclid(DAY);
        let last_day = (to - 1).div_euclid(DAY);
        let span = (cal.availability_max_hours - cal.availability_min_hours) * HOUR as f64;
        let min = (cal.availability_min_hours * HOUR as f64) as Ms;
        let mut out = Vec::new();
        for day in first_day..=last_day {
            let cal_day = self.epoch_day + day;
            let s2 = cal_day.rem_euclid(S2_CYCLE_DAYS) as u8;
            for (t, tile) in self.tiles.iter().enumerate() {
                if tile.s2_days.contains(&s2) {
                    let sensing = day * DAY + tile.s2_time_of_day;
                    let cloudy = uniform(&mut rng) < cal.no_product_rate;
                    let available = sensing + min + (uniform(&mut rng) * span) as Ms;
                    if (from..to).contains(&sensing) {
                        out.push(Input {
                            product: Product::L1c {
                                tile: t as u16,
                                cloudy,
                            },
                            sensing,
                            available,
                        });
                    }
                }
            }
            let s1 = cal_day.rem_euclid(S1_CYCLE_DAYS) as u8;
            for (k, tr) in self.tracks.iter().enumerate() {
                if tr.cycle_day != s1 {
                    continue;
                }
                for g in 0..tr.grds {
                    let sensing = day * DAY + tr.time_of_day + i64::from(g) * 25 * SECOND;
                    let available = sensing + min + (uniform(&mut rng) * span) as Ms;
                    if (from..to).contains(&sensing) {
                        out.push(Input {
                            product: Product::Grd {
                                track: k as u16,
                                slice: g,
                            },
                            sensing,
                            available,
                        });
                    }
                }
            }
        }
        out.sort_by_key(|i| (i.available, i.sensing));
        out
    }
}
