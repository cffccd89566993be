//! The statistics of a plan (design/simulation.md, "Confidence"): means with 95 % confidence
//! intervals over seeds, medians and quantiles in which a run that never recovers counts as
//! +infinity, and the one-sided Clopper-Pearson bounds behind every "with 95 % confidence".

use serde::{Serialize, Serializer};

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

/// The mean and its 95 % interval of a quantity that cannot be negative (hours, counts): the
/// interval's lower end is not below 0. `None` for an empty sample. Values are summed in the
/// order given (callers pass them sorted by seed) so the result does not depend on thread
/// scheduling.
pub fn mean(values: &[f64]) -> Option<Mean> {
    let m = mean_signed(values)?;
    let lo = if m.min >= 0.0 { m.lo.max(0.0) } else { m.lo };
    Some(Mean { lo, ..m })
}

/// The mean and its 95 % interval as computed, never cut at 0: for paired differences, whose
/// interval must be able to straddle 0 (design/simulation.md, "Confidence").
pub fn mean_signed(values: &[f64]) -> Option<Mean> {
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
    Some(Mean {
        n,
        mean: round2(m),
        lo: round2(m - half),
        hi: round2(m + half),
        min: round2(min),
        max: round2(max),
    })
}

/// An hour figure that may be "never" (+infinity): serialised as a number, or the string
/// `"never"` (JSON has no infinity).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Hours(pub f64);

impl Hours {
    /// Whether it is "never".
    pub fn is_never(self) -> bool {
        self.0.is_infinite()
    }
}

impl std::fmt::Display for Hours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_never() {
            f.write_str("never")
        } else {
            write!(f, "{:.1}", self.0)
        }
    }
}

impl Serialize for Hours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_never() {
            s.serialize_str("never")
        } else {
            s.serialize_f64(round2(self.0))
        }
    }
}

/// The distribution of a time over runs, each run that never got there counted as +infinity:
/// the median of 10 runs of which 6 never recover is "never", not the median of the 4 others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// Runs.
    pub n: usize,
    /// Runs that never got there (+infinity).
    pub never: usize,
    /// Smallest.
    pub min: Hours,
    /// 10th percentile.
    pub p10: Hours,
    /// Median.
    pub median: Hours,
    /// 90th percentile.
    pub p90: Hours,
    /// Largest ("never" when any run never got there).
    pub max: Hours,
}

/// The quantile `q` of sorted values (nearest rank, so every figure is a run's value).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The spread of times, `None` meaning never; `None` for no run.
pub fn spread(values: &[Option<f64>]) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.iter().map(|x| x.unwrap_or(f64::INFINITY)).collect();
    v.sort_by(f64::total_cmp);
    Some(Spread {
        n: v.len(),
        never: values.iter().filter(|x| x.is_none()).count(),
        min: Hours(v[0]),
        p10: Hours(quantile(&v, 0.1)),
        median: Hours(quantile(&v, 0.5)),
        p90: Hours(quantile(&v, 0.9)),
        max: Hours(v[v.len() - 1]),
    })
}

/// P(X ≥ k) for X ~ Binomial(n, q), summed in log space over the shorter tail (exact enough
/// for the bisection below at any n a plan allows).
fn upper_tail(k: u64, n: u64, q: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return 1.0;
    }
    let (lq, lp) = (q.ln(), (1.0 - q).ln());
    // ln C(n, i), walked from i = lo upwards.
    let ln_choose = |i: u64| -> f64 {
        let i = i.min(n - i);
        (0..i)
            .map(|j| ((n - j) as f64).ln() - ((j + 1) as f64).ln())
            .sum()
    };
    let term = |i: u64, lc: f64| (lc + i as f64 * lq + (n - i) as f64 * lp).exp();
    let sum = |from: u64, to: u64| -> f64 {
        let mut lc = ln_choose(from);
        let mut s = 0.0;
        for i in from..=to {
            s += term(i, lc);
            if i < n {
                lc += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
            }
        }
        s
    };
    if n - k < k {
        sum(k, n).min(1.0)
    } else {
        (1.0 - sum(0, k - 1)).max(0.0)
    }
}

/// One-sided Clopper-Pearson lower bound of q from k successes in n runs at `confidence`: the
/// q with P(X ≥ k | q) = 1 − confidence (0 when k = 0).
pub fn cp_lower(k: u64, n: u64, confidence: f64) -> f64 {
    let alpha = 1.0 - confidence;
    if n == 0 || k == 0 {
        return 0.0;
    }
    if k == n {
        // Closed form: q^n = alpha.
        return alpha.powf(1.0 / n as f64);
    }
    bisect(|q| upper_tail(k, n, q) >= alpha)
}

/// One-sided Clopper-Pearson upper bound of q (1 when k = n).
pub fn cp_upper(k: u64, n: u64, confidence: f64) -> f64 {
    if n == 0 || k == n {
        return 1.0;
    }
    // By symmetry: the upper bound of q is 1 − the lower bound of 1 − q.
    1.0 - cp_lower(n - k, n, confidence)
}

/// The smallest q in [0, 1] with `above(q)`, for a monotone predicate.
fn bisect(above: impl Fn(f64) -> bool) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if above(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// How many more runs, all meeting the goal, would make the lower bound reach `probability`
/// with `failures` failures so far among `n` runs. `None` if more than `limit` would be needed.
pub fn runs_to_settle(
    failures: u64,
    n: u64,
    probability: f64,
    confidence: f64,
    limit: u64,
) -> Option<u64> {
    let ok = |m: u64| cp_lower(n + m - failures, n + m, confidence) >= probability;
    if ok(0) {
        return Some(0);
    }
    if !ok(limit) {
        return None;
    }
    // The bound grows with m: the smallest m by bisection.
    let (mut lo, mut hi) = (0u64, limit);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) { hi = mid } else { lo = mid }
    }
    Some(hi)
}

/// The most runs [`runs_to_settle`] looks ahead (a point needing more is "not settled by any
/// reasonable budget").
pub const SETTLE_LIMIT: u64 = 100_000;

/// What the runs of a point support about q, the probability that one run meets the goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The lower bound of q is at least the required probability: the claim is made.
    Meets,
    /// The upper bound of q is below the required probability: the goal is clearly not met.
    Fails,
    /// Neither: more runs would tell.
    Undecided,
}

/// How many runs met a goal, out of how many, and what that supports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proportion {
    /// Runs that met the goal.
    pub k: usize,
    /// Runs.
    pub n: usize,
    /// Observed share, k / n.
    pub share: f64,
    /// One-sided Clopper-Pearson lower bound of q at `confidence`.
    pub lower: f64,
    /// One-sided Clopper-Pearson upper bound of q at `confidence`.
    pub upper: f64,
    /// The required probability (`--probability`).
    pub probability: f64,
    /// The confidence of the bounds (`--confidence`).
    pub confidence: f64,
    /// Meets, fails or undecided.
    pub verdict: Verdict,
    /// `lower ≥ probability`: the claim "meets the goal with this confidence" is made.
    pub confident: bool,
    /// More runs, all meeting the goal, that would settle it (`None` when it clearly fails, or
    /// when more than [`SETTLE_LIMIT`] would be needed).
    pub more_runs: Option<u64>,
}

/// The required probability and confidence of every claim (`--probability`, `--confidence`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// p: the share of runs that must meet the goal.
    pub probability: f64,
    /// 1 − alpha.
    pub confidence: f64,
}

impl Default for Level {
    fn default() -> Level {
        Level {
            probability: 0.95,
            confidence: 0.95,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The proportion of `k` in `n` and what it supports at `level`.
pub fn proportion(k: usize, n: usize, level: Level) -> Proportion {
    let (k64, n64) = (k as u64, n as u64);
    let lower = cp_lower(k64, n64, level.confidence);
    let upper = cp_upper(k64, n64, level.confidence);
    let verdict = if n > 0 && lower >= level.probability {
        Verdict::Meets
    } else if n > 0 && upper < level.probability {
        Verdict::Fails
    } else {
        Verdict::Undecided
    };
    Proportion {
        k,
        n,
        share: if n == 0 {
            0.0
        } else {
            round3(k as f64 / n as f64)
        },
        // Rounded down: a printed bound never claims more than the exact one.
        lower: (lower * 1000.0).floor() / 1000.0,
        upper: (upper * 1000.0).ceil() / 1000.0,
        probability: level.probability,
        confidence: level.confidence,
        verdict,
        confident: verdict == Verdict::Meets,
        more_runs: match verdict {
            Verdict::Fails => None,
            _ => runs_to_settle(
                n64 - k64,
                n64,
                level.probability,
                level.confidence,
                SETTLE_LIMIT,
            ),
        },
    }
}

/// A percentage for people: 74 %, 95 %, 99.5 %.
pub fn pct(x: f64) -> String {
    let v = x * 100.0;
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0} %")
    } else {
        let s = format!("{v:.1}");
        format!("{} %", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

impl Proportion {
    /// What the runs support, in words: "at least 74 % of runs, 95 % confidence, n = 10 (10/10
    /// met)", then, unless the claim is made, how many more runs would settle it.
    pub fn supports(&self) -> String {
        let mut s = format!(
            "at least {} of runs, {} confidence, n = {} ({}/{} met)",
            pct(self.lower.max(0.0)),
            pct(self.confidence),
            self.n,
            self.k,
            self.n
        );
        match (self.verdict, self.more_runs) {
            (Verdict::Meets, _) => {}
            (Verdict::Fails, _) => {
                s += &format!(
                    "; at most {} of runs: below the required {}",
                    pct(self.upper),
                    pct(self.probability)
                )
            }
            (Verdict::Undecided, Some(m)) => {
                s += &format!(
                    "; {m} more run(s), all meeting it, would show {}",
                    pct(self.probability)
                )
            }
            (Verdict::Undecided, None) => {
                s += &format!(
                    "; more than {SETTLE_LIMIT} runs would be needed to show {}",
                    pct(self.probability)
                )
            }
        }
        s
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
    fn a_paired_difference_interval_is_not_cut_at_zero() {
        // All differences ≥ 0, but the interval of their mean reaches below 0.
        let d = [0.0, 0.0, 0.0, 3.0];
        assert_eq!(mean(&d).unwrap().lo, 0.0);
        let s = mean_signed(&d).unwrap();
        assert!(s.lo < 0.0, "{s:?}");
        assert_eq!(s.mean, 0.75);
    }

    #[test]
    fn clopper_pearson_matches_published_values() {
        // 10/10: 0.05^(1/10) = 0.7411 (design/simulation.md: "q >= 0.74"); 3/3: 0.368.
        assert!((cp_lower(10, 10, 0.95) - 0.741_134).abs() < 1e-5);
        assert!((cp_lower(3, 3, 0.95) - 0.368_403).abs() < 1e-5);
        // 59/59 is the fewest that shows 95 %; 58/58 is not enough.
        assert!(cp_lower(59, 59, 0.95) >= 0.95);
        assert!(cp_lower(58, 58, 0.95) < 0.95);
        // 19/20 at 95 % one-sided: the 5 % quantile of Beta(19, 2) = 0.7839.
        assert!((cp_lower(19, 20, 0.95) - 0.783_9).abs() < 1e-4);
        // 5/10: qbeta(0.05, 5, 6) = 0.2224; upper by symmetry 0.7776.
        assert!((cp_lower(5, 10, 0.95) - 0.222_4).abs() < 1e-4);
        assert!((cp_upper(5, 10, 0.95) - 0.777_6).abs() < 1e-4);
        assert_eq!(cp_lower(0, 10, 0.95), 0.0);
        assert_eq!(cp_upper(10, 10, 0.95), 1.0);
        // Large n: the bound stays sane (no overflow of the binomial coefficients).
        let l = cp_lower(9_900, 10_000, 0.95);
        assert!(l > 0.988 && l < 0.99, "{l}");
    }

    #[test]
    fn the_claim_is_made_only_when_the_lower_bound_reaches_the_probability() {
        let level = Level::default();
        let ten = proportion(10, 10, level);
        assert!(!ten.confident);
        assert_eq!(ten.verdict, Verdict::Undecided);
        assert_eq!(ten.more_runs, Some(49), "59 passes in a row are needed");
        assert_eq!(
            ten.supports(),
            "at least 74.1 % of runs, 95 % confidence, n = 10 (10/10 met); 49 more run(s), \
             all meeting it, would show 95 %"
        );
        assert!(proportion(59, 59, level).confident);
        assert!(
            !proportion(19, 20, level).confident,
            "19/20 supports only 78 %"
        );
        // 2 failures in 2 runs: q < 95 % is shown.
        let two = proportion(0, 2, level);
        assert_eq!(two.verdict, Verdict::Fails);
        assert_eq!(two.more_runs, None);
        // One failure needs 93 runs in all.
        assert_eq!(proportion(9, 10, level).more_runs, Some(83));
        assert!(proportion(92, 93, level).confident);
        assert!(!proportion(0, 0, level).confident);
    }

    #[test]
    fn never_counts_as_infinity_in_the_spread() {
        let s = spread(&[Some(10.0), None, Some(30.0), None, None]).unwrap();
        assert_eq!(s.never, 3);
        assert_eq!(s.min, Hours(10.0));
        assert!(s.median.is_never(), "3 of 5 never: the median is never");
        assert!(s.max.is_never());
        assert_eq!(serde_json::to_string(&s.median).unwrap(), "\"never\"");
        let t = spread(&[Some(1.0), Some(2.0), Some(3.0)]).unwrap();
        assert_eq!((t.median, t.max), (Hours(2.0), Hours(3.0)));
    }
}
