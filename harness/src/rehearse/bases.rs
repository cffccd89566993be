//! What a run's scenarios start from, prepared once per run while the first scenarios set up:
//!
//! - the **shared server's template**: the schema holding the simulated world at the start of
//!   the scenarios that clone it (the most common start world among them: seed, start,
//!   calibration, parameters), so that a clone whose world is that one needs no first export;
//! - two **prepared data directories** for the scenarios on their own cluster (tf-tutu): one
//!   with the schema, the generated history and the operator roles (the scenarios whose world
//!   does not run), and one where the most common start world of the others replaces that
//!   history, as the first export would write it. Each is a cluster the harness started,
//!   filled and stopped cleanly; a scenario's own cluster is a copy of one, started as the
//!   server's OS user (`postgres` when root), torn down with the scenario.
//!
//! Which start world is "most common" is decided by [`Choice::of`] on the run's file list
//! *before* sharding, so that a shard sets its scenarios up exactly as one machine does (and
//! the transcripts, which say whether the world was written or found, merge to the same bytes).
//! Whether a scenario's world *is* the one prepared is decided by comparing the snapshots
//! themselves, never assumed from the config.

use std::{collections::BTreeMap, sync::Arc};

use hrsi_scenario::{Plan, Scenario, StepKind};
use hrsi_sim::{snapshot::Snapshot, time::Instant};
use tokio::sync::OnceCell;

use super::{
    ScenarioFile,
    course::Course,
    truth::world_snapshot,
    world::{history_spec, needs_own_cluster, roles_sql},
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

/// What decides a scenario's start world: its simulator config without the horizon and the
/// steps (seed, start, calibration, parameters, fidelity). Used to group scenarios; whether
/// two start worlds are equal is then checked on their snapshots.
fn start_key(sc: &Scenario) -> String {
    let mut c = sc.to_sim_config();
    c.steps.clear();
    c.horizon = 0;
    format!("{c:?}")
}

/// The most common value of `key` (ties: the first in file order), with its first scenario.
fn most_common<'a, K: Ord + Clone>(
    files: impl Iterator<Item = &'a ScenarioFile>,
    key: impl Fn(&Scenario) -> K,
) -> Option<&'a Scenario> {
    let mut groups: BTreeMap<K, (usize, usize, &Scenario)> = BTreeMap::new();
    for (i, f) in files.enumerate() {
        groups
            .entry(key(&f.scenario))
            .or_insert((0, i, &f.scenario))
            .0 += 1;
    }
    groups
        .into_values()
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
        .map(|(_, _, sc)| sc)
}

/// Which worlds a run prepares (chosen from the whole file list, before `--shard`).
#[derive(Debug, Clone, Default)]
pub struct Choice {
    /// The scenario whose start world the shared template holds.
    clone_from: Option<Scenario>,
    /// The scenario whose start world the prepared own-cluster data directory holds.
    own_from: Option<Scenario>,
    /// The start of the generated history of the other prepared data directory.
    own_start: Option<Instant>,
}

impl Choice {
    /// The most common start world among the scenarios that clone the template (those whose
    /// world runs; else any), the same among those on their own cluster whose world runs, and
    /// the most common start among those on their own cluster.
    pub fn of(files: &[ScenarioFile]) -> Choice {
        let clones = || files.iter().filter(|f| !needs_own_cluster(&f.scenario));
        let own = || files.iter().filter(|f| needs_own_cluster(&f.scenario));
        let clone_from = most_common(clones().filter(|f| world_runs(&f.scenario)), start_key)
            .or_else(|| clones().next().map(|f| &f.scenario));
        let own_from = most_common(own().filter(|f| world_runs(&f.scenario)), start_key);
        // The generated history serves the own clusters the prepared world does not.
        let own_key = own_from.map(start_key);
        let own_start = most_common(
            own().filter(|f| !world_runs(&f.scenario) || Some(start_key(&f.scenario)) != own_key),
            |s| s.start.0,
        )
        .map(|s| s.start);
        Choice {
            clone_from: clone_from.cloned(),
            own_from: own_from.cloned(),
            own_start,
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

/// The shared server of a run: one cluster, one template holding a start world.
pub struct SharedServer {
    /// The server.
    pub server: Arc<Server>,
    /// The template clones come from.
    pub template: Template,
    /// What the template holds, for the transcripts.
    pub history: String,
    /// The start world the template holds (what the first export of a scenario with that
    /// world would write).
    pub world: Snapshot,
}

impl SharedServer {
    /// Starts the cluster, writes the start world of `sc` into a template with the schema,
    /// and creates the operator roles.
    async fn start(sc: &Scenario) -> Result<SharedServer, String> {
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
        let schema = Schema::builtin();
        let admin = server.admin().await.map_err(|e| e.to_string())?;
        let name = unique_db_name(&format!("w{}", schema.fingerprint()));
        admin
            .create_database(&name)
            .await
            .map_err(|e| e.to_string())?;
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
            .map_err(|e| format!("analyze the template: {e}"))?;
        drop(client);
        admin
            .wait_until_unused(&name)
            .await
            .map_err(|e| e.to_string())?;
        admin
            .client()
            .batch_execute(&roles_sql())
            .await
            .map_err(|e| format!("create the operator roles: {e}"))?;
        drop(admin);
        let history = format!(
            "the simulated system's world at the start: seed {}, a {}-day warm start, {} jobs, {} status changes",
            world.seed,
            world.warm_start_days,
            world.snapshot.jobs.len(),
            world.snapshot.status_changes()
        );
        Ok(SharedServer {
            server: Arc::new(server),
            template: Template::existing(name),
            history,
            world: world.snapshot,
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
}

impl DataDir {
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
    let server = tokio::task::spawn_blocking(Cluster::start)
        .await
        .map_err(|e| e.to_string())?
        .map(Server::from_cluster)
        .map_err(|e| format!("start the cluster to prepare: {e}"))?;
    let mut client = server
        .connect("postgres")
        .await
        .map_err(|e| e.to_string())?;
    fill(&mut client).await?;
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

/// The run's prepared bases, built once (in the background from the run's start) and shared by
/// its scenarios.
pub struct Prepared {
    choice: Choice,
    shared: OnceCell<Option<Arc<SharedServer>>>,
    generated: OnceCell<Option<Arc<DataDir>>>,
    own_world: OnceCell<Option<Arc<DataDir>>>,
    /// Why a base could not be prepared (the scenarios then set up the slow way).
    failures: std::sync::Mutex<Vec<String>>,
    /// Wall time of each preparation, ms.
    timings: std::sync::Mutex<Vec<(&'static str, u64)>>,
}

impl Prepared {
    /// Starts preparing what `choice` names, in the background.
    pub fn start(choice: Choice) -> Arc<Prepared> {
        let p = Arc::new(Prepared {
            choice,
            shared: OnceCell::new(),
            generated: OnceCell::new(),
            own_world: OnceCell::new(),
            failures: Default::default(),
            timings: Default::default(),
        });
        let q = p.clone();
        tokio::spawn(async move { q.shared().await });
        let q = p.clone();
        tokio::spawn(async move { q.own_world().await });
        if let Some(start) = p.choice.own_start {
            let q = p.clone();
            tokio::spawn(async move { q.generated(start).await });
        }
        p
    }

    /// Nothing prepared: every scenario sets itself up.
    pub fn none() -> Arc<Prepared> {
        Arc::new(Prepared {
            choice: Choice::default(),
            shared: OnceCell::new(),
            generated: OnceCell::new(),
            own_world: OnceCell::new(),
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

    /// Wall time of each preparation so far, ms.
    pub fn timings(&self) -> Vec<(&'static str, u64)> {
        self.timings.lock().expect("poisoned").clone()
    }

    /// What could not be prepared.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().expect("poisoned").clone()
    }

    /// The shared server with its template, when some scenario clones it.
    pub async fn shared(&self) -> Option<Arc<SharedServer>> {
        self.shared
            .get_or_init(async || {
                let sc = self.choice.clone_from.as_ref()?;
                let t = std::time::Instant::now();
                let r = SharedServer::start(sc).await.map(Arc::new);
                self.note("shared server and template (the start world)", t, r)
            })
            .await
            .clone()
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

    /// The data directory holding the most common start world of the own-cluster scenarios.
    pub async fn own_world(&self) -> Option<Arc<DataDir>> {
        self.own_world
            .get_or_init(async || {
                let sc = self.choice.own_from.as_ref()?;
                let t = std::time::Instant::now();
                let r = async {
                    let world = start_world(sc)?;
                    let s = &world.snapshot;
                    let server = prepare(async |c| {
                        fill_generated(c, sc.start).await?;
                        // As the first export does: the world in place of the history.
                        c.batch_execute("truncate cosims.parent_jobs cascade")
                            .await
                            .map_err(|e| format!("empty the job tables for the world: {e}"))?;
                        dbworld::export(c, s)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
                    .await?;
                    Ok(Arc::new(DataDir {
                        server,
                        world: Some(world.snapshot),
                    }))
                }
                .await;
                self.note(
                    "own-cluster data directory (the start world in place of the history)",
                    t,
                    r,
                )
            })
            .await
            .clone()
    }
}
