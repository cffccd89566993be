//! Findings: what an operator must know before running a patch that applies. Destructive
//! changes (named with what they destroy on the clone), lock risk (measured), server
//! programs and files, and a `job_types_list` the services could not read.
//!
//! A *blocking* finding that is not acknowledged makes the test exit 4 ("applies, with
//! findings"); advice is printed and changes nothing.

use std::collections::BTreeMap;

use hrsi_sim::params::JobTypesList;
use serde::Serialize;

use super::{
    apply::{Run, Step},
    measure::{LOCK_MODES, lock_rank},
    parse::{Patch, Unit, UnitKind},
    report::StatementReport,
};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `destructive`, `lock`, `lock-timeout`, `rewrite`, `server-programs`,
    /// `job-types-list`, `revert`, `idempotence`.
    pub kind: &'static str,
    /// `file:line`.
    pub at: String,
    /// What it does, with the figures measured on the clone.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// Whether it stops a clean pass (exit 4) unless acknowledged.
    pub blocking: bool,
    /// Acknowledged by an option or a `-- hrsi: allow-destructive` comment.
    pub acknowledged: bool,
}

impl Finding {
    /// Whether it makes the test exit 4.
    pub fn stops(&self) -> bool {
        self.blocking && !self.acknowledged
    }
}

/// What the findings depend on besides the run.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// `--allow-destructive`.
    pub allow_destructive: bool,
    /// `--allow-server-programs`.
    pub allow_server_programs: bool,
    /// `--lock-budget` in milliseconds.
    pub lock_budget_ms: u64,
}

/// Share of a table's rows above which a `DELETE`/`UPDATE` with a `WHERE` is destructive.
pub const ROWS_THRESHOLD_PERCENT: u64 = 10;

/// Server-side programs, files and other servers, found in the text before anything runs
/// (also inside function bodies and `DO` blocks, where dynamic SQL would hide them from a
/// parser). The patch role is no superuser, so these would fail anyway; found up front,
/// they stop the test with a clear reason instead.
pub fn server_programs(patch: &Patch, policy: Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &patch.units {
        let text = match &u.kind {
            UnitKind::Sql(s) => s,
            UnitKind::Copy { sql, .. } => sql,
            _ => continue,
        };
        for r in reaches_beyond(text) {
            out.push(Finding {
                kind: "server-programs",
                at: u.at(),
                message: r,
                hint: "the patch was not run; if production really needs this, re-run with --allow-server-programs (the patch then runs as a superuser of the throwaway cluster)".into(),
                blocking: true,
                acknowledged: policy.allow_server_programs,
            });
        }
    }
    out
}

/// The same check for the scripts hrsi itself loads as the sandbox's superuser (a
/// `--schema`, `--patches` or a backup): `file:line: reason` for each hit.
pub fn scripts_reaching_beyond<'a>(
    statements: impl IntoIterator<Item = (String, &'a str)>,
) -> Vec<String> {
    statements
        .into_iter()
        .flat_map(|(at, text)| {
            reaches_beyond(text)
                .into_iter()
                .map(move |r| format!("{at}: {r}"))
        })
        .collect()
}

/// What in a statement's text reaches files, programs or servers beyond the sandbox.
pub fn reaches_beyond(text: &str) -> Vec<String> {
    const REACH: &[(&str, &str)] = &[
        ("pg_read_file", "reads a file of the database server's host"),
        (
            "pg_read_binary_file",
            "reads a file of the database server's host",
        ),
        (
            "pg_ls_dir",
            "lists a directory of the database server's host",
        ),
        (
            "pg_stat_file",
            "reads file metadata on the database server's host",
        ),
        (
            "pg_file_write",
            "writes a file on the database server's host",
        ),
        ("lo_import", "reads a file of the database server's host"),
        ("lo_export", "writes a file on the database server's host"),
        ("dblink", "connects to another database server"),
        ("postgres_fdw", "connects to another database server"),
        ("file_fdw", "reads files of the database server's host"),
        (
            "pg_execute_server_program",
            "grants running programs on the server's host",
        ),
        ("pg_read_server_files", "grants reading the server's files"),
        ("pg_write_server_files", "grants writing the server's files"),
        ("alter system", "changes the server's configuration file"),
        (
            "plpythonu",
            "an untrusted language runs code on the server's host",
        ),
        (
            "plpython3u",
            "an untrusted language runs code on the server's host",
        ),
        (
            "plperlu",
            "an untrusted language runs code on the server's host",
        ),
    ];
    let text = text.to_ascii_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut reasons: Vec<String> = Vec::new();
    if words.contains(&"copy") && words.contains(&"program") {
        reasons.push("`COPY … PROGRAM` runs a program on the database server's host".into());
    } else if words.first() == Some(&"copy")
        && (text.contains(" to '") || text.contains(" from '") || text.contains(" to e'"))
    {
        reasons.push("`COPY` to or from a file reads or writes the database server's host".into());
    }
    let spaced = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, why) in REACH {
        let hit = if name.contains(' ') {
            spaced.contains(name)
        } else {
            words.contains(name)
        };
        if hit {
            reasons.push(format!("`{name}` {why}"));
        }
    }
    if words.windows(2).any(|w| w == ["language", "c"]) {
        reasons.push("`LANGUAGE c` loads native code into the server".into());
    }
    reasons
}

/// Findings from the verdict's measurements.
pub fn from_verdict(
    patch: &Patch,
    run: &Run,
    rows: &[StatementReport],
    counts: &BTreeMap<i64, i64>,
    policy: Policy,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (step, st) in run.steps.iter().zip(rows) {
        let unit = &patch.units[step.unit];
        destructive(unit, step, counts, policy, &mut out);
        lock_risk(unit, step, st, counts, policy, &mut out);
    }
    out
}

fn first_words(unit: &Unit) -> Vec<String> {
    let text = match &unit.kind {
        UnitKind::Sql(s) => s.as_str(),
        _ => "",
    };
    words_outside_quotes(text)
}

/// The words of a statement outside quotes, comments and parentheses (lower case).
fn words_outside_quotes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    let flush = |w: &mut String, out: &mut Vec<String>, depth: usize| {
        if !w.is_empty() {
            if depth == 0 {
                out.push(w.to_ascii_lowercase());
            }
            w.clear();
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                flush(&mut word, &mut out, depth);
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
                if depth == 0 {
                    out.push(format!("{c}…{c}"));
                }
            }
            '(' => {
                flush(&mut word, &mut out, depth);
                depth += 1;
            }
            ')' => {
                flush(&mut word, &mut out, depth);
                depth = depth.saturating_sub(1);
            }
            '-' if chars.peek() == Some(&'-') => {
                flush(&mut word, &mut out, depth);
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => word.push(c),
            _ => flush(&mut word, &mut out, depth),
        }
    }
    flush(&mut word, &mut out, depth);
    out
}

fn ack(unit: &Unit, policy: Policy) -> bool {
    unit.ack_destructive || policy.allow_destructive
}

const DESTRUCTIVE_HINT: &str = "make sure this is intended (a backup exists, the data is not needed), then acknowledge it with --allow-destructive or a `-- hrsi: allow-destructive` comment on the line above the statement";

fn destructive(
    unit: &Unit,
    step: &Step,
    counts: &BTreeMap<i64, i64>,
    policy: Policy,
    out: &mut Vec<Finding>,
) {
    let (Some(before), Some(after)) = (&step.before, &step.after) else {
        return;
    };
    let words = first_words(unit);
    let first = words.first().map(String::as_str).unwrap_or("");
    let mut destroyed: Vec<String> = Vec::new();
    let gone_schemas: Vec<&String> = before.schemas.difference(&after.schemas).collect();
    for s in &gone_schemas {
        destroyed.push(format!("schema {s}"));
    }
    let mut tables = Vec::new();
    let mut views = 0;
    for (oid, rel) in &before.rels {
        if after.rels.contains_key(oid) {
            continue;
        }
        match rel.kind {
            'r' | 'p' | 'm' => tables.push(format!(
                "{} ({} rows)",
                rel.name,
                counts.get(oid).copied().unwrap_or(0)
            )),
            'v' => views += 1,
            _ => {}
        }
    }
    if !tables.is_empty() {
        let total: i64 = before
            .rels
            .iter()
            .filter(|(oid, r)| !after.rels.contains_key(oid) && matches!(r.kind, 'r' | 'p' | 'm'))
            .map(|(oid, _)| counts.get(oid).copied().unwrap_or(0))
            .sum();
        if tables.len() > 4 {
            destroyed.push(format!(
                "{} tables holding {total} rows ({}, …)",
                tables.len(),
                tables[..3].join(", ")
            ));
        } else {
            destroyed.push(format!("table {}", tables.join(", table ")));
        }
    }
    if views > 0 {
        destroyed.push(format!("{views} view(s)"));
    }
    let names_after: std::collections::BTreeSet<&String> = after.functions.values().collect();
    let gone_functions: std::collections::BTreeSet<&String> = before
        .functions
        .values()
        .filter(|n| !names_after.contains(n))
        .collect();
    if !gone_functions.is_empty() {
        let shown: Vec<&str> = gone_functions.iter().take(3).map(|s| s.as_str()).collect();
        destroyed.push(format!(
            "{} function(s) ({}{})",
            gone_functions.len(),
            shown.join(", "),
            if gone_functions.len() > 3 {
                ", …"
            } else {
                ""
            }
        ));
    }
    for (oid, col) in before.columns.difference(&after.columns) {
        if after.rels.contains_key(oid) {
            let rel = &before.rels[oid];
            destroyed.push(format!(
                "column {}.{col} ({} rows)",
                rel.name,
                counts.get(oid).copied().unwrap_or(0)
            ));
        }
    }
    if first == "truncate" {
        for (oid, rel) in &before.rels {
            if let Some(a) = after.rels.get(oid)
                && a.filenode != rel.filenode
                && counts.get(oid).copied().unwrap_or(0) > 0
            {
                destroyed.push(format!("all {} rows of {}", counts[oid], rel.name));
            }
        }
    }
    if !destroyed.is_empty() {
        out.push(Finding {
            kind: "destructive",
            at: unit.at(),
            message: format!("destroys {}", destroyed.join("; ")),
            hint: DESTRUCTIVE_HINT.into(),
            blocking: true,
            acknowledged: ack(unit, policy),
        });
        return;
    }
    if first == "delete" || first == "update" {
        let Some(rows) = step.rows else { return };
        let target = words
            .iter()
            .skip(1)
            .find(|w| !matches!(w.as_str(), "from" | "only"))
            .cloned()
            .unwrap_or_default();
        let Some((oid, rel)) = find_rel(before, &target) else {
            return;
        };
        let total = counts.get(&oid).copied().unwrap_or(0).max(0) as u64;
        let no_where = !words.iter().any(|w| w == "where");
        let many = rows * 100 > total * ROWS_THRESHOLD_PERCENT;
        // `UPDATE cosims.system_parameters SET …` without WHERE is how parameters are set
        // (one row): one row touched is never a finding.
        if rows >= 2 && total > 0 && (no_where || many) {
            let verb = if first == "delete" {
                "deletes"
            } else {
                "overwrites"
            };
            out.push(Finding {
                kind: "destructive",
                at: unit.at(),
                message: format!(
                    "{verb} {rows} of the {total} rows of {}{}",
                    rel,
                    if no_where { " (no WHERE)" } else { "" }
                ),
                hint: DESTRUCTIVE_HINT.into(),
                blocking: true,
                acknowledged: ack(unit, policy),
            });
        }
    }
}

fn find_rel(snap: &super::measure::Snapshot, name: &str) -> Option<(i64, String)> {
    let name = name.trim_matches('"').to_ascii_lowercase();
    snap.rels.iter().find_map(|(oid, r)| {
        let full = r.name.replace('"', "").to_ascii_lowercase();
        let short = full.rsplit('.').next().unwrap_or("").to_string();
        (full == name || short == name).then(|| (*oid, r.name.clone()))
    })
}

fn lock_risk(
    unit: &Unit,
    step: &Step,
    st: &StatementReport,
    counts: &BTreeMap<i64, i64>,
    policy: Policy,
    out: &mut Vec<Finding>,
) {
    let (Some(before), Some(lock)) = (&step.before, &st.lock) else {
        return;
    };
    let rows = lock
        .relation_oid
        .and_then(|o| counts.get(&o))
        .copied()
        .unwrap_or(0);
    let strong = lock_rank(&lock.mode_name) >= lock_rank("ShareLock");
    let access_exclusive = lock.mode_name == LOCK_MODES[7];
    if let Some(held) = lock.held_ms
        && strong
        && held > policy.lock_budget_ms as f64
    {
        out.push(Finding {
            kind: "lock",
            at: unit.at(),
            message: format!(
                "holds {} on {} ({rows} rows) for {:.0} ms until the commit, over the lock budget of {} ms: every service writing to it waits that long",
                lock.mode, lock.relation, held, policy.lock_budget_ms
            ),
            hint: "split the patch (commit sooner), batch the change, or raise --lock-budget if production can wait that long".into(),
            blocking: true,
            acknowledged: false,
        });
    }
    if access_exclusive && rows > 0 && before.lock_timeout == "0" {
        out.push(Finding {
            kind: "lock-timeout",
            at: unit.at(),
            message: format!(
                "takes ACCESS EXCLUSIVE on {} ({rows} rows) with no lock_timeout: in production it queues behind every running query on the table, and every query after it queues behind it",
                lock.relation
            ),
            hint: "put `SET lock_timeout = '5s';` before it, and retry if it times out".into(),
            blocking: false,
            acknowledged: false,
        });
    }
    for r in &st.rewrites {
        out.push(Finding {
            kind: "rewrite",
            at: unit.at(),
            message: format!(
                "rewrites {r} under ACCESS EXCLUSIVE ({:.0} ms here): the time grows with the table's size in production",
                st.ms
            ),
            hint: "prefer a change that needs no rewrite (e.g. add a column without a volatile default, validate a constraint separately)".into(),
            blocking: false,
            acknowledged: false,
        });
    }
}

/// A `job_types_list` the services could not read (they parse it with `json.loads` every
/// loop): the runbook's single-quoted example is the classic case.
pub fn job_types_list(
    patch: &Patch,
    run: &Run,
    before: Option<&str>,
    after: Option<&str>,
) -> Option<Finding> {
    let after = after?;
    if Some(after) == before {
        return None;
    }
    let reason = match JobTypesList::parse(after) {
        JobTypesList::Valid(_) => return None,
        JobTypesList::NotJson => "is not JSON (single quotes?)".to_string(),
        JobTypesList::UnknownType(t) => format!("names the unknown job type `{t}`"),
    };
    let at = run
        .steps
        .iter()
        .rev()
        .map(|s| &patch.units[s.unit])
        .find(|u| matches!(&u.kind, UnitKind::Sql(s) if s.contains("job_types_list")))
        .map(|u| u.at())
        .unwrap_or_else(|| patch.path.display().to_string());
    Some(Finding {
        kind: "job-types-list",
        at,
        message: format!(
            "sets system_parameters.job_types_list to `{after}`, which {reason}: every loop service fails at each iteration (json.loads) and the system stops creating and running jobs"
        ),
        hint: "write a JSON array with double quotes: '[\"fsc_rlie_job\", \"rlies1_job\"]' (known types: fsc_rlie_job, rlies1_job, rlies1s2_job, sws_wds_job, gfsc_job, test_job)".into(),
        blocking: true,
        acknowledged: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_outside_quotes_find_the_where() {
        assert_eq!(
            words_outside_quotes("delete from cosims.t -- where\n"),
            vec!["delete", "from", "cosims.t"]
        );
        let w = words_outside_quotes("update t set a = 'where' where (x)");
        assert!(w.contains(&"where".to_string()));
        assert!(
            !words_outside_quotes("update t set a = (select 1 where true)")
                .contains(&"where".to_string())
        );
    }
}
