//! psql's variables as hrsi implements them: meta-command arguments (`'quoted'`, `:name`,
//! `:'name'`, `:"name"`), interpolation into SQL outside quotes and comments, and `\if`'s
//! booleans.

use std::collections::BTreeMap;

use super::parse::Arg;

/// Splits meta-command arguments as psql does: blanks separate, `'…'` quotes (with `''`
/// and backslash escapes), `:name`, `:'name'`, `:"name"` interpolate. Backquotes (a shell
/// command in psql) and `\\` (a second command on the line) are refused.
pub fn parse_args(s: &str) -> Result<Vec<Arg>, String> {
    if s.contains('`') {
        return Err("a backquoted argument runs a shell command on the host".into());
    }
    if s.contains("\\\\") {
        return Err("`\\\\` starts another meta-command on the same line: one per line".into());
    }
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        if b[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut parts = Vec::new();
        while i < b.len() && !b[i].is_whitespace() {
            if b[i] == '\'' {
                let mut t = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated quoted argument".into()),
                        Some('\'') if b.get(i + 1) == Some(&'\'') => {
                            t.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            match b.get(i + 1) {
                                Some('n') => t.push('\n'),
                                Some('t') => t.push('\t'),
                                Some(c) => t.push(*c),
                                None => return Err("unterminated quoted argument".into()),
                            }
                            i += 2;
                        }
                        Some(c) => {
                            t.push(*c);
                            i += 1;
                        }
                    }
                }
                parts.push(Arg::Text(t));
            } else if b[i] == ':' && i + 1 < b.len() {
                let (quote, start) = match b[i + 1] {
                    '\'' => (Some('\''), i + 2),
                    '"' => (Some('"'), i + 2),
                    _ => (None, i + 1),
                };
                let mut j = start;
                while j < b.len() && (b[j].is_alphanumeric() || b[j] == '_') {
                    j += 1;
                }
                let name: String = b[start..j].iter().collect();
                let closed = match quote {
                    Some(q) => b.get(j) == Some(&q),
                    None => true,
                };
                if name.is_empty() || !closed {
                    parts.push(Arg::Text(":".into()));
                    i += 1;
                    continue;
                }
                parts.push(match quote {
                    Some('\'') => Arg::VarLiteral(name),
                    Some(_) => Arg::VarIdent(name),
                    None => Arg::Var(name),
                });
                i = if quote.is_some() { j + 1 } else { j };
            } else {
                let mut t = String::new();
                while i < b.len() && !b[i].is_whitespace() && b[i] != '\'' && b[i] != ':' {
                    t.push(b[i]);
                    i += 1;
                }
                if i < b.len() && b[i] == ':' && t.is_empty() {
                    t.push(':');
                    i += 1;
                }
                parts.push(Arg::Text(t));
            }
        }
        out.push(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Arg::Concat(parts)
        });
    }
    Ok(out)
}

pub(crate) fn expand(args: &[Arg], vars: &BTreeMap<String, String>) -> Vec<String> {
    args.iter().map(|a| expand_one(a, vars)).collect()
}

fn expand_one(a: &Arg, vars: &BTreeMap<String, String>) -> String {
    match a {
        Arg::Text(t) => t.clone(),
        Arg::Var(n) => vars.get(n).cloned().unwrap_or_else(|| format!(":{n}")),
        Arg::VarLiteral(n) => vars
            .get(n)
            .map(|v| crate::postgres::quote_literal(v))
            .unwrap_or_else(|| format!(":'{n}'")),
        Arg::VarIdent(n) => vars
            .get(n)
            .map(|v| crate::postgres::quote_ident(v))
            .unwrap_or_else(|| format!(":\"{n}\"")),
        Arg::Concat(parts) => parts.iter().map(|p| expand_one(p, vars)).collect(),
    }
}

/// psql's boolean values: unique prefixes of true/false/yes/no, on/off, 1/0.
pub(crate) fn eval_bool(values: &[String]) -> Result<bool, String> {
    let v = values.join(" ").trim().to_ascii_lowercase();
    let prefix_of = |word: &str| !v.is_empty() && word.starts_with(v.as_str());
    if v == "1" || prefix_of("true") || prefix_of("yes") || (v.len() >= 2 && prefix_of("on")) {
        Ok(true)
    } else if v == "0"
        || prefix_of("false")
        || prefix_of("no")
        || (v.len() >= 2 && prefix_of("off"))
    {
        Ok(false)
    } else {
        Err(format!(
            "unrecognized value \"{v}\" for \\if: a Boolean is expected"
        ))
    }
}

/// Replaces `:name`, `:'name'` and `:"name"` outside quotes and comments with the value of a
/// set variable, as psql does; unknown names and `::` casts stay as written.
pub fn interpolate(sql: &str, vars: &BTreeMap<String, String>) -> String {
    if vars.is_empty() || !sql.contains(':') {
        return sql.to_string();
    }
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut copied = 0;
    let skip_to = |i: usize, end: &str| -> usize {
        sql[i..]
            .find(end)
            .map(|n| i + n + end.len())
            .unwrap_or(sql.len())
    };
    while i < b.len() {
        match b[i] {
            b'\'' => {
                let escapes = i > 0 && matches!(b[i - 1], b'e' | b'E');
                let mut j = i + 1;
                while j < b.len() {
                    if escapes && b[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if b[j] == b'\'' {
                        if b.get(j + 1) == Some(&b'\'') {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                i = (j + 1).min(b.len());
            }
            b'"' => i = skip_to(i + 1, "\""),
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_to(i, "\n"),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_to(i + 2, "*/"),
            b'$' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j < b.len()
                    && b[j] == b'$'
                    && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
                {
                    let tag = &sql[i..=j];
                    i = skip_to(j + 1, tag);
                } else {
                    i += 1;
                }
            }
            b':' if b.get(i + 1) == Some(&b':') => i += 2,
            b':' => {
                let (quote, start) = match b.get(i + 1) {
                    Some(b'\'') => (Some(b'\''), i + 2),
                    Some(b'"') => (Some(b'"'), i + 2),
                    _ => (None, i + 1),
                };
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let name = &sql[start..j];
                let closed = quote.is_none_or(|q| b.get(j) == Some(&q));
                match vars.get(name) {
                    Some(v) if !name.is_empty() && closed => {
                        out.push_str(&sql[copied..i]);
                        out.push_str(&match quote {
                            Some(b'\'') => crate::postgres::quote_literal(v),
                            Some(_) => crate::postgres::quote_ident(v),
                            None => v.clone(),
                        });
                        i = if quote.is_some() { j + 1 } else { j };
                        copied = i;
                    }
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_split_as_psql_does() {
        assert_eq!(
            parse_args("a 'b c' :v :'w' x:y 'it''s'").unwrap(),
            vec![
                Arg::Text("a".into()),
                Arg::Text("b c".into()),
                Arg::Var("v".into()),
                Arg::VarLiteral("w".into()),
                Arg::Concat(vec![Arg::Text("x".into()), Arg::Var("y".into())]),
                Arg::Text("it's".into()),
            ]
        );
    }

    #[test]
    fn variables_are_interpolated_outside_quotes_only() {
        let vars: BTreeMap<String, String> = [
            ("t".to_string(), "cosims.x".to_string()),
            ("v".to_string(), "it's".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            interpolate(
                "select :v::text, :'v', :\"t\", ':v', $$:v$$ from :t -- :v",
                &vars
            ),
            "select it's::text, 'it''s', \"cosims.x\", ':v', $$:v$$ from cosims.x -- :v"
        );
        assert_eq!(
            interpolate("select :unknown, a::int", &vars),
            "select :unknown, a::int"
        );
    }

    #[test]
    fn booleans_read_as_psql_reads_them() {
        for (v, b) in [
            ("on", true),
            ("t", true),
            ("1", true),
            ("off", false),
            ("n", false),
            ("0", false),
        ] {
            assert_eq!(eval_bool(&[v.to_string()]), Ok(b), "{v}");
        }
        assert!(eval_bool(&["maybe".to_string()]).is_err());
        assert!(eval_bool(&["o".to_string()]).is_err());
    }
}
