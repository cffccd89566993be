//! The engine's small data structures: a flat grid keyed by (UTC day, small integer), bit sets
//! of tiles, a hasher for its integer keys, and the next loop boundary of a service.

use super::*;

/// A fast, deterministic hasher for the engine's small integer keys (no DoS concern: keys are
/// ours, not user input).
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Values keyed by (UTC day, small integer), stored flat: the engine's hottest lookups
/// (tile-days, track passes) without hashing.
#[derive(Clone)]
pub(super) struct Grid<T> {
    first_day: i64,
    days: usize,
    width: usize,
    cells: Vec<T>,
}

impl<T: Clone> Grid<T> {
    pub(super) fn new(first_day: i64, days: usize, width: usize, fill: T) -> Grid<T> {
        Grid {
            first_day,
            days,
            width,
            cells: vec![fill; days * width],
        }
    }

    /// Every cell set to `v` (a database emptied).
    pub(super) fn fill(&mut self, v: T) {
        self.cells.fill(v);
    }

    fn index(&self, day: i64, k: usize) -> Option<usize> {
        let d = usize::try_from(day - self.first_day).ok()?;
        (d < self.days && k < self.width).then_some(d * self.width + k)
    }

    pub(super) fn get(&self, day: i64, k: usize) -> Option<&T> {
        self.index(day, k).map(|i| &self.cells[i])
    }

    pub(super) fn get_mut(&mut self, day: i64, k: usize) -> Option<&mut T> {
        self.index(day, k).map(|i| &mut self.cells[i])
    }
}

pub(super) fn bit(set: &[u64; WORDS], t: u16) -> bool {
    set[usize::from(t) / 64] >> (t % 64) & 1 == 1
}

pub(super) fn set_bit(set: &mut [u64; WORDS], t: u16) {
    set[usize::from(t) / 64] |= 1 << (t % 64);
}

/// Next instant ≥ `t` on a loop of period `p` and phase `phase`.
#[inline]
pub(super) fn boundary(t: Ms, p: Ms, phase: Ms) -> Ms {
    // The default 5-second loop gets a constant divisor (a multiplication, not a division):
    // this runs a few million times a simulated year.
    #[inline(always)]
    fn up(x: Ms, p: Ms) -> Ms {
        let r = x.rem_euclid(p);
        x - r + if r == 0 { 0 } else { p }
    }
    let x = t - phase;
    phase
        + match p {
            5_000 => up(x, 5_000),
            60_000 => up(x, 60_000),
            _ => up(x, p),
        }
}

#[cfg(test)]
mod tests {
    use super::boundary;

    #[test]
    fn boundary_is_the_next_loop_instant_at_or_after_t() {
        for p in [1_000, 5_000, 7_000, 60_000] {
            for phase in [0, 500, 1_250, 3_750] {
                for t in (-130_000..130_000).step_by(333) {
                    let b = boundary(t, p, phase);
                    assert!(b >= t && b - t < p, "t {t} p {p} phase {phase}: {b}");
                    assert_eq!((b - phase).rem_euclid(p), 0);
                }
            }
        }
    }
}
