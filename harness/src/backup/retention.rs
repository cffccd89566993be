//! The production retention policy and a model of what borg keeps under it.
//!
//! `20.pgdump.sh` prunes with `--keep-within 7d --keep-weekly 4 --keep-monthly 12` (the docs
//! say 5 weeklies: trap 12). [`expected_kept`] follows borg 1.2's rules: everything newer
//! than 7 days; then, newest first, the latest archive of each ISO week not already kept
//! (a week whose latest archive is already kept still counts as seen), up to 4; then the
//! same per month, up to 12; if a rule runs out of periods, it keeps the oldest archive.

use std::collections::BTreeSet;

use crate::timefmt::UnixTime;

/// The arguments of production's `borg prune` (without the archive filter).
pub const RETENTION_ARGS: [&str; 6] = [
    "--keep-within",
    "7d",
    "--keep-weekly",
    "4",
    "--keep-monthly",
    "12",
];

/// The archives (name, creation time) that production's policy keeps at `now`.
pub fn expected_kept(archives: &[(String, UnixTime)], now: UnixTime) -> BTreeSet<String> {
    let mut sorted: Vec<&(String, UnixTime)> = archives.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.1));
    let mut kept: BTreeSet<String> = sorted
        .iter()
        .filter(|(_, t)| t.0 > now.0 - 7 * 86_400)
        .map(|(n, _)| n.clone())
        .collect();
    split(&sorted, &mut kept, 4, iso_week);
    split(&sorted, &mut kept, 12, month);
    kept
}

fn split(
    sorted: &[&(String, UnixTime)],
    kept: &mut BTreeSet<String>,
    n: usize,
    period: fn(UnixTime) -> (i64, u32),
) {
    let mut last = None;
    let mut count = 0;
    for (name, t) in sorted {
        let p = period(*t);
        if last != Some(p) {
            last = Some(p);
            if kept.insert(name.clone()) {
                count += 1;
                if count == n {
                    return;
                }
            }
        }
    }
    if let Some((oldest, _)) = sorted.last()
        && count < n
    {
        kept.insert(oldest.clone());
    }
}

fn month(t: UnixTime) -> (i64, u32) {
    let (y, m, ..) = t.civil();
    (y, m)
}

/// ISO 8601 week-numbering year and week (`%G-%V`).
fn iso_week(t: UnixTime) -> (i64, u32) {
    let days = t.0.div_euclid(86_400);
    let weekday = (days + 3).rem_euclid(7); // 0 = Monday (1970-01-01 was a Thursday)
    let thursday = days - weekday + 3;
    let (year, ..) = UnixTime(thursday * 86_400).civil();
    let jan1 = days_from_civil(year, 1, 1);
    (year, ((thursday - jan1) / 7 + 1) as u32)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_match_known_dates() {
        // 2021-01-03 (Sunday) belongs to 2020-W53; 2021-01-04 starts 2021-W01.
        assert_eq!(iso_week(UnixTime(1_609_632_000)), (2020, 53));
        assert_eq!(iso_week(UnixTime(1_609_718_400)), (2021, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn daily_backups_for_two_years_keep_about_23_archives() {
        let now = UnixTime(1_793_491_200);
        let archives: Vec<(String, UnixTime)> = (0..730)
            .map(|d| {
                let t = now.plus(-d * 86_400 - 3600);
                (format!("pgdump_{}", t.iso()), t)
            })
            .collect();
        let kept = expected_kept(&archives, now);
        // 7 within the week, 4 weeklies, then monthlies for the 12 newest months not yet
        // covered: at most 7 + 4 + 12.
        assert!(kept.len() <= 23 && kept.len() >= 20, "{}", kept.len());
        assert!(kept.iter().all(|n| {
            archives
                .iter()
                .any(|(a, t)| a == n && t.0 > now.0 - 400 * 86_400)
        }));
    }
}
