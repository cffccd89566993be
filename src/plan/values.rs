//! The syntax of swept values and seeds: `--sweep AXIS=VALUES` with VALUES a list `1,3,5` or an
//! inclusive range `FROM..TO:STEP`, and `--seeds`. Every range is bounded and checked before a
//! value is made: a step of 0, a non-finite bound, an overflowing span or too many values are
//! refused with the range quoted, never run as an empty plan.

use super::sweep::{Axis, AxisKind};

/// The scenario settings an axis can sweep.
pub const SCENARIO_AXES: &str = "outage_days, outage_start_day, restart, days, gfsc_start_date";
/// Most values one axis may hold.
pub const MAX_VALUES: u64 = 10_000;

fn axis_hint() -> String {
    format!(
        "(hint: an axis is `param.NAME` (a system parameter), `calib.NAME` (a calibration value) \
         or `scenario.X` with X one of {SCENARIO_AXES}; e.g. \
         `--sweep param.max_number_of_worker_instances=20..210:10`)"
    )
}

/// Splits `a,b,c` at commas outside brackets (a `job_types_list` value is a JSON list).
fn split_list(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in s.chars() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_owned());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_owned());
    out
}

fn too_many(key: &str, text: &str, n: impl std::fmt::Display) -> String {
    format!(
        "`{text}` gives {n} values for `{key}` (at most {MAX_VALUES}; hint: a coarser step, e.g. \
         `20..210:10`)"
    )
}

/// An integer range: spans computed in i128, so no bound or step can overflow.
fn int_range(key: &str, text: &str, a: i64, b: i64, st: i64) -> Result<Vec<String>, String> {
    if st <= 0 {
        return Err(format!(
            "`{text}` has step {st} for `{key}` (hint: the step is a positive number, e.g. \
             `20..210:10`)"
        ));
    }
    if a > b {
        return Err(format!(
            "`{text}` goes down for `{key}` (hint: FROM ≤ TO, e.g. `20..210:10`)"
        ));
    }
    let n = (i128::from(b) - i128::from(a)) / i128::from(st) + 1;
    if n > i128::from(MAX_VALUES) {
        return Err(too_many(key, text, n));
    }
    Ok((0..n)
        .map(|i| (i128::from(a) + i * i128::from(st)).to_string())
        .collect())
}

fn float_range(key: &str, text: &str, a: f64, b: f64, st: f64) -> Result<Vec<String>, String> {
    if st.is_nan() || st <= 0.0 {
        return Err(format!(
            "`{text}` has step {st} for `{key}` (hint: the step is a positive number, e.g. \
             `0.5..3:0.5`)"
        ));
    }
    if a > b {
        return Err(format!(
            "`{text}` goes down for `{key}` (hint: FROM ≤ TO, e.g. `0.5..3:0.5`)"
        ));
    }
    // Compared as floats before any cast: a tiny step gives a huge (or infinite) count.
    let span = ((b - a) / st + 1e-9).floor();
    if !span.is_finite() || span + 1.0 > MAX_VALUES as f64 {
        return Err(too_many(key, text, format!("{:.3e}", span + 1.0)));
    }
    let n = span as u64 + 1;
    // Computed as a + i·step and rounded to 6 decimals, so 0.1 steps print as 0.3, not
    // 0.30000000000000004.
    let mut out: Vec<String> = Vec::with_capacity(n as usize);
    for i in 0..n {
        let v = ((a + i as f64 * st) * 1e6).round() / 1e6;
        let s = v.to_string();
        // A step below the printed precision would repeat a value.
        if out.last() == Some(&s) {
            return Err(format!(
                "`{text}` has a step too small for `{key}`: values repeat at 6 decimals"
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// Expands `FROM..TO[:STEP]` (inclusive) or a comma list into value labels.
pub fn parse_values(key: &str, text: &str) -> Result<Vec<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!(
            "`--sweep {key}=` has no values (hint: a list `1,3,5` or a range `20..210:10`)"
        ));
    }
    if let Some((from, rest)) = text.split_once("..")
        && !text.starts_with('[')
    {
        let (to, step) = rest.split_once(':').unwrap_or((rest, "1"));
        let int = |s: &str| s.trim().parse::<i64>().ok();
        if let (Some(a), Some(b), Some(st)) = (int(from), int(to), int(step)) {
            return int_range(key, text, a, b, st);
        }
        let num = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        let (Some(a), Some(b), Some(st)) = (num(from), num(to), num(step)) else {
            return Err(format!(
                "`{text}` is not a range for `{key}` (hint: `FROM..TO:STEP` with finite numbers, \
                 TO included, e.g. `20..210:10`)"
            ));
        };
        return float_range(key, text, a, b, st);
    }
    let values = split_list(text);
    if values.iter().any(String::is_empty) {
        return Err(format!(
            "`{text}` has an empty value for `{key}` (hint: separate values with single commas)"
        ));
    }
    if values.len() as u64 > MAX_VALUES {
        return Err(too_many(key, text, values.len()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in &values {
        if !seen.insert(v) {
            return Err(format!("`{key}` lists `{v}` twice"));
        }
    }
    Ok(values)
}

/// Parses one `--sweep AXIS=VALUES` (names and values are checked later, against the base).
pub fn parse_axis(spec: &str) -> Result<Axis, String> {
    let Some((key, values)) = spec.split_once('=') else {
        return Err(format!(
            "`--sweep {spec}` is not `AXIS=VALUES` {}",
            axis_hint()
        ));
    };
    let key = key.trim();
    let (prefix, name) = key
        .split_once('.')
        .ok_or_else(|| format!("`{key}` has no prefix {}", axis_hint()))?;
    let kind = match prefix {
        "param" => {
            hrsi_sim::params::column(name).map_err(|e| format!("--sweep: {e}"))?;
            AxisKind::Param(name.to_owned())
        }
        "calib" => AxisKind::Calib(name.to_owned()),
        "scenario" => match name {
            "outage_days" => AxisKind::OutageDays,
            "outage_start_day" => AxisKind::OutageStartDay,
            "restart" => AxisKind::Restart,
            "days" => AxisKind::Days,
            "gfsc_start_date" => AxisKind::GfscStartDate,
            _ => {
                let hint = hrsi_sim::params::closest(name, SCENARIO_AXES.split(", "))
                    .map(|h| format!("did you mean `scenario.{h}`?"))
                    .unwrap_or_else(|| format!("scenario axes: {SCENARIO_AXES}"));
                return Err(format!("unknown scenario axis `{key}` (hint: {hint})"));
            }
        },
        _ => {
            return Err(format!(
                "unknown axis prefix `{prefix}` in `{key}` {}",
                axis_hint()
            ));
        }
    };
    Ok(Axis {
        key: key.to_owned(),
        kind,
        values: parse_values(key, values)?,
    })
}

/// Parses `--seeds`: a list (`1,2,7`) or a range (`1..20`), whole numbers 0 … 2^64 − 1, at
/// most `limit` of them (checked before they are made).
pub fn parse_seeds(text: &str, limit: u64) -> Result<Vec<u64>, String> {
    let bad = || {
        format!(
            "`--seeds {text}` is not a list of seeds (hint: `1,2,7` or `1..20`, whole numbers \
             from 0 to 18446744073709551615)"
        )
    };
    let seed = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let text = text.trim();
    let seeds: Vec<u64> = if let Some((from, to)) = text.split_once("..") {
        let (a, b) = (seed(from)?, seed(to)?);
        if a > b {
            return Err(format!(
                "`--seeds {text}` goes down (hint: FROM ≤ TO, e.g. `1..20`)"
            ));
        }
        if b - a >= limit {
            return Err(format!(
                "`--seeds {text}` gives {} seeds, more than the {limit} runs allowed",
                u128::from(b - a) + 1
            ));
        }
        (a..=b).collect()
    } else {
        let list = split_list(text);
        if list.len() as u64 > limit {
            return Err(format!(
                "`--seeds` lists {} seeds, more than the {limit} runs allowed",
                list.len()
            ));
        }
        let v = list
            .iter()
            .map(|s| seed(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::BTreeSet::new();
        if let Some(d) = v.iter().find(|s| !seen.insert(**s)) {
            return Err(format!("`--seeds` lists {d} twice"));
        }
        v
    };
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_their_end_and_lists_keep_json_values_whole() {
        assert_eq!(
            parse_values("k", "20..50:10").unwrap(),
            ["20", "30", "40", "50"]
        );
        assert_eq!(parse_values("k", "1..3").unwrap(), ["1", "2", "3"]);
        assert_eq!(
            parse_values("k", "0.1..0.3:0.1").unwrap(),
            ["0.1", "0.2", "0.3"]
        );
        assert_eq!(
            parse_values("k", r#"["fsc_rlie_job", "rlies1_job"],null"#).unwrap(),
            [r#"["fsc_rlie_job", "rlies1_job"]"#, "null"]
        );
        for bad in ["", "5..1", "1..5:0", "a..b", "1,,2", "1,1"] {
            assert!(parse_values("k", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_axes_get_a_hint() {
        let e = parse_axis("param.max_number_of_worker_instance=1,2").unwrap_err();
        assert!(
            e.contains("did you mean `max_number_of_worker_instances`"),
            "{e}"
        );
        let e = parse_axis("scenario.outage_day=1,2").unwrap_err();
        assert!(e.contains("did you mean `scenario.outage_days`"), "{e}");
        let e = parse_axis("workers=1,2").unwrap_err();
        assert!(e.contains("hint: an axis is"), "{e}");
        let e = parse_axis("param.max_number_of_worker_instances").unwrap_err();
        assert!(e.contains("is not `AXIS=VALUES`"), "{e}");
    }

    #[test]
    fn ranges_that_overflow_or_never_end_are_refused_not_run_empty() {
        for bad in [
            "-9223372036854775808..9223372036854775807",
            "0..9223372036854775807",
            "1..2:1e-300",
            "0..1:5e-324",
            "1..5:0",
            "1..5:-1",
            "0..1:0.0",
            "1..inf",
            "nan..1",
            "1..2:nan",
            "0..1:0.0000001",
        ] {
            let e = parse_values("k", bad).unwrap_err();
            assert!(e.contains(bad), "{bad}: {e}");
        }
        // The extreme bounds themselves are fine.
        assert_eq!(
            parse_values("k", "9223372036854775806..9223372036854775807").unwrap(),
            ["9223372036854775806", "9223372036854775807"]
        );
    }

    #[test]
    fn seeds_are_bounded_and_whole() {
        assert_eq!(parse_seeds("1..3", 10).unwrap(), [1, 2, 3]);
        assert_eq!(
            parse_seeds("18446744073709551614..18446744073709551615", 10).unwrap(),
            [u64::MAX - 1, u64::MAX]
        );
        assert!(parse_seeds("0..18446744073709551615", 1000).is_err());
        assert!(parse_seeds("1,2,2", 10).unwrap_err().contains("twice"));
        assert!(parse_seeds("-1", 10).is_err());
        assert!(parse_seeds("1.5", 10).is_err());
    }
}
