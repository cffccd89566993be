//! Simulated calendar time: integer milliseconds, UTC, no floating point.

/// Milliseconds since the scenario's start (negative during the warm start).
pub type Ms = i64;

/// One second.
pub const SECOND: Ms = 1_000;
/// One minute.
pub const MINUTE: Ms = 60 * SECOND;
/// One hour.
pub const HOUR: Ms = 60 * MINUTE;
/// One day.
pub const DAY: Ms = 24 * HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// An instant in UTC, as milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` or the same with a `Z` / `+00:00` suffix
    /// (a space may replace the `T`, as PostgreSQL prints timestamps).
    pub fn parse(s: &str) -> Result<Instant, String> {
        let err = || {
            format!(
                "`{s}` is not an ISO-8601 UTC date or time (expected e.g. `2025-01-06` or `2025-01-06T00:00:00Z`)"
            )
        };
        let t = s.trim();
        let t = t
            .strip_suffix('Z')
            .or_else(|| t.strip_suffix("+00:00"))
            .or_else(|| t.strip_suffix("+00"))
            .unwrap_or(t);
        let (date, clock) = match t.find(['T', ' ']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let mut dp = date.split('-');
        let (Some(y), Some(m), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
            return Err(err());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let y: i64 = y.parse().map_err(|_| err())?;
        let m: u32 = m.parse().map_err(|_| err())?;
        let d: u32 = d.parse().map_err(|_| err())?;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return Err(err());
        }
        let mut ms = days_from_civil(y, m, d) * DAY;
        if let Some(c) = clock {
            let mut cp = c.split(':');
            let h: i64 = cp.next().ok_or_else(err)?.parse().map_err(|_| err())?;
            let mi: i64 = cp.next().ok_or_else(err)?.parse().map_err(|_| err())?;
            let sec: f64 = match cp.next() {
                Some(x) => x.parse().map_err(|_| err())?,
                None => 0.0,
            };
            if cp.next().is_some()
                || !(0..24).contains(&h)
                || !(0..60).contains(&mi)
                || !(0.0..60.0).contains(&sec)
            {
                return Err(err());
            }
            ms += h * HOUR + mi * MINUTE + (sec * 1000.0).round() as i64;
        }
        Ok(Instant(ms))
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SSZ` (milliseconds dropped when zero).
    pub fn iso(self) -> String {
        let days = self.0.div_euclid(DAY);
        let rem = self.0.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        let (h, mi, s, ms) = (
            rem / HOUR,
            rem % HOUR / MINUTE,
            rem % MINUTE / SECOND,
            rem % SECOND,
        );
        if ms == 0 {
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
        }
    }

    /// Formats the date part only.
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.0.div_euclid(DAY));
        format!("{y:04}-{m:02}-{d:02}")
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses a duration such as `90s`, `10m`, `6h`, `5d` or `1d12h` into milliseconds.
pub fn parse_duration(s: &str) -> Result<Ms, String> {
    let err =
        || format!("`{s}` is not a duration (expected e.g. `30s`, `10m`, `6h`, `5d` or `1d12h`)");
    let mut total: Ms = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => SECOND,
            'm' => MINUTE,
            'h' => HOUR,
            'd' => DAY,
            'w' => 7 * DAY,
            _ => return Err(err()),
        };
        let v: f64 = num.parse().map_err(|_| err())?;
        total += (v * unit as f64).round() as Ms;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(err());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_leap_years() {
        for z in [-1000, 0, 11_016, 20_094, 20_148, 30_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2025, 1, 6), 20_094);
    }

    #[test]
    fn parses_and_formats_iso() {
        let t = Instant::parse("2025-01-06T00:00:00Z").unwrap();
        assert_eq!(t.iso(), "2025-01-06T00:00:00Z");
        assert_eq!(Instant::parse("2025-01-06").unwrap(), t);
        assert_eq!(
            Instant::parse("2025-01-10 12:30:00").unwrap().iso(),
            "2025-01-10T12:30:00Z"
        );
        assert!(Instant::parse("2025-02-30").is_err());
        assert!(Instant::parse("06/01/2025").is_err());
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("5d").unwrap(), 5 * DAY);
        assert_eq!(parse_duration("1d12h").unwrap(), 36 * HOUR);
        assert_eq!(parse_duration("90s").unwrap(), 90 * SECOND);
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("12").is_err());
    }
}
