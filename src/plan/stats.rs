//! The statistics of a plan: means with 95 % confidence intervals over seeds, and the Wilson
//! lower bound of a proportion (the "with 95 % confidence" of design/simulation.md).

use serde::Serialize;

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The mean of a sample with its 95 % confidence interval (Student's t on n − 1 degrees of
/// freedom: seeds are few, so the normal interval would be too narrow).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mean {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Lower end of the 95 % interval (the mean itself when n = 1).
    pub lo: f64,
    /// Upper end of the 95 % interval.
    pub hi: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Two-sided 95 % quantile of Student's t with `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    // Exact table for small samples (where it matters), then the normal value.
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => Z95,
    }
}

/// Rounds for output: statistics are printed and compared as text, so round once, here.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The mean and its 95 % interval, `None` for an empty sample. Values are summed in the order
/// given (callers pass them sorted by seed) so the result does not depend on thread scheduling.
pub fn mean(values: &[f64]) -> Option<Mean> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let m = values.iter().sum::<f64>() / n as f64;
    let half = if n > 1 {
        let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        t95(n - 1) * (var / n as f64).sqrt()
    } else {
        0.0
    };
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    // Counts and hours are never negative: neither is the interval's lower end.
    let lo = if min >= 0.0 {
        (m - half).max(0.0)
    } else {
        m - half
    };
    Some(Mean {
        n,
        mean: round2(m),
        lo: round2(lo),
        hi: round2(m + half),
        min: round2(min),
        max: round2(max),
    })
}

/// How many runs met a goal, out of how many, and the Wilson lower bound of the proportion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proportion {
    /// Runs that met the goal.
    pub k: usize,
    /// Runs.
    pub n: usize,
    /// Observed share, k / n.
    pub share: f64,
    /// Wilson score lower bound (95 %).
    pub wilson_lower: f64,
    /// At least 95 % of the seeds met the goal: design/simulation.md's "with 95 % confidence".
    pub confident: bool,
}

/// The Wilson score interval's lower bound of k successes in n trials, 95 %.
pub fn wilson_lower(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = p + z2 / (2.0 * n);
    let spread = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

/// The proportion of `k` in `n`, with its Wilson bound and the 95 % verdict.
pub fn proportion(k: usize, n: usize) -> Proportion {
    Proportion {
        k,
        n,
        share: if n == 0 {
            0.0
        } else {
            (k as f64 / n as f64 * 1000.0).round() / 1000.0
        },
        wilson_lower: (wilson_lower(k, n) * 1000.0).round() / 1000.0,
        // Integer arithmetic: 19/20 is exactly 95 %, never a float rounding away from it.
        confident: n > 0 && 100 * k >= 95 * n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_interval_matches_a_hand_computed_t_interval() {
        // 1..=5: mean 3, s = sqrt(2.5), se = sqrt(0.5), t(4) = 2.776 → ± 1.963.
        let m = mean(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((m.n, m.mean, m.lo, m.hi), (5, 3.0, 1.04, 4.96));
        assert_eq!((m.min, m.max), (1.0, 5.0));
        let one = mean(&[7.5]).unwrap();
        assert_eq!((one.lo, one.hi), (7.5, 7.5));
        assert!(mean(&[]).is_none());
    }

    #[test]
    fn wilson_bound_matches_published_values() {
        // Wilson 95 % for 10/10: 0.7225; for 19/20: 0.7639; for 0/n: 0.
        assert!((wilson_lower(10, 10) - 0.7225).abs() < 1e-4);
        assert!((wilson_lower(19, 20) - 0.7639).abs() < 1e-4);
        assert_eq!(wilson_lower(0, 10), 0.0);
    }

    #[test]
    fn ninety_five_percent_of_seeds_is_the_threshold() {
        assert!(proportion(19, 20).confident);
        assert!(!proportion(18, 20).confident);
        assert!(!proportion(9, 10).confident);
        assert!(proportion(10, 10).confident);
        assert!(!proportion(0, 0).confident);
    }
}
