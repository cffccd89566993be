//! `hrsi up`: the whole fake system for rehearsing by hand with the real tools: PostgreSQL with
//! `cosims` and a production-shaped history, the database's HTTP API, and the Nomad and
//! OpenStack stand-ins on a virtual clock that starts at the wall clock's now.
//!
//! stdout carries only `export NAME=value` lines (for `eval`, `source` or scripts); the human
//! summary goes to stderr. It runs until SIGINT, SIGTERM or SIGHUP, then stops everything and
//! removes its files. If it is killed outright, the postmaster dies with it (death signal) and
//! the next cluster start sweeps the directory.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use anyhow::{Context, Result};
use hrsi_harness::{
    api::{Api, ApiConfig},
    backup::{self, Borg, RestoreOptions},
    dataset::{self, DatasetSpec},
    mocks::served::{ServeOptions, ServedWorld},
    patch::DataSource,
    postgres::{Cluster, ClusterOptions, Server},
    schema::Schema,
    timefmt::UnixTime,
    world::{self, HistorySpec},
};
use hrsi_sim::snapshot::{BuildOptions, Snapshot};
use tokio::net::TcpListener;

use super::{db_target::usage, exit};

/// Arguments of `hrsi up`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// First of four consecutive loopback ports: PostgreSQL, the API, Nomad, OpenStack
    /// [default: free ports].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1024..=65532))]
    port_base: Option<u16>,
    /// Load this schema (e.g. production's `init_database.sql`) instead of hrsi's `cosims`.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Start from a backup instead of generated data: `REPO::ARCHIVE` (borg) or a
    /// `database-all.sql` dump.
    #[arg(long, value_name = "REPO::ARCHIVE|FILE", conflicts_with = "schema")]
    backup: Option<String>,
    /// Virtual seconds per wall second for the Nomad and OpenStack stand-ins.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    speed: u64,
    /// Seed of the simulated history [default: 1].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Days of simulated production after the warm start in the served history (it ends now).
    #[arg(long, value_name = "DAYS", default_value_t = HistorySpec::default().days, value_parser = clap::value_parser!(u32).range(1..=MAX_SERVED_DAYS))]
    history_days: u32,
    /// Serve N generated jobs (the small synthetic data set; 0: none) instead of the
    /// simulated history.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=200_000), conflicts_with_all = ["history_days", "seed"])]
    jobs: Option<u32>,
    /// Also write the exports to this file (atomically, mode 0600; removed at exit), for
    /// scripts that start `hrsi up` in the background.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Ports (with --port-base P): PostgreSQL P, API P+1, Nomad P+2, OpenStack (Keystone) P+3.

stdout: one `export NAME=value` line per variable, then nothing; stderr: a summary.
`hrsi up` runs until Ctrl-C (or SIGTERM/SIGHUP), so start it in the background:

  hrsi up --env-file /tmp/hrsi.env &
  while [ ! -s /tmp/hrsi.env ]; do sleep 0.1; done; . /tmp/hrsi.env
  curl -s \"$COSIMS_DB_HTTP_API_BASE_URL/system_parameters?id=eq.1\"
  psql -c 'select count(*) from cosims.parent_jobs'
  kill %1

Exit codes:
  0  stopped by a signal, everything removed
  2  bad input (schema file, backup, port)
  3  setup failure (no PostgreSQL binaries, port taken)";

/// Runs `hrsi up`.
pub fn run(args: Args) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(match runtime.block_on(up(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::db_target::exit_code(&e))
        }
    })
}

/// One `export` line, the value single-quoted when the shell needs it.
pub fn export_line(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@-,+=".contains(c));
    if plain {
        format!("export {name}={value}")
    } else {
        format!("export {name}='{}'", value.replace('\'', "'\\''"))
    }
}

async fn listener(port: Option<u16>, what: &str) -> Result<TcpListener> {
    let addr = format!("127.0.0.1:{}", port.unwrap_or(0));
    TcpListener::bind(&addr)
        .await
        .with_context(|| format!("failed to listen on {addr} for {what}"))
        .map_err(setup)
}

fn setup(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(super::db_target::Setup(e))
}

/// Writes `jobs` generated jobs and says what was written.
async fn generate(client: &tokio_postgres::Client, jobs: u32, now: UnixTime) -> Result<String> {
    let s = dataset::generate(client, &DatasetSpec { jobs, now }).await?;
    Ok(format!(
        "{} generated jobs, {} status changes up to now",
        s.parent_jobs, s.status_changes
    ))
}

/// The longest history `hrsi up` serves, days (its start-up grows with it).
const MAX_SERVED_DAYS: i64 = 60;

/// What the user's data choice resolves to, checked before anything starts.
enum Data {
    Generated(Schema),
    Backup(DataSource),
}

async fn up(args: Args) -> Result<()> {
    let started = Instant::now();
    let port = |i: u16| args.port_base.map(|b| b + i);
    let data = match (&args.schema, &args.backup) {
        (_, Some(b)) => {
            Data::Backup(DataSource::from_backup_arg(b).map_err(|e| usage(e.to_string()))?)
        }
        (Some(f), None) => {
            Data::Generated(Schema::from_files(f, None).map_err(|e| usage(e.to_string()))?)
        }
        (None, None) => Data::Generated(Schema::builtin()),
    };
    // Listeners first: a taken port fails before any cluster starts.
    let api_listener_port = port(1);
    let nomad_l = listener(port(2), "the Nomad stand-in").await?;
    let os_l = listener(port(3), "the OpenStack stand-in").await?;
    let options = ClusterOptions {
        port: port(0),
        ..Default::default()
    };
    let spec = HistorySpec {
        seed: args.seed.unwrap_or(HistorySpec::default().seed),
        days: args.history_days,
    };
    // The history is simulated (this process) while the cluster starts (initdb, postmaster).
    let history = match (&data, args.jobs) {
        (Data::Generated(_), None) => {
            let cfg = spec.config_ending_at(hrsi_sim::time::Instant(UnixTime::now().0 * 1000));
            Some(tokio::task::spawn_blocking(move || {
                Snapshot::record(&cfg, &BuildOptions::default())
            }))
        }
        _ => None,
    };
    let cluster = tokio::task::spawn_blocking(move || Cluster::start_with(options))
        .await?
        .map_err(|e| setup(e.into()))?;
    let server = Server::from_cluster(cluster);
    let t_cluster = started.elapsed();
    let now = UnixTime::now();
    let loaded = match &data {
        Data::Generated(schema) => {
            let mut client = server.connect("postgres").await?;
            schema
                .load(&client)
                .await
                .map_err(|e| usage(format!("the schema did not load: {e}")))?;
            let has_jobs = client
                .query_opt("select 1 from pg_tables where schemaname = 'cosims' and tablename = 'parent_jobs'", &[])
                .await?
                .is_some();
            let summary = match (args.jobs, history) {
                _ if !has_jobs => "no jobs (the schema has no cosims.parent_jobs)".to_owned(),
                (Some(0), _) => "no jobs (--jobs 0)".to_owned(),
                (Some(n), _) => generate(&client, n, now).await?,
                (None, None) => unreachable!("the history is simulated unless --jobs"),
                (None, Some(h)) => {
                    let snapshot = h.await?.context("simulate the history")?;
                    match world::export(&mut client, &snapshot).await {
                        Ok(w) => format!(
                            "the simulator's history up to now: {} jobs, {} status changes, {}-day warm start + {} days, seed {}",
                            w.jobs_inserted,
                            w.status_changes,
                            hrsi_sim::Calibration::default().warm_start_days,
                            spec.days,
                            spec.seed
                        ),
                        // A user's schema the export cannot write (another trigger, other
                        // columns): the generator's data, and a warning saying why.
                        Err(e) => {
                            eprintln!(
                                "warning: the simulated history could not be written into this schema ({e}); serving generated jobs instead"
                            );
                            generate(&client, DatasetSpec::default().jobs, now).await?
                        }
                    }
                }
            };
            format!(
                "{} with {summary}",
                if args.schema.is_some() {
                    "your schema"
                } else {
                    "cosims"
                }
            )
        }
        Data::Backup(source) => {
            let tmp = tempfile::tempdir()?;
            let dump = match source {
                DataSource::BorgArchive { repo, archive } => {
                    let out = tmp.path().join("database-all.sql");
                    Borg::new(repo, tmp.path().join("borg-base"))
                        .extract(archive, &out)
                        .await?;
                    out
                }
                DataSource::Dump(p) => p.clone(),
                DataSource::Generated(_) | DataSource::History(_) => {
                    unreachable!("--backup is a dump or an archive")
                }
            };
            let report = backup::restore(
                &server,
                &dump,
                RestoreOptions {
                    drop_schema_first: false,
                },
            )
            .await?;
            if !report.real.is_empty() {
                eprintln!(
                    "warning: the backup loaded with errors: {}",
                    report.summary()
                );
            }
            format!("the backup {}", args.backup.as_deref().unwrap_or_default())
        }
    };
    let t_data = started.elapsed();
    let api = Api::start(
        &server,
        "postgres",
        ApiConfig {
            port: api_listener_port.unwrap_or(0),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| setup(e.into()))?;
    let world = ServedWorld::start(nomad_l, os_l, ServeOptions { speed: args.speed })
        .map_err(|e| setup(anyhow::anyhow!(e)))?;

    let pg_port = server.params().port;
    let os = world.openstack.with_state(|s| s.config.clone());
    let vars: Vec<(&str, String)> = vec![
        (
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{pg_port}/postgres"),
        ),
        ("PGHOST", "127.0.0.1".into()),
        ("PGPORT", pg_port.to_string()),
        ("PGUSER", "postgres".into()),
        ("PGDATABASE", "postgres".into()),
        ("COSIMS_DB_HTTP_API_BASE_URL", api.url()),
        ("NOMAD_ADDR", world.nomad.url()),
        ("OS_AUTH_URL", world.openstack.auth_url()),
        ("OS_USERNAME", os.username.clone()),
        ("OS_PASSWORD", os.password.clone()),
        ("OS_PROJECT_NAME", os.project_name.clone()),
        ("OS_PROJECT_ID", os.project_id.clone()),
        ("OS_USER_DOMAIN_NAME", "Default".into()),
        ("OS_PROJECT_DOMAIN_ID", "default".into()),
        ("OS_REGION_NAME", "RegionOne".into()),
        ("OS_IDENTITY_API_VERSION", "3".into()),
    ];
    let exports: String = vars.iter().map(|(k, v)| export_line(k, v) + "\n").collect();
    if let Some(f) = &args.env_file {
        write_private(f, &exports)?;
    }
    {
        let mut out = std::io::stdout().lock();
        out.write_all(exports.as_bytes())?;
        out.flush()?;
    }
    let ready = started.elapsed();
    eprintln!(
        "hrsi up: ready in {} ms (cluster {} ms, data {} ms, API and stand-ins {} ms)\n  PostgreSQL   postgres://postgres@127.0.0.1:{pg_port}/postgres  ({loaded})\n  API          {}  (PostgREST-compatible, as web_anonymous)\n  Nomad        {}  (job files registered, orchestrator node tf-tata)\n  OpenStack    {}  (user {}, project {})\n  virtual time starts at {} UTC, {}x the wall clock\nCtrl-C (or SIGTERM) stops everything and removes its files.",
        ready.as_millis(),
        t_cluster.as_millis(),
        (t_data - t_cluster).as_millis(),
        (ready - t_data).as_millis(),
        api.url(),
        world.nomad.url(),
        world.openstack.auth_url(),
        os.username,
        os.project_name,
        now.iso(),
        args.speed,
    );

    wait_for_signal().await?;
    eprintln!("hrsi up: stopping");
    api.stop().await;
    // The stand-ins stop serving when dropped.
    drop(world);
    let dir = server.cluster().map(|c| c.dir().to_path_buf());
    tokio::task::spawn_blocking(move || drop(server)).await?;
    if let Some(f) = &args.env_file {
        let _ = std::fs::remove_file(f);
    }
    if let Some(d) = dir.filter(|d| d.exists()) {
        eprintln!("warning: {} was not removed", d.display());
        return Ok(());
    }
    eprintln!("hrsi up: stopped, nothing left behind");
    let _ = exit::OK;
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp-hrsi");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("failed to write {}", tmp.display()))
        .map_err(|e| usage(format!("{e:#}")))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::export_line;

    #[test]
    fn exports_quote_only_what_the_shell_needs() {
        assert_eq!(export_line("PGPORT", "5432"), "export PGPORT=5432");
        assert_eq!(
            export_line(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres"
            ),
            "export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(export_line("X", "a b'c"), "export X='a b'\\''c'");
        assert_eq!(export_line("X", ""), "export X=''");
    }
}
