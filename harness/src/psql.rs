//! Running real `psql -f` and reading every error it reports.
//!
//! `psql -f` exits 0 even when statements fail (trap 4 of the domain facts); the truth is in
//! its standard error. With `VERBOSITY=verbose` each error reads
//! `psql:FILE:LINE: ERROR:  SQLSTATE: message`, where LINE is the line on which the failing
//! statement *ends*, followed by `LINE n:` (relative to the statement's first line) when the
//! server knows the position. [`parse_errors`] turns that into exact file:line errors.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use crate::{
    postgres::{Error, Result, Server},
    schema::Script,
};

/// How to run psql.
#[derive(Debug, Clone, Copy, Default)]
pub struct PsqlOptions {
    /// `-v ON_ERROR_STOP=1`: stop at the first error (exit code 3).
    pub on_error_stop: bool,
    /// `--single-transaction`: all or nothing.
    pub single_transaction: bool,
}

/// One error (or warning) that psql printed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SqlError {
    /// The script file as psql named it.
    pub file: String,
    /// The line psql reported (the end of the failing statement).
    pub reported_line: usize,
    /// The exact line of the error when the server gave a position, else `reported_line`.
    pub line: usize,
    /// `ERROR`, `FATAL`, or `error` for psql's own errors.
    pub severity: String,
    /// The SQLSTATE, when known.
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// DETAIL, HINT and CONTEXT lines, and the `LINE n:` excerpt.
    pub context: Vec<String>,
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.severity)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of one psql run.
#[derive(Debug, Clone)]
pub struct PsqlRun {
    /// The exit code (`None` when killed by a signal).
    pub exit_code: Option<i32>,
    /// Every error printed, in order.
    pub errors: Vec<SqlError>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub duration: Duration,
}

impl PsqlRun {
    /// Success as a careful operator defines it: exit code 0 *and* no error printed.
    pub fn clean(&self) -> bool {
        self.exit_code == Some(0) && self.errors.is_empty()
    }
}

/// Runs `psql -X -f FILE` on a database. `script`, when given, is the parsed file, used to
/// turn psql's statement-end lines into exact error lines.
pub async fn run_file(
    server: &Server,
    dbname: &str,
    file: &Path,
    options: PsqlOptions,
    script: Option<&Script>,
) -> Result<PsqlRun> {
    let mut cmd = server.command("psql", dbname);
    cmd.arg("-X").args(["-v", "VERBOSITY=verbose"]);
    if options.on_error_stop {
        cmd.args(["-v", "ON_ERROR_STOP=1"]);
    }
    if options.single_transaction {
        cmd.arg("--single-transaction");
    }
    cmd.arg("-f").arg(file).stdin(Stdio::null());
    run(cmd, script).await
}

/// Runs psql with a prepared command (its stdin already set), collecting its errors.
pub async fn run(cmd: std::process::Command, script: Option<&Script>) -> Result<PsqlRun> {
    let start = Instant::now();
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = tokio::process::Command::from(cmd)
        // An interrupted test must not leave psql running.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::MissingTool {
                program: program.clone(),
                hint: "install the PostgreSQL client: `apt-get install -y postgresql-client`"
                    .into(),
            },
            _ => Error::io(format!("run `{program}`"), e),
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Ok(PsqlRun {
        exit_code: out.status.code(),
        errors: parse_errors(&stderr, script),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        duration: start.elapsed(),
    })
}

/// Runs one SQL command with `psql -c` (as an operator would at the prompt).
pub async fn run_command(server: &Server, dbname: &str, sql: &str) -> Result<PsqlRun> {
    let mut cmd = server.command("psql", dbname);
    cmd.args(["-X", "-v", "VERBOSITY=verbose", "-c", sql])
        .stdin(Stdio::null());
    run(cmd, None).await
}

/// Parses psql's standard error into errors. Only `ERROR`/`FATAL`/psql errors are kept
/// (notices and warnings are not failures).
pub fn parse_errors(stderr: &str, script: Option<&Script>) -> Vec<SqlError> {
    let mut errors: Vec<SqlError> = Vec::new();
    let mut current: Option<SqlError> = None;
    for raw in stderr.lines() {
        if let Some(e) = parse_header(raw) {
            if let Some(done) = current.take() {
                errors.push(done);
            }
            if matches!(e.severity.as_str(), "ERROR" | "FATAL" | "PANIC" | "error") {
                current = Some(e);
            }
            continue;
        }
        let Some(err) = current.as_mut() else {
            continue;
        };
        if let Some(rest) = raw.strip_prefix("LINE ") {
            if let Some((n, _)) = rest.split_once(':')
                && let Ok(n) = n.trim().parse::<usize>()
            {
                err.line = exact_line(script, err.reported_line, n);
            }
            err.context.push(raw.to_string());
        } else if ["DETAIL:", "HINT:", "CONTEXT:", "QUERY:"]
            .iter()
            .any(|p| raw.starts_with(p))
        {
            err.context.push(raw.to_string());
        }
    }
    errors.extend(current);
    errors
}

/// `psql:FILE:LINE: SEVERITY:  [CODE: ]message`
fn parse_header(raw: &str) -> Option<SqlError> {
    let rest = raw.strip_prefix("psql:")?;
    for sev in [
        "ERROR", "FATAL", "PANIC", "WARNING", "NOTICE", "INFO", "error", "warning",
    ] {
        let marker = format!(": {sev}:");
        if let Some(i) = rest.find(&marker) {
            let (file, line) = rest[..i].rsplit_once(':')?;
            let line: usize = line.parse().ok()?;
            let msg = rest[i + marker.len()..].trim_start();
            let (code, message) = match msg.split_once(": ") {
                Some((c, m)) if c.len() == 5 && c.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                    (Some(c.to_string()), m.to_string())
                }
                _ => (None, msg.to_string()),
            };
            return Some(SqlError {
                file: file.to_string(),
                reported_line: line,
                line,
                severity: sev.to_string(),
                code,
                message,
                context: Vec::new(),
            });
        }
    }
    None
}

/// Maps (statement end line, `LINE n` within the statement) to a script line: psql counts
/// from the statement's first non-blank, non-comment line, which is where the splitter
/// starts statements too.
fn exact_line(script: Option<&Script>, end_line: usize, n: usize) -> usize {
    let Some(script) = script else {
        return end_line;
    };
    let start = script
        .statements()
        .iter()
        .filter(|s| s.line + s.text.matches('\n').count() == end_line)
        .map(|s| s.line)
        .next_back();
    match start {
        Some(s) => s + n - 1,
        None => end_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STDERR: &str = "psql:/tmp/p1.sql:6: ERROR:  42601: syntax error at or near \"docker_image_for_si_processing\"\n\
LINE 5:     docker_image_for_si_processing = 'y';\n            ^\n\
LOCATION:  scanner_yyerror, scan.l:1188\n\
psql:/tmp/p1.sql:7: NOTICE:  00000: something\n\
psql:/tmp/p1.sql:7: ERROR:  22012: division by zero\n\
LOCATION:  int4div, int.c:869\n\
psql:/tmp/p1.sql:9: error: invalid command \\foo\n";

    #[test]
    fn psql_errors_are_parsed_with_exact_lines() {
        let script = Script::parse(
            "/tmp/p1.sql",
            "-- example patch\nupdate cosims.system_parameters\nset\n    a = 150,\n    b = 'x'\n    docker_image_for_si_processing = 'y';\nselect 1/0;\n",
        )
        .unwrap();
        let errs = parse_errors(STDERR, Some(&script));
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert_eq!((errs[0].reported_line, errs[0].line), (6, 6));
        assert_eq!(errs[0].code.as_deref(), Some("42601"));
        assert_eq!((errs[1].line, errs[1].code.as_deref()), (7, Some("22012")));
        assert_eq!(
            (errs[2].severity.as_str(), errs[2].code.as_deref()),
            ("error", None)
        );
    }

    #[test]
    fn the_line_inside_a_long_statement_is_found() {
        let script =
            Script::parse("p.sql", "\n\nupdate t\nset a = 1\n  b = 2\nwhere x;\n").unwrap();
        // The statement starts at line 3 and ends at line 6; `b` is its line 3.
        assert_eq!(exact_line(Some(&script), 6, 3), 5);
    }
}
