//! `hrsi patch-test`: rehearse a database patch on real PostgreSQL holding data.
//!
//! Steps (database.md §6.3, §7.2; runbook "Patch the database definition"):
//! 1. a production-like server: `cosims` in database `postgres` of a throwaway cluster,
//!    filled with a generated production-shaped data set or loaded from a backup (a
//!    `database-all.sql` dump or a borg archive);
//! 2. **verdict**: the patch on a clone of that database with `psql -v ON_ERROR_STOP=1
//!    --single-transaction` (all or nothing, stop at the first error);
//! 3. when it fails, a **diagnostic pass** on another throwaway clone, without stopping, lists
//!    every error with file:line and SQLSTATE;
//! 4. the **runbook's variant**: `pg_dumpall -s` (schema only) loaded into a second cluster,
//!    the patch applied there; a patch that only fails on data passes that test, and the
//!    report says so;
//! 5. **idempotence**: a patch that applied is applied again on the same clone; a failure
//!    there is a warning (the deployment path re-applies a forgotten patch at every new
//!    database instance), not a failure.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use serde::Serialize;

use crate::{
    backup::{self, Borg, RestoreOptions},
    dataset::{self, DatasetSpec},
    postgres::{Error, Result, Server, Template},
    psql::{self, PsqlOptions, PsqlRun, SqlError},
    schema::{Schema, Script, StatementKind},
};

/// Where the data the patch is tested against comes from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// Our generator (production mix of job types, realistic histories).
    Generated(DatasetSpec),
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
        if let Some((repo, archive)) = backup::parse_archive_ref(arg) {
            if !repo.is_dir() {
                return Err(Error::BadInput {
                    what: "borg archive".into(),
                    value: arg.into(),
                    reason: format!("the repository `{}` is not a directory", repo.display()),
                    hint:
                        "give REPO::ARCHIVE with an existing borg repository (see `borg list REPO`)"
                            .into(),
                });
            }
            return Ok(DataSource::BorgArchive { repo, archive });
        }
        let path = PathBuf::from(arg);
        std::fs::metadata(&path).map_err(|source| Error::ReadInput {
            path: path.clone(),
            source,
        })?;
        Ok(DataSource::Dump(path))
    }

    fn describe(&self) -> String {
        match self {
            DataSource::Generated(s) => {
                format!("a generated production-shaped data set ({} jobs)", s.jobs)
            }
            DataSource::Dump(p) => format!("the dump `{}`", p.display()),
            DataSource::BorgArchive { repo, archive } => {
                format!("the borg archive `{}::{archive}`", repo.display())
            }
        }
    }
}

/// What to test.
#[derive(Debug, Clone)]
pub struct PatchTestOptions {
    /// The patch file.
    pub patch: PathBuf,
    /// The schema to start from (ignored when the data comes from a backup, which holds its
    /// own schema).
    pub schema: Schema,
    /// The data.
    pub data: DataSource,
    /// An existing server instead of throwaway clusters.
    pub postgres_url: Option<String>,
}

/// One application of the patch.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// psql's exit code and no error printed.
    pub clean: bool,
    /// psql's exit code.
    pub exit_code: Option<i32>,
    /// Errors printed.
    pub errors: Vec<SqlError>,
    /// Wall time in milliseconds.
    pub millis: u64,
}

impl From<&PsqlRun> for Attempt {
    fn from(r: &PsqlRun) -> Attempt {
        Attempt {
            clean: r.clean(),
            exit_code: r.exit_code,
            errors: r.errors.clone(),
            millis: r.duration.as_millis() as u64,
        }
    }
}

/// The outcome of a patch test.
#[derive(Debug, Clone, Serialize)]
pub struct PatchReport {
    /// The patch file.
    pub patch: String,
    /// What the patch was tested against.
    pub data: String,
    /// The verdict: `ON_ERROR_STOP=1 --single-transaction` on a clone with data.
    pub verdict: Attempt,
    /// Every error of a run without stopping (only when the verdict failed).
    pub diagnostics: Vec<SqlError>,
    /// The runbook's variant on a schema-only dump.
    pub schema_only: Option<Attempt>,
    /// Set when the schema-only test and the test with data disagree.
    pub disagreement: Option<String>,
    /// The second application (only when the first one applied).
    pub second_application: Option<Attempt>,
    /// Non-fatal findings (non-idempotent patch, backup loaded with errors, ...).
    pub warnings: Vec<String>,
    /// Milliseconds per step, in order.
    pub timings_ms: Vec<(String, u64)>,
}

impl PatchReport {
    /// Whether the patch applies on data.
    pub fn passed(&self) -> bool {
        self.verdict.clean
    }
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

/// Runs the whole patch test.
pub async fn run(options: &PatchTestOptions) -> Result<PatchReport> {
    let patch_text =
        std::fs::read_to_string(&options.patch).map_err(|source| Error::ReadInput {
            path: options.patch.clone(),
            source,
        })?;
    // Only used to map psql's lines to exact lines (psql itself judges the patch), and to
    // keep the patch on its clone.
    let script = Script::parse(options.patch.display().to_string(), patch_text).ok();
    if let Some(line) = script.as_ref().and_then(connect_line) {
        return Err(Error::BadInput {
            what: "patch".into(),
            value: format!("{}:{line}", options.patch.display()),
            reason:
                "it switches database with `\\connect`, which would take it off the throwaway clone"
                    .into(),
            hint: "remove the meta-command: production runs patches on database `postgres` already"
                .into(),
        });
    }
    let mut clock = Clock(Vec::new(), Instant::now());
    let mut warnings = Vec::new();
    match &options.postgres_url {
        None => run_owned(options, script.as_ref(), &mut clock, &mut warnings).await,
        Some(url) => run_external(url, options, script.as_ref(), &mut clock, &mut warnings).await,
    }
}

async fn run_owned(
    options: &PatchTestOptions,
    script: Option<&Script>,
    clock: &mut Clock,
    warnings: &mut Vec<String>,
) -> Result<PatchReport> {
    // Both clusters start in parallel: initdb dominates (≈ 0.5 s each).
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(Server::ephemeral);
        let b = s.spawn(Server::ephemeral);
        (
            a.join().expect("cluster thread"),
            b.join().expect("cluster thread"),
        )
    });
    let (a, b) = (a?, b?);
    clock.lap("start two clusters");
    let tmp = tempfile::tempdir().map_err(|e| Error::io("create a temp dir", e))?;
    load_data(&a, &options.data, &options.schema, tmp.path(), warnings).await?;
    clock.lap("load schema and data");

    // The runbook's variant: pg_dumpall -s, loaded into a fresh cluster, then the patch.
    let schema_dump = tmp.path().join("schema-only.sql");
    backup::dumpall(&a, true, &schema_dump).await?;
    let loaded = backup::restore(
        &b,
        &schema_dump,
        RestoreOptions {
            drop_schema_first: false,
        },
    )
    .await?;
    if !loaded.real.is_empty() {
        warnings.push(format!(
            "the schema-only dump loaded with errors: {}",
            loaded.summary()
        ));
    }
    let schema_only =
        psql::run_file(&b, "postgres", &options.patch, verdict_options(), script).await?;
    clock.lap("runbook variant (pg_dumpall -s)");

    let admin = a.admin().await?;
    admin.wait_until_unused("postgres").await?;
    let source = Template::existing("postgres");
    let report = apply_on_clones(&a, &admin, &source, options, script, clock, warnings).await?;
    Ok(finish(report, options, Some(&schema_only), warnings, clock))
}

async fn run_external(
    url: &str,
    options: &PatchTestOptions,
    script: Option<&Script>,
    clock: &mut Clock,
    warnings: &mut Vec<String>,
) -> Result<PatchReport> {
    let server = Server::external(url)?;
    if !matches!(options.data, DataSource::Generated(_)) {
        return Err(Error::BadInput {
            what: "option combination".into(),
            value: "--backup with --postgres-url".into(),
            reason:
                "restoring a pg_dumpall backup recreates roles: it needs a cluster the harness owns"
                    .into(),
            hint: "drop --postgres-url to test against a backup on a throwaway cluster".into(),
        });
    }
    let admin = server.admin().await?;
    let data_db = crate::postgres::unique_db_name("data");
    admin.create_database(&data_db).await?;
    let result = async {
        let client = server.connect(&data_db).await?;
        load_data_into(&client, &options.data, &options.schema).await?;
        drop(client);
        admin.wait_until_unused(&data_db).await?;
        clock.lap("load schema and data");
        // The runbook's variant, on one database: `pg_dump -s` into a fresh database.
        let tmp = tempfile::tempdir().map_err(|e| Error::io("create a temp dir", e))?;
        let dump = tmp.path().join("schema-only.sql");
        let mut cmd = server.command("pg_dump", &data_db);
        cmd.arg("-s").arg("-f").arg(&dump);
        backup::run_tool(cmd, "pg_dump -s").await?;
        let so_db = crate::postgres::unique_db_name("so");
        admin.create_database(&so_db).await?;
        psql::run_file(&server, &so_db, &dump, PsqlOptions::default(), None).await?;
        let schema_only =
            psql::run_file(&server, &so_db, &options.patch, verdict_options(), script).await?;
        admin.drop_database(&so_db).await?;
        clock.lap("runbook variant (pg_dump -s)");
        let source = Template::existing(data_db.clone());
        let report =
            apply_on_clones(&server, &admin, &source, options, script, clock, warnings).await?;
        Ok::<_, Error>((report, schema_only))
    }
    .await;
    admin.drop_database(&data_db).await?;
    let (report, schema_only) = result?;
    Ok(finish(report, options, Some(&schema_only), warnings, clock))
}

/// The line of a `\connect` (or `\c`) meta-command, if the patch has one.
fn connect_line(script: &Script) -> Option<usize> {
    script.statements().iter().find_map(|st| match &st.kind {
        StatementKind::Meta { command, .. } if command == "connect" || command == "c" => {
            Some(st.line)
        }
        _ => None,
    })
}

fn verdict_options() -> PsqlOptions {
    PsqlOptions {
        on_error_stop: true,
        single_transaction: true,
    }
}

struct Applied {
    verdict: PsqlRun,
    diagnostics: Vec<SqlError>,
    second: Option<PsqlRun>,
}

async fn apply_on_clones(
    server: &Server,
    admin: &crate::postgres::Admin<'_>,
    source: &Template,
    options: &PatchTestOptions,
    script: Option<&Script>,
    clock: &mut Clock,
    warnings: &mut Vec<String>,
) -> Result<Applied> {
    let clone = source.clone_db(admin).await?;
    let verdict = psql::run_file(server, &clone, &options.patch, verdict_options(), script).await?;
    clock.lap("verdict on a clone");
    let mut diagnostics = Vec::new();
    let mut second = None;
    if verdict.clean() {
        let again =
            psql::run_file(server, &clone, &options.patch, verdict_options(), script).await?;
        if !again.clean() {
            let first = again
                .errors
                .first()
                .map(|e| e.to_string())
                .unwrap_or_else(|| format!("psql exit code {:?}", again.exit_code));
            warnings.push(format!(
                "the patch is not idempotent: applied a second time it fails ({first})"
            ));
        }
        second = Some(again);
        clock.lap("second application");
    } else {
        let throwaway = source.clone_db(admin).await?;
        let diag = psql::run_file(
            server,
            &throwaway,
            &options.patch,
            PsqlOptions::default(),
            script,
        )
        .await?;
        diagnostics = diag.errors;
        admin.drop_database(&throwaway).await?;
        clock.lap("diagnostic pass");
    }
    admin.drop_database(&clone).await?;
    Ok(Applied {
        verdict,
        diagnostics,
        second,
    })
}

fn finish(
    applied: Applied,
    options: &PatchTestOptions,
    schema_only: Option<&PsqlRun>,
    warnings: &mut Vec<String>,
    clock: &mut Clock,
) -> PatchReport {
    let verdict = Attempt::from(&applied.verdict);
    let schema_only = schema_only.map(Attempt::from);
    let disagreement = schema_only.as_ref().and_then(|so| match (so.clean, verdict.clean) {
        (true, false) => Some(
            "the patch passes the runbook's test (pg_dumpall -s, schema only) but fails on data: testing on the schema alone would have let it through".to_string(),
        ),
        (false, true) => Some(
            "the patch fails on the schema-only dump but applies on data".to_string(),
        ),
        _ => None,
    });
    PatchReport {
        patch: options.patch.display().to_string(),
        data: options.data.describe(),
        verdict,
        diagnostics: applied.diagnostics,
        schema_only,
        disagreement,
        second_application: applied.second.as_ref().map(Attempt::from),
        warnings: std::mem::take(warnings),
        timings_ms: std::mem::take(&mut clock.0),
    }
}

/// Fills database `postgres` of an owned cluster as production holds it.
async fn load_data(
    server: &Server,
    data: &DataSource,
    schema: &Schema,
    tmp: &Path,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let dump = match data {
        DataSource::Generated(_) => {
            let client = server.connect("postgres").await?;
            return load_data_into(&client, data, schema).await;
        }
        DataSource::Dump(p) => p.clone(),
        DataSource::BorgArchive { repo, archive } => {
            let borg = Borg::new(repo, tmp.join("borg-base"));
            let out = tmp.join("database-all.sql");
            borg.extract(archive, &out).await?;
            out
        }
    };
    // A fresh cluster has no `cosims` yet: nothing to drop.
    let report = backup::restore(
        server,
        &dump,
        RestoreOptions {
            drop_schema_first: false,
        },
    )
    .await?;
    if !report.real.is_empty() {
        warnings.push(format!(
            "the backup loaded with errors: {}",
            report.summary()
        ));
    }
    Ok(())
}

async fn load_data_into(
    client: &tokio_postgres::Client,
    data: &DataSource,
    schema: &Schema,
) -> Result<()> {
    schema
        .load(client)
        .await
        .map_err(|e| Error::Script(Box::new(e)))?;
    if let DataSource::Generated(spec) = data {
        dataset::generate(client, spec).await?;
    }
    Ok(())
}
