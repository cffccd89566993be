//! `hrsi patch-test`: rehearse a database patch on real PostgreSQL holding data, in a
//! sandbox the patch cannot leave, and measure what it does.
//!
//! Steps (database.md §6.3, §7.2; runbook "Patch the database definition"):
//! 1. [`parse`]: the patch is split by our own splitter and checked before anything runs
//!    (meta-command allow-list, includes inside its directory, server programs and files);
//! 2. [`sandbox`]: one throwaway cluster hrsi starts; database `postgres` gets the data
//!    (generated, a backup, or a read-only copy of a `--postgres-url` server); the patch
//!    runs as `hrsi_patch`, owner of the data but no superuser;
//! 3. **verdict** ([`apply`], [`measure`]): on a clone, one transaction, stop at the first
//!    error; per statement: duration, rows, strongest lock and how long it is held, rewrite,
//!    WAL bytes, size delta;
//! 4. the **runbook's variant** (`pg_dump -s`, schema only) in another database of the same
//!    cluster, at the same time; a patch that only fails on data is reported;
//! 5. if it fails: a **diagnostic pass** (autocommit, without stopping) lists every error;
//!    a statement that cannot run in a transaction gets its own verdict;
//! 6. if it applies: a second application (idempotence) and, with `--revert`, apply /
//!    revert / apply again on another clone ([`revert`]);
//! 7. [`findings`]: destructive changes, lock risk, a bad `job_types_list`; [`report`].

pub mod apply;
pub mod findings;
pub mod measure;
pub mod parse;
pub mod report;
pub mod revert;
pub mod sandbox;
pub mod vars;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use tokio_postgres::Client;

use self::{
    apply::{Limits, Measuring, Mode},
    report::{Attempt, NonTransactional},
    sandbox::{Sandbox, TEMPLATE_DB},
};
pub use self::{
    findings::{Finding, Policy},
    report::{PatchReport, exit},
};
use crate::{
    backup,
    dataset::DatasetSpec,
    postgres::{Error, Result, Template, redact_url},
    schema::Schema,
};

/// Where the data the patch is tested against comes from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// Our generator (production mix of job types, realistic histories).
    Generated(DatasetSpec),
    /// The simulator's production-shaped history (warm start plus N days), ending now.
    History(crate::world::HistorySpec),
    /// A `pg_dumpall` file (`database-all.sql`).
    Dump(PathBuf),
    /// `REPO::ARCHIVE` of a borg repository holding `database-all.sql`.
    BorgArchive {
        /// The repository.
        repo: PathBuf,
        /// The archive (`pgdump_…`).
        archive: String,
    },
}

impl DataSource {
    /// Parses `--backup`: `REPO::ARCHIVE` for borg, otherwise a dump file.
    pub fn from_backup_arg(arg: &str) -> Result<DataSource> {
        let bad = |reason: String, hint: &str| Error::BadInput {
            what: "--backup".into(),
            value: arg.into(),
            reason,
            hint: hint.into(),
        };
        if let Some((repo, archive)) = backup::parse_archive_ref(arg) {
            if !repo.is_dir() {
                return Err(bad(
                    format!(
                        "the borg repository `{}` is not a directory",
                        repo.display()
                    ),
                    "give REPO::ARCHIVE with an existing borg repository (see `borg list REPO`)",
                ));
            }
            return Ok(DataSource::BorgArchive { repo, archive });
        }
        let path = PathBuf::from(arg);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(DataSource::Dump(path)),
            Ok(_) => Err(bad(
                "it is not a file".into(),
                "give a `database-all.sql` written by pg_dumpall, or REPO::ARCHIVE of a borg repository",
            )),
            Err(e) => Err(bad(
                format!("the backup cannot be read: {e}"),
                "give a `database-all.sql` written by pg_dumpall, or REPO::ARCHIVE of a borg repository",
            )),
        }
    }

    fn describe(&self) -> String {
        match self {
            DataSource::Generated(s) => {
                format!("a generated production-shaped data set ({} jobs)", s.jobs)
            }
            DataSource::History(h) => format!(
                "the simulator's production-shaped history (warm start + {} day{} up to now, seed {})",
                h.days,
                if h.days == 1 { "" } else { "s" },
                h.seed
            ),
            DataSource::Dump(p) => format!("the dump `{}`", p.display()),
            DataSource::BorgArchive { repo, archive } => {
                format!("the borg archive `{}::{archive}`", repo.display())
            }
        }
    }
}

/// What to test, and how.
#[derive(Debug, Clone)]
pub struct PatchTestOptions {
    /// The patch file.
    pub patch: PathBuf,
    /// The schema to start from (ignored when the data comes from a backup or a server).
    pub schema: Schema,
    /// The data.
    pub data: DataSource,
    /// A server to copy the data from (read only; the patch never runs there).
    pub postgres_url: Option<String>,
    /// `--revert FILE`.
    pub revert: Option<PathBuf>,
    /// Findings policy.
    pub policy: Policy,
    /// The whole test's limit.
    pub timeout: Duration,
    /// One statement's limit.
    pub statement_timeout: Duration,
}

struct Clock(Vec<(String, u64)>, Instant);

impl Clock {
    fn lap(&mut self, step: &str) {
        let now = Instant::now();
        self.0
            .push((step.to_string(), (now - self.1).as_millis() as u64));
        self.1 = now;
    }
}

/// Runs the whole patch test. Bad input is an `Err` that [`Error::is_bad_input`] recognises.
pub async fn run(options: &PatchTestOptions) -> Result<PatchReport> {
    let started = Instant::now();
    let limits = Limits {
        statement: options.statement_timeout,
        deadline: started + options.timeout,
    };
    let mut clock = Clock(Vec::new(), started);
    let patch = parse::parse(&options.patch)?;
    let revert = options.revert.as_deref().map(parse::parse).transpose()?;
    let mut findings = findings::server_programs(&patch, options.policy);
    if let Some(r) = &revert {
        findings.extend(findings::server_programs(r, options.policy));
    }
    // A user's schema and patch directory are loaded as the sandbox's superuser: they may
    // not reach beyond it either.
    let hits = findings::scripts_reaching_beyond(
        std::iter::once(options.schema.init())
            .chain(options.schema.patches())
            .flat_map(|s| {
                s.statements()
                    .iter()
                    .map(move |st| (format!("{}:{}", s.origin(), st.line), st.text.as_str()))
            }),
    );
    if !hits.is_empty() && !options.policy.allow_server_programs {
        return Err(Error::BadInput {
            what: "schema".into(),
            value: options.schema.init().origin().into(),
            reason: format!("it reaches beyond the sandbox:\n  {}", hits.join("\n  ")),
            hint: "remove those statements, or pass --allow-server-programs".into(),
        });
    }
    clock.lap("check");
    let data = match &options.postgres_url {
        Some(u) => format!(
            "a copy of {} (read only: pg_dump into hrsi's own cluster)",
            redact_url(u)
        ),
        None => options.data.describe(),
    };
    let mut report = PatchReport {
        patch: options.patch.display().to_string(),
        data,
        result: String::new(),
        exit_code: exit::APPLIES,
        role: if options.policy.allow_server_programs {
            "postgres (superuser, --allow-server-programs)".into()
        } else {
            format!("{} (owner of the data, no superuser)", sandbox::PATCH_ROLE)
        },
        statements: Vec::new(),
        error: None,
        timed_out: None,
        non_transactional: None,
        diagnostics: Vec::new(),
        schema_only: None,
        disagreement: None,
        second_application: None,
        revert: None,
        findings: Vec::new(),
        echo: Vec::new(),
        warnings: Vec::new(),
        timings_ms: Vec::new(),
    };
    if findings.iter().any(Finding::stops) {
        report.findings = findings;
        report.result = "not-run".into();
        report.exit_code = exit::FINDINGS;
        report.timings_ms = clock.0;
        return Ok(report);
    }

    let mut sb = Sandbox::start()?;
    clock.lap("start the cluster");
    let (warnings, so_db) = sb
        .load(
            &options.data,
            &options.schema,
            options.postgres_url.as_deref(),
        )
        .await?;
    report.warnings = warnings;
    sb.prepare_role(options.policy.allow_server_programs, &[TEMPLATE_DB, &so_db])
        .await?;
    clock.lap("load data, schema-only dump");

    // The verdict runs on `postgres` itself, as production's patch does: no copy is needed
    // (a failed verdict rolls back and leaves it for the diagnostic pass; one that applies
    // is applied again there). Only `--revert` needs a pristine copy, taken first.
    let admin = sb.server.admin().await?;
    let revert_db = match &revert {
        Some(_) => {
            admin.wait_until_unused(TEMPLATE_DB).await?;
            let db = Template::existing(TEMPLATE_DB).clone_db(&admin).await?;
            clock.lap("clone for --revert");
            Some(db)
        }
        None => None,
    };
    let verdict_db = TEMPLATE_DB;

    // The runbook's variant runs beside the verdict.
    let schema_only = async {
        let client = sb.connect_as_patch(&so_db).await?;
        Ok::<_, Error>(apply::run(&client, &patch, Mode::Transaction, limits, None).await)
    };
    let verdict = verdict(&sb, verdict_db, &patch, limits);
    let (schema_only, verdict) = tokio::join!(schema_only, verdict);
    let (client, run, counts, jt_before, jt_after) = verdict?;
    clock.lap("verdict and runbook variant");
    let schema_only = schema_only?;

    report.statements = report::statements(&patch, &run, &counts);
    report.error = run.errors().into_iter().next();
    report.timed_out = report::timeout_text(&run);
    report.echo = run.echo.clone();
    report.schema_only = Some(Attempt::from_run(&schema_only));
    report.disagreement = match (schema_only.applied(), run.applied()) {
        (true, false) if report.timed_out.is_none() => Some(
            "the patch passes the runbook's test (pg_dumpall -s, schema only) but fails on data: testing on the schema alone would have let it through".into(),
        ),
        (false, true) => Some("the patch fails on the schema-only dump but applies on data".into()),
        _ => None,
    };
    findings.extend(findings::from_verdict(
        &patch,
        &run,
        &report.statements,
        &counts,
        options.policy,
    ));
    findings.extend(findings::job_types_list(
        &patch,
        &run,
        jt_before.as_deref(),
        jt_after.as_deref(),
    ));

    if run.applied() {
        let again = apply::run(&client, &patch, Mode::Transaction, limits, None).await;
        if !again.applied() {
            let first = again
                .errors()
                .first()
                .map(|e| e.to_string())
                .or_else(|| report::timeout_text(&again))
                .unwrap_or_default();
            report.warnings.push(format!(
                "the patch is not idempotent: applied a second time it fails ({first}); the deployment path re-applies a forgotten patch at every new database instance"
            ));
        }
        report.second_application = Some(Attempt::from_run(&again));
        clock.lap("second application");
        if let (Some(rp), Some(db)) = (&revert, &revert_db) {
            let c = sb.connect_as_patch(db).await?;
            let r = revert::check(&c, &patch, rp, limits)
                .await
                .map_err(|e| Error::sql("compare digests for --revert", &e))?;
            if !r.revert.applied || !r.schema_restored {
                findings.push(Finding {
                    kind: "revert",
                    at: rp.path.display().to_string(),
                    message: if r.revert.applied {
                        format!(
                            "the revert leaves the schema different from before the patch: {}",
                            r.schema_differs.join("; ")
                        )
                    } else {
                        format!(
                            "the revert fails after the patch: {}",
                            r.revert
                                .errors
                                .first()
                                .map(|e| e.to_string())
                                .or(r.revert.timed_out.clone())
                                .unwrap_or_default()
                        )
                    },
                    hint: "fix the revert script: production needs a way back".into(),
                    blocking: true,
                    acknowledged: false,
                });
            }
            report.revert = Some(r);
            clock.lap("revert");
        }
    } else if report.timed_out.is_none() {
        // The verdict's transaction was rolled back: the same database serves.
        let c = sb.connect_as_patch(verdict_db).await?;
        let diag = apply::run(&c, &patch, Mode::Autocommit, limits, None).await;
        report.diagnostics = diag.errors();
        if let Some(e) = &report.error
            && e.code.as_deref() == Some("25001")
        {
            report.non_transactional = Some(NonTransactional {
                at: format!("{}:{}", e.file, e.line),
                error: e.clone(),
                autocommit: Attempt::from_run(&diag),
            });
        }
        if report
            .diagnostics
            .iter()
            .chain(&report.error)
            .any(|e| e.code.as_deref() == Some("42501"))
            && !options.policy.allow_server_programs
        {
            report.warnings.push(format!(
                "permission denied: the patch runs as `{}`, owner of the data but no superuser; if production really needs a superuser for this, re-run with --allow-server-programs",
                sandbox::PATCH_ROLE
            ));
        }
        clock.lap("diagnostic pass");
    }
    drop(client);
    report.findings = findings;
    let fails = !run.applied()
        && report
            .non_transactional
            .as_ref()
            .is_none_or(|n| !n.autocommit.applied);
    (report.result, report.exit_code) = if report.timed_out.is_some() {
        ("timed-out".into(), exit::FAILS)
    } else if fails {
        ("fails".into(), exit::FAILS)
    } else if report.findings.iter().any(Finding::stops) || report.non_transactional.is_some() {
        ("applies-with-findings".into(), exit::FINDINGS)
    } else {
        ("applies".into(), exit::APPLIES)
    };
    drop(admin);
    drop(sb);
    clock.lap("stop the cluster");
    report.timings_ms = clock.0;
    Ok(report)
}

type VerdictRun = (
    Client,
    apply::Run,
    std::collections::BTreeMap<i64, i64>,
    Option<String>,
    Option<String>,
);

async fn verdict(
    sb: &Sandbox,
    db: &str,
    patch: &parse::Patch,
    limits: Limits,
) -> Result<VerdictRun> {
    let client = sb.connect_as_patch(db).await?;
    let db_dir = sb.db_dir(&client).await?;
    let snap = measure::snapshot(&client, &db_dir)
        .await
        .map_err(|e| Error::Server {
            action: "measure the clone".into(),
            log: e,
        })?;
    let counts = measure::row_counts(&client, &snap).await;
    let before = job_types(&client).await;
    let run = apply::run(
        &client,
        patch,
        Mode::Transaction,
        limits,
        Some(Measuring { db_dir: &db_dir }),
    )
    .await;
    let after = if run.applied() {
        job_types(&client).await
    } else {
        None
    };
    Ok((client, run, counts, before, after))
}

async fn job_types(client: &Client) -> Option<String> {
    client
        .query_opt(
            "select job_types_list::text from cosims.system_parameters order by id limit 1",
            &[],
        )
        .await
        .ok()
        .flatten()
        .and_then(|r| r.get(0))
}
