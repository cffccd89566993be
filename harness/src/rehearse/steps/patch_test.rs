//! `patch_test`: `hrsi patch-test` as a step. The patch's verdict in the sandbox (its own
//! throwaway cluster, the patch as a role that owns the data and is no superuser), on a dump an
//! earlier step wrote (the runbook: "tested on a backup first") or on a generated
//! production-shaped data set, with the runbook's schema-only variant beside it.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use hrsi_scenario::PatchTest;

use super::{MAX_FILE, Outcome};
use crate::{
    patch::{self, DataSource, PatchTestOptions, Policy},
    rehearse::{
        transcript::redact,
        world::{LastRun, World, history_spec},
    },
    schema::Schema,
};

/// The whole test's limit in a rehearsal (the CLI's default is 10 minutes; a rehearsal's data
/// is small).
const TIMEOUT: Duration = Duration::from_secs(120);
/// One statement's limit.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// The CLI's default lock budget.
const LOCK_BUDGET_MS: u64 = 5_000;

/// The patch a step names, relative to the scenario's directory: a regular file (no symbolic
/// link) inside the scenario's directory tree, i.e. its directory or, for a scenario in a
/// suite's subdirectory, the suite's (`scenarios/procedures/x.yaml` reaches
/// `scenarios/patches/` as `../patches/…`, not beyond). Errors are (message, hint).
pub fn patch_path(scenario_dir: &Path, written: &str) -> Result<PathBuf, (String, String)> {
    let root = scenario_dir.parent().unwrap_or(scenario_dir);
    let root_shown = "the scenario's directory or its parent";
    let p = scenario_dir.join(written);
    let meta = std::fs::symlink_metadata(&p).map_err(|e| {
        (
            format!("patch `{written}`: {}", io_reason(&e)),
            format!(
                "the path is relative to the scenario file; it must name a file in {root_shown}"
            ),
        )
    })?;
    if meta.file_type().is_symlink() || !meta.is_file() {
        return Err((
            format!("patch `{written}` is not a regular file (symbolic links are refused)"),
            "name the patch file itself".into(),
        ));
    }
    let inside = std::fs::canonicalize(&p)
        .ok()
        .zip(std::fs::canonicalize(root).ok())
        .is_some_and(|(f, r)| f.starts_with(r));
    if !inside {
        return Err((
            format!("patch `{written}` is outside the scenario's directory tree"),
            format!("keep the patch in {root_shown}, e.g. `../patches/fix.sql`"),
        ));
    }
    if meta.len() > MAX_FILE {
        return Err((
            format!(
                "patch `{written}` is {} bytes: at most {MAX_FILE}",
                meta.len()
            ),
            "a patch is a script, not a dump".into(),
        ));
    }
    Ok(p)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Runs the patch test and reports its verdict, deterministically (no wall times).
pub(super) async fn patch_test(
    w: &mut World,
    t: &PatchTest,
    out: &mut Outcome,
) -> Result<(), String> {
    let path =
        patch_path(&w.scenario_dir, &t.patch).map_err(|(m, h)| format!("{m} (hint: {h})"))?;
    let data = match &t.backup {
        Some(b) => {
            let f = w.workdir.path().join(b);
            if !w.produced.contains(b) || !f.is_file() {
                return Err(format!(
                    "no dump `{b}` in the working directory (hint: an earlier `pg_dumpall: {{ to: {b} }}` or `borg_extract` step writes it)"
                ));
            }
            DataSource::Dump(f)
        }
        None => DataSource::Generated(history_spec(w.start)),
    };
    out.observed.push(format!(
        "$ hrsi patch-test --patch {}{}",
        t.patch,
        t.backup
            .as_ref()
            .map(|b| format!(" --backup {b}"))
            .unwrap_or_default()
    ));
    let options = PatchTestOptions {
        patch: path.clone(),
        schema: Schema::builtin(),
        data,
        postgres_url: None,
        revert: None,
        policy: Policy {
            allow_destructive: false,
            allow_server_programs: false,
            lock_budget_ms: LOCK_BUDGET_MS,
        },
        timeout: TIMEOUT,
        statement_timeout: STATEMENT_TIMEOUT,
    };
    // The sandbox's initdb and pg_restore block: off the scheduler's worker.
    let report = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(patch::run(&options))
    });
    // Paths as the scenario writes them: no host directory in a transcript.
    let full = path.display().to_string();
    let work = format!("{}/", w.workdir.path().display());
    let shown = |s: &str| redact(&s.replace(&full, &t.patch).replace(&work, ""));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let code = if e.is_bad_input() { 2 } else { 3 };
            let line = format!("error: {}", shown(&e.to_string()));
            out.refused.push(line.clone());
            out.observed.push(line.clone());
            out.observed.push(format!("exit code {code}"));
            w.last = LastRun {
                exit_code: Some(code),
                errors: vec![line.clone()],
                output: vec![line],
            };
            return Ok(());
        }
    };
    let mut lines = vec![format!("against {}", shown(&report.data))];
    lines.push(format!(
        "verdict: {} (one transaction, stop at the first error, as {})",
        report.result, report.role
    ));
    let mut errors: Vec<String> = Vec::new();
    if let Some(e) = &report.error {
        let l = format!("  {}", shown(&e.to_string()));
        errors.push(l.trim().to_owned());
        lines.push(l);
    }
    if let Some(t) = &report.timed_out {
        lines.push(format!("  {}", shown(t)));
    }
    for d in report.diagnostics.iter().skip(1) {
        let l = shown(&d.to_string());
        lines.push(format!("  diagnostic pass: {l}"));
        errors.push(l);
    }
    if let Some(so) = &report.schema_only {
        lines.push(format!(
            "the runbook's test (pg_dumpall -s, schema only): {}{}",
            if so.applied { "applies" } else { "fails" },
            so.errors
                .first()
                .map(|e| format!(": {}", shown(&e.to_string())))
                .unwrap_or_default()
        ));
    }
    if let Some(d) = &report.disagreement {
        lines.push(shown(d));
    }
    if let Some(a) = &report.second_application {
        lines.push(format!(
            "applied a second time: {}",
            if a.applied { "applies" } else { "fails" }
        ));
    }
    for f in &report.findings {
        lines.push(format!(
            "finding {}: {}{}",
            f.kind,
            shown(&f.message),
            if f.stops() { "" } else { " (acknowledged)" }
        ));
    }
    for wn in &report.warnings {
        lines.push(format!("warning: {}", shown(wn)));
    }
    lines.push(format!("exit code {}", report.exit_code));
    out.observed.extend(lines.iter().cloned());
    out.findings = report
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.kind, shown(&f.message)))
        .collect();
    out.verdict = Some(report.result.clone());
    w.last = LastRun {
        exit_code: Some(i32::from(report.exit_code)),
        errors,
        output: lines,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A suite: `suite/procedures/x.yaml`, `suite/patches/fix.sql`, and a file beside the suite.
    fn suite() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("suite/procedures")).unwrap();
        std::fs::create_dir_all(t.path().join("suite/patches")).unwrap();
        std::fs::write(t.path().join("suite/patches/fix.sql"), "select 1;\n").unwrap();
        std::fs::write(t.path().join("outside.sql"), "select 1;\n").unwrap();
        t
    }

    #[test]
    fn a_patch_stays_in_the_scenarios_directory_tree() {
        let t = suite();
        let dir = t.path().join("suite/procedures");
        assert!(patch_path(&dir, "../patches/fix.sql").is_ok());
        let (m, h) = patch_path(&dir, "../patches/missing.sql").unwrap_err();
        assert!(
            m.contains("no such file") && h.contains("relative to the scenario file"),
            "{m}"
        );
        let (m, _) = patch_path(&dir, "../../outside.sql").unwrap_err();
        assert!(m.contains("outside the scenario's directory tree"), "{m}");
        std::os::unix::fs::symlink(t.path().join("outside.sql"), dir.join("link.sql")).unwrap();
        let (m, _) = patch_path(&dir, "link.sql").unwrap_err();
        assert!(m.contains("symbolic links are refused"), "{m}");
        let (m, _) = patch_path(&dir, "../patches").unwrap_err();
        assert!(m.contains("not a regular file"), "{m}");
    }

    #[test]
    fn a_missing_patch_is_refused_when_the_suite_loads_where_it_is_written() {
        let t = suite();
        let f = t.path().join("suite/procedures/x.yaml");
        std::fs::write(
            &f,
            "days: 2\nsteps:\n  - pg_dumpall: { to: d.sql }\n  - patch_test: { patch: ../patches/gone.sql, backup: d.sql }\n",
        )
        .unwrap();
        let errors = crate::rehearse::discover(&[t.path().join("suite")]).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("suite/procedures/x.yaml:4:26: error: patch `../patches/gone.sql`: no such file (hint: "),
            "{errors:?}"
        );
        std::fs::write(
            &f,
            "days: 2\nsteps:\n  - patch_test: { patch: ../patches/fix.sql }\n",
        )
        .unwrap();
        assert_eq!(
            crate::rehearse::discover(&[t.path().join("suite")])
                .unwrap()
                .len(),
            1
        );
    }
}
