//! How long a dispatched processing allocation runs and how it ends, from the simulator's
//! calibration: the run-worker task of a `<type>-processing/dispatch-…` child lasts that type's
//! processing time (log-normal around the calibrated median) and ends `complete`, `failed`
//! (the calibrated internal + external error rates) or `lost`. So the monitor's
//! Complete/Failed/Lost paths (orchestration.md §7) can be reached from outside, by waiting.
//!
//! Every draw is a hash of the allocation ID and the seed: the same run gives the same
//! durations and outcomes.

use std::collections::BTreeMap;

use hrsi_sim::{calibration::Calibration, job_type::ALL_TYPES};

/// How an allocation's processing ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Exit code 0.
    Complete,
    /// Non-zero exit code (Nomad reschedules a batch allocation once).
    Failed,
    /// The client stopped reporting the allocation.
    Lost,
}

/// Durations and outcomes per parameterized parent (`si-processing`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct RunModel {
    /// Median processing seconds per parent job ID.
    pub median_secs: BTreeMap<String, f64>,
    /// σ of the log of the duration.
    pub sigma: f64,
    /// Probability that a run fails.
    pub failed_rate: f64,
    /// Probability that a run is lost. The calibration has no such figure: 0 unless set.
    pub lost_rate: f64,
    /// Seed of the draws.
    pub seed: u64,
}

impl RunModel {
    /// The simulator's calibration: its medians, spread and error rates (internal + external:
    /// both end the worker with a non-zero exit).
    pub fn from_calibration(c: &Calibration, seed: u64) -> Self {
        let median_secs = ALL_TYPES
            .iter()
            .map(|t| (t.nomad_job().to_owned(), c.minutes(*t) * 60.0))
            .collect();
        Self {
            median_secs,
            sigma: c.duration_sigma,
            failed_rate: c.internal_error_rate + c.external_error_rate,
            lost_rate: 0.0,
            seed,
        }
    }

    /// The duration (ns) and end of an allocation of a child of `parent`, or `None` when the
    /// parent is not a processing job (services run until stopped).
    pub fn draw(&self, parent: &str, alloc_id: &str) -> Option<(u64, RunEnd)> {
        let median = *self.median_secs.get(parent)?;
        let u1 = unit(hash(self.seed, alloc_id, 1));
        let u2 = unit(hash(self.seed, alloc_id, 2));
        let u3 = unit(hash(self.seed, alloc_id, 3));
        // Box-Muller: a standard normal from two uniforms in (0, 1].
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let secs = (median * (self.sigma * z).exp()).clamp(1.0, 7.0 * 86_400.0);
        let end = if u3 <= self.lost_rate {
            RunEnd::Lost
        } else if u3 <= self.lost_rate + self.failed_rate {
            RunEnd::Failed
        } else {
            RunEnd::Complete
        };
        Some(((secs * 1e9) as u64, end))
    }
}

/// A uniform in (0, 1] from 53 bits.
fn unit(h: u64) -> f64 {
    ((h >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

/// FNV-1a of the ID, then SplitMix64 with the seed and the stream.
fn hash(seed: u64, id: &str, stream: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_centre_on_the_calibrated_median_and_outcomes_follow_the_rates() {
        let c = Calibration::default();
        let m = RunModel::from_calibration(&c, 7);
        assert!(m.draw("job-execution", "a").is_none());
        let mut secs: Vec<f64> = Vec::new();
        let mut failed = 0;
        for i in 0..4000 {
            let (ns, end) = m.draw("si-processing", &format!("alloc-{i}")).unwrap();
            secs.push(ns as f64 / 1e9);
            failed += usize::from(end == RunEnd::Failed);
            assert_ne!(end, RunEnd::Lost);
        }
        secs.sort_by(f64::total_cmp);
        let median = secs[secs.len() / 2];
        // FSC/RLIE: 40 min median.
        assert!((median - 2400.0).abs() < 150.0, "median {median}");
        // 3 % of 4000 = 120.
        assert!((80..=160).contains(&failed), "failed {failed}");
        assert_eq!(m.draw("si-processing", "x"), m.draw("si-processing", "x"));
        let lost = RunModel {
            lost_rate: 1.0,
            ..m.clone()
        };
        assert_eq!(lost.draw("gfsc-processing", "y").unwrap().1, RunEnd::Lost);
    }
}
