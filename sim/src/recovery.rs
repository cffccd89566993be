//! Recovery (simulation.md "Recovery"): when production is back after a restart, and whether a
//! type's baseline is at NRT at all (so that a catch-up of 0 h is never reported for a type that
//! is late even without an outage).

use crate::engine::RestartRecord;
use crate::job_type::{ALL_TYPES, JobType};
use crate::time::{DAY, HOUR, Ms};

/// Waits the real system imposes on a type by design (as coded), added to the NRT target when
/// judging whether its baseline is at NRT: RLIE-S1-S2 is created only from 00:00 UTC of the next
/// day (jobs.md §1.3, the end-of-day guards inactive), an FSC-triggered GFSC waits 3 h after its
/// FSC publication (jobs.md §4.1 step 4).
pub fn inherent_wait(t: JobType) -> Ms {
    match t {
        JobType::Rlies1s2Job => DAY,
        JobType::GfscJob => 3 * HOUR,
        _ => 0,
    }
}

/// The overdue level the NRT target allows a type: the units that become available, at the
/// rate of the baseline's busiest day, during the target plus the type's [`inherent_wait`]
/// (at least 1). A
/// baseline whose 99th-percentile overdue level is above it is not at NRT: more units are late at
/// once than the target can explain (e.g. a worker cap too small for the nominal load).
pub fn nrt_allowance(t: JobType, units_per_day: f64, target: Ms) -> i64 {
    let span = (target + inherent_wait(t)) as f64 / DAY as f64;
    ((units_per_day * span).ceil() as i64).max(1)
}

/// Hours, rounded to 0.01.
pub fn hours(ms: Ms) -> f64 {
    (ms as f64 / HOUR as f64 * 100.0).round() / 100.0
}

/// `recovery_hours(type)` of one restart: hours from the system restart (the `start` step) to
/// the type's catch-up instant C. `None` for a type that was in production before the outage but
/// never caught up (its wave never came, or it never got back to its nominal level).
pub fn recovery_ms(r: &RestartRecord, t: JobType) -> Option<Ms> {
    Some(r.caught_at[t.idx()]? - r.at)
}

/// The types a restart has to bring back: those in production when the system stopped (or, for a
/// restart without a stop before it, those it enabled).
pub fn recovering(r: &RestartRecord) -> impl Iterator<Item = JobType> + '_ {
    ALL_TYPES
        .into_iter()
        .filter(|t| r.expected[t.idx()] || r.enabled_at[t.idx()].is_some())
}

/// The run's recovery of one restart: the largest [`recovery_ms`] over the types it brings back;
/// `None` when some type never recovers (or none is expected). Types whose baseline is not at NRT
/// (`not_at_nrt`) have no recovery and make the whole recovery unknown.
pub fn overall_ms(r: &RestartRecord, not_at_nrt: &[bool; 5]) -> Option<Ms> {
    let mut worst: Option<Ms> = None;
    for t in recovering(r) {
        if not_at_nrt[t.idx()] {
            return None;
        }
        let h = recovery_ms(r, t)?;
        worst = Some(worst.map_or(h, |w| w.max(h)));
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MINUTE;

    #[test]
    fn allowance_counts_the_target_and_the_inherent_wait() {
        // 480 FSC a day, 3 h target: 60 may be late at once.
        assert_eq!(nrt_allowance(JobType::FscRlieJob, 480.0, 3 * HOUR), 60);
        // RLIE-S1-S2 waits for the next day by design: a day and 3 h of units.
        assert_eq!(nrt_allowance(JobType::Rlies1s2Job, 120.0, 3 * HOUR), 135);
        assert_eq!(nrt_allowance(JobType::Rlies1Job, 0.0, 3 * HOUR), 1);
    }

    #[test]
    fn overall_is_the_largest_and_unknown_when_a_type_never_recovers() {
        let mut r = RestartRecord {
            at: 10 * DAY,
            enabled_at: [Some(10 * DAY); 5],
            caught_at: [Some(10 * DAY + 5 * HOUR); 5],
            expected: [true; 5],
        };
        r.caught_at[4] = Some(10 * DAY + 30 * HOUR + 30 * MINUTE);
        assert_eq!(overall_ms(&r, &[false; 5]), Some(30 * HOUR + 30 * MINUTE));
        assert_eq!(overall_ms(&r, &[false, false, false, true, false]), None);
        // GFSC's wave never came: it is still expected back, so the recovery is unknown.
        r.enabled_at[4] = None;
        r.caught_at[4] = None;
        assert_eq!(overall_ms(&r, &[false; 5]), None);
    }
}
