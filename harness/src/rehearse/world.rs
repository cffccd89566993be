//! The world of one rehearsal: its database (its own cluster, or a clone of the run's
//! template), its Nomad and OpenStack stand-ins on loopback ports, the infrastructure model
//! wired to them, a borg repository, a working directory and one virtual clock.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use hrsi_scenario::{Plan, Scenario, StepKind};
use hrsi_sim::snapshot::KeptSnapshot;
use hrsi_sim::time::{Instant, MINUTE, Ms};
use tokio::sync::Mutex;

use super::{
    bases::{DataDir, Prepared, WorldTemplate, world_runs},
    course::Course,
    session::Session,
    truth::{Truth, kept_snapshot},
};
use crate::{
    backup::Borg,
    dataset::{self, DatasetSpec},
    iac::{
        Configuration, Mode, ScriptEnv, SystemEffects, Terraform, TfState,
        effects::{BoxFuture, DatabaseInstance},
    },
    mocks::{
        NomadMock, OpenStackMock, VirtualClock, nomad_model::NomadConfig,
        openstack_model::OpenStackConfig,
    },
    postgres::Server,
    schema::Schema,
    timefmt::UnixTime,
};

/// Jobs in the generated history a rehearsal on its own cluster starts from (its dumps,
/// restores and restarts stay quick; clones get the simulator's history instead).
pub const HISTORY_JOBS: u32 = 1000;

/// The role user SQL runs as in a clone of the shared server: reads and writes data, cannot
/// reach the host, other databases' objects or the server's settings.
pub const OPERATOR_ROLE: &str = "hrsi_operator";
/// The role `expect: sql` queries run as: reads data only.
pub const READER_ROLE: &str = "hrsi_reader";

/// Whether a scenario acts on the whole server (and so needs its own cluster).
pub fn needs_own_cluster(sc: &Scenario) -> bool {
    let Plan::Steps(steps) = &sc.plan else {
        return true;
    };
    steps.iter().any(|s| {
        matches!(
            s.kind,
            StepKind::Stop { .. }
                | StepKind::Start { .. }
                | StepKind::Script { .. }
                | StepKind::FreshVolume { .. }
                | StepKind::PostgresRestart
                | StepKind::PgDumpall { .. }
                | StepKind::Backup
                | StepKind::BorgExtract { .. }
                | StepKind::BorgList
                | StepKind::Restore { .. }
                | StepKind::PsqlFile { .. }
                | StepKind::TfPlan { .. }
                | StepKind::Fault(hrsi_scenario::Fault::PostgresKilled)
        )
    })
}

/// tf-tutu: a PostgreSQL server the harness owns, as the infrastructure model sees it.
pub struct Tutu {
    /// The server, while a volume exists.
    pub server: Option<Server>,
    /// The server prepared before the rehearsal (the volume as found), used at the first boot.
    initial: Option<Server>,
    fresh_pending: bool,
    /// The last boot initialised a fresh database on a new volume (taken by the step that
    /// booted it: [`Tutu::take_fresh_boot`]).
    fresh_booted: bool,
    schema: Schema,
}

impl Tutu {
    fn new(initial: Server, schema: Schema) -> Tutu {
        Tutu {
            server: None,
            initial: Some(initial),
            fresh_pending: false,
            fresh_booted: false,
            schema,
        }
    }

    /// Whether a boot since the last call initialised a fresh, empty database.
    pub fn take_fresh_boot(&mut self) -> bool {
        std::mem::take(&mut self.fresh_booted)
    }

    /// Whether the server answers.
    pub fn running(&self) -> bool {
        self.server
            .as_ref()
            .and_then(Server::cluster)
            .is_some_and(|c| c.is_running())
    }
}

impl DatabaseInstance for Tutu {
    fn start(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if let Some(s) = self.initial.take() {
                self.server = Some(s);
                return Ok(());
            }
            if self.fresh_pending {
                self.fresh_pending = false;
                let (server, _) = new_cluster(&self.schema)
                    .await
                    .map_err(|e| format!("failed to initialise a fresh database: {e}"))?;
                self.server = Some(server);
                self.fresh_booted = true;
                return Ok(());
            }
            let c = self
                .server
                .as_mut()
                .and_then(Server::cluster_mut)
                .ok_or("no database volume to boot from")?;
            c.restart()
                .map_err(|e| format!("failed to start PostgreSQL on the kept data directory: {e}"))
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if let Some(c) = self.server.as_mut().and_then(Server::cluster_mut) {
                c.stop_server();
            }
            Ok(())
        })
    }

    fn fresh_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.initial.is_some() {
                // The first deployment creates the volume the history already lives on.
                return Ok(());
            }
            self.discard_volume().await?;
            self.fresh_pending = true;
            Ok(())
        })
    }

    fn discard_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.running() {
                return Err("cannot destroy the volume of a running instance".into());
            }
            self.server = None;
            self.fresh_pending = false;
            Ok(())
        })
    }
}

/// Where the rehearsal's `cosims` lives.
pub enum Db {
    /// Its own cluster behind the infrastructure model (`cosims` in database `postgres`).
    Own(Arc<Mutex<Tutu>>),
    /// A clone on the run's shared server.
    Clone {
        /// The shared server.
        server: Arc<Server>,
        /// The clone's name.
        name: String,
    },
}

/// Non-superuser roles for user SQL (idempotent: a restore may have brought them back).
pub fn roles_sql() -> String {
    format!(
        "do $$ begin
           if not exists (select 1 from pg_roles where rolname = '{OPERATOR_ROLE}') then
             create role {OPERATOR_ROLE} login nosuperuser nocreatedb nocreaterole;
           end if;
           if not exists (select 1 from pg_roles where rolname = '{READER_ROLE}') then
             create role {READER_ROLE} login nosuperuser nocreatedb nocreaterole;
           end if;
         end $$;
         grant pg_read_all_data, pg_write_all_data to {OPERATOR_ROLE};
         grant pg_read_all_data to {READER_ROLE};"
    )
}

/// The history every rehearsal starts from: production-shaped, ending at the scenario's start.
pub fn history_spec(start: Instant) -> DatasetSpec {
    DatasetSpec {
        jobs: HISTORY_JOBS,
        now: UnixTime(start.0.div_euclid(1000)),
    }
}

/// What the last command of a step printed.
#[derive(Debug, Default, Clone)]
pub struct LastRun {
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// Errors it printed.
    pub errors: Vec<String>,
    /// Its output lines.
    pub output: Vec<String>,
}

/// The world of one rehearsal.
pub struct World {
    /// The database.
    pub db: Db,
    /// The one virtual clock of the stand-ins (ns since the epoch).
    pub clock: VirtualClock,
    /// The scenario's start.
    pub start: Instant,
    /// Virtual time, ms since the start.
    pub now: Ms,
    /// The Nomad stand-in.
    pub nomad: Arc<NomadMock>,
    /// The OpenStack stand-in.
    pub openstack: Arc<OpenStackMock>,
    /// The infrastructure model (own-cluster rehearsals only).
    pub tf: Option<Mutex<Terraform>>,
    /// The operator's environment on tf-toto.
    pub env: ScriptEnv,
    /// The backup repository.
    pub borg: Borg,
    /// Whether the repository exists yet.
    pub borg_ready: bool,
    /// Whether the repository's files are there already (copied from the run's empty one),
    /// so that the first backup need not run `borg init`.
    pub borg_made: bool,
    /// The working directory (dumps, extracted backups, copies of the scenario's files).
    pub workdir: tempfile::TempDir,
    /// The scenario's directory (its own files: patches).
    pub scenario_dir: PathBuf,
    /// The simulated system.
    pub course: Course,
    /// What the database was given of the simulated system, and what is still to give it.
    pub truth: Truth,
    /// Query results at each backup (archive or dump file → query → result).
    pub backups: BTreeMap<String, BTreeMap<String, String>>,
    /// Which backup a file holds.
    pub files: BTreeMap<String, String>,
    /// Files the harness wrote (trusted: dumps of its own clusters).
    pub produced: BTreeSet<String>,
    /// The backup last restored.
    pub restored_from: Option<String>,
    /// The last backup taken.
    pub last_backup: Option<String>,
    /// The virtual instant of each backup (archive or dump file), for a reset of the world.
    pub backup_at: BTreeMap<String, Ms>,
    /// The queries whose results must be kept at each backup.
    pub backup_queries: Vec<String>,
    /// The last command's outcome.
    pub last: LastRun,
    /// Worker VMs the stand-in holds for the simulated pool.
    pub worker_servers: usize,
    /// Wall time of the setup's phases, milliseconds.
    pub timings: Vec<(&'static str, u64)>,
    /// The simulated world at the start (when it runs), and what already holds it in the
    /// database (the run's template, a prepared data directory), if anything does.
    pub start_world: Option<(hrsi_sim::snapshot::Snapshot, Option<&'static str>)>,
    /// The harness's own session on the database, kept between steps.
    pub session: Session,
    /// Orchestrator services the simulated system stopped because Nomad runs no allocation
    /// of them (left pending, or a new version not placed), as opposed to stopped by hand.
    pub unplaced: BTreeSet<hrsi_sim::Service>,
}

impl World {
    /// Builds the world of a scenario on what the run prepared (its shared server for clones,
    /// its data directories for own clusters).
    pub async fn build(
        sc: &Scenario,
        scenario_dir: PathBuf,
        prepared: &Prepared,
        setup: &mut Vec<String>,
    ) -> Result<World, String> {
        let start = sc.start;
        let mut timings = Vec::new();
        let t = std::time::Instant::now();
        // The stand-ins' clock starts one hour before the scenario, so that the first
        // deployment has booted and placed everything when the scenario begins.
        let t0_ns = (start.0 - 60 * MINUTE) as u64 * 1_000_000;
        let clock = VirtualClock::starting_at_ns(t0_ns);
        let nl = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind the Nomad stand-in: {e}"))?;
        let nomad = Arc::new(
            NomadMock::spawn(nl, clock.clone(), NomadConfig::default())
                .map_err(|e| format!("start the Nomad stand-in: {e}"))?,
        );
        let ol = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind the OpenStack stand-in: {e}"))?;
        let openstack = Arc::new(
            OpenStackMock::spawn(ol, clock.clone(), OpenStackConfig::default())
                .map_err(|e| format!("start the OpenStack stand-in: {e}"))?,
        );
        let workdir = tempfile::Builder::new()
            .prefix(&work_prefix(WORKDIR_PREFIX))
            .tempdir_in(work_base())
            .map_err(|e| format!("create the working directory: {e}"))?;
        make_readable(workdir.path())?;
        timings.push((
            "stand-ins (Nomad, OpenStack)",
            t.elapsed().as_millis() as u64,
        ));
        let borg = Borg::new(workdir.path().join("backup"), workdir.path().join(".borg"));
        let t = std::time::Instant::now();
        let course = tokio::task::block_in_place(|| Course::new(sc));
        timings.push(("simulator baseline", t.elapsed().as_millis() as u64));
        let t = std::time::Instant::now();
        let mut kept = KeptSnapshot::default();
        let start_snap = if world_runs(sc) {
            let (k, snap) = tokio::task::block_in_place(|| start_snapshot(&course))?;
            kept = k;
            Some(snap)
        } else {
            None
        };
        timings.push((
            "database as truth (export of the world, import)",
            t.elapsed().as_millis() as u64,
        ));
        // What the run prepared (built in the background: the first scenarios wait for it).
        let t = std::time::Instant::now();
        let template = if needs_own_cluster(sc) {
            None
        } else {
            prepared.template_for(sc, start_snap.as_ref()).await
        };
        let base: Option<Arc<DataDir>> = if template.is_some() {
            None
        } else {
            prepared.own_base(sc, start_snap.as_ref()).await
        };
        timings.push((
            "waiting for the run's template and data directories",
            t.elapsed().as_millis() as u64,
        ));
        let t = std::time::Instant::now();
        let mut holder = None;
        let (db, tf) = if let Some((shared, template, holds)) = template {
            let r = clone_world(&shared.server, &template, &nomad, setup).await?;
            if holds {
                holder = Some("the run's template");
            }
            timings.push(("clone of the template", t.elapsed().as_millis() as u64));
            r
        } else {
            let server = if let Some(base) = &base {
                let b = base.clone();
                let server = tokio::task::spawn_blocking(move || b.copy())
                    .await
                    .map_err(|e| e.to_string())??;
                if base.world.is_some() {
                    holder = Some("the run's prepared data directory");
                    setup.push(
                        "its own PostgreSQL cluster (`cosims` in database `postgres`, as on tf-tutu), started on a copy of the run's prepared data directory (the schema, the operator roles and the simulated world at the start); SQL runs as the server's OS user, as `postgres`".into(),
                    );
                } else {
                    setup.push(format!(
                        "its own PostgreSQL cluster (`cosims` in database `postgres`, as on tf-tutu), started on a copy of the run's prepared data directory: {HISTORY_JOBS} jobs of production-shaped history up to the start; SQL runs as the server's OS user, as `postgres`"
                    ));
                }
                timings.push((
                    "own cluster (copy of the prepared data directory)",
                    t.elapsed().as_millis() as u64,
                ));
                server
            } else {
                let server = own_cluster(start).await?;
                setup.push(format!(
                    "its own PostgreSQL cluster (`cosims` in database `postgres`, as on tf-tutu), {HISTORY_JOBS} jobs of production-shaped history up to the start; SQL runs as the server's OS user, as `postgres`"
                ));
                timings.push((
                    "own cluster (initdb, schema, history)",
                    t.elapsed().as_millis() as u64,
                ));
                server
            };
            let t = std::time::Instant::now();
            let tutu = Arc::new(Mutex::new(Tutu::new(server, Schema::builtin())));
            let effects = SystemEffects::new(Some(Box::new(tutu.clone())), Some(nomad.clone()))
                .with_openstack(openstack.clone());
            let mut tf = Terraform::new(
                Configuration::public_snapshot(),
                TfState::default(),
                Box::new(effects),
            );
            for target in [
                "module.buckets",
                "module.cold",
                "module.core",
                "module.admin",
            ] {
                let run = tf.run(Mode::Apply, target, Some("yes")).await;
                if run.exit_code != 0 {
                    return Err(format!(
                        "the first deployment of {target} failed: {}",
                        run.lines.join(" / ")
                    ));
                }
            }
            if let Some(e) = tf.effect_errors().first() {
                return Err(format!("the first deployment failed: {e}"));
            }
            timings.push((
                "first deployment (Terraform model)",
                t.elapsed().as_millis() as u64,
            ));
            setup.push(
                "the infrastructure model deployed (buckets, cold, core, admin): tf-tutu is that cluster, tf-tete the Nomad stand-in, VMs in the OpenStack stand-in".into(),
            );
            (Db::Own(tutu), Some(Mutex::new(tf)))
        };
        setup.push(format!(
            "stand-ins: Nomad at 127.0.0.1:{}, OpenStack at 127.0.0.1:{}, one virtual clock starting {}",
            nomad.addr().port(),
            openstack.addr().port(),
            start.iso()
        ));
        // The repository a backup step will find made (`borg init` is the same every time);
        // last, so that the run has made its empty one in the background meanwhile.
        let t = std::time::Instant::now();
        let backs_up = backs_up(sc);
        let borg_made = backs_up
            && match prepared.empty_repo().await {
                Ok(empty) => borg.init_from(&empty).await.is_ok(),
                Err(_) => false,
            };
        if backs_up {
            timings.push((
                "backup repository (a copy of the run's empty one)",
                t.elapsed().as_millis() as u64,
            ));
        }
        // Up to the scenario's start: tf-tata boots and the services are placed.
        clock.advance(Duration::from_millis((60 * MINUTE) as u64));
        nomad.with_state(|_| ());
        openstack.with_state(|_| ());
        Ok(World {
            db,
            clock,
            start,
            now: 0,
            nomad,
            openstack,
            tf,
            env: ScriptEnv::default(),
            borg,
            borg_ready: false,
            borg_made,
            workdir,
            scenario_dir,
            course,
            truth: Truth::with_kept(kept),
            backups: BTreeMap::new(),
            files: BTreeMap::new(),
            produced: BTreeSet::new(),
            restored_from: None,
            last_backup: None,
            backup_at: BTreeMap::new(),
            backup_queries: backup_queries(sc),
            last: LastRun::default(),
            worker_servers: 0,
            timings,
            start_world: start_snap.map(|s| (s, holder)),
            session: Session::default(),
            unplaced: BTreeSet::new(),
        })
    }

    /// Virtual now as an instant.
    pub fn instant(&self) -> Instant {
        Instant(self.start.0 + self.now)
    }

    /// Moves virtual time forward: the stand-ins follow.
    pub fn advance_clock(&mut self, ms: Ms) {
        if ms <= 0 {
            return;
        }
        self.now += ms;
        self.clock.advance(Duration::from_millis(ms as u64));
        self.nomad.with_state(|_| ());
        self.openstack.with_state(|_| ());
    }

    /// The database name and a way to reach its server, while it answers.
    pub async fn with_server<R>(
        &self,
        f: impl AsyncFnOnce(&Server, &str) -> R,
    ) -> Result<R, String> {
        match &self.db {
            Db::Own(t) => {
                let t = t.lock().await;
                match (&t.server, t.running()) {
                    (Some(s), true) => Ok(f(s, "postgres").await),
                    _ => Err(
                        "the database instance tf-tutu is not running (connection refused)".into(),
                    ),
                }
            }
            Db::Clone { server, name } => Ok(f(server, name).await),
        }
    }

    /// [`World::with_server`] on the harness's session to the database (kept between steps,
    /// opened again when the server behind it changed): `Err` when the database does not
    /// answer, `Ok(Err)` when `f` (or opening the session) failed.
    pub async fn with_session<R>(
        &self,
        f: impl AsyncFnOnce(&mut tokio_postgres::Client) -> Result<R, String>,
    ) -> Result<Result<R, String>, String> {
        self.with_server(async |srv: &Server, db: &str| self.session.run(srv, db, f).await)
            .await
    }

    /// What production's autovacuum does within a minute of a bulk load (a restore, the
    /// world's jobs written in place of the history): the planner's statistics of the loaded
    /// tables. Without them the status trigger's `last_job_status_id()` is planned as one index
    /// probe per job instead of one hash join and costs twice what it costs in production.
    /// Harness housekeeping, not an operator's step: the transcript does not show it; a
    /// database that does not answer is left as it is.
    pub async fn autoanalyze(&self) {
        let _ = self
            .with_session(async |c: &mut tokio_postgres::Client| {
                let _ = c.batch_execute("analyze").await;
                Ok(())
            })
            .await;
    }

    /// Whether the database answers.
    pub async fn database_running(&self) -> bool {
        match &self.db {
            Db::Own(t) => t.lock().await.running(),
            Db::Clone { .. } => true,
        }
    }

    /// Whether user SQL runs as the superuser (own cluster) or the operator role (clone).
    pub fn owns_server(&self) -> bool {
        matches!(self.db, Db::Own(_))
    }

    /// Drops what the rehearsal created on a shared server.
    pub async fn teardown(self) {
        self.session.close().await;
        if let Db::Clone { server, name } = &self.db
            && let Ok(admin) = server.admin().await
        {
            let _ = admin.drop_database(name).await;
        }
    }
}

/// A new cluster of its own for a scenario: initdb, the schema, the generated history, the
/// operator roles (when the run prepared no data directory for its start).
async fn own_cluster(start: Instant) -> Result<Server, String> {
    let (server, client) = new_cluster(&Schema::builtin()).await?;
    dataset::generate(&client, &history_spec(start))
        .await
        .map_err(|e| format!("write the history: {e}"))?;
    client
        .batch_execute(&roles_sql())
        .await
        .map_err(|e| format!("create the operator roles: {e}"))?;
    Ok(server)
}

/// A new cluster (initdb) with the `cosims` schema and its default parameters, as the database
/// instance's first boot on an empty volume leaves it; with a connection to it.
async fn new_cluster(schema: &Schema) -> Result<(Server, tokio_postgres::Client), String> {
    // initdb blocks: off the runtime's worker.
    let server = tokio::task::spawn_blocking(Server::ephemeral)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("start the database cluster: {e}"))?;
    let client = server
        .connect("postgres")
        .await
        .map_err(|e| e.to_string())?;
    schema
        .load(&client)
        .await
        .map_err(|e| format!("load the schema: {e}"))?;
    Ok((server, client))
}

async fn clone_world(
    server: &Arc<Server>,
    template: &WorldTemplate,
    nomad: &Arc<NomadMock>,
    setup: &mut Vec<String>,
) -> Result<(Db, Option<Mutex<Terraform>>), String> {
    let admin = server.admin().await.map_err(|e| e.to_string())?;
    let name = template
        .template
        .clone_db(&admin)
        .await
        .map_err(|e| format!("clone the template: {e}"))?;
    // The stand-ins still run the system: Nomad gets its files and the orchestrator.
    nomad
        .power_on()
        .await
        .map_err(|e| format!("boot Nomad: {e}"))?;
    nomad.with_state(|s| {
        s.add_node(
            crate::mocks::nomad_model::NodeSpec::orchestrator(),
            Duration::from_secs(180),
        )
    });
    setup.push(format!(
        "a clone of the run's template ({}) on a shared server; SQL runs as `{OPERATOR_ROLE}` (reads and writes data, nothing else)",
        template.history
    ));
    Ok((
        Db::Clone {
            server: server.clone(),
            name,
        },
        None,
    ))
}

/// Queries of the scenario's `equals_backup` checks.
fn backup_queries(sc: &Scenario) -> Vec<String> {
    let Plan::Steps(steps) = &sc.plan else {
        return Vec::new();
    };
    let mut q: Vec<String> = steps
        .iter()
        .filter_map(|s| s.expect.as_ref())
        .flat_map(|e| &e.sql)
        .filter(|c| c.equals_backup)
        .map(|c| c.query.clone())
        .collect();
    q.sort();
    q.dedup();
    q
}

/// A scenario's working directory: the prefix, then the pid of the run that made it.
pub(super) const WORKDIR_PREFIX: &str = "hrsi-rehearse-";
/// The run's empty backup repository's directory, named as the working directories.
pub(super) const EMPTY_REPO_PREFIX: &str = "hrsi-borg-";

/// `prefix` and this process's pid: a later run removes what a killed one left
/// ([`sweep_stale_workdirs`]).
pub(super) fn work_prefix(prefix: &str) -> String {
    format!("{prefix}{}-", std::process::id())
}

/// Removes the working directories (and empty repositories) of runs that are gone, killed
/// before they could remove their own: only ours (our prefixes, owned by our user), only of
/// a process that no longer exists.
pub fn sweep_stale_workdirs(base: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let me = nix::unistd::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| {
            [WORKDIR_PREFIX, EMPTY_REPO_PREFIX]
                .iter()
                .find_map(|p| n.strip_prefix(p))
        }) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let ours = entry
            .path()
            .symlink_metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == me);
        if ours && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub(super) fn work_base() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

fn make_readable(p: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("set the working directory's permissions: {e}"))
}

/// Whether the scenario takes a backup (so needs a backup repository).
pub fn backs_up(sc: &Scenario) -> bool {
    matches!(&sc.plan, Plan::Steps(steps)
        if steps.iter().any(|s| matches!(s.kind, StepKind::Backup)))
}

/// The OS user client tools run as: the server's when we are root (never user SQL as root).
pub fn tool_user() -> Option<crate::postgres::OsUser> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .map(|u| crate::postgres::OsUser::from(&u))
}

/// The database's view of a world at its start, with the kept builder that made it: the same
/// for every scenario of a run whose world is the same (the warm start is shared, see
/// `course`), so built once per config (bounded, like the warm starts; an error is as
/// deterministic as the snapshot and kept alike).
fn start_snapshot(course: &Course) -> Result<(KeptSnapshot, hrsi_sim::snapshot::Snapshot), String> {
    type Built = Result<(KeptSnapshot, hrsi_sim::snapshot::Snapshot), String>;
    static SNAPSHOTS: super::course::Memo<Built> = std::sync::LazyLock::new(Default::default);
    let built = super::course::memo(&SNAPSHOTS, format!("{:?}", course.config()), || {
        let mut kept = KeptSnapshot::default();
        kept_snapshot(&mut kept, course).map(|snap| (kept, snap))
    });
    Built::clone(&built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_removes_only_our_directories_of_runs_that_are_gone() {
        let base = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let names = [
            format!("{WORKDIR_PREFIX}{gone}-a"),
            format!("{EMPTY_REPO_PREFIX}{gone}-b"),
            format!("{WORKDIR_PREFIX}{me}-c"),
            format!("{WORKDIR_PREFIX}x{gone}-d"),
            format!("other-{gone}-e"),
        ];
        for n in &names {
            std::fs::create_dir(base.path().join(n)).unwrap();
            std::fs::write(base.path().join(n).join("f"), b"x").unwrap();
        }
        // A file with our prefix is not a directory of ours.
        let file = format!("{WORKDIR_PREFIX}{gone}-f");
        std::fs::write(base.path().join(&file), b"x").unwrap();
        sweep_stale_workdirs(base.path());
        let left = |n: &str| base.path().join(n).exists();
        assert!(
            !left(&names[0]) && !left(&names[1]),
            "a killed run's directories go"
        );
        assert!(left(&names[2]), "a live run's directory stays");
        assert!(
            left(&names[3]) && left(&names[4]) && left(&file),
            "not ours: kept"
        );
    }
}
