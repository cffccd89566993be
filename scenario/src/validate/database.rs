//! Database steps: the files psql, pg_dumpall, borg and restores read and write.

use super::*;

impl Validator<'_> {
    /// A file in the rehearsal's working directory (or next to the scenario): a relative path
    /// that stays inside it.
    pub(super) fn file_name(&mut self, f: &Spanned<String>) -> Option<String> {
        let v = &f.value;
        let bad = v.is_empty()
            || v.len() > 200
            || v.starts_with('/')
            || v.split('/').any(|p| p == ".." || p.is_empty())
            || v.chars().any(|c| c.is_control() || c == '\\');
        if bad {
            self.err(
                f,
                format!("`{v}` is not a file name the rehearsal can use"),
                Some(
                    "a relative path without `..`, e.g. `database-all.sql` or `patches/fix.sql`"
                        .into(),
                ),
            );
            return None;
        }
        Some(v.clone())
    }
}

impl Validator<'_> {
    /// `sql: STATEMENT` (as at the prompt) or `sql: { query, on_error_stop }`.
    pub(super) fn sql(q: &Spanned<RawSql>) -> StepKind {
        match &q.value {
            RawSql::Text(t) => StepKind::Sql(t.clone()),
            RawSql::Full(f) => StepKind::SqlWith {
                query: f.query.value.clone(),
                on_error_stop: f.on_error_stop.unwrap_or(false),
            },
        }
    }

    /// `psql_file: { file, on_error_stop, single_transaction }`.
    pub(super) fn psql_file(&mut self, p: &Spanned<RawPsqlFile>) -> Option<StepKind> {
        Some(StepKind::PsqlFile {
            file: self.file_name(&p.value.file)?,
            on_error_stop: p.value.on_error_stop.unwrap_or(false),
            single_transaction: p.value.single_transaction.unwrap_or(false),
        })
    }

    /// `pg_dumpall: { to, schema_only }`.
    pub(super) fn pg_dumpall(&mut self, d: &Spanned<RawPgDumpall>) -> Option<StepKind> {
        Some(StepKind::PgDumpall {
            schema_only: d.value.schema_only.unwrap_or(false),
            to: self.file_name(&d.value.to)?,
        })
    }

    /// `restore: { file, drop_schema, killed_at }`.
    pub(super) fn restore(&mut self, rs: &Spanned<RawRestore>) -> Option<StepKind> {
        Some(StepKind::Restore {
            file: self.file_name(&rs.value.file)?,
            drop_schema: rs.value.drop_schema.unwrap_or(true),
            killed_at: rs.value.killed_at.as_ref().map(|k| k.value.clone()),
        })
    }
}

impl Validator<'_> {
    /// `patch_test: { patch, backup }`. The patch is relative to the scenario file and may
    /// reach the suite's shared `patches/` with `..`; whether it exists, and stays inside the
    /// suite, is the caller's check (it reads files: see `PatchTest::at`).
    pub(super) fn patch_test(&mut self, p: &Spanned<RawPatchTest>) -> Option<PatchTest> {
        let f = &p.value.patch;
        let v = &f.value;
        let bad = v.is_empty()
            || v.len() > 200
            || v.starts_with('/')
            || v.starts_with('~')
            || v.split('/').any(|c| c.is_empty() || c == ".")
            || v.chars().any(|c| c.is_control() || c == '\\');
        if bad {
            self.err(
                f,
                format!("`{v}` is not a patch path the rehearsal can use"),
                Some("a path relative to the scenario file, e.g. `../patches/fix.sql`".into()),
            );
            return None;
        }
        let backup = match &p.value.backup {
            Some(b) => Some(self.file_name(b)?),
            None => None,
        };
        Some(PatchTest {
            patch: v.clone(),
            at: (f.referenced.line(), f.referenced.column()),
            backup,
        })
    }
}
