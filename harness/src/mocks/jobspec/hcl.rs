//! The HCL subset the system's `.nomad` files use, lexed and parsed into blocks: attributes,
//! labelled blocks, strings with `${...}` kept verbatim, numbers, booleans, lists, heredocs and
//! comments.

use super::*;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Eq,
    Comma,
}

pub(super) fn lex(src: &str) -> Result<Vec<(Tok, usize)>, JobspecError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let err = |line, message: String| JobspecError { line, message };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let start = line;
                i += 2;
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "unterminated comment".into())),
                        Some('*') if chars.get(i + 1) == Some(&'/') => {
                            i += 2;
                            break;
                        }
                        Some('\n') => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
            }
            '{' => {
                out.push((Tok::LBrace, line));
                i += 1;
            }
            '}' => {
                out.push((Tok::RBrace, line));
                i += 1;
            }
            '[' => {
                out.push((Tok::LBrack, line));
                i += 1;
            }
            ']' => {
                out.push((Tok::RBrack, line));
                i += 1;
            }
            '=' | ':' => {
                out.push((Tok::Eq, line));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, line));
                i += 1;
            }
            '"' => {
                let start = line;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => return Err(err(start, "unterminated string".into())),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = chars.get(i + 1).copied();
                            s.push(match e {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some('"') => '"',
                                Some('\\') => '\\',
                                other => {
                                    return Err(err(
                                        line,
                                        format!("invalid escape {other:?} in string"),
                                    ));
                                }
                            });
                            i += 2;
                        }
                        Some('$') if chars.get(i + 1) == Some(&'{') => {
                            // Interpolations may hold quotes and braces: copy them verbatim.
                            let mut depth = 0;
                            loop {
                                let Some(&ch) = chars.get(i) else {
                                    return Err(err(start, "unterminated interpolation".into()));
                                };
                                s.push(ch);
                                i += 1;
                                if ch == '{' {
                                    depth += 1;
                                } else if ch == '}' {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                }
                            }
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(s), start));
            }
            '<' if chars.get(i + 1) == Some(&'<') => {
                let start = line;
                i += 2;
                let indent = chars.get(i) == Some(&'-');
                if indent {
                    i += 1;
                }
                let mut marker = String::new();
                while i < chars.len() && chars[i] != '\n' {
                    marker.push(chars[i]);
                    i += 1;
                }
                let marker = marker.trim().to_owned();
                if marker.is_empty() {
                    return Err(err(start, "heredoc without a marker".into()));
                }
                i += 1;
                line += 1;
                let mut lines = Vec::new();
                loop {
                    if i >= chars.len() {
                        return Err(err(start, format!("heredoc not terminated by {marker}")));
                    }
                    let mut l = String::new();
                    while i < chars.len() && chars[i] != '\n' {
                        l.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                    line += 1;
                    if l.trim() == marker {
                        line -= 1;
                        break;
                    }
                    lines.push(l);
                }
                if indent {
                    let n = lines
                        .iter()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| l.len() - l.trim_start().len())
                        .min()
                        .unwrap_or(0);
                    for l in &mut lines {
                        *l = l.chars().skip(n).collect();
                    }
                }
                let mut text = lines.join("\n");
                text.push('\n');
                out.push((Tok::Str(text), start));
                // The newline after the closing marker was consumed above.
                line += 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let mut s = String::from(c);
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    s.push(chars[i]);
                    i += 1;
                }
                let n = s
                    .parse::<f64>()
                    .map_err(|_| err(line, format!("invalid number {s:?}")))?;
                out.push((Tok::Num(n), line));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::new();
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
                {
                    s.push(chars[i]);
                    i += 1;
                }
                out.push((Tok::Ident(s), line));
            }
            other => return Err(err(line, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
pub(super) struct Attr {
    pub(super) key: String,
    pub(super) value: Value,
    pub(super) line: usize,
}

#[derive(Clone, Debug)]
pub(super) struct Block {
    pub(super) kind: String,
    pub(super) labels: Vec<String>,
    pub(super) body: Body,
    pub(super) line: usize,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Body {
    pub(super) attrs: Vec<Attr>,
    pub(super) blocks: Vec<Block>,
}

pub(super) struct Parser {
    pub(super) toks: Vec<(Tok, usize)>,
    pub(super) pos: usize,
}

impl Parser {
    pub(super) fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |t| t.1)
    }

    pub(super) fn err<T>(&self, message: impl Into<String>) -> Result<T, JobspecError> {
        Err(JobspecError {
            line: self.line(),
            message: message.into(),
        })
    }

    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    pub(super) fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.0.clone());
        self.pos += 1;
        t
    }

    pub(super) fn body(&mut self, top: bool) -> Result<Body, JobspecError> {
        let mut body = Body::default();
        loop {
            let line = self.line();
            match self.next() {
                None if top => return Ok(body),
                None => return self.err("unexpected end of file: missing `}`"),
                Some(Tok::RBrace) if !top => return Ok(body),
                Some(Tok::Ident(key)) | Some(Tok::Str(key)) => match self.peek() {
                    Some(Tok::Eq) => {
                        self.pos += 1;
                        let value = self.value()?;
                        body.attrs.push(Attr { key, value, line });
                    }
                    Some(Tok::Str(_)) | Some(Tok::LBrace) => {
                        let mut labels = Vec::new();
                        while let Some(Tok::Str(l)) = self.peek() {
                            labels.push(l.clone());
                            self.pos += 1;
                        }
                        if self.next() != Some(Tok::LBrace) {
                            return self.err(format!("expected `{{` after block `{key}`"));
                        }
                        let inner = self.body(false)?;
                        body.blocks.push(Block {
                            kind: key,
                            labels,
                            body: inner,
                            line,
                        });
                    }
                    _ => return self.err(format!("expected `=` or a block after `{key}`")),
                },
                Some(t) => return self.err(format!("unexpected {}", describe(&t))),
            }
        }
    }

    pub(super) fn value(&mut self) -> Result<Value, JobspecError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Num(n)) => Ok(if n.fract() == 0.0 && n.abs() < 9e15 {
                Value::from(n as i64)
            } else {
                Value::from(n)
            }),
            Some(Tok::Ident(id)) => match id.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                other => self.err(format!(
                    "unsupported expression `{other}` (use a quoted string)"
                )),
            },
            Some(Tok::LBrack) => {
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(&Tok::RBrack) {
                        self.pos += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    match self.next() {
                        Some(Tok::Comma) => {}
                        Some(Tok::RBrack) => return Ok(Value::Array(items)),
                        _ => return self.err("expected `,` or `]` in list"),
                    }
                }
            }
            Some(Tok::LBrace) => {
                let body = self.body(false)?;
                Ok(body_to_json(&body))
            }
            Some(t) => self.err(format!("expected a value, found {}", describe(&t))),
            None => self.err("expected a value, found end of file"),
        }
    }
}

pub(super) fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Str(_) => "a string".into(),
        Tok::Num(n) => format!("number {n}"),
        Tok::LBrace => "`{`".into(),
        Tok::RBrace => "`}`".into(),
        Tok::LBrack => "`[`".into(),
        Tok::RBrack => "`]`".into(),
        Tok::Eq => "`=`".into(),
        Tok::Comma => "`,`".into(),
    }
}

/// Free-form conversion (driver config, meta, env): repeated blocks become arrays.
pub(super) fn body_to_json(body: &Body) -> Value {
    let mut m = Map::new();
    for a in &body.attrs {
        m.insert(a.key.clone(), a.value.clone());
    }
    for b in &body.blocks {
        let v = body_to_json(&b.body);
        match m.get_mut(&b.kind) {
            Some(Value::Array(arr)) => arr.push(v),
            Some(prev) => {
                let p = prev.take();
                *prev = Value::Array(vec![p, v]);
            }
            None => {
                m.insert(b.kind.clone(), v);
            }
        }
    }
    Value::Object(m)
}
