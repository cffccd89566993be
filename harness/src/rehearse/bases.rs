//! What a run's scenarios start from, prepared once per run:
//!
//! - the **shared server's main template**: the schema holding the simulated world at the start
//!   of the most common group of clone scenarios (same seed, start, calibration,
//!   parameters), built in the background from the run's start; a clone whose start world is
//!   that one needs no first export. Another start world shared by two clone scenarios or more
//!   gets its own template, made by the first of them;
//! - **prepared data directories** for the scenarios on their own cluster (tf-tutu): one with
//!   the schema, the generated history and the operator roles (built in the background), and
//!   one per start world shared by two own-cluster scenarios or more, where that world
//!   replaces the history as the first export would write it (made by the first of them).
//!   Each is a cluster the harness started, filled and stopped cleanly; a scenario's own
//!   cluster is a copy of one, started as the server's OS user (`postgres` when root), torn
//!   down with the scenario.
//!
//! The groups are chosen by [`Choice::of`] on the run's file list *before* sharding, so that a
//! shard sets its scenarios up exactly as one machine does (and the transcripts, which say
//! whether the world was written or found, merge to the same bytes). Whether a scenario's
//! world *is* the one prepared is decided by comparing the snapshots themselves, never assumed
//! from the config.

use std::{collections::BTreeMap, sync::Arc};

use hrsi_scenario::{Plan, Scenario, StepKind};
use hrsi_sim::{snapshot::Snapshot, time::Instant};
use tokio::sync::OnceCell;

use super::{
    ScenarioFile,
    course::Course,
    truth::world_snapshot,
    world::{backs_up, history_spec, needs_own_cluster, roles_sql},
};
use crate::{
    dataset,
    postgres::{Cluster, ClusterOptions, Server, Template, unique_db_name},
    schema::Schema,
    world as dbworld,
};

/// Whether the scenario's simulated world runs (and so is written into its database).
pub fn world_runs(sc: &Scenario) -> bool {
    let Plan::Steps(steps) = &sc.plan else {
        return false;
    };
    steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Advance(_) | StepKind::RunUntil { .. }))
}

/// What decides a scenario's start world: its simulator config without the steps and the
/// horizon (seed, start, calibration, parameters, fidelity: what the system did up to an
/// instant does not depend on how many days are simulated after it). Used to group
/// scenarios; whether two start worlds are equal is then checked on their snapshots.
fn start_key(sc: &Scenario) -> String {
    let mut c = sc.to_sim_config();
    c.steps.clear();
    c.horizon = 0;
    format!("{c:?}")
}

/// Groups of scenarios by `key`, each with its size and its first scenario, in file order of
/// their first scenario.
fn groups<'a, K: Ord + Clone>(
    files: impl Iterator<Item = &'a ScenarioFile>,
    key: impl Fn(&Scenario) -> K,
) -> Vec<(K, usize, &'a Scenario)> {
    let mut by: BTreeMap<K, (usize, usize, &Scenario)> = BTreeMap::new();
    for (i, f) in files.enumerate() {
        by.entry(key(&f.scenario)).or_insert((0, i, &f.scenario)).0 += 1;
    }
    let mut v: Vec<(K, usize, usize, &Scenario)> = by
        .into_iter()
        .map(|(k, (n, i, sc))| (k, n, i, sc))
        .collect();
    v.sort_by_key(|g| g.2);
    v.into_iter().map(|(k, n, _, sc)| (k, n, sc)).collect()
}

/// The most common group (ties: the first in file order).
fn most_common<'a, K: Ord + Clone>(g: &[(K, usize, &'a Scenario)]) -> Option<&'a Scenario> {
    g.iter()
        .rev()
        .max_by_key(|(_, n, _)| *n)
        .map(|(_, _, sc)| *sc)
}

/// Which worlds a run prepares (chosen from the whole file list, before `--shard`).
#[derive(Debug, Clone, Default)]
pub struct Choice {
    /// The scenario whose start world the shared template holds.
    clone_from: Option<Scenario>,
    /// Other start worlds of clone scenarios shared by two or more (a template each, made by
    /// the first scenario that needs it).
    clone_groups: Vec<(String, Scenario)>,
    /// Start worlds of own-cluster scenarios shared by two or more (a data directory each,
    /// made by the first scenario that needs it).
    own_groups: Vec<(String, Scenario)>,
    /// The start of the generated history of the data directory for the other own clusters.
    own_start: Option<Instant>,
    /// Clones of the main template kept ready ahead of the scenarios that take them (none
    /// when one scenario or none clones it).
    main_pool: usize,
    /// Some scenario backs up: the run's empty backup repository is made from the start.
    backs_up: bool,
}

impl Choice {
    /// The template holds the most common start world among the scenarios that clone it
    /// (those whose world runs; else the first clone's); every other start world shared by
    /// two scenarios or more is prepared too; the generated history of the own clusters ends
    /// at their most common start (prepared when two of them or more start on it).
    pub fn of(files: &[ScenarioFile]) -> Choice {
        let clones = || files.iter().filter(|f| !needs_own_cluster(&f.scenario));
        let own = || files.iter().filter(|f| needs_own_cluster(&f.scenario));
        let clone_groups = groups(clones().filter(|f| world_runs(&f.scenario)), start_key);
        let clone_from =
            most_common(&clone_groups).or_else(|| clones().next().map(|f| &f.scenario));
        let main = clone_from.map(start_key);
        // Every clone scenario not in another shared group takes a clone of the main template.
        let elsewhere: usize = clone_groups
            .iter()
            .filter(|(k, n, _)| *n >= 2 && Some(k) != main.as_ref())
            .map(|(_, n, _)| n)
            .sum();
        let main_users = clones().count().saturating_sub(elsewhere);
        let shared_by_two = |g: Vec<(String, usize, &Scenario)>, skip: Option<&String>| {
            g.into_iter()
                .filter(|(k, n, _)| *n >= 2 && Some(k) != skip)
                .map(|(k, _, sc)| (k, sc.clone()))
                .collect::<Vec<_>>()
        };
        let own_groups = shared_by_two(
            groups(own().filter(|f| world_runs(&f.scenario)), start_key),
            None,
        );
        // The generated history pays for its data directory (prepared, stopped, copied) when
        // two own clusters or more start on it: those not given a shared start world.
        let on_generated = || {
            own().filter(|f| {
                !(world_runs(&f.scenario)
                    && own_groups.iter().any(|(k, _)| *k == start_key(&f.scenario)))
            })
        };
        let own_start = most_common(&groups(on_generated(), |s| s.start.0))
            .filter(|sc| {
                on_generated()
                    .filter(|f| f.scenario.start == sc.start)
                    .count()
                    >= 2
            })
            .map(|s| s.start);
        Choice {
            clone_from: clone_from.cloned(),
            clone_groups: shared_by_two(clone_groups, main.as_ref()),
            own_groups,
            own_start,
            main_pool: main_users.saturating_sub(1).min(2),
            backs_up: files.iter().any(|f| backs_up(&f.scenario)),
        }
    }
}

/// A simulated world at a scenario's start, as the database is given it.
struct StartWorld {
    snapshot: Snapshot,
    warm_start_days: f64,
    seed: u64,
}

fn start_world(sc: &Scenario) -> Result<StartWorld, String> {
    let course = tokio::task::block_in_place(|| Course::new(sc));
    Ok(StartWorld {
        snapshot: world_snapshot(&course)?,
        warm_start_days: course.config().calibration.warm_start_days,
        seed: course.config().seed,
    })
}

/// A template database holding a start world.
pub struct WorldTemplate {
    /// The template clones come from.
    pub template: Template,
    /// What the template holds, for the transcripts.
    pub history: String,
    /// The start world the template holds (what the first export of a scenario with that
    /// world would write).
    pub world: Snapshot,
}

impl WorldTemplate {
    /// Writes the start world of `sc` into a new template database with the schema.
    async fn create(
        server: &Server,
        world: StartWorld,
        pool: usize,
    ) -> Result<WorldTemplate, String> {
        let schema = Schema::builtin();
        let admin = server.admin().await.map_err(|e| e.to_string())?;
        let name = unique_db_name(&format!("w{}", schema.fingerprint()));
        admin
            .create_database(&name)
            .await
            .map_err(|e| e.to_string())?;
        let fill = async {
            let mut client = server.connect(&name).await.map_err(|e| e.to_string())?;
            schema
                .load(&client)
                .await
                .map_err(|e| format!("load the schema into the template: {e}"))?;
            dbworld::export(&mut client, &world.snapshot)
                .await
                .map_err(|e| format!("write the start world into the template: {e}"))?;
            // Clones inherit the statistics: the planner sees the world's real size.
            client
                .batch_execute("analyze")
                .await
                .map_err(|e| format!("analyze the template: {e}"))
        };
        if let Err(e) = fill.await {
            let _ = admin.drop_database(&name).await;
            return Err(e);
        }
        admin
            .wait_until_unused(&name)
            .await
            .map_err(|e| e.to_string())?;
        // Clones made ahead in the background: a scenario that takes one waits for no copy.
        let template = Template::existing(name)
            .pooled(server, pool)
            .await
            .map_err(|e| format!("keep clones of the template ready: {e}"))?;
        Ok(WorldTemplate {
            template,
            history: format!(
                "the simulated system's world at the start: seed {}, a {}-day warm start, {} jobs, {} status changes",
                world.seed,
                world.warm_start_days,
                world.snapshot.jobs.len(),
                world.snapshot.status_changes()
            ),
            world: world.snapshot,
        })
    }
}

/// The shared server of a run: one cluster, its operator roles, the main template.
pub struct SharedServer {
    /// The template of the most common start world (and of the scenarios without another).
    /// Declared first, so dropped first: its pool drops the clones it kept ready while the
    /// server still runs.
    pub main: Arc<WorldTemplate>,
    /// The server.
    pub server: Arc<Server>,
}

impl SharedServer {
    /// Starts the cluster, writes the start world of `sc` into the main template, and creates
    /// the operator roles.
    async fn start(sc: &Scenario, pool: usize) -> Result<SharedServer, String> {
        let (server, world) = tokio::join!(
            async {
                tokio::task::spawn_blocking(Server::ephemeral)
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            },
            async { start_world(sc) }
        );
        let (server, world) = (server?, world?);
        let main = WorldTemplate::create(&server, world, pool).await?;
        server
            .admin()
            .await
            .map_err(|e| e.to_string())?
            .client()
            .batch_execute(&roles_sql())
            .await
            .map_err(|e| format!("create the operator roles: {e}"))?;
        Ok(SharedServer {
            server: Arc::new(server),
            main: Arc::new(main),
        })
    }
}

/// A data directory the harness prepared and stopped cleanly: own clusters start on copies.
pub struct DataDir {
    /// The stopped cluster (its directory is removed when the run ends).
    server: Server,
    /// The start world it holds in place of the generated history, if any.
    pub world: Option<Snapshot>,
}

impl DataDir {
    /// A new cluster of the harness on a copy of this directory (blocking: off the runtime).
    pub fn copy(&self) -> Result<Server, String> {
        let c = Cluster::start_with(ClusterOptions {
            data_from: Some(self.data_dir()),
            ..ClusterOptions::default()
        })
        .map_err(|e| format!("start a cluster on a copy of the prepared data directory: {e}"))?;
        Ok(Server::from_cluster(c))
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.server
            .cluster()
            .map(Cluster::data_dir)
            .unwrap_or_default()
    }
}

/// Starts a cluster, fills it with `fill` in database `postgres`, stops it cleanly.
async fn prepare<F>(fill: F) -> Result<Server, String>
where
    F: AsyncFnOnce(&mut tokio_postgres::Client) -> Result<(), String>,
{
    // Old WAL segments are removed at the checkpoints, not kept for reuse: every own
    // cluster copies this directory, and recycled segments are 16 MB of it each.
    let options = ClusterOptions {
        settings: vec!["wal_recycle=off".into(), "min_wal_size=32MB".into()],
        ..ClusterOptions::default()
    };
    let server = tokio::task::spawn_blocking(move || Cluster::start_with(options))
        .await
        .map_err(|e| e.to_string())?
        .map(Server::from_cluster)
        .map_err(|e| format!("start the cluster to prepare: {e}"))?;
    let mut client = server
        .connect("postgres")
        .await
        .map_err(|e| e.to_string())?;
    fill(&mut client).await?;
    // Copies start with the statistics production's autovacuum would have gathered.
    client
        .batch_execute("analyze")
        .await
        .map_err(|e| format!("analyze the prepared data: {e}"))?;
    drop(client);
    // A fast shutdown: the checkpoint writes everything, `postmaster.pid` goes.
    let mut server = server;
    tokio::task::spawn_blocking(move || {
        if let Some(c) = server.cluster_mut() {
            c.stop_server();
        }
        server
    })
    .await
    .map_err(|e| e.to_string())
}

/// What an own cluster is given before its rehearsal: the schema, the generated history
/// ending at `start`, the operator roles.
async fn fill_generated(c: &mut tokio_postgres::Client, start: Instant) -> Result<(), String> {
    Schema::builtin()
        .load(c)
        .await
        .map_err(|e| format!("load the schema: {e}"))?;
    dataset::generate(c, &history_spec(start))
        .await
        .map_err(|e| format!("write the history: {e}"))?;
    c.batch_execute(&roles_sql())
        .await
        .map_err(|e| format!("create the operator roles: {e}"))
}

type Lazy<T> = (String, Scenario, OnceCell<Option<Arc<T>>>);

fn lazy<T>(g: &[(String, Scenario)]) -> Vec<Lazy<T>> {
    g.iter()
        .map(|(k, sc)| (k.clone(), sc.clone(), OnceCell::new()))
        .collect()
}

/// The run's prepared bases, shared by its scenarios: the shared server and the generated
/// history are built in the background from the run's start, every other base by the first
/// scenario that needs it (the others of its group wait for it).
pub struct Prepared {
    choice: Choice,
    shared: OnceCell<Option<Arc<SharedServer>>>,
    generated: OnceCell<Option<Arc<DataDir>>>,
    clone_templates: Vec<Lazy<WorldTemplate>>,
    own_worlds: Vec<Lazy<DataDir>>,
    /// An empty backup repository (`borg init`), copied for each scenario that backs up.
    empty_repo: OnceCell<Result<tempfile::TempDir, String>>,
    /// Why a base could not be prepared (the scenarios then set up the slow way).
    failures: std::sync::Mutex<Vec<String>>,
    /// Wall time of each preparation, ms.
    timings: std::sync::Mutex<Vec<(&'static str, u64)>>,
}

impl Prepared {
    /// Starts preparing what `choice` names.
    pub fn start(choice: Choice) -> Arc<Prepared> {
        let p = Prepared::new(choice);
        let q = p.clone();
        tokio::spawn(async move { q.shared().await });
        if let Some(start) = p.choice.own_start {
            let q = p.clone();
            tokio::spawn(async move { q.generated(start).await });
        }
        if p.choice.backs_up {
            let q = p.clone();
            tokio::spawn(async move { q.empty_repo().await });
        }
        p
    }

    /// Nothing prepared: every scenario sets itself up.
    pub fn none() -> Arc<Prepared> {
        Prepared::new(Choice::default())
    }

    fn new(choice: Choice) -> Arc<Prepared> {
        Arc::new(Prepared {
            clone_templates: lazy(&choice.clone_groups),
            own_worlds: lazy(&choice.own_groups),
            choice,
            shared: OnceCell::new(),
            generated: OnceCell::new(),
            empty_repo: OnceCell::new(),
            failures: Default::default(),
            timings: Default::default(),
        })
    }

    fn note<T>(
        &self,
        what: &'static str,
        t: std::time::Instant,
        r: Result<T, String>,
    ) -> Option<T> {
        self.timings
            .lock()
            .expect("poisoned")
            .push((what, t.elapsed().as_millis() as u64));
        r.map_err(|e| {
            self.failures
                .lock()
                .expect("poisoned")
                .push(format!("{what}: {e}"))
        })
        .ok()
    }

    /// The run's empty backup repository, made in the background from the run's start when a
    /// scenario backs up (else by the first that asks); an error is kept and given to every
    /// scenario alike.
    pub async fn empty_repo(&self) -> Result<std::path::PathBuf, String> {
        let dir = self
            .empty_repo
            .get_or_init(|| async {
                let dir = tempfile::Builder::new()
                    .prefix(&super::world::work_prefix(super::world::EMPTY_REPO_PREFIX))
                    .tempdir_in(super::world::work_base())
                    .map_err(|e| format!("create the empty repository's directory: {e}"))?;
                crate::backup::Borg::new(dir.path().join("repo"), dir.path().join(".borg"))
                    .init()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(dir)
            })
            .await
            .as_ref()?;
        Ok(dir.path().join("repo"))
    }

    /// Wall time of each preparation so far, ms.
    pub fn timings(&self) -> Vec<(&'static str, u64)> {
        self.timings.lock().expect("poisoned").clone()
    }

    /// What could not be prepared.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().expect("poisoned").clone()
    }

    /// The shared server with its main template, when some scenario clones it.
    pub async fn shared(&self) -> Option<Arc<SharedServer>> {
        self.shared
            .get_or_init(async || {
                let sc = self.choice.clone_from.as_ref()?;
                let t = std::time::Instant::now();
                let r = SharedServer::start(sc, self.choice.main_pool)
                    .await
                    .map(Arc::new);
                self.note("shared server and its main template (a start world)", t, r)
            })
            .await
            .clone()
    }

    /// The template a clone scenario starts from, and whether it holds the scenario's start
    /// world `snap` (then its first export writes nothing).
    pub async fn template_for(
        &self,
        sc: &Scenario,
        snap: Option<&Snapshot>,
    ) -> Option<(Arc<SharedServer>, Arc<WorldTemplate>, bool)> {
        let shared = self.shared().await?;
        let Some(snap) = snap else {
            // Its world does not run: the main template's data is all it sees.
            let main = shared.main.clone();
            return Some((shared, main, false));
        };
        if &shared.main.world == snap {
            let main = shared.main.clone();
            return Some((shared, main, true));
        }
        let key = start_key(sc);
        if let Some((_, rep, cell)) = self.clone_templates.iter().find(|(k, _, _)| *k == key) {
            let t = cell
                .get_or_init(async || {
                    let t = std::time::Instant::now();
                    let r = match start_world(rep) {
                        Ok(w) => WorldTemplate::create(&shared.server, w, 0)
                            .await
                            .map(Arc::new),
                        Err(e) => Err(e),
                    };
                    self.note(
                        "another template (a start world of two scenarios or more)",
                        t,
                        r,
                    )
                })
                .await
                .clone();
            if let Some(t) = t.filter(|t| &t.world == snap) {
                return Some((shared, t, true));
            }
        }
        let main = shared.main.clone();
        Some((shared, main, false))
    }

    /// The data directory with the generated history, for own clusters starting at `start`.
    pub async fn generated(&self, start: Instant) -> Option<Arc<DataDir>> {
        if self.choice.own_start != Some(start) {
            return None;
        }
        self.generated
            .get_or_init(async || {
                let t = std::time::Instant::now();
                let r = prepare(async |c| fill_generated(c, start).await)
                    .await
                    .map(|server| {
                        Arc::new(DataDir {
                            server,
                            world: None,
                        })
                    });
                self.note("own-cluster data directory (schema, history, roles)", t, r)
            })
            .await
            .clone()
    }

    /// The data directory an own cluster starts on: the one holding its start world `snap`
    /// when the run prepared it, else the generated history (when it ends at its start).
    pub async fn own_base(&self, sc: &Scenario, snap: Option<&Snapshot>) -> Option<Arc<DataDir>> {
        if let Some(snap) = snap {
            let key = start_key(sc);
            if let Some((_, rep, cell)) = self.own_worlds.iter().find(|(k, _, _)| *k == key) {
                let d = cell
                    .get_or_init(async || {
                        let t = std::time::Instant::now();
                        let r = own_world(rep).await.map(Arc::new);
                        self.note(
                            "own-cluster data directory (a start world of two scenarios or more)",
                            t,
                            r,
                        )
                    })
                    .await
                    .clone();
                if let Some(d) = d.filter(|d| d.world.as_ref() == Some(snap)) {
                    return Some(d);
                }
            }
        }
        self.generated(sc.start).await
    }
}

/// A data directory holding the start world of `sc` in place of the generated history, as
/// its first export would write it.
async fn own_world(sc: &Scenario) -> Result<DataDir, String> {
    let world = start_world(sc)?;
    let s = &world.snapshot;
    let server = prepare(async |c| {
        fill_generated(c, sc.start).await?;
        c.batch_execute("truncate cosims.parent_jobs cascade")
            .await
            .map_err(|e| format!("empty the job tables for the world: {e}"))?;
        dbworld::export(c, s)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await?;
    Ok(DataDir {
        server,
        world: Some(world.snapshot),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearse::files::discover;

    fn suite(names: &[&str]) -> Vec<ScenarioFile> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let paths: Vec<_> = names.iter().map(|n| root.join(n)).collect();
        discover(&paths).expect("shipped scenarios load")
    }

    #[test]
    fn the_generated_history_is_prepared_only_for_two_own_clusters_or_more() {
        // Own clusters whose world does not run: both start on the generated history.
        let two = suite(&["procedures/stop.yaml", "procedures/start-confirm-no.yaml"]);
        assert!(two.iter().all(|f| needs_own_cluster(&f.scenario)));
        assert_eq!(two[0].scenario.start, two[1].scenario.start);
        assert!(Choice::of(&two).own_start.is_some());
        // One alone builds its cluster directly: a prepared copy would cost a stop, a copy and
        // a start more.
        assert_eq!(Choice::of(&two[..1]).own_start, None);
        assert_eq!(
            Choice::of(&suite(&["procedures/long-downtime-waves.yaml"])).own_start,
            None
        );
    }
}
