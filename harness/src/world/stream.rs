//! Reading binary COPY streams row by row with a bound on the row count, and the text forms
//! PostgreSQL prints (escaped COPY fields, `timestamp`s).

use futures_util::StreamExt;
use hrsi_sim::time::{DAY, HOUR, Instant, MINUTE, Ms, SECOND, days_from_civil};
use tokio_postgres::Transaction;

use super::{Error, Result};
use crate::postgres;

fn sql(action: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| Error::Postgres(postgres::Error::sql(action, &e))
}

fn bad(table: &str, row: usize, reason: impl Into<String>) -> Error {
    Error::BadData {
        table: table.to_owned(),
        row,
        reason: reason.into(),
    }
}

pub(super) type Field<'a> = Option<std::borrow::Cow<'a, str>>;

/// Fields of the widest binary row read.
const MAX_FIELDS: usize = 16;

pub(super) fn be_i64(b: &[u8]) -> Option<i64> {
    b.try_into().ok().map(i64::from_be_bytes)
}

/// Streams `copy (query) to stdout (format binary)` and hands each row's fields to `each`.
pub(super) async fn copy_out_binary<F>(
    client: &Transaction<'_>,
    query: &str,
    table: &str,
    limit: usize,
    mut each: F,
) -> Result<()>
where
    F: FnMut(usize, &[Option<&[u8]>]) -> Result<()>,
{
    let action = format!("read cosims.{table}");
    let stream = client
        .copy_out(&format!("copy ({query}) to stdout (format binary)"))
        .await
        .map_err(sql(&action))?;
    let mut stream = std::pin::pin!(stream);
    let mut buf: Vec<u8> = Vec::new();
    let mut header = false;
    let mut row = 0usize;
    let mut fields: Vec<Option<(usize, usize)>> = Vec::new();
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk.map_err(sql(&action))?);
        let mut pos = 0;
        if !header {
            if buf.len() < 19 {
                continue;
            }
            if &buf[..11] != b"PGCOPY\n\xff\r\n\0" {
                return Err(bad(table, 0, "not a binary COPY stream"));
            }
            let ext = i32::from_be_bytes(buf[15..19].try_into().expect("4 bytes")) as usize;
            if buf.len() < 19 + ext {
                continue;
            }
            pos = 19 + ext;
            header = true;
        }
        // Whole rows only; a partial one waits for the next chunk.
        'rows: loop {
            let mut p = pos;
            let Some(n) = buf.get(p..p + 2) else { break };
            let n = i16::from_be_bytes(n.try_into().expect("2 bytes"));
            if n < 0 {
                pos = buf.len();
                break;
            }
            p += 2;
            if n as usize > MAX_FIELDS {
                return Err(bad(table, row + 1, format!("{n} fields")));
            }
            fields.clear();
            for _ in 0..n {
                let Some(l) = buf.get(p..p + 4) else {
                    break 'rows;
                };
                let l = i32::from_be_bytes(l.try_into().expect("4 bytes"));
                p += 4;
                if l < 0 {
                    fields.push(None);
                } else {
                    let l = l as usize;
                    if buf.len() < p + l {
                        break 'rows;
                    }
                    fields.push(Some((p, l)));
                    p += l;
                }
            }
            row += 1;
            if row > limit {
                return Err(Error::TooLarge {
                    what: format!("cosims.{table}"),
                    limit,
                });
            }
            let mut view: [Option<&[u8]>; MAX_FIELDS] = [None; MAX_FIELDS];
            for (v, f) in view.iter_mut().zip(&fields) {
                *v = f.map(|(s, l)| &buf[s..s + l]);
            }
            each(row, &view[..fields.len()])?;
            pos = p;
        }
        buf.drain(..pos);
    }
    Ok(())
}

pub(super) fn field(s: &str) -> Field<'_> {
    if s == "\\N" {
        return None;
    }
    if !s.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    Some(std::borrow::Cow::Owned(out))
}

/// A PostgreSQL `timestamp` (`2025-01-06 10:00:00[.ffffff]`) as virtual ms (microseconds
/// truncated).
pub(super) fn time(s: &str, epoch: Instant) -> Option<Ms> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        // Years beyond 4 digits or BC: the general parser (or nothing).
        return Instant::parse(s).ok().map(|i| i.0 - epoch.0);
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut ms = 0;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() > 26 {
            return None;
        }
        let frac = &b[20..];
        let mut scale = 100;
        for &c in frac.iter().take(3) {
            if !c.is_ascii_digit() {
                return None;
            }
            ms += i64::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    let days = days_from_civil(y, m as u32, d as u32);
    Some(days * DAY + h * HOUR + mi * MINUTE + sec * SECOND + ms - epoch.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_back_as_written() {
        let e = Instant::parse("2025-01-06").unwrap();
        assert_eq!(time("2025-01-06 00:00:00", e), Some(0));
        assert_eq!(time("2025-01-05 23:59:59.999", e), Some(-1));
        assert_eq!(time("2025-01-07 00:00:01.234567", e), Some(DAY + 1_234));
        assert_eq!(time("2025-13-07 00:00:01", e), None);
        assert_eq!(time("garbage", e), None);
    }

    #[test]
    fn copy_fields_unescape() {
        assert_eq!(field("\\N"), None);
        assert_eq!(field("a\\tb\\\\c").as_deref(), Some("a\tb\\c"));
    }
}
