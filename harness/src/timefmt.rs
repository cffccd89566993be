//! Civil UTC date-time formatting without a date library (the harness only needs
//! `YYYY-MM-DD HH:MM:SS` and borg's `YYYY-MM-DDTHH:MM:SS`).

/// A UTC instant in whole seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Now, from the system clock.
    pub fn now() -> UnixTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        UnixTime(secs)
    }

    /// This instant plus `secs` seconds (negative to go back).
    pub fn plus(self, secs: i64) -> UnixTime {
        UnixTime(self.0 + secs)
    }

    /// (year, month, day, hour, minute, second) in UTC.
    pub fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (
            y,
            m,
            d,
            (secs / 3600) as u32,
            (secs % 3600 / 60) as u32,
            (secs % 60) as u32,
        )
    }

    /// `YYYY-MM-DDTHH:MM:SS`, the format of `pgdump_<timestamp>` archive names.
    pub fn iso(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
    }

    /// `YYYY-MM-DD HH:MM:SS`, for SQL timestamps.
    pub fn sql(self) -> String {
        self.iso().replace('T', " ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_correctly() {
        assert_eq!(UnixTime(0).iso(), "1970-01-01T00:00:00");
        // 2020-06-26T04:00:02Z, the archive date in the backup docs' example.
        assert_eq!(UnixTime(1_593_144_002).iso(), "2020-06-26T04:00:02");
        assert_eq!(UnixTime(951_782_400).sql(), "2000-02-29 00:00:00");
    }
}
