//! The report of a patch test: one table for people, the same content as JSON for CI, and
//! the exit code.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    apply::{Failure, Outcome, Run},
    findings::Finding,
    measure::{lock_label, lock_rank},
    parse::{Patch, UnitKind},
};

/// Exit codes of `hrsi patch-test`.
pub mod exit {
    /// The patch applies, no blocking finding.
    pub const APPLIES: u8 = 0;
    /// The patch fails (or timed out).
    pub const FAILS: u8 = 1;
    /// Bad input: nothing was tested.
    pub const BAD_INPUT: u8 = 2;
    /// The environment failed (PostgreSQL, borg, the source server).
    pub const SETUP: u8 = 3;
    /// The patch applies, with findings that are not acknowledged.
    pub const FINDINGS: u8 = 4;
}

/// The strongest lock a statement took.
#[derive(Debug, Clone, Serialize)]
pub struct LockReport {
    /// `ACCESS EXCLUSIVE`, …
    pub mode: String,
    /// `AccessExclusiveLock`, as `pg_locks` names it.
    #[serde(skip)]
    pub mode_name: String,
    /// The relation.
    pub relation: String,
    /// Its oid.
    #[serde(skip)]
    pub relation_oid: Option<i64>,
    /// From the statement's start to the commit (a transaction keeps its locks to the end).
    pub held_ms: Option<f64>,
}

/// One statement of the verdict, measured.
#[derive(Debug, Clone, Serialize)]
pub struct StatementReport {
    /// `file:line`.
    pub at: String,
    /// The statement's first line, shortened.
    pub sql: String,
    /// Duration in milliseconds.
    pub ms: f64,
    /// Rows the server reported.
    pub rows: Option<u64>,
    /// The strongest lock it took.
    pub lock: Option<LockReport>,
    /// Tables it rewrote (file node changed).
    pub rewrites: Vec<String>,
    /// WAL bytes written.
    pub wal_bytes: Option<u64>,
    /// Change of the database's on-disk bytes (a rewrite keeps the old files until commit).
    pub size_delta_bytes: Option<i64>,
    /// Its error.
    pub error: Option<Failure>,
}

/// A short summary of another application of the patch.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Everything applied.
    pub applied: bool,
    /// Its errors.
    pub errors: Vec<Failure>,
    /// Set when it timed out.
    pub timed_out: Option<String>,
    /// Wall time in milliseconds.
    pub ms: u64,
}

impl Attempt {
    /// From a run.
    pub fn from_run(run: &Run) -> Attempt {
        Attempt {
            applied: run.applied(),
            errors: run.errors(),
            timed_out: timeout_text(run),
            ms: run.elapsed.as_millis() as u64,
        }
    }
}

/// `--revert`: apply, revert, apply again.
#[derive(Debug, Clone, Serialize)]
pub struct RevertReport {
    /// The revert file.
    pub file: String,
    /// The revert applied after the patch.
    pub revert: Attempt,
    /// After the revert, the schema is the one before the patch.
    pub schema_restored: bool,
    /// Tables whose rows differ from before the patch.
    pub data_differs: Vec<String>,
    /// Schema objects that differ from before the patch.
    pub schema_differs: Vec<String>,
    /// The patch applied again after the revert.
    pub reapply: Option<Attempt>,
    /// The state after re-applying equals the state after the first application.
    pub reapply_same: Option<bool>,
}

/// A statement that cannot run inside a transaction.
#[derive(Debug, Clone, Serialize)]
pub struct NonTransactional {
    /// `file:line`.
    pub at: String,
    /// The error of the verdict.
    pub error: Failure,
    /// The patch applied statement by statement (as a plain `psql -f` does).
    pub autocommit: Attempt,
}

/// The outcome of a patch test.
#[derive(Debug, Clone, Serialize)]
pub struct PatchReport {
    /// The patch file.
    pub patch: String,
    /// What it was tested against.
    pub data: String,
    /// `applies`, `applies-with-findings`, `fails`, `timed-out`, `not-run`.
    pub result: String,
    /// The exit code.
    pub exit_code: u8,
    /// The role the patch ran as.
    pub role: String,
    /// The verdict's statements, measured.
    pub statements: Vec<StatementReport>,
    /// The verdict's error (or its time-out).
    pub error: Option<Failure>,
    /// "timed out at file:line after N s".
    pub timed_out: Option<String>,
    /// Verdict of a statement that cannot run inside a transaction.
    pub non_transactional: Option<NonTransactional>,
    /// Every error of the diagnostic pass (autocommit, without stopping).
    pub diagnostics: Vec<Failure>,
    /// The runbook's variant on a schema-only dump.
    pub schema_only: Option<Attempt>,
    /// Set when the schema-only test and the test with data disagree.
    pub disagreement: Option<String>,
    /// The second application (idempotence).
    pub second_application: Option<Attempt>,
    /// `--revert`.
    pub revert: Option<RevertReport>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// `\echo` output of the verdict.
    pub echo: Vec<String>,
    /// Other notes.
    pub warnings: Vec<String>,
    /// Milliseconds per step, in order.
    pub timings_ms: Vec<(String, u64)>,
}

/// "timed out at file:line after N s".
pub fn timeout_text(run: &Run) -> Option<String> {
    match &run.outcome {
        Outcome::TimedOut { at, secs, whole } => Some(format!(
            "timed out at {at} after {secs:.1} s ({} limit); the statement was cancelled and nothing is left running",
            if *whole {
                "--timeout, the whole test's"
            } else {
                "--statement-timeout, the statement's"
            }
        )),
        _ => None,
    }
}

/// Measures each statement of the verdict from its snapshots.
pub fn statements(patch: &Patch, run: &Run, counts: &BTreeMap<i64, i64>) -> Vec<StatementReport> {
    run.steps
        .iter()
        .map(|step| {
            let unit = &patch.units[step.unit];
            let text = match &unit.kind {
                UnitKind::Sql(s) => s.as_str(),
                UnitKind::Copy { sql, .. } => sql.as_str(),
                _ => "",
            };
            let mut sql: String = text.lines().next().unwrap_or("").trim().to_string();
            if sql.chars().count() > 48 || text.contains('\n') {
                sql = sql.chars().take(47).collect::<String>() + "…";
            }
            let (mut lock, mut rewrites, mut wal, mut size) = (None, Vec::new(), None, None);
            if let (Some(b), Some(a)) = (&step.before, &step.after) {
                wal = Some(a.lsn.saturating_sub(b.lsn));
                size = Some(a.db_bytes as i64 - b.db_bytes as i64);
                let held_ms = run
                    .committed
                    .map(|c| (c - step.started).as_secs_f64() * 1000.0);
                lock = a
                    .locks
                    .difference(&b.locks)
                    .filter_map(|(oid, mode)| {
                        let rel = a.rels.get(oid).or_else(|| b.rels.get(oid))?;
                        // On a tie, the oldest relation: the statement's target rather than
                        // a table its trigger writes to.
                        Some((
                            lock_rank(mode),
                            std::cmp::Reverse(*oid),
                            mode.clone(),
                            rel.name.clone(),
                        ))
                    })
                    .max()
                    .map(|(_, std::cmp::Reverse(oid), mode, relation)| LockReport {
                        mode: lock_label(&mode),
                        mode_name: mode,
                        relation,
                        relation_oid: Some(oid),
                        held_ms,
                    });
                let truncate = text
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("truncate");
                for (oid, r) in &b.rels {
                    if let Some(n) = a.rels.get(oid)
                        && n.filenode != r.filenode
                        && matches!(r.kind, 'r' | 'm')
                        && !truncate
                        && counts.get(oid).copied().unwrap_or(0) > 0
                    {
                        rewrites.push(format!("{} ({} rows)", r.name, counts[oid]));
                    }
                }
            }
            StatementReport {
                at: unit.at(),
                sql,
                ms: step.elapsed.as_secs_f64() * 1000.0,
                rows: step.rows,
                lock,
                rewrites,
                wal_bytes: wal,
                size_delta_bytes: size,
                error: step.error.clone(),
            }
        })
        .collect()
}

fn bytes(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{} MB", n / 1_000_000)
    } else if n >= 10 * 1024 {
        format!("{} kB", n / 1000)
    } else {
        format!("{n} B")
    }
}

fn signed_bytes(n: i64) -> String {
    let s = bytes(n.unsigned_abs());
    match n.signum() {
        1 => format!("+{s}"),
        -1 => format!("-{s}"),
        _ => "0".into(),
    }
}

/// Lays out rows under a header with columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

impl PatchReport {
    /// The report for people.
    pub fn render(&self) -> String {
        let mut s = format!("patch-test: `{}` against {}\n", self.patch, self.data);
        s.push_str(&format!(
            "verdict: one transaction, stop at the first error (as `psql -v ON_ERROR_STOP=1 --single-transaction`), on database `postgres` of a throwaway cluster, as role {}\n",
            self.role
        ));
        if !self.statements.is_empty() {
            let rows: Vec<Vec<String>> = self
                .statements
                .iter()
                .map(|st| {
                    vec![
                        st.at.rsplit('/').next().unwrap_or(&st.at).to_string(),
                        st.sql.clone(),
                        format!("{:.1}", st.ms),
                        st.rows.map(|r| r.to_string()).unwrap_or("-".into()),
                        match &st.lock {
                            Some(l) => format!(
                                "{} {}{}",
                                l.mode,
                                l.relation,
                                l.held_ms
                                    .map(|h| format!(" ({h:.0} ms)"))
                                    .unwrap_or_default()
                            ),
                            None => "-".into(),
                        },
                        if st.rewrites.is_empty() {
                            "-".into()
                        } else {
                            "yes".into()
                        },
                        st.wal_bytes.map(bytes).unwrap_or("-".into()),
                        st.size_delta_bytes.map(signed_bytes).unwrap_or("-".into()),
                        match &st.error {
                            Some(e) if e.code.as_deref() == Some("57014") => "TIMED OUT".into(),
                            Some(_) => "ERROR".into(),
                            None => "ok".into(),
                        },
                    ]
                })
                .collect();
            s.push_str(&table(
                &[
                    "at",
                    "statement",
                    "ms",
                    "rows",
                    "strongest lock (held to commit)",
                    "rewrite",
                    "WAL",
                    "size",
                    "",
                ],
                &rows,
            ));
        }
        if let Some(e) = self.error.as_ref().filter(|_| self.timed_out.is_none()) {
            s.push_str(&format!("  {e}\n"));
            if let Some(d) = &e.detail {
                s.push_str(&format!("      {d}\n"));
            }
        }
        if let Some(t) = &self.timed_out {
            s.push_str(&format!("  {t}\n"));
        }
        if let Some(nt) = &self.non_transactional {
            s.push_str(&format!(
                "non-transactional statement at {}: it cannot run inside the verdict's transaction ({}: {})\n  applied statement by statement instead (as a plain `psql -f`): {}\n",
                nt.at,
                nt.error.code.as_deref().unwrap_or("-"),
                nt.error.message,
                if nt.autocommit.applied { "applies".to_string() } else { format!("{} error(s)", nt.autocommit.errors.len()) }
            ));
            for e in &nt.autocommit.errors {
                s.push_str(&format!("    {e}\n"));
            }
        }
        if !self.diagnostics.is_empty() && self.non_transactional.is_none() {
            s.push_str(&format!(
                "every error (diagnostic pass: each statement on its own, without stopping, after the verdict rolled back): {}\n",
                self.diagnostics.len()
            ));
            for e in &self.diagnostics {
                s.push_str(&format!("  {e}\n"));
            }
        }
        if let Some(so) = &self.schema_only {
            s.push_str(&format!(
                "runbook variant (pg_dump -s, schema only, no data): {}\n",
                if so.applied {
                    "applies".to_string()
                } else if let Some(e) = so.errors.first() {
                    format!("FAILS ({e})")
                } else {
                    "FAILS".into()
                }
            ));
        }
        if let Some(d) = &self.disagreement {
            s.push_str(&format!("DISAGREEMENT: {d}\n"));
        }
        if let Some(a) = &self.second_application {
            s.push_str(&format!(
                "applied twice: {}\n",
                if a.applied {
                    "idempotent".to_string()
                } else {
                    format!(
                        "the second application fails ({})",
                        a.errors.first().map(|e| e.to_string()).unwrap_or_default()
                    )
                }
            ));
        }
        if let Some(r) = &self.revert {
            s.push_str(&format!(
                "revert `{}`: {}; schema {}; data {}; applied again: {}\n",
                r.file,
                if r.revert.applied { "applies" } else { "FAILS" },
                if r.schema_restored {
                    "restored".to_string()
                } else {
                    format!("NOT restored ({})", r.schema_differs.join(", "))
                },
                if r.data_differs.is_empty() {
                    "restored".to_string()
                } else {
                    format!("differs in {}", r.data_differs.join(", "))
                },
                match (&r.reapply, r.reapply_same) {
                    (Some(a), Some(true)) if a.applied => "applies, same result",
                    (Some(a), _) if a.applied => "applies, different result",
                    (Some(_), _) => "FAILS",
                    (None, _) => "not tried",
                }
            ));
        }
        if !self.findings.is_empty() {
            s.push_str("findings:\n");
            for f in &self.findings {
                let tag = if f.stops() {
                    "STOP"
                } else if f.blocking {
                    "acknowledged"
                } else {
                    "advice"
                };
                s.push_str(&format!(
                    "  [{tag}] {} {}: {}\n      ({})\n",
                    f.kind, f.at, f.message, f.hint
                ));
            }
        }
        for e in &self.echo {
            s.push_str(&format!("echo: {e}\n"));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        let total: u64 = self.timings_ms.iter().map(|(_, ms)| ms).sum();
        let result = match self.exit_code {
            exit::APPLIES => "PASSED, the patch applies",
            exit::FINDINGS if self.result == "not-run" => {
                "NOT RUN, the patch reaches beyond the sandbox (exit 4)"
            }
            exit::FINDINGS => "APPLIES WITH FINDINGS, read them before production (exit 4)",
            _ if self.timed_out.is_some() => "FAILED, the patch timed out",
            _ => "FAILED, the patch does not apply",
        };
        s.push_str(&format!(
            "result: {result} ({total} ms: {})\n",
            self.timings_ms
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        s
    }
}
