//! Reading a patch before anything runs: our own splitter (file:line for everything), the
//! psql meta-command allow-list, and `\i`/`\ir` only inside the patch's own directory
//! (each included file checked the same way).
//!
//! No psql process ever reads the patch: hrsi executes it itself ([`super::apply`]), so a
//! meta-command can only do what this module maps it to. Everything not on the list is
//! refused up front with its line and the reason; so is a file that cannot be split.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

pub use super::vars::parse_args;
use crate::{
    postgres::{Error, Result},
    schema::{StatementKind, split},
};

/// Bound on the bytes of a patch and everything it includes.
pub const MAX_PATCH_BYTES: u64 = 16 * 1024 * 1024;
/// Bound on `\i` nesting.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// Bound on the units of a patch.
pub const MAX_UNITS: usize = 100_000;

/// A parsed, checked patch: what will run, in order.
#[derive(Debug, Clone)]
pub struct Patch {
    /// The patch file as given.
    pub path: PathBuf,
    /// The units, includes expanded.
    pub units: Vec<Unit>,
}

/// One thing to do, with where it comes from.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The file, as the user named it (or as an include resolved it).
    pub file: Arc<str>,
    /// 1-based line of its first character.
    pub line: usize,
    /// What to do.
    pub kind: UnitKind,
    /// `-- hrsi: allow-destructive` on the line of the statement or the line above.
    pub ack_destructive: bool,
}

impl Unit {
    /// `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The meaning of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitKind {
    /// An SQL statement.
    Sql(String),
    /// `COPY … FROM stdin` with its inline data.
    Copy {
        /// The COPY statement.
        sql: String,
        /// The rows.
        data: String,
    },
    /// `\set NAME VALUE…`
    Set(String, Vec<Arg>),
    /// `\unset NAME`
    Unset(String),
    /// `\echo`, `\qecho`, `\warn`
    Echo(Vec<Arg>),
    /// `\if EXPR`
    If(Vec<Arg>),
    /// `\elif EXPR`
    Elif(Vec<Arg>),
    /// `\else`
    Else,
    /// `\endif`
    Endif,
    /// `\q`: stop reading the patch.
    Quit,
    /// A display setting with no effect on the database (`\timing`, `\pset`, …).
    Ignored(String),
}

/// An argument of a meta-command, as psql reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Literal text (a bare word or a `'quoted'` string, unescaped).
    Text(String),
    /// `:name`
    Var(String),
    /// `:'name'`
    VarLiteral(String),
    /// `:"name"`
    VarIdent(String),
    /// Adjacent parts written without a blank (`a:b`).
    Concat(Vec<Arg>),
}

/// Meta-commands that run (as hrsi implements them).
const EXECUTED: &[&str] = &[
    "set", "unset", "echo", "qecho", "warn", "if", "elif", "else", "endif", "q", "quit",
];
/// Meta-commands accepted and ignored: they only change psql's display.
const IGNORED: &[&str] = &[
    "timing",
    "pset",
    "t",
    "x",
    "a",
    "restrict",
    "unrestrict",
    "encoding",
];
/// Meta-commands that include a file (checked: inside the patch's directory).
const INCLUDES: &[&str] = &["i", "include", "ir", "include_relative"];

/// Why a meta-command is refused, for the ones people reach for.
fn refusal(command: &str) -> String {
    let why = match command {
        "!" => "runs a shell command on the host",
        "g" | "gx" | "gexec" | "gset" | "gdesc" | "crosstabview" => {
            "sends the query buffer in a way hrsi does not run (`\\g |cmd` runs a program, `\\gexec` runs generated SQL)"
        }
        "o" | "out" | "w" | "write" => "writes to a file or a program on the host",
        "copy" => {
            "reads or writes files or programs on the host (use `COPY … FROM stdin` with inline data)"
        }
        "c" | "connect" => {
            "switches database or server: the patch runs on database `postgres` of the sandbox, as in production"
        }
        "getenv" | "setenv" => "reads or changes the environment of the process running hrsi",
        "cd" => "changes the directory of the process running hrsi",
        "lo_import" | "lo_export" | "lo_unlink" | "lo_list" => "reads or writes files on the host",
        "e" | "edit" | "ef" | "ev" => "starts an editor",
        "s" => "writes the history to a file",
        "prompt" => "reads from the terminal",
        "password" => "changes a role's password",
        _ => "is not on hrsi's allow-list",
    };
    format!(
        "`\\{command}` {why}; allowed: \\set, \\unset, \\echo, \\qecho, \\warn, \\if/\\elif/\\else/\\endif, \\q, \\i/\\ir (inside the patch's directory), and \\timing, \\pset, \\t, \\x, \\a, \\restrict, \\unrestrict, \\encoding (no effect)"
    )
}

/// Parses and checks a patch file, following its includes. Every problem found is listed
/// (file:line and reason) in one error.
pub fn parse(path: &Path) -> Result<Patch> {
    let root = std::fs::canonicalize(path)
        .map_err(|source| Error::ReadInput {
            path: path.to_path_buf(),
            source,
        })?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut p = Parser {
        root,
        bytes: 0,
        units: Vec::new(),
        problems: Vec::new(),
        stack: Vec::new(),
    };
    p.file(path, &path.display().to_string(), 0);
    if !p.problems.is_empty() {
        let shown: Vec<&String> = p.problems.iter().take(20).collect();
        let more = p.problems.len().saturating_sub(shown.len());
        let mut reason = String::from("it is refused before anything runs:");
        for s in shown {
            reason.push_str("\n  ");
            reason.push_str(s);
        }
        if more > 0 {
            reason.push_str(&format!("\n  … and {more} more"));
        }
        return Err(Error::BadInput {
            what: "patch".into(),
            value: path.display().to_string(),
            reason,
            hint: "hrsi runs patches in a sandbox that must not reach the host: remove these lines (production applies the patch with psql, where they would run as the operator)".into(),
        });
    }
    if !p
        .units
        .iter()
        .any(|u| matches!(u.kind, UnitKind::Sql(_) | UnitKind::Copy { .. }))
    {
        return Err(Error::BadInput {
            what: "patch".into(),
            value: path.display().to_string(),
            reason: "it holds no SQL statement (empty, or only comments and meta-commands)".into(),
            hint: "check that you gave the right file".into(),
        });
    }
    Ok(Patch {
        path: path.to_path_buf(),
        units: p.units,
    })
}

struct Parser {
    root: PathBuf,
    bytes: u64,
    units: Vec<Unit>,
    problems: Vec<String>,
    /// Canonical paths being read (include cycle detection).
    stack: Vec<PathBuf>,
}

impl Parser {
    fn file(&mut self, path: &Path, shown: &str, depth: usize) {
        let canonical = match std::fs::canonicalize(path) {
            Ok(c) => c,
            Err(e) => {
                self.problems.push(format!("{shown}: cannot be read: {e}"));
                return;
            }
        };
        if self.stack.contains(&canonical) {
            self.problems
                .push(format!("{shown}: includes itself (through `\\i`)"));
            return;
        }
        let info = match std::fs::metadata(&canonical) {
            Ok(m) if m.is_file() => m,
            Ok(_) => {
                self.problems
                    .push(format!("{shown}: is not a regular file"));
                return;
            }
            Err(e) => {
                self.problems.push(format!("{shown}: cannot be read: {e}"));
                return;
            }
        };
        self.bytes += info.len();
        if self.bytes > MAX_PATCH_BYTES {
            self.problems.push(format!(
                "{shown}: the patch and its includes exceed {} MiB",
                MAX_PATCH_BYTES >> 20
            ));
            return;
        }
        let text = match std::fs::read(&canonical) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(e) => {
                    let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                    let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
                    self.problems
                        .push(format!("{shown}:{line}: is not valid UTF-8"));
                    return;
                }
            },
            Err(e) => {
                self.problems.push(format!("{shown}: cannot be read: {e}"));
                return;
            }
        };
        let statements = match split(&text) {
            Ok(s) => s,
            Err(e) => {
                self.problems.push(format!(
                    "{shown}:{}: {} (the file cannot be split into statements, so it is not run)",
                    e.line, e.message
                ));
                return;
            }
        };
        let lines: Vec<&str> = text.lines().collect();
        let file: Arc<str> = Arc::from(shown);
        self.stack.push(canonical.clone());
        for st in statements {
            if self.units.len() >= MAX_UNITS {
                self.problems
                    .push(format!("{shown}: more than {MAX_UNITS} statements"));
                break;
            }
            let at = format!("{shown}:{}", st.line);
            let ack = [st.line, st.line.saturating_sub(1)].iter().any(|&l| {
                l >= 1
                    && lines
                        .get(l - 1)
                        .is_some_and(|t| t.replace(' ', "").contains("hrsi:allow-destructive"))
            });
            let kind = match st.kind {
                StatementKind::Sql => UnitKind::Sql(st.text),
                StatementKind::CopyFromStdin { data } => UnitKind::Copy { sql: st.text, data },
                StatementKind::Meta { command, args } => {
                    if INCLUDES.contains(&command.as_str()) {
                        self.include(&canonical, &command, &args, &at, depth);
                        continue;
                    }
                    match meta(&command, &args) {
                        Ok(k) => k,
                        Err(why) => {
                            self.problems.push(format!("{at}: {why}"));
                            continue;
                        }
                    }
                }
            };
            self.units.push(Unit {
                file: Arc::clone(&file),
                line: st.line,
                kind,
                ack_destructive: ack,
            });
        }
        self.stack.pop();
    }

    fn include(&mut self, including: &Path, command: &str, args: &str, at: &str, depth: usize) {
        let target = match parse_args(args) {
            Ok(a) if a.len() == 1 => match &a[0] {
                Arg::Text(t) => t.clone(),
                _ => {
                    self.problems.push(format!(
                        "{at}: `\\{command}` with a variable: the included file must be named literally"
                    ));
                    return;
                }
            },
            Ok(_) => {
                self.problems
                    .push(format!("{at}: `\\{command}` takes exactly one file name"));
                return;
            }
            Err(why) => {
                self.problems.push(format!("{at}: {why}"));
                return;
            }
        };
        if depth + 1 > MAX_INCLUDE_DEPTH {
            self.problems.push(format!(
                "{at}: includes nested deeper than {MAX_INCLUDE_DEPTH}"
            ));
            return;
        }
        // Both forms resolve against the including file's directory: hrsi has no working
        // directory of its own to offer a patch.
        let base = including.parent().unwrap_or(Path::new("/"));
        let candidate = base.join(&target);
        let inside = std::fs::canonicalize(&candidate)
            .map(|c| c.starts_with(&self.root))
            .unwrap_or(false);
        if !inside {
            self.problems.push(format!(
                "{at}: `\\{command} {target}` is outside the patch's directory `{}` (or does not exist): only files under it may be included",
                self.root.display()
            ));
            return;
        }
        self.file(&candidate, &candidate.display().to_string(), depth + 1);
    }
}

fn meta(command: &str, args: &str) -> Result<UnitKind, String> {
    if !EXECUTED.contains(&command) && !IGNORED.contains(&command) {
        return Err(refusal(command));
    }
    if IGNORED.contains(&command) {
        // Even ignored commands must not hide a backquote (psql would run it).
        parse_args(args)?;
        return Ok(UnitKind::Ignored(command.to_string()));
    }
    let a = parse_args(args)?;
    let name = |a: &[Arg]| match a.first() {
        Some(Arg::Text(n)) if !n.is_empty() => Ok(n.clone()),
        _ => Err(format!("`\\{command}` needs a variable name")),
    };
    Ok(match command {
        "set" => {
            if a.is_empty() {
                return Err("`\\set` without arguments lists variables: nothing to do".into());
            }
            UnitKind::Set(name(&a)?, a[1..].to_vec())
        }
        "unset" => UnitKind::Unset(name(&a)?),
        "echo" | "qecho" | "warn" => UnitKind::Echo(a),
        "if" => UnitKind::If(a),
        "elif" => UnitKind::Elif(a),
        "else" => UnitKind::Else,
        "endif" => UnitKind::Endif,
        _ => UnitKind::Quit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch_in(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn refused(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = patch_in(dir.path(), "p.sql", text);
        parse(&p).unwrap_err().to_string()
    }

    #[test]
    fn host_reaching_meta_commands_are_refused_with_their_line() {
        for (text, needle) in [
            (
                "select 1;\n\\! id > /tmp/x\n",
                ":2: `\\!` runs a shell command",
            ),
            ("\\o /tmp/x\nselect 1;\n", ":1: `\\o` writes to a file"),
            (
                "\\copy (select 1) to program 'id'\n",
                ":1: `\\copy` reads or writes",
            ),
            (
                "\\getenv pw PGPASSWORD\nselect :'pw';\n",
                ":1: `\\getenv` reads",
            ),
            ("\\c victim\n", ":1: `\\c` switches database"),
            ("select 1;\n\\set x `id`\n", ":2: a backquoted argument"),
            ("\\echo a \\\\ \\! id\n", ":1: `\\\\` starts another"),
            (
                "select 1 \\g |id\n",
                ":1: psql meta-command `\\g` in the middle",
            ),
            ("select 'x;\n", ":1: unterminated quoted string"),
            ("select $x$ body;\n", ":1: unterminated dollar-quoted"),
        ] {
            let e = refused(text);
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn includes_stay_inside_the_patch_directory_and_are_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        patch_in(&sub, "inner.sql", "select 2;\n");
        patch_in(&sub, "bad.sql", "select 3;\n\\c victim\n");
        let ok = patch_in(dir.path(), "ok.sql", "select 1;\n\\ir sub/inner.sql\n");
        let p = parse(&ok).unwrap();
        assert_eq!(p.units.len(), 2);
        assert!(
            p.units[1].at().ends_with("sub/inner.sql:1"),
            "{}",
            p.units[1].at()
        );
        let nested = patch_in(dir.path(), "nested.sql", "\\i sub/bad.sql\n");
        let e = parse(&nested).unwrap_err().to_string();
        assert!(e.contains("bad.sql:2: `\\c`"), "{e}");
        let outside = patch_in(dir.path(), "out.sql", "\\i /etc/passwd\nselect 1;\n");
        let e = parse(&outside).unwrap_err().to_string();
        assert!(e.contains("out.sql:1") && e.contains("outside"), "{e}");
        assert!(
            !e.contains("root:"),
            "the file's content must not be shown: {e}"
        );
        let dotdot = patch_in(&sub, "up.sql", "\\ir ../../../etc/passwd\n");
        assert!(parse(&dotdot).unwrap_err().to_string().contains("outside"));
        let cycle = patch_in(dir.path(), "cycle.sql", "select 1;\n\\ir cycle.sql\n");
        assert!(
            parse(&cycle)
                .unwrap_err()
                .to_string()
                .contains("includes itself")
        );
    }

    #[test]
    fn an_empty_patch_is_bad_input() {
        for text in ["", "-- only a comment\n", "\\echo hi\n"] {
            let e = refused(text);
            assert!(e.contains("no SQL statement"), "{e}");
        }
    }

    #[test]
    fn allowed_meta_commands_and_acknowledgements_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = patch_in(
            dir.path(),
            "p.sql",
            "\\set ON_ERROR_STOP on\n\\set t 'cosims.x'\n\\timing on\n-- hrsi: allow-destructive\ndrop table :t;\nselect 1;\n",
        );
        let p = parse(&p).unwrap();
        assert_eq!(
            p.units[0].kind,
            UnitKind::Set("ON_ERROR_STOP".into(), vec![Arg::Text("on".into())])
        );
        assert_eq!(
            p.units[1].kind,
            UnitKind::Set("t".into(), vec![Arg::Text("cosims.x".into())])
        );
        assert!(p.units[3].ack_destructive && !p.units[4].ack_destructive);
    }
}
