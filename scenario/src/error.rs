//! Errors of a scenario file: each one points at `file:line:column`, quotes the offending text,
//! and carries a hint when a fix is known. A file's errors are collected and reported together.

use std::fmt;

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScenarioError {
    /// The file (or any label the caller gave as `origin`).
    pub origin: String,
    /// 1-based line (0 when the position is unknown, e.g. an empty file).
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// Byte offset of the offending text in the source.
    pub offset: usize,
    /// Byte length of the offending text (at least 1 when the line is not empty).
    pub len: usize,
    /// The offending text, as written.
    pub text: String,
    /// What is wrong, as a lowercase fragment.
    pub message: String,
    /// How to fix it, when known.
    pub hint: Option<String>,
    /// The source line, for the code frame.
    pub source_line: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.origin, self.line, self.column, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        if self.line > 0 && !self.text.is_empty() {
            // The frame shows the offending token only, never the rest of its line: the file
            // may be anything (a calibration path can name any file) and must not leak.
            let n = self.line.to_string();
            let pad = " ".repeat(n.len());
            let at = (self.column.saturating_sub(1) as usize).min(MAX_SHOWN);
            let token = shorten(self.text.lines().next().unwrap_or(""));
            let width = token.chars().count().max(1);
            write!(
                f,
                "\n{pad} |\n{n} | {}{token}\n{pad} | {}{}",
                " ".repeat(at),
                " ".repeat(at),
                "^".repeat(width)
            )?;
        }
        Ok(())
    }
}

/// The most characters of a file's text an error shows (a token, a quoted name).
const MAX_SHOWN: usize = 60;

/// A token cut to [`MAX_SHOWN`] characters.
fn shorten(s: &str) -> String {
    if s.chars().count() > MAX_SHOWN {
        format!("{}…", s.chars().take(MAX_SHOWN - 1).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// A message with every `quoted` part cut to [`MAX_SHOWN`] characters (the parser quotes the
/// offending key or value of the file in its messages).
fn shorten_quoted(m: &str) -> String {
    let parts: Vec<&str> = m.split('`').collect();
    if parts.len() < 3 {
        return m.to_owned();
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                shorten(p)
            } else {
                (*p).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

impl std::error::Error for ScenarioError {}

impl miette::Diagnostic for ScenarioError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("hrsi::scenario"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = miette::LabeledSpan::new(Some(self.message.clone()), self.offset, self.len);
        Some(Box::new(std::iter::once(span)))
    }
}

/// Every error found in one scenario file, sorted by position. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors {
    errors: Vec<ScenarioError>,
}

impl ScenarioErrors {
    pub(crate) fn new(mut errors: Vec<ScenarioError>) -> ScenarioErrors {
        debug_assert!(!errors.is_empty());
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        ScenarioErrors { errors }
    }

    /// The errors, sorted by line and column.
    pub fn errors(&self) -> &[ScenarioError] {
        &self.errors
    }
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{e}")?;
        }
        if self.errors.len() > 1 {
            write!(
                f,
                "\n\n{} errors in `{}`",
                self.errors.len(),
                self.errors[0].origin
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// The source text and its name: turns positions into errors with code frames.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub src: &'a str,
    pub origin: &'a str,
}

impl<'a> Source<'a> {
    /// An error at a serde-saphyr location. `len` is the byte length of the offending text when
    /// known (0: guess the token from the text at that position).
    pub fn at(
        &self,
        loc: &serde_saphyr::Location,
        len: usize,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = (loc.line(), loc.column());
        let line_text = self.line_text(line);
        let start =
            self.line_start(line) + char_to_byte(line_text, column.saturating_sub(1) as usize);
        let offset = loc.span().byte_offset().map_or(start, |b| b as usize);
        let len = if len > 0 {
            len
        } else {
            loc.span().byte_len().map_or(0, |l| l as usize)
        };
        // A mapping or list is spanned by its opening bracket only: show the whole of it.
        let len = if len <= 1 && self.src[offset.min(self.src.len())..].starts_with(['{', '[']) {
            0
        } else {
            len
        };
        let text =
            if len > 0 && offset + len <= self.src.len() && self.src.is_char_boundary(offset + len)
            {
                self.src[offset..offset + len].to_owned()
            } else {
                token_at(&self.src[start.min(self.src.len())..])
            };
        let len = text.len();
        ScenarioError {
            origin: self.origin.to_owned(),
            line,
            column,
            offset,
            len,
            text,
            message: shorten_quoted(&message.into()),
            hint: None,
            source_line: line_text.to_owned(),
        }
    }

    fn line_text(&self, line: u64) -> &'a str {
        if line == 0 {
            return "";
        }
        self.src.lines().nth(line as usize - 1).unwrap_or("")
    }

    fn line_start(&self, line: u64) -> usize {
        if line <= 1 {
            return 0;
        }
        self.src
            .match_indices('\n')
            .nth(line as usize - 2)
            .map_or(self.src.len(), |(i, _)| i + 1)
    }
}

/// The byte index of the `n`th character of `s` (its length when past the end).
fn char_to_byte(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// The token starting a text: up to the end of a key, a flow item, or the line.
fn token_at(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    // A flow mapping or list: up to its closing bracket when on the same line.
    if let Some(close) = match line.chars().next() {
        Some('{') => Some('}'),
        Some('[') => Some(']'),
        _ => None,
    } {
        let open = line.chars().next().unwrap_or(close);
        let mut depth = 0;
        for (i, c) in line.char_indices() {
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    return line[..=i].to_owned();
                }
            }
        }
    }
    let end = s.find([':', ',', '}', ']', '\n', '#']).unwrap_or(s.len());
    let t = s[..end].trim_end();
    if t.is_empty() {
        s.lines().next().unwrap_or("").trim_end().to_owned()
    } else {
        t.to_owned()
    }
}

/// Adds a hint to an error.
pub(crate) trait WithHint {
    /// Sets the hint (when `Some`).
    fn hint(self, hint: Option<String>) -> Self;
}

impl WithHint for ScenarioError {
    fn hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }
}

/// `did you mean `x`?` for the closest candidate, if any is close.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let candidates: Vec<&'a str> = candidates.collect();
    hrsi_sim::catalogue::suggest(name, candidates.into_iter())
        .map(|c| format!("did you mean `{c}`?"))
}
