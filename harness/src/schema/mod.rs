//! SQL scripts and schemas: our own `cosims` schema (`harness/sql/cosims.sql`) or a user's
//! `init_database.sql` plus a directory of patches, loaded statement by statement so that
//! every error is reported with its file and line.
//!
//! The loader reads scripts as `psql -f` does ([`split`]): extensions, `$$`-quoted function
//! bodies, comments, `COPY … FROM stdin` blocks and several statements per line all work.
//! Meta-commands that do not change the SQL (`\set`, `\echo`, `\restrict`, …) are skipped
//! with a note; `\connect` keeps the script on the target database (the harness loads the
//! schema into the database it chose, as production keeps it in `postgres`).

mod split;

use std::{
    path::{Path, PathBuf},
    pin::pin,
};

use futures_util::SinkExt;
pub use split::{SplitError, Statement, StatementKind, line_of_position, split};
use tokio_postgres::{Client, error::ErrorPosition};

use crate::postgres::Error;

/// Our schema, written from the domain facts.
pub const COSIMS_SQL: &str = include_str!("../../sql/cosims.sql");

/// A parsed script and where it came from.
#[derive(Debug, Clone)]
pub struct Script {
    origin: String,
    source: String,
    statements: Vec<Statement>,
}

/// A script statement that failed, with where it is and what the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The file (or `<builtin cosims.sql>`).
    pub origin: String,
    /// 1-based line of the error (the exact line for syntax errors).
    pub line: usize,
    /// The SQLSTATE, when the server sent one.
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// Detail, hint or context from the server.
    pub detail: Option<String>,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ERROR", self.origin, self.line)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

/// What a successful load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// SQL statements run.
    pub statements: usize,
    /// Rows loaded by COPY blocks.
    pub copied_rows: u64,
    /// Meta-commands skipped or mapped, with their lines.
    pub notes: Vec<String>,
}

impl Script {
    /// Parses a script. An unterminated quote or body is an error with its line.
    pub fn parse(
        origin: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<Script, ScriptError> {
        let origin = origin.into();
        let source = source.into();
        let statements = split(&source).map_err(|e| ScriptError {
            origin: origin.clone(),
            line: e.line,
            code: None,
            message: e.message,
            detail: Some(
                "(hint: the script cannot be split into statements; fix the quoting)".into(),
            ),
        })?;
        Ok(Script {
            origin,
            source,
            statements,
        })
    }

    /// Reads and parses a script file.
    pub fn from_file(path: &Path) -> Result<Script, Error> {
        let source = std::fs::read_to_string(path).map_err(|source| Error::ReadInput {
            path: path.to_path_buf(),
            source,
        })?;
        Script::parse(path.display().to_string(), source).map_err(|e| Error::Script(Box::new(e)))
    }

    /// Where the script came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The statements.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the script on a connection, stopping at the first error (like
    /// `ON_ERROR_STOP=1`). Each statement runs in its own implicit transaction, as with psql.
    pub async fn run(&self, client: &Client) -> Result<LoadSummary, ScriptError> {
        let mut summary = LoadSummary::default();
        for st in &self.statements {
            match &st.kind {
                StatementKind::Sql => {
                    match client.batch_execute(&st.text).await {
                        Ok(()) => summary.statements += 1,
                        // Roles are cluster-wide: a schema loaded into a second database, or
                        // into an existing server, finds its roles already there. psql -f
                        // would print the error and go on; so do we, with a note.
                        Err(e) if role_exists(&st.text, &e) => summary.notes.push(format!(
                            "{}:{}: role already exists, kept as is",
                            self.origin, st.line
                        )),
                        Err(e) => return Err(self.error_at(st, &e)),
                    }
                }
                StatementKind::CopyFromStdin { data } => {
                    let sink = client
                        .copy_in(&st.text)
                        .await
                        .map_err(|e| self.error_at(st, &e))?;
                    let mut sink = pin!(sink);
                    sink.send(bytes::Bytes::copy_from_slice(data.as_bytes()))
                        .await
                        .map_err(|e| self.error_at(st, &e))?;
                    summary.copied_rows += sink
                        .as_mut()
                        .finish()
                        .await
                        .map_err(|e| self.error_at(st, &e))?;
                    summary.statements += 1;
                }
                StatementKind::Meta { command, args } => {
                    summary.notes.push(self.meta_note(st.line, command, args)?);
                }
            }
        }
        Ok(summary)
    }

    fn meta_note(&self, line: usize, command: &str, args: &str) -> Result<String, ScriptError> {
        let at = format!("{}:{line}", self.origin);
        match command {
            "connect" | "c" => Ok(format!(
                "{at}: `\\{command} {args}` ignored: the script stays on the target database"
            )),
            "set" | "unset" | "echo" | "qecho" | "restrict" | "unrestrict" | "encoding"
            | "pset" | "timing" | "t" | "x" | "a" | "q" => {
                Ok(format!("{at}: `\\{command}` skipped (no SQL effect)"))
            }
            _ => Err(ScriptError {
                origin: self.origin.clone(),
                line,
                code: None,
                message: format!("unsupported psql meta-command `\\{command}`"),
                detail: Some("(hint: inline the included file or run the step by hand)".into()),
            }),
        }
    }

    fn error_at(&self, st: &Statement, err: &tokio_postgres::Error) -> ScriptError {
        match err.as_db_error() {
            Some(db) => {
                let line = match db.position() {
                    Some(ErrorPosition::Original(p)) => {
                        line_of_position(&st.text, st.line, *p as usize)
                    }
                    _ => st.line,
                };
                let detail = [db.detail(), db.hint(), db.where_()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ");
                ScriptError {
                    origin: self.origin.clone(),
                    line,
                    code: Some(db.code().code().to_string()),
                    message: db.message().to_string(),
                    detail: (!detail.is_empty()).then_some(detail),
                }
            }
            None => ScriptError {
                origin: self.origin.clone(),
                line: st.line,
                code: None,
                message: err.to_string(),
                detail: None,
            },
        }
    }
}

fn role_exists(sql: &str, e: &tokio_postgres::Error) -> bool {
    let create_role = sql
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_lowercase)
        .eq(["create", "role"]);
    create_role && e.as_db_error().is_some_and(|d| d.code().code() == "42710")
}

/// A schema: an init script plus patches applied in file-name order.
#[derive(Debug, Clone)]
pub struct Schema {
    init: Script,
    patches: Vec<Script>,
}

impl Schema {
    /// Our `cosims` schema.
    pub fn builtin() -> Schema {
        Schema {
            init: Script::parse("<builtin cosims.sql>", COSIMS_SQL)
                .expect("the builtin schema splits"),
            patches: Vec::new(),
        }
    }

    /// A user's schema file and, optionally, a directory of `*.sql` patches.
    pub fn from_files(schema: &Path, patches_dir: Option<&Path>) -> Result<Schema, Error> {
        let init = Script::from_file(schema)?;
        let mut patches = Vec::new();
        if let Some(dir) = patches_dir {
            for path in patch_files(dir)? {
                patches.push(Script::from_file(&path)?);
            }
        }
        Ok(Schema { init, patches })
    }

    /// The builtin schema plus a directory of patches.
    pub fn builtin_with_patches(patches_dir: &Path) -> Result<Schema, Error> {
        let mut s = Schema::builtin();
        for path in patch_files(patches_dir)? {
            s.patches.push(Script::from_file(&path)?);
        }
        Ok(s)
    }

    /// The init script.
    pub fn init(&self) -> &Script {
        &self.init
    }

    /// The patches, in the order they are applied.
    pub fn patches(&self) -> &[Script] {
        &self.patches
    }

    /// A short stable fingerprint of the whole schema (FNV-1a), for template names.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf29ce484222325;
        for s in std::iter::once(&self.init).chain(&self.patches) {
            for b in s.source.bytes().chain([0u8]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x100000001b3);
            }
        }
        format!("{:08x}", h as u32)
    }

    /// Loads the init script then each patch, stopping at the first error.
    pub async fn load(&self, client: &Client) -> Result<LoadSummary, ScriptError> {
        let mut total = self.init.run(client).await?;
        for p in &self.patches {
            let s = p.run(client).await?;
            total.statements += s.statements;
            total.copied_rows += s.copied_rows;
            total.notes.extend(s.notes);
        }
        Ok(total)
    }
}

/// The `*.sql` files of a patch directory, sorted by name.
pub fn patch_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::ReadInput {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_schema_splits_into_its_statements() {
        let s = Schema::builtin();
        let n_functions = s
            .init()
            .statements()
            .iter()
            .filter(|st| st.text.to_lowercase().starts_with("create function"))
            .count();
        assert_eq!(n_functions, 40);
        assert!(
            s.init()
                .statements()
                .iter()
                .all(|st| st.kind == StatementKind::Sql)
        );
    }

    #[test]
    fn unsupported_meta_commands_are_reported_with_their_line() {
        let script = Script::parse("x.sql", "select 1;\n\\i other.sql\n").unwrap();
        let err = script.meta_note(2, "i", "other.sql").unwrap_err();
        assert_eq!((err.origin.as_str(), err.line), ("x.sql", 2));
    }
}
