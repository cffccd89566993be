//! Splits a SQL script the way `psql -f` reads it: statements end at a `;` outside quotes,
//! comments and parentheses; `$tag$` bodies, `E'…'` escapes, nested `/* */` comments,
//! backslash meta-commands and `COPY … FROM stdin` data blocks (ended by `\.`) are understood.
//! Pure: `&str` in, statements with their line numbers out.

/// One unit of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL text (without the final `;`), or the meta-command line.
    pub text: String,
    /// 1-based line of the statement's first character.
    pub line: usize,
    /// What to do with it.
    pub kind: StatementKind,
}

/// The kinds of script units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    /// An SQL statement to send as is.
    Sql,
    /// `COPY … FROM stdin` followed by its inline data (lines up to `\.`).
    CopyFromStdin {
        /// The data, one row per line, each ending with `\n`.
        data: String,
    },
    /// A psql meta-command such as `\connect postgres`.
    Meta {
        /// The command name without the backslash (`connect`).
        command: String,
        /// The rest of the line.
        args: String,
    },
}

/// A script that cannot be split (an unterminated quote, comment or dollar-quoted body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// 1-based line where the unterminated construct starts.
    pub line: usize,
    /// What is unterminated.
    pub message: String,
}

/// Splits a script into statements.
pub fn split(src: &str) -> Result<Vec<Statement>, SplitError> {
    Splitter {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        line: 1,
        out: Vec::new(),
    }
    .run()
}

struct Splitter<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    out: Vec<Statement>,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl Splitter<'_> {
    fn run(mut self) -> Result<Vec<Statement>, SplitError> {
        // Start (byte offset, line) of the statement in progress, once a significant
        // character has been seen.
        let mut start: Option<(usize, usize)> = None;
        let mut depth = 0usize;
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b'\\' if start.is_none() => self.meta_command(),
                // psql runs a backslash command wherever it appears outside quotes and
                // comments, even in the middle of a statement (`select 1 \g |cmd`): such a
                // line cannot be split into statements and meta-commands safely.
                b'\\' => return Err(self.inline_meta_error()),
                b'-' if self.peek(1) == Some(b'-') => self.skip_line_comment(),
                b'/' if self.peek(1) == Some(b'*') => self.skip_block_comment()?,
                _ if b.is_ascii_whitespace() => self.pos += 1,
                b';' if depth == 0 => {
                    if let Some((s, line)) = start.take() {
                        let text = self.src[s..self.pos].trim_end().to_string();
                        self.pos += 1;
                        self.push_sql(text, line);
                    } else {
                        self.pos += 1;
                    }
                }
                _ => {
                    if start.is_none() {
                        start = Some((self.pos, self.line));
                    }
                    match b {
                        b'\'' => self.skip_string()?,
                        b'"' => self.skip_quoted_ident()?,
                        b'$' => self.skip_dollar()?,
                        b'(' => {
                            depth += 1;
                            self.pos += 1;
                        }
                        b')' => {
                            depth = depth.saturating_sub(1);
                            self.pos += 1;
                        }
                        _ => self.pos += 1,
                    }
                }
            }
        }
        // psql sends an unterminated last statement at end of file.
        if let Some((s, line)) = start {
            let text = self.src[s..].trim_end().to_string();
            self.push_sql(text, line);
        }
        Ok(self.out)
    }

    fn peek(&self, n: usize) -> Option<u8> {
        self.bytes.get(self.pos + n).copied()
    }

    fn push_sql(&mut self, text: String, line: usize) {
        if is_copy_from_stdin(&text) {
            let data = self.copy_data();
            self.out.push(Statement {
                text,
                line,
                kind: StatementKind::CopyFromStdin { data },
            });
        } else {
            self.out.push(Statement {
                text,
                line,
                kind: StatementKind::Sql,
            });
        }
    }

    /// Reads COPY data: from the line after the statement up to a line `\.` (or the end).
    fn copy_data(&mut self) -> String {
        // The rest of the COPY statement's line is not data.
        match self.src[self.pos..].find('\n') {
            Some(nl) => {
                self.pos += nl + 1;
                self.line += 1;
            }
            None => {
                self.pos = self.bytes.len();
                return String::new();
            }
        }
        let mut data = String::new();
        while self.pos < self.bytes.len() {
            let end = self.src[self.pos..]
                .find('\n')
                .map(|n| self.pos + n)
                .unwrap_or(self.bytes.len());
            let row = self.src[self.pos..end].trim_end_matches('\r');
            self.pos = (end + 1).min(self.bytes.len());
            self.line += 1;
            if row == "\\." {
                break;
            }
            data.push_str(row);
            data.push('\n');
        }
        data
    }

    fn meta_command(&mut self) {
        let end = self.src[self.pos..]
            .find('\n')
            .map(|n| self.pos + n)
            .unwrap_or(self.bytes.len());
        let text = self.src[self.pos..end].trim_end().to_string();
        let body = &text[1..];
        let (command, args) = match body.find(char::is_whitespace) {
            Some(i) => (&body[..i], body[i..].trim()),
            None => (body, ""),
        };
        self.out.push(Statement {
            line: self.line,
            kind: StatementKind::Meta {
                command: command.to_string(),
                args: args.to_string(),
            },
            text,
        });
        self.pos = end;
    }

    fn inline_meta_error(&self) -> SplitError {
        let end = self.src[self.pos..]
            .find(|c: char| c.is_whitespace())
            .map(|n| self.pos + n)
            .unwrap_or(self.bytes.len());
        SplitError {
            line: self.line,
            message: format!(
                "psql meta-command `{}` in the middle of a statement (psql would run it there); put meta-commands on a line of their own, after the statement's `;`",
                &self.src[self.pos..end]
            ),
        }
    }

    fn skip_line_comment(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn skip_block_comment(&mut self) -> Result<(), SplitError> {
        let line = self.line;
        let mut nesting = 0usize;
        while self.pos < self.bytes.len() {
            match (self.bytes[self.pos], self.peek(1)) {
                (b'/', Some(b'*')) => {
                    nesting += 1;
                    self.pos += 2;
                }
                (b'*', Some(b'/')) => {
                    nesting -= 1;
                    self.pos += 2;
                    if nesting == 0 {
                        return Ok(());
                    }
                }
                (b'\n', _) => {
                    self.line += 1;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        Err(SplitError {
            line,
            message: "unterminated /* comment".into(),
        })
    }

    fn skip_string(&mut self) -> Result<(), SplitError> {
        // E'…' strings take backslash escapes; standard strings do not
        // (standard_conforming_strings is on by default).
        let escapes = self.pos > 0
            && matches!(self.bytes[self.pos - 1], b'e' | b'E')
            && (self.pos < 2 || !is_ident_byte(self.bytes[self.pos - 2]));
        self.skip_quoted(b'\'', escapes, "unterminated quoted string")
    }

    fn skip_quoted_ident(&mut self) -> Result<(), SplitError> {
        self.skip_quoted(b'"', false, "unterminated quoted identifier")
    }

    /// Skips a `quote`-delimited token where a doubled quote stands for itself (and, with
    /// `escapes`, a backslash escapes the next byte), counting the lines it spans.
    fn skip_quoted(
        &mut self,
        quote: u8,
        escapes: bool,
        unterminated: &str,
    ) -> Result<(), SplitError> {
        let line = self.line;
        self.pos += 1;
        while self.pos < self.bytes.len() {
            match self.bytes[self.pos] {
                b'\\' if escapes => {
                    if self.peek(1) == Some(b'\n') {
                        self.line += 1;
                    }
                    self.pos += 2;
                }
                q if q == quote && self.peek(1) == Some(quote) => self.pos += 2,
                q if q == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        Err(SplitError {
            line,
            message: unterminated.into(),
        })
    }

    fn skip_dollar(&mut self) -> Result<(), SplitError> {
        // `$` inside an identifier (a$b) or a parameter ($1) is not a quote.
        if self.pos > 0 && is_ident_byte(self.bytes[self.pos - 1]) {
            self.pos += 1;
            return Ok(());
        }
        let mut end = self.pos + 1;
        while end < self.bytes.len() && is_ident_byte(self.bytes[end]) {
            end += 1;
        }
        let tag_body = &self.bytes[self.pos + 1..end];
        if end >= self.bytes.len()
            || self.bytes[end] != b'$'
            || tag_body.first().is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            return Ok(());
        }
        let tag = &self.src[self.pos..=end];
        let line = self.line;
        let body_start = end + 1;
        match self.src[body_start..].find(tag) {
            Some(rel) => {
                let close = body_start + rel + tag.len();
                self.line += self.src[self.pos..close].matches('\n').count();
                self.pos = close;
                Ok(())
            }
            None => Err(SplitError {
                line,
                message: format!("unterminated dollar-quoted string (no closing {tag})"),
            }),
        }
    }
}

fn is_copy_from_stdin(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    words.first() == Some(&"copy") && words.windows(2).any(|w| w == ["from", "stdin"])
}

/// The 1-based line, within a script, of a character position (1-based, in characters)
/// that the server reported for a statement starting at `stmt_line`.
pub fn line_of_position(stmt_text: &str, stmt_line: usize, position: usize) -> usize {
    let before: usize = stmt_text
        .chars()
        .take(position.saturating_sub(1))
        .filter(|&c| c == '\n')
        .count();
    stmt_line + before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(usize, String)> {
        split(src)
            .unwrap()
            .into_iter()
            .map(|s| (s.line, s.text))
            .collect()
    }

    #[test]
    fn several_statements_on_one_line_are_split() {
        assert_eq!(
            texts("select 1; select 2;select 3"),
            vec![
                (1, "select 1".into()),
                (1, "select 2".into()),
                (1, "select 3".into())
            ]
        );
    }

    #[test]
    fn semicolons_in_strings_comments_and_bodies_do_not_split() {
        let src = "-- a comment; with a semicolon\n\
                   select 'a;b', E'it\\'s;', \"we;ird\" /* c; /* nested; */ still */;\n\
                   create function f() returns int language plpgsql as $body$\n\
                   begin return 1; end\n\
                   $body$;\n\
                   create function g() returns int as $$ select 1; $$ language sql;\n\
                   select a$b from t where x = $1;";
        let got = texts(src);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert_eq!(got[0].0, 2);
        assert_eq!(got[1].0, 3);
        assert!(got[1].1.ends_with("$body$"));
        assert_eq!(got[2].0, 6);
        assert_eq!(got[3], (7, "select a$b from t where x = $1".into()));
    }

    #[test]
    fn copy_blocks_carry_their_data() {
        let src = "copy t (a, b) from stdin;\n1\tx;y\n2\t'q\n\\.\nselect 1;\n";
        let st = split(src).unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(
            st[0].kind,
            StatementKind::CopyFromStdin {
                data: "1\tx;y\n2\t'q\n".into()
            }
        );
        assert_eq!((st[1].line, st[1].text.as_str()), (5, "select 1"));
    }

    #[test]
    fn meta_commands_are_recognised_at_line_start() {
        let st = split("\\connect postgres\nSET x = 1;\n\\restrict abc\n").unwrap();
        assert_eq!(
            st[0].kind,
            StatementKind::Meta {
                command: "connect".into(),
                args: "postgres".into()
            }
        );
        assert_eq!(st[1].line, 2);
        assert_eq!(st[2].line, 3);
    }

    #[test]
    fn a_meta_command_inside_a_statement_is_refused_with_its_line() {
        let err = split("select 1;\nselect 1 \\g |id\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("`\\g`"), "{}", err.message);
        let err = split("select 1 \\c victim\n").unwrap_err();
        assert!(err.message.contains("`\\c`"), "{}", err.message);
        // Inside quotes, comments and bodies a backslash is text.
        assert_eq!(
            texts("select '\\g', $$\\!$$, \"a\\b\" /* \\o */; -- \\!\n").len(),
            1
        );
    }

    #[test]
    fn parentheses_keep_semicolons_inside() {
        assert_eq!(texts("select (1;2); select 3;").len(), 2);
    }

    #[test]
    fn unterminated_constructs_report_their_line() {
        assert_eq!(split("select 1;\nselect 'oops;\n").unwrap_err().line, 2);
        assert_eq!(split("\n\nselect $x$ body").unwrap_err().line, 3);
        assert_eq!(split("/* never closed").unwrap_err().line, 1);
    }

    #[test]
    fn positions_map_to_script_lines() {
        let text = "update t\nset a = 1\n    b = 2";
        // The error is at `b` on the third line of a statement starting at line 10.
        let pos = text.find('b').unwrap() + 1;
        assert_eq!(line_of_position(text, 10, pos), 12);
    }
}
