//! Executing a checked patch on a sandbox database, statement by statement, as `psql -f`
//! would (each statement sent on its own, `COPY … FROM stdin` with its data, psql variables
//! interpolated), with a time limit per statement and for the whole test.
//!
//! Two modes: the verdict's all-or-nothing transaction (`ON_ERROR_STOP=1
//! --single-transaction`), and autocommit without stopping (the diagnostic pass, and what a
//! plain `psql -f` does).

use std::{
    collections::BTreeMap,
    pin::pin,
    time::{Duration, Instant},
};

use futures_util::SinkExt;
use serde::Serialize;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage, error::ErrorPosition};

use super::{
    measure::{self, Snapshot},
    parse::{Patch, Unit, UnitKind},
    vars::{eval_bool, expand, interpolate},
};
use crate::schema::line_of_position;

/// Time limits of a test.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a single statement may run.
    pub statement: Duration,
    /// When the whole test must be over.
    pub deadline: Instant,
}

/// How to run the patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One transaction, stop at the first error.
    Transaction,
    /// Each statement on its own, go on after errors.
    Autocommit,
}

/// An error the server (or hrsi, for a meta-command) reported, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The file.
    pub file: String,
    /// The exact line (the server's position when it gave one).
    pub line: usize,
    /// SQLSTATE.
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// DETAIL, HINT, CONTEXT.
    pub detail: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ERROR", self.file, self.line)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One statement that ran.
#[derive(Debug, Clone)]
pub struct Step {
    /// Index into the patch's units.
    pub unit: usize,
    /// When it started.
    pub started: Instant,
    /// How long it took.
    pub elapsed: Duration,
    /// Rows the server reported (`UPDATE 3` → 3).
    pub rows: Option<u64>,
    /// Its error.
    pub error: Option<Failure>,
    /// The database just before it (verdict only).
    pub before: Option<Snapshot>,
    /// The database just after it (verdict only).
    pub after: Option<Snapshot>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every statement ran (and, in a transaction, the commit succeeded).
    Applied,
    /// A statement failed (transaction mode: the first one; everything was rolled back).
    Failed,
    /// The commit failed (deferred constraint, …).
    CommitFailed(Failure),
    /// A time limit was reached.
    TimedOut {
        /// `file:line` of the statement that was running.
        at: String,
        /// Seconds it had run.
        secs: f64,
        /// The whole test's limit (`--timeout`) rather than the statement's.
        whole: bool,
    },
}

/// The result of one run of the patch.
#[derive(Debug, Clone)]
pub struct Run {
    /// Statements that ran.
    pub steps: Vec<Step>,
    /// How it ended.
    pub outcome: Outcome,
    /// `\echo` output, bounded.
    pub echo: Vec<String>,
    /// When the commit ended (transaction mode).
    pub committed: Option<Instant>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Run {
    /// Every error, in order.
    pub fn errors(&self) -> Vec<Failure> {
        let mut v: Vec<Failure> = self.steps.iter().filter_map(|s| s.error.clone()).collect();
        if let Outcome::CommitFailed(f) = &self.outcome {
            v.push(f.clone());
        }
        v
    }

    /// Whether everything applied.
    pub fn applied(&self) -> bool {
        matches!(self.outcome, Outcome::Applied) && self.steps.iter().all(|s| s.error.is_none())
    }
}

/// What measuring needs: the on-disk directory of the database.
pub struct Measuring<'a> {
    /// `base/<oid>` of the database.
    pub db_dir: &'a std::path::Path,
}

const MAX_ECHO_LINES: usize = 1000;

/// Runs the patch on a session (already connected to the sandbox database as the patch role).
pub async fn run(
    client: &Client,
    patch: &Patch,
    mode: Mode,
    limits: Limits,
    measuring: Option<Measuring<'_>>,
) -> Run {
    let started = Instant::now();
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut conds: Vec<Cond> = Vec::new();
    let mut steps = Vec::new();
    let mut echo = Vec::new();
    let mut outcome = Outcome::Applied;
    let end_unit = Unit {
        file: patch.path.display().to_string().into(),
        line: patch.units.last().map(|u| u.line).unwrap_or(1),
        kind: UnitKind::Sql("commit".into()),
        ack_destructive: false,
    };
    if mode == Mode::Transaction
        && let Err(e) = client.batch_execute("begin").await
    {
        let f = failure(&end_unit, "begin", &e);
        return Run {
            steps,
            outcome: Outcome::CommitFailed(f),
            echo,
            committed: None,
            elapsed: started.elapsed(),
        };
    }
    let mut snapshot = match &measuring {
        Some(m) => measure::snapshot(client, m.db_dir).await.ok(),
        None => None,
    };
    'units: for (i, unit) in patch.units.iter().enumerate() {
        let active = conds.iter().all(|c| c.active);
        let sql_text = match &unit.kind {
            UnitKind::If(a) => {
                let value = if active {
                    eval_bool(&expand(a, &vars))
                } else {
                    Ok(false)
                };
                match value {
                    Ok(v) => conds.push(Cond {
                        active: active && v,
                        taken: v,
                        parent_active: active,
                    }),
                    Err(msg) => {
                        steps.push(meta_error(i, unit, msg));
                        outcome = Outcome::Failed;
                        if mode == Mode::Transaction {
                            break 'units;
                        }
                        conds.push(Cond {
                            active: false,
                            taken: false,
                            parent_active: active,
                        });
                    }
                }
                continue;
            }
            UnitKind::Elif(a) => {
                let Some(c) = conds.last_mut() else {
                    steps.push(meta_error(i, unit, "`\\elif` without `\\if`".into()));
                    outcome = Outcome::Failed;
                    break 'units;
                };
                if c.taken || !c.parent_active {
                    c.active = false;
                } else {
                    let v = eval_bool(&expand(a, &vars)).unwrap_or(false);
                    c.active = v;
                    c.taken = v;
                }
                continue;
            }
            UnitKind::Else => {
                let Some(c) = conds.last_mut() else {
                    steps.push(meta_error(i, unit, "`\\else` without `\\if`".into()));
                    outcome = Outcome::Failed;
                    break 'units;
                };
                c.active = c.parent_active && !c.taken;
                c.taken = true;
                continue;
            }
            UnitKind::Endif => {
                if conds.pop().is_none() {
                    steps.push(meta_error(i, unit, "`\\endif` without `\\if`".into()));
                    outcome = Outcome::Failed;
                    break 'units;
                }
                continue;
            }
            _ if !active => continue,
            UnitKind::Set(name, args) => {
                vars.insert(name.clone(), expand(args, &vars).concat());
                continue;
            }
            UnitKind::Unset(name) => {
                vars.remove(name);
                continue;
            }
            UnitKind::Echo(args) => {
                if echo.len() < MAX_ECHO_LINES {
                    let mut line = expand(args, &vars).join(" ");
                    line.truncate(1000);
                    echo.push(line);
                }
                continue;
            }
            UnitKind::Quit => break 'units,
            UnitKind::Ignored(_) => continue,
            UnitKind::Sql(s) => interpolate(s, &vars),
            UnitKind::Copy { sql, .. } => interpolate(sql, &vars),
        };
        let now = Instant::now();
        let remaining = limits.deadline.saturating_duration_since(now);
        let limit = limits.statement.min(remaining);
        let whole = remaining <= limits.statement;
        let exec = async {
            match &unit.kind {
                UnitKind::Copy { data, .. } => copy_in(client, &sql_text, data).await,
                _ => simple(client, &sql_text).await,
            }
        };
        let result = timed(client, exec, limit).await;
        let elapsed = now.elapsed();
        let (rows, error) = match result {
            Some(Ok(rows)) => (rows.filter(|_| reports_rows(&sql_text)), None),
            Some(Err(e)) => (None, Some(failure(unit, &sql_text, &e))),
            None => {
                steps.push(Step {
                    unit: i,
                    started: now,
                    elapsed,
                    rows: None,
                    error: Some(Failure {
                        file: unit.file.to_string(),
                        line: unit.line,
                        code: Some("57014".into()),
                        message: format!(
                            "timed out after {:.1} s: the statement was cancelled",
                            elapsed.as_secs_f64()
                        ),
                        detail: None,
                    }),
                    before: snapshot.take(),
                    after: None,
                });
                outcome = Outcome::TimedOut {
                    at: unit.at(),
                    secs: elapsed.as_secs_f64(),
                    whole,
                };
                break 'units;
            }
        };
        let failed = error.is_some();
        let after = match (&measuring, failed) {
            (Some(m), false) => measure::snapshot(client, m.db_dir).await.ok(),
            _ => None,
        };
        steps.push(Step {
            unit: i,
            started: now,
            elapsed,
            rows,
            error,
            before: std::mem::replace(&mut snapshot, after.clone()),
            after,
        });
        if failed {
            outcome = Outcome::Failed;
            if mode == Mode::Transaction {
                break 'units;
            }
        }
    }
    let mut committed = None;
    if mode == Mode::Transaction {
        match outcome {
            Outcome::Applied => {
                let remaining = limits.deadline.saturating_duration_since(Instant::now());
                let now = Instant::now();
                match timed(
                    client,
                    client.batch_execute("commit"),
                    limits.statement.min(remaining),
                )
                .await
                {
                    Some(Ok(())) => committed = Some(Instant::now()),
                    Some(Err(e)) => {
                        outcome = Outcome::CommitFailed(failure(&end_unit, "commit", &e))
                    }
                    None => {
                        outcome = Outcome::TimedOut {
                            at: format!("{} (commit)", end_unit.at()),
                            secs: now.elapsed().as_secs_f64(),
                            whole: remaining <= limits.statement,
                        }
                    }
                }
            }
            _ => {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), client.batch_execute("rollback"))
                        .await;
            }
        }
    }
    Run {
        steps,
        outcome,
        echo,
        committed,
        elapsed: started.elapsed(),
    }
}

/// Whether the command tag of a statement carries a row count (`ALTER TABLE` has none).
fn reports_rows(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        first.as_str(),
        "insert" | "update" | "delete" | "select" | "copy" | "merge" | "with" | "fetch" | "move"
    )
}

struct Cond {
    active: bool,
    taken: bool,
    parent_active: bool,
}

fn meta_error(unit: usize, u: &Unit, message: String) -> Step {
    Step {
        unit,
        started: Instant::now(),
        elapsed: Duration::ZERO,
        rows: None,
        error: Some(Failure {
            file: u.file.to_string(),
            line: u.line,
            code: None,
            message,
            detail: None,
        }),
        before: None,
        after: None,
    }
}

/// Runs `fut` for at most `limit`; past it, the query is cancelled on the server and `None`
/// returned.
async fn timed<T>(
    client: &Client,
    fut: impl std::future::Future<Output = T>,
    limit: Duration,
) -> Option<T> {
    let mut fut = pin!(fut);
    tokio::select! {
        r = &mut fut => Some(r),
        _ = tokio::time::sleep(limit) => {
            let _ = client.cancel_token().cancel_query(NoTls).await;
            // The cancelled statement returns at once; a backend that ignores the cancel is
            // terminated when the sandbox database is dropped.
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut fut).await;
            None
        }
    }
}

/// Runs one statement with the simple protocol, as psql does. Rows a `SELECT` returns are
/// read and dropped one by one: a patch selecting a billion rows costs time (bounded by the
/// statement limit), not memory.
async fn simple(client: &Client, sql: &str) -> Result<Option<u64>, tokio_postgres::Error> {
    use futures_util::StreamExt;
    let stream = client.simple_query_raw(sql).await?;
    let mut stream = pin!(stream);
    let mut rows = None;
    while let Some(m) = stream.next().await {
        if let SimpleQueryMessage::CommandComplete(n) = m? {
            rows = Some(n);
        }
    }
    Ok(rows)
}

async fn copy_in(
    client: &Client,
    sql: &str,
    data: &str,
) -> Result<Option<u64>, tokio_postgres::Error> {
    let sink = client.copy_in(sql).await?;
    let mut sink = pin!(sink);
    sink.send(bytes::Bytes::copy_from_slice(data.as_bytes()))
        .await?;
    sink.as_mut().finish().await.map(Some)
}

fn failure(unit: &Unit, sent: &str, e: &tokio_postgres::Error) -> Failure {
    match e.as_db_error() {
        Some(db) => {
            let line = match db.position() {
                Some(ErrorPosition::Original(p)) => line_of_position(sent, unit.line, *p as usize),
                _ => unit.line,
            };
            let detail = [db.detail(), db.hint(), db.where_()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            Failure {
                file: unit.file.to_string(),
                line,
                code: Some(db.code().code().to_string()),
                message: db.message().to_string(),
                detail: (!detail.is_empty()).then_some(detail),
            }
        }
        None => Failure {
            file: unit.file.to_string(),
            line: unit.line,
            code: None,
            message: e.to_string(),
            detail: None,
        },
    }
}
