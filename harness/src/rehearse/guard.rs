//! What user SQL in a scenario may do: the checks every `sql`, `psql_file` and `expect: sql`
//! text passes before psql or the server sees it.
//!
//! A mirror of the patch sandbox's checks (wt-patch hardens those; this module is the seam to
//! replace by them at merge). The SQL runs only in clusters the harness started, never as root,
//! and must reach neither the host nor another database:
//! - psql meta-commands are refused except a harmless list (`\set`, `\echo`, `\d…`, …): no
//!   `\!`, `\g FILE|PIPE`, `\o`, `\w`, `\copy`, `\i`, `\connect`, `\setenv`, `\lo_…`, `\cd`;
//! - server-side host access is refused: `COPY … PROGRAM` or to/from a file, the file
//!   functions (`pg_read_file`, `pg_ls_dir`, `lo_import`, …), extensions, untrusted languages,
//!   foreign servers, `ALTER SYSTEM`, database DDL, signalling other backends;
//! - SQL that runs SQL from a string (`EXECUTE` in a function body, `query_to_xml`) is refused,
//!   since what it runs cannot be checked here.
//!
//! A lexer that follows psql's quoting (single quotes with `''` and `E'…'` escapes, double
//! quotes, dollar quotes, nested block comments, line comments) separates code from data;
//! dollar-quoted bodies are checked as code too, since they are function bodies.

use std::fmt;

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 1-based line in the text.
    pub line: usize,
    /// What was found.
    pub message: String,
    /// What to do instead.
    pub hint: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {} (hint: {})",
            self.line, self.message, self.hint
        )
    }
}

/// Meta-commands that stay inside psql's own session.
const ALLOWED_META: &[&str] = &[
    "set",
    "unset",
    "echo",
    "qecho",
    "timing",
    "pset",
    "x",
    "a",
    "t",
    "conninfo",
    "encoding",
    "q",
    "l",
    "list",
    "dt",
    "dn",
    "df",
    "dv",
    "di",
    "ds",
    "du",
    "dg",
    "d",
    "d+",
    "dt+",
    "dn+",
    "df+",
    "dp",
    "z",
    "sf",
    "sv",
    "errverbose",
    "if",
    "elif",
    "else",
    "endif",
    "gset",
];

/// Words that reach the host or another server from SQL, with the reason.
const FORBIDDEN_CALLS: &[(&str, &str)] = &[
    ("pg_read_file", "reads a file of the host"),
    ("pg_read_binary_file", "reads a file of the host"),
    ("pg_ls_dir", "lists a directory of the host"),
    ("pg_stat_file", "reads a file of the host"),
    ("pg_ls_logdir", "lists a directory of the host"),
    ("pg_ls_waldir", "lists a directory of the host"),
    ("pg_ls_tmpdir", "lists a directory of the host"),
    ("pg_ls_archive_statusdir", "lists a directory of the host"),
    ("pg_file_write", "writes a file of the host"),
    ("lo_import", "reads a file of the host"),
    ("lo_export", "writes a file of the host"),
    ("dblink", "connects to another server"),
    ("dblink_exec", "connects to another server"),
    ("dblink_connect", "connects to another server"),
    ("pg_terminate_backend", "stops another session"),
    ("pg_cancel_backend", "stops another session"),
    ("pg_reload_conf", "changes the server's configuration"),
    ("pg_promote", "changes the server's role"),
    ("pg_rotate_logfile", "writes the server's files"),
    ("query_to_xml", "runs SQL given as a string"),
    ("query_to_xmlschema", "runs SQL given as a string"),
    ("query_to_xml_and_xmlschema", "runs SQL given as a string"),
    ("cursor_to_xml", "runs SQL given as a string"),
    ("set_config", "changes session settings the checks rely on"),
];

/// Checks a user SQL text. `origin` names it in messages.
pub fn check(text: &str) -> Result<(), Refusal> {
    if text.len() > 4 << 20 {
        return Err(Refusal {
            line: 1,
            message: format!("{} bytes of SQL", text.len()),
            hint: "a scenario's SQL is at most 4 MiB".into(),
        });
    }
    let mut lx = Lexer::new(text);
    let code = lx.run(false)?;
    check_code(&code, text)
}

/// A token of code with its line.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    line: usize,
}

/// Code as words (quoted data replaced by a `'…'` word), per statement.
struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Lexer {
            b: s.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self, k: usize) -> Option<u8> {
        self.b.get(self.pos + k).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Splits into words. Inside a dollar-quoted body (`body`), meta-commands do not exist.
    fn run(&mut self, body: bool) -> Result<Vec<Word>, Refusal> {
        let mut out = Vec::new();
        let mut at_line_start = true;
        while let Some(c) = self.peek(0) {
            match c {
                b'\n' => {
                    self.bump();
                    at_line_start = true;
                    continue;
                }
                b if b.is_ascii_whitespace() => {
                    self.bump();
                    continue;
                }
                b'-' if self.peek(1) == Some(b'-') => {
                    while let Some(c) = self.peek(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                b'/' if self.peek(1) == Some(b'*') => self.block_comment()?,
                b'\'' => {
                    let line = self.line;
                    let escapes = out
                        .last()
                        .is_some_and(|w: &Word| w.text.eq_ignore_ascii_case("e"));
                    self.quoted(b'\'', escapes)?;
                    out.push(Word {
                        text: "'…'".into(),
                        line,
                    });
                }
                b'"' => {
                    let line = self.line;
                    let start = self.pos + 1;
                    self.quoted(b'"', false)?;
                    let ident =
                        String::from_utf8_lossy(&self.b[start..self.pos - 1]).to_lowercase();
                    out.push(Word { text: ident, line });
                }
                b'$' if self.dollar_tag().is_some() => {
                    let tag = self.dollar_tag().expect("checked");
                    let line = self.line;
                    for _ in 0..tag.len() {
                        self.bump();
                    }
                    let start = self.pos;
                    let end = find(&self.b[start..], tag.as_bytes()).ok_or_else(|| Refusal {
                        line,
                        message: format!("unterminated {tag} body"),
                        hint: format!("close it with {tag}"),
                    })? + start;
                    let inner = std::str::from_utf8(&self.b[start..end]).unwrap_or("");
                    let mut sub = Lexer::new(inner);
                    sub.line = line;
                    let words = sub.run(true)?;
                    while self.pos < end + tag.len() {
                        self.bump();
                    }
                    out.push(Word {
                        text: "$body$".into(),
                        line,
                    });
                    out.extend(words);
                    out.push(Word {
                        text: "$end$".into(),
                        line: self.line,
                    });
                }
                b'\\' if !body => {
                    let line = self.line;
                    self.bump();
                    let mut cmd = String::new();
                    while let Some(c) = self.peek(0) {
                        if c.is_ascii_whitespace() || (c == b'\\' && !cmd.is_empty()) {
                            break;
                        }
                        cmd.push(c as char);
                        self.bump();
                    }
                    let mut args = String::new();
                    while let Some(c) = self.peek(0) {
                        if c == b'\n' {
                            break;
                        }
                        args.push(c as char);
                        self.bump();
                    }
                    meta(&cmd, args.trim(), line, at_line_start)?;
                    out.push(Word {
                        text: ";".into(),
                        line,
                    });
                }
                c if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 => {
                    let line = self.line;
                    let start = self.pos;
                    while let Some(c) = self.peek(0) {
                        if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 || c == b'$' {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                    let w = String::from_utf8_lossy(&self.b[start..self.pos]).to_lowercase();
                    out.push(Word { text: w, line });
                }
                _ => {
                    let line = self.line;
                    self.bump();
                    out.push(Word {
                        text: (c as char).to_string(),
                        line,
                    });
                }
            }
            at_line_start = false;
        }
        Ok(out)
    }

    fn block_comment(&mut self) -> Result<(), Refusal> {
        let line = self.line;
        let mut depth = 0;
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(b'/'), Some(b'*')) => {
                    depth += 1;
                    self.bump();
                    self.bump();
                }
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    self.bump();
                    self.bump();
                    if depth == 0 {
                        return Ok(());
                    }
                }
                (Some(_), _) => {
                    self.bump();
                }
                (None, _) => {
                    return Err(Refusal {
                        line,
                        message: "unterminated /* comment".into(),
                        hint: "close it with */".into(),
                    });
                }
            }
        }
    }

    fn quoted(&mut self, q: u8, escapes: bool) -> Result<(), Refusal> {
        let line = self.line;
        self.bump();
        loop {
            match self.bump() {
                None => {
                    return Err(Refusal {
                        line,
                        message: format!("unterminated {} quote", q as char),
                        hint: "close the quote".into(),
                    });
                }
                Some(b'\\') if escapes => {
                    self.bump();
                }
                Some(c) if c == q => {
                    if self.peek(0) == Some(q) {
                        self.bump();
                    } else {
                        return Ok(());
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// `$tag$` at the cursor, if it is one.
    fn dollar_tag(&self) -> Option<String> {
        let rest = &self.b[self.pos..];
        let end = rest[1..].iter().position(|&c| c == b'$')? + 1;
        let tag = &rest[1..end];
        let ok = tag
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c >= 0x80)
            && !tag.first().is_some_and(u8::is_ascii_digit);
        ok.then(|| String::from_utf8_lossy(&rest[..=end]).into_owned())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn meta(cmd: &str, args: &str, line: usize, at_line_start: bool) -> Result<(), Refusal> {
    let refuse = |what: &str| {
        Refusal {
        line,
        message: format!("psql meta-command `\\{cmd}` {what}"),
        hint: "rehearsal SQL runs only SQL (and `\\set`, `\\echo`, `\\d…`): write the statement itself, \
               and let the scenario's steps (`pg_dumpall`, `restore`, `psql_file`) handle files"
            .into(),
    }
    };
    let _ = at_line_start;
    if args.contains('`') {
        return Err(refuse(
            "with a backquoted argument runs a shell command on the host",
        ));
    }
    match cmd {
        "g" | "gx" if args.is_empty() => Ok(()),
        "g" | "gx" => Err(refuse("with an argument writes to a file or a program")),
        "!" => Err(refuse("runs a shell command on the host")),
        "o" | "out" | "w" | "write" => Err(refuse("writes a file of the host")),
        "copy" => Err(refuse("reads or writes files (or programs) of the host")),
        "i" | "ir" | "include" | "include_relative" => Err(refuse(
            "reads another file (give it its own `psql_file` step)",
        )),
        "c" | "connect" => Err(refuse("switches to another database")),
        "setenv" | "getenv" => Err(refuse("reads or changes the environment")),
        "cd" => Err(refuse("changes the host directory")),
        "gexec" => Err(refuse("runs SQL built from query results")),
        c if c.starts_with("lo_") => Err(refuse("moves files between the host and the server")),
        c if c.starts_with('e')
            && c != "echo"
            && c != "encoding"
            && c != "errverbose"
            && c != "elif"
            && c != "else"
            && c != "endif" =>
        {
            Err(refuse("opens an editor"))
        }
        c if ALLOWED_META.contains(&c) || c.starts_with('d') => Ok(()),
        _ => Err(refuse("is not allowed in a rehearsal")),
    }
}

fn check_code(words: &[Word], _text: &str) -> Result<(), Refusal> {
    let mut in_body = 0usize;
    for (i, w) in words.iter().enumerate() {
        let next = |k: usize| words.get(i + k).map(|w| w.text.as_str()).unwrap_or("");
        let refuse = |message: String, hint: &str| Refusal {
            line: w.line,
            message,
            hint: hint.into(),
        };
        match w.text.as_str() {
            "$body$" => in_body += 1,
            "$end$" => in_body = in_body.saturating_sub(1),
            "execute" if in_body > 0 => {
                return Err(refuse(
                    "dynamic SQL (`EXECUTE` in a function or DO body) cannot be checked".into(),
                    "write the statements themselves",
                ));
            }
            "copy" => {
                // The statement up to its end.
                let stmt: Vec<&str> = words[i + 1..]
                    .iter()
                    .map(|w| w.text.as_str())
                    .take_while(|t| *t != ";")
                    .collect();
                if stmt.contains(&"program") {
                    return Err(refuse(
                        "`COPY … PROGRAM` runs a program on the host".into(),
                        "use `COPY … FROM stdin` / `TO stdout`, or an SQL statement",
                    ));
                }
                for (k, t) in stmt.iter().enumerate() {
                    if (*t == "from" || *t == "to") && stmt.get(k + 1).is_some_and(|n| *n == "'…'")
                    {
                        return Err(refuse(
                            "`COPY` to or from a file of the host".into(),
                            "use `COPY … FROM stdin` / `TO stdout`",
                        ));
                    }
                }
            }
            "alter" if next(1) == "system" => {
                return Err(refuse(
                    "`ALTER SYSTEM` changes the server's configuration files".into(),
                    "the rehearsal's server settings are the harness's",
                ));
            }
            "create" | "alter" | "drop"
                if matches!(
                    next(1),
                    "database" | "extension" | "server" | "subscription" | "tablespace"
                ) || (next(1) == "foreign" && next(2) == "data")
                    || (next(1) == "or" && next(3) == "language")
                    || next(1) == "language"
                    || (next(1) == "trusted" && next(2) == "language") =>
            {
                return Err(refuse(
                    format!(
                        "`{} {}` reaches beyond this database",
                        w.text.to_uppercase(),
                        next(1).to_uppercase()
                    ),
                    "a rehearsal changes only the `cosims` database it was given",
                ));
            }
            "language"
                if matches!(
                    next(1),
                    "c" | "plpython3u" | "plpythonu" | "plperlu" | "pltclu" | "plsh" | "internal"
                ) =>
            {
                return Err(refuse(
                    format!(
                        "an untrusted language (`{}`) runs code on the host",
                        next(1)
                    ),
                    "use `plpgsql` or `sql`",
                ));
            }
            t => {
                if let Some((_, why)) = FORBIDDEN_CALLS.iter().find(|(n, _)| *n == t) {
                    return Err(refuse(format!("`{t}` {why}"), "not allowed in a rehearsal"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn ordinary_operator_sql_passes() {
        for ok in [
            "update cosims.system_parameters set max_number_of_worker_instances = 3;",
            "update cosims.system_parameters set job_types_list = '[''fsc_rlie_job'']'",
            "DROP SCHEMA cosims CASCADE;",
            "select 'copy x to program ''rm''' as text_only, E'\\\\!' ;",
            "create or replace function cosims.f() returns int language plpgsql as $$ begin return 1; end $$;",
            "\\set ON_ERROR_STOP 1\nselect 1;\n-- \\! not a command in a comment\n",
            "copy cosims.job_status to stdout;",
        ] {
            check(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn host_and_other_database_access_is_refused() {
        for (bad, what) in [
            ("\\! id", "shell"),
            ("\\set x `id`", "shell command"),
            ("select 1 \\g |cat /etc/shadow", "file or a program"),
            ("select 1;\n\\o /tmp/x", "writes a file"),
            ("\\copy cosims.job_status to program 'id'", "programs"),
            ("\\i /etc/passwd", "another file"),
            ("\\c template1", "another database"),
            ("COPY cosims.job_status TO PROGRAM 'id'", "PROGRAM"),
            (
                "copy cosims.job_status from '/etc/passwd'",
                "file of the host",
            ),
            ("select pg_read_file('/etc/shadow')", "reads a file"),
            ("select PG_CATALOG.\"pg_ls_dir\"('/')", "lists a directory"),
            ("create extension file_fdw", "EXTENSION"),
            ("alter system set archive_command = 'x'", "ALTER SYSTEM"),
            ("drop database postgres", "DATABASE"),
            (
                "create function f() returns void language plpython3u as $$ import os $$",
                "untrusted",
            ),
            (
                "do $$ begin execute 'co' || 'py x to program ''id'''; end $$",
                "dynamic SQL",
            ),
            (
                "select query_to_xml('copy x to program ''id''', true, true, '')",
                "string",
            ),
            (
                "select set_config('role', 'postgres', false)",
                "session settings",
            ),
            ("select pg_terminate_backend(1)", "another session"),
            ("select 1 /* unterminated", "unterminated"),
        ] {
            let e = check(bad).expect_err(bad);
            assert!(e.to_string().contains(what), "{bad}: {e}");
        }
    }
}
