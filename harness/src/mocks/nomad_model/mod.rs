//! The Nomad server as a pure state machine: jobs, nodes, allocations, placement by resources,
//! dispatch, deregistration and garbage collection. No sockets, no wall clock: every call that
//! depends on time takes the virtual "now" (ns since the epoch) explicitly.
//!
//! Semantics follow orchestration.md §4.4-4.7: a job is `running` with a non-terminal
//! allocation, `pending` with an unplaced group (Nomad's blocked evaluation), else `dead`;
//! parameterized parents are `running` until stopped; dead jobs are collected after the GC
//! threshold (the runbook's "disappears after some minutes": 5 minutes by default here).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    time::Duration,
};

use serde_json::{Value, json};

pub mod diff;
mod evals;
mod operations;

pub use evals::{Eval, MAX_EVALS};
pub use operations::Drain;

/// How many versions of a job Nomad keeps (`job_tracked_versions`).
pub const JOB_TRACKED_VERSIONS: usize = 6;

use super::{
    common::IdGen,
    jobspec::{Constraint, Job},
    nomad_runs::{RunEnd, RunModel},
};

/// An API error: the HTTP status and Nomad's plain-text message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Message (never contains a request body).
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// Tunables of the mock server.
#[derive(Clone, Debug)]
pub struct NomadConfig {
    /// Dead jobs (stopped services, finished dispatches) vanish after this long. Nomad's
    /// default `job_gc_threshold` is 4 h; the runbook observes "a couple of minutes", so 5 min.
    pub gc_threshold: Duration,
    /// Datacenter of every node.
    pub datacenter: String,
    /// Batch reschedule policy (Nomad defaults: 1 attempt after 5 s).
    pub batch_reschedule_attempts: u32,
    /// Delay before a failed batch allocation is rescheduled.
    pub batch_reschedule_delay: Duration,
    /// When set, processing allocations end by themselves after their drawn duration (the
    /// served world); when `None` they run until the harness finishes them (a rehearsal).
    pub runs: Option<RunModel>,
}

impl Default for NomadConfig {
    fn default() -> Self {
        Self {
            gc_threshold: Duration::from_secs(300),
            datacenter: "dc1".into(),
            batch_reschedule_attempts: 1,
            batch_reschedule_delay: Duration::from_secs(5),
            runs: None,
        }
    }
}

impl NomadConfig {
    /// The served world's server (`hrsi up`): processing allocations run for the calibrated
    /// duration of their job type and end as the calibration's error rates say.
    pub fn served() -> Self {
        Self {
            runs: Some(RunModel::from_calibration(
                &hrsi_sim::calibration::Calibration::default(),
                0,
            )),
            ..Self::default()
        }
    }
}

/// What a Nomad client agent fingerprints about its machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// Host name (`tf-tata`, `os-worker-001`).
    pub name: String,
    /// `orchestrator` or `worker`.
    pub node_class: String,
    /// Flavor name, exposed as `attr.platform.aws.instance-type`.
    pub instance_type: Option<String>,
    /// Total CPU (MHz).
    pub cpu_mhz: u64,
    /// Total memory (MB).
    pub memory_mb: u64,
    /// IP address.
    pub address: String,
}

impl NodeSpec {
    /// The orchestrator VM tf-tata (`eo1.large`). Its capacity is not in the sources: the six
    /// services need 9000 MHz with the public code and 9500 with the runbook's
    /// worker-pool-management at 1500, so 9200 MHz is assumed (domain README, trap 8); memory
    /// 8192 MB is an assumption too (the services need 5500 MB).
    pub fn orchestrator() -> Self {
        Self {
            name: "tf-tata".into(),
            node_class: "orchestrator".into(),
            instance_type: Some("eo1.large".into()),
            cpu_mhz: 9200,
            memory_mb: 8192,
            address: "192.168.0.12".into(),
        }
    }

    /// A worker VM of `flavor` with `vcpus` and `ram_mb` (2300 MHz per vCPU is assumed).
    pub fn worker(name: &str, flavor: &str, vcpus: u64, ram_mb: u64, address: &str) -> Self {
        Self {
            name: name.into(),
            node_class: "worker".into(),
            instance_type: Some(flavor.into()),
            cpu_mhz: vcpus * 2300,
            memory_mb: ram_mb,
            address: address.into(),
        }
    }
}

/// A registered client node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Node ID (UUID).
    pub id: String,
    /// What it fingerprinted.
    pub spec: NodeSpec,
    /// Datacenter.
    pub datacenter: String,
    /// `ready` or `down`.
    pub status: String,
    /// Scheduling eligibility.
    pub eligible: bool,
    /// The drain in progress, if any.
    pub drain: Option<Drain>,
    /// Raft indexes.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Seconds since the epoch of the last status change.
    pub status_updated_at: u64,
}

/// State of one task inside an allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskState {
    /// `pending`, `running` or `dead`.
    pub state: String,
    /// Whether it ended in failure.
    pub failed: bool,
    /// Start time (ns).
    pub started_at: u64,
    /// End time (ns), 0 while running.
    pub finished_at: u64,
}

/// An allocation: one task group instance placed on a node.
#[derive(Clone, Debug)]
pub struct Alloc {
    /// Allocation ID.
    pub id: String,
    /// Evaluation that placed it.
    pub eval_id: String,
    /// `<job>.<group>[<n>]`.
    pub name: String,
    /// Node it runs on.
    pub node_id: String,
    /// Node name.
    pub node_name: String,
    /// Job ID.
    pub job_id: String,
    /// Job version placed.
    pub job_version: u64,
    /// Task group.
    pub task_group: String,
    /// CPU reserved (MHz).
    pub cpu: u64,
    /// Memory reserved (MB).
    pub memory_mb: u64,
    /// `run` or `stop`.
    pub desired_status: String,
    /// `pending`, `running`, `complete`, `failed` or `lost`.
    pub client_status: String,
    /// Per-task states.
    pub task_states: BTreeMap<String, TaskState>,
    /// Creation time (ns).
    pub create_time: u64,
    /// Last modification (ns): what worker-pool-management compares with "now".
    pub modify_time: u64,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// For a failed batch allocation: when it may be rescheduled (ns).
    pub reschedule_at: Option<u64>,
    /// The allocation this one replaces.
    pub previous_alloc: String,
    /// The allocation that replaced this one.
    pub next_alloc: String,
    /// Earlier reschedules of this instance: (time ns, previous alloc, previous node).
    pub reschedules: Vec<(u64, String, String)>,
    /// Set by `POST /v1/allocation/:id/stop` or a drain: the server asked for a migration.
    pub migrate: bool,
}

impl Alloc {
    /// Whether the allocation still holds resources.
    pub fn is_live(&self) -> bool {
        self.desired_status == "run" && matches!(self.client_status.as_str(), "pending" | "running")
    }
}

/// A registered job with its server-side bookkeeping.
#[derive(Clone, Debug)]
pub struct JobEntry {
    /// Specification, with server-computed fields (status, indexes, version).
    pub job: Job,
    /// Unplaced instances per group (Nomad's "Queued").
    pub queued: BTreeMap<String, u64>,
    /// Why the last placement failed, per group (e.g. `Dimension "cpu" exhausted`).
    pub blocked: BTreeMap<String, String>,
    /// When the job became dead (for GC), ns.
    pub dead_since: Option<u64>,
    /// Earlier versions of the specification, oldest first (Nomad tracks 6).
    pub versions: Vec<Job>,
    /// The blocked evaluation waiting for capacity, if any.
    pub blocked_eval: Option<String>,
}

/// Result of a write that creates an evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalResult {
    /// Evaluation ID.
    pub eval_id: String,
    /// Raft index of the write.
    pub index: u64,
    /// Job's modify index after the write.
    pub job_modify_index: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct GroupCounts {
    live: u64,
    complete: u64,
    failed: u64,
    waiting: u64,
}

#[derive(Debug, Default)]
struct AllocIndex {
    groups: HashMap<(String, String), GroupCounts>,
    live_jobs: HashSet<String>,
    node_used: HashMap<String, (u64, u64)>,
}

#[derive(Debug, Default)]
struct SummaryIndex<'a> {
    groups: HashMap<(&'a str, &'a str), [u64; 5]>,
    children: HashMap<&'a str, [u64; 3]>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct GroupSummary {
    queued: u64,
    starting: u64,
    running: u64,
    complete: u64,
    failed: u64,
    lost: u64,
    unknown: u64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Children {
    pending: u64,
    running: u64,
    dead: u64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct JobSummary<'a> {
    #[serde(rename = "JobID")]
    job_id: &'a str,
    namespace: &'a str,
    summary: BTreeMap<&'a str, GroupSummary>,
    children: Children,
    create_index: u64,
    modify_index: u64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct JobStub<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "ParentID")]
    parent_id: &'a str,
    name: &'a str,
    namespace: &'a str,
    datacenters: &'a [String],
    #[serde(rename = "Type")]
    job_type: &'a str,
    priority: i64,
    periodic: bool,
    parameterized_job: bool,
    stop: bool,
    status: &'a str,
    status_description: &'a str,
    job_summary: JobSummary<'a>,
    create_index: u64,
    modify_index: u64,
    job_modify_index: u64,
    submit_time: i64,
}

/// The whole server state.
#[derive(Clone, Debug)]
pub struct NomadState {
    /// Configuration.
    pub config: NomadConfig,
    jobs: BTreeMap<String, JobEntry>,
    nodes: BTreeMap<String, Node>,
    allocs: BTreeMap<String, Alloc>,
    booting: Vec<(u64, Node)>,
    /// Ends of running processing allocations, by time (with `config.runs`).
    run_ends: BTreeSet<(u64, String, RunEndKey)>,
    evals: BTreeMap<String, Eval>,
    /// The evaluation whose scheduling is running (placements record it).
    placing_eval: Option<String>,
    index: u64,
    ids: IdGen,
    now: u64,
}

/// [`RunEnd`] with an order, for the timer set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum RunEndKey {
    Complete,
    Failed,
    Lost,
}

impl NomadState {
    /// An empty server at virtual time `now` (ns).
    pub fn new(config: NomadConfig, now: u64) -> Self {
        Self {
            config,
            jobs: BTreeMap::new(),
            nodes: BTreeMap::new(),
            allocs: BTreeMap::new(),
            booting: Vec::new(),
            run_ends: BTreeSet::new(),
            evals: BTreeMap::new(),
            placing_eval: None,
            index: 1,
            ids: IdGen::new(0x004e_4f4d_4144),
            now,
        }
    }

    /// Forgets everything (the Nomad server VM was destroyed: its data dir was ephemeral).
    pub fn reset(&mut self) {
        self.jobs.clear();
        self.nodes.clear();
        self.allocs.clear();
        self.booting.clear();
        self.run_ends.clear();
        self.evals.clear();
        self.index = 1;
    }

    /// The current raft index.
    pub fn index(&self) -> u64 {
        self.index
    }

    fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Catches up with virtual time: nodes whose boot is over register, failed batch
    /// allocations reach their reschedule time, dead jobs past the GC threshold vanish.
    pub fn tick(&mut self, now: u64) {
        let prev = self.now;
        if now < prev || (now == prev && !self.booting.iter().any(|(at, _)| *at <= now)) {
            return;
        }
        self.end_runs_until(now);
        self.now = now;
        if self.drains_pending() {
            self.progress_drains(None);
        }
        let (ready, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.booting)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.booting = still;
        let registered = !ready.is_empty();
        for (_, mut node) in ready {
            let i = self.bump();
            node.create_index = i;
            node.modify_index = i;
            node.status_updated_at = now / 1_000_000_000;
            self.nodes.insert(node.id.clone(), node);
        }
        // Reads sync the clock first: only reconcile when time changed what can be placed.
        let timers = self
            .allocs
            .values()
            .any(|a| a.reschedule_at.is_some_and(|t| t > prev && t <= now));
        if registered || timers {
            self.reconcile();
        }
        let gc = self.config.gc_threshold.as_nanos() as u64;
        let doomed: Vec<String> = self
            .jobs
            .iter()
            .filter(|(_, e)| e.dead_since.is_some_and(|t| now.saturating_sub(t) >= gc))
            .map(|(id, _)| id.clone())
            .collect();
        if !doomed.is_empty() {
            for id in &doomed {
                self.jobs.remove(id);
            }
            self.allocs.retain(|_, a| !doomed.contains(&a.job_id));
            self.evals.retain(|_, e| !doomed.contains(&e.job_id));
            self.bump();
        }
    }

    /// Ends the processing allocations whose drawn duration is over by `now`, each at its own
    /// end time (so `ModifyTime` and the replacements placed follow the right instant).
    fn end_runs_until(&mut self, now: u64) {
        while let Some((at, id, end)) = self.run_ends.first().cloned() {
            if at > now {
                break;
            }
            self.run_ends.pop_first();
            if !self.allocs.get(&id).is_some_and(Alloc::is_live) {
                continue;
            }
            self.now = self.now.max(at);
            let _ = match end {
                RunEndKey::Complete => self.finish_alloc(&id, 0),
                RunEndKey::Failed => self.finish_alloc(&id, 1),
                RunEndKey::Lost => self.lose_alloc(&id),
            };
        }
    }

    // ---- jobs -----------------------------------------------------------------------------

    /// All jobs, ordered by ID.
    pub fn jobs(&self) -> impl Iterator<Item = &JobEntry> {
        self.jobs.values()
    }

    /// One job.
    pub fn job(&self, id: &str) -> Result<&JobEntry, ApiError> {
        self.jobs
            .get(id)
            .ok_or_else(|| ApiError::new(404, "job not found"))
    }

    /// Registers or updates a job (`POST /v1/jobs`, `POST /v1/job/:id`, `nomad job run`).
    /// An update that changes a group replaces that group's allocations (a destructive update,
    /// which is what a new image or resource ask is in Nomad).
    pub fn register(&mut self, mut job: Job) -> Result<EvalResult, ApiError> {
        job.canonicalize();
        job.validate().map_err(|m| ApiError::new(400, m))?;
        let id = job.id.clone();
        if job.dispatched {
            return Err(ApiError::new(
                400,
                "Job can't be submitted with 'Dispatched' set",
            ));
        }
        let index = self.bump();
        let now = self.now;
        let changed_groups: Vec<String>;
        match self.jobs.get_mut(&job.id) {
            Some(prev) => {
                changed_groups = job
                    .task_groups
                    .iter()
                    .filter(|g| prev.job.task_groups.iter().find(|p| p.name == g.name) != Some(g))
                    .map(|g| g.name.clone())
                    .chain(
                        prev.job
                            .task_groups
                            .iter()
                            .filter(|p| !job.task_groups.iter().any(|g| g.name == p.name))
                            .map(|p| p.name.clone()),
                    )
                    .collect();
                let spec_changed = !changed_groups.is_empty() || !same_spec(&prev.job, &job);
                job.create_index = prev.job.create_index;
                job.version = if spec_changed || prev.job.stop {
                    prev.job.version + 1
                } else {
                    prev.job.version
                };
                job.submit_time = now as i64;
                job.modify_index = index;
                job.job_modify_index = index;
                job.stable = false;
                if job.version != prev.job.version {
                    prev.versions.push(std::mem::take(&mut prev.job));
                    let keep = prev.versions.len().saturating_sub(JOB_TRACKED_VERSIONS - 1);
                    prev.versions.drain(..keep);
                }
                prev.job = job;
                prev.dead_since = None;
            }
            None => {
                changed_groups = Vec::new();
                job.create_index = index;
                job.modify_index = index;
                job.job_modify_index = index;
                job.submit_time = now as i64;
                job.version = 0;
                self.jobs.insert(
                    id.clone(),
                    JobEntry {
                        job,
                        queued: BTreeMap::new(),
                        blocked: BTreeMap::new(),
                        dead_since: None,
                        versions: Vec::new(),
                        blocked_eval: None,
                    },
                );
            }
        }
        for a in self
            .allocs
            .values_mut()
            .filter(|a| a.job_id == id && changed_groups.contains(&a.task_group) && a.is_live())
        {
            stop_alloc(a, "complete", now, index);
        }
        let eval_id = self.begin_eval(&id, "job-register", None);
        self.reconcile();
        self.end_eval(&eval_id);
        Ok(EvalResult {
            eval_id,
            index,
            job_modify_index: index,
        })
    }

    /// Dry-runs a registration (`POST /v1/job/:id/plan`, the web UI's "Plan" button): what
    /// would change and which groups could not be placed, without touching the state.
    pub fn plan(&self, job: Job, with_diff: bool) -> Result<Value, ApiError> {
        let mut scratch = self.clone();
        let id = job.id.clone();
        let before = self.jobs.get(&id).map(|e| e.job.clone());
        let r = scratch.register(job)?;
        let after = scratch.job(&id)?;
        let diff = if with_diff {
            let mut d = diff::job_diff(before.as_ref(), &after.job, false);
            if before
                .as_ref()
                .is_some_and(|b| b.version == after.job.version)
            {
                d["Type"] = json!("None");
            }
            d
        } else {
            Value::Null
        };
        let mut failed = serde_json::Map::new();
        for (g, why) in &after.blocked {
            failed.insert(g.clone(), json!({"NodesEvaluated": self.nodes.len(), "NodesExhausted": self.nodes.len(), "DimensionExhausted": dimension_map(why), "CoalescedFailures": after.queued.get(g).copied().unwrap_or(1).saturating_sub(1)}));
        }
        let mut updates = serde_json::Map::new();
        for g in &after.job.task_groups {
            let placed = scratch
                .allocs
                .values()
                .filter(|a| a.job_id == id && a.task_group == g.name && a.create_index > self.index)
                .count();
            let stopped = scratch
                .allocs
                .values()
                .filter(|a| {
                    a.job_id == id
                        && a.task_group == g.name
                        && a.modify_index > self.index
                        && a.desired_status == "stop"
                })
                .count();
            updates.insert(g.name.clone(), json!({"Place": placed, "Stop": stopped, "DestructiveUpdate": stopped.min(placed), "Ignore": 0, "InPlaceUpdate": 0, "Migrate": 0, "Canary": 0}));
        }
        Ok(json!({
            "Diff": diff,
            "Annotations": {"DesiredTGUpdates": updates},
            "FailedTGAllocs": if failed.is_empty() { Value::Null } else { Value::Object(failed) },
            "JobModifyIndex": before.map_or(0, |b| b.job_modify_index),
            "Index": r.index, "Warnings": "",
        }))
    }

    /// Stops a job (`DELETE /v1/job/:id`); with `purge` it is removed at once.
    pub fn deregister(&mut self, id: &str, purge: bool) -> Result<EvalResult, ApiError> {
        if !self.jobs.contains_key(id) {
            return Err(ApiError::new(404, "job not found"));
        }
        let index = self.bump();
        let now = self.now;
        for a in self
            .allocs
            .values_mut()
            .filter(|a| a.job_id == id && a.is_live())
        {
            stop_alloc(a, "complete", now, index);
        }
        if purge {
            self.jobs.remove(id);
            self.allocs.retain(|_, a| a.job_id != id);
            self.evals
                .retain(|_, e| e.job_id != id || e.status != "blocked");
        } else if let Some(e) = self.jobs.get_mut(id) {
            e.job.stop = true;
            e.job.modify_index = index;
            e.job.job_modify_index = index;
        }
        let eval_id = self.begin_eval(id, "job-deregister", None);
        self.reconcile();
        self.end_eval(&eval_id);
        Ok(EvalResult {
            eval_id,
            index,
            job_modify_index: index,
        })
    }

    /// Dispatches a parameterized job; returns the child's ID and the evaluation.
    pub fn dispatch(
        &mut self,
        parent_id: &str,
        meta: BTreeMap<String, String>,
        payload: Option<String>,
    ) -> Result<(String, EvalResult), ApiError> {
        let parent = self
            .jobs
            .get(parent_id)
            .ok_or_else(|| ApiError::new(404, "parameterized job not found"))?;
        let Some(p) = parent.job.parameterized_job.clone() else {
            return Err(ApiError::new(
                400,
                format!("Specified job {parent_id:?} is not a parameterized job"),
            ));
        };
        if parent.job.stop {
            return Err(ApiError::new(
                400,
                format!("Job {parent_id:?} has been stopped"),
            ));
        }
        let missing: Vec<&String> = p
            .meta_required
            .iter()
            .filter(|k| !meta.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::new(
                400,
                format!("Dispatch did not provide required meta keys: {missing:?}"),
            ));
        }
        let unpermitted: Vec<&String> = meta
            .keys()
            .filter(|k| !p.meta_required.contains(k) && !p.meta_optional.contains(k))
            .collect();
        if !unpermitted.is_empty() {
            return Err(ApiError::new(
                400,
                format!("Dispatch included unpermitted metadata keys: {unpermitted:?}"),
            ));
        }
        match (p.payload.as_str(), payload.is_some()) {
            ("required", false) => {
                return Err(ApiError::new(
                    400,
                    "Payload is not provided but required by parameterized job",
                ));
            }
            ("forbidden", true) => {
                return Err(ApiError::new(
                    400,
                    "Payload provided but forbidden by parameterized job",
                ));
            }
            _ => {}
        }
        let mut child = parent.job.clone();
        let child_id = format!(
            "{parent_id}/dispatch-{}-{}",
            self.now / 1_000_000_000,
            self.ids.hex8()
        );
        let index = self.bump();
        child.id = child_id.clone();
        child.name = child_id.clone();
        child.parameterized_job = None;
        child.dispatched = true;
        child.parent_id = parent_id.to_owned();
        child.meta.extend(meta);
        child.payload = payload;
        child.create_index = index;
        child.modify_index = index;
        child.job_modify_index = index;
        child.submit_time = self.now as i64;
        child.version = 0;
        child.stop = false;
        self.jobs.insert(
            child_id.clone(),
            JobEntry {
                job: child,
                queued: BTreeMap::new(),
                blocked: BTreeMap::new(),
                dead_since: None,
                versions: Vec::new(),
                blocked_eval: None,
            },
        );
        let eval_id = self.begin_eval(&child_id, "job-register", None);
        self.reconcile_some(Some(&child_id));
        self.end_eval(&eval_id);
        Ok((
            child_id,
            EvalResult {
                eval_id,
                index,
                job_modify_index: index,
            },
        ))
    }

    /// Allocations of a job, oldest first.
    /// A job that does not exist has none: Nomad answers `[]`, not 404.
    pub fn job_allocs(&self, id: &str) -> Result<Vec<&Alloc>, ApiError> {
        let mut v: Vec<&Alloc> = self.allocs.values().filter(|a| a.job_id == id).collect();
        v.sort_by_key(|a| a.create_index);
        Ok(v)
    }

    /// `GET /v1/job/:id/summary` body.
    pub fn summary_json(&self, id: &str) -> Result<Value, ApiError> {
        let e = self.job(id)?;
        Ok(serde_json::to_value(self.summary_of(e, &self.summary_index())).unwrap_or(Value::Null))
    }

    /// Counts per (job, group) by client status and per parent by child status, in one pass.
    fn summary_index(&self) -> SummaryIndex<'_> {
        let mut ix = SummaryIndex::default();
        for a in self.allocs.values() {
            let c = ix
                .groups
                .entry((a.job_id.as_str(), a.task_group.as_str()))
                .or_default();
            match a.client_status.as_str() {
                "pending" => c[0] += 1,
                "running" => c[1] += 1,
                "complete" => c[2] += 1,
                "failed" => c[3] += 1,
                "lost" => c[4] += 1,
                _ => {}
            }
        }
        for child in self.jobs.values().filter(|c| !c.job.parent_id.is_empty()) {
            let c = ix.children.entry(child.job.parent_id.as_str()).or_default();
            match child.job.status.as_str() {
                "pending" => c[0] += 1,
                "running" => c[1] += 1,
                _ => c[2] += 1,
            }
        }
        ix
    }

    fn summary_of<'a>(&'a self, e: &'a JobEntry, ix: &SummaryIndex<'a>) -> JobSummary<'a> {
        let summary = e
            .job
            .task_groups
            .iter()
            .map(|g| {
                let c = ix
                    .groups
                    .get(&(e.job.id.as_str(), g.name.as_str()))
                    .copied()
                    .unwrap_or_default();
                let queued = e.queued.get(&g.name).copied().unwrap_or(0);
                (
                    g.name.as_str(),
                    GroupSummary {
                        queued,
                        starting: c[0],
                        running: c[1],
                        complete: c[2],
                        failed: c[3],
                        lost: c[4],
                        unknown: 0,
                    },
                )
            })
            .collect();
        let ch = ix
            .children
            .get(e.job.id.as_str())
            .copied()
            .unwrap_or_default();
        JobSummary {
            job_id: &e.job.id,
            namespace: &e.job.namespace,
            summary,
            children: Children {
                pending: ch[0],
                running: ch[1],
                dead: ch[2],
            },
            create_index: e.job.create_index,
            modify_index: e.job.modify_index,
        }
    }

    /// `GET /v1/jobs` stubs of the jobs whose ID starts with `prefix`, serialized (typed, so
    /// a list of hundreds of dispatched jobs stays cheap).
    pub fn job_stubs_body(&self, prefix: &str) -> Vec<u8> {
        let ix = self.summary_index();
        let stubs: Vec<JobStub<'_>> = self
            .jobs
            .values()
            .filter(|e| e.job.id.starts_with(prefix))
            .map(|e| {
                let j = &e.job;
                JobStub {
                    id: &j.id,
                    parent_id: &j.parent_id,
                    name: &j.name,
                    namespace: &j.namespace,
                    datacenters: &j.datacenters,
                    job_type: &j.job_type,
                    priority: j.priority,
                    periodic: false,
                    parameterized_job: j.parameterized_job.is_some(),
                    stop: j.stop,
                    status: &j.status,
                    status_description: &j.status_description,
                    job_summary: self.summary_of(e, &ix),
                    create_index: j.create_index,
                    modify_index: j.modify_index,
                    job_modify_index: j.job_modify_index,
                    submit_time: j.submit_time,
                }
            })
            .collect();
        serde_json::to_vec(&stubs).unwrap_or_default()
    }

    // ---- nodes ----------------------------------------------------------------------------

    /// A client agent starts now and registers after `boot`; returns its future node ID.
    pub fn add_node(&mut self, spec: NodeSpec, boot: Duration) -> String {
        let id = self.ids.uuid();
        let node = Node {
            id: id.clone(),
            spec,
            datacenter: self.config.datacenter.clone(),
            status: "ready".into(),
            eligible: true,
            drain: None,
            create_index: 0,
            modify_index: 0,
            status_updated_at: 0,
        };
        self.booting.push((self.now + boot.as_nanos() as u64, node));
        if boot.is_zero() {
            self.tick(self.now);
        }
        id
    }

    /// Registered nodes, by ID.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// One node.
    pub fn node(&self, id: &str) -> Result<&Node, ApiError> {
        self.nodes
            .get(id)
            .ok_or_else(|| ApiError::new(404, "node not found"))
    }

    /// A node by name (the harness knows workers by VM name).
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.nodes.values().find(|n| n.spec.name == name)
    }

    /// Allocations on a node.
    pub fn node_allocs(&self, id: &str) -> Result<Vec<&Alloc>, ApiError> {
        self.node(id)?;
        let mut v: Vec<&Alloc> = self.allocs.values().filter(|a| a.node_id == id).collect();
        v.sort_by_key(|a| a.create_index);
        Ok(v)
    }

    /// Sets scheduling eligibility (`POST /v1/node/:id/eligibility`).
    pub fn set_eligibility(&mut self, id: &str, eligibility: &str) -> Result<u64, ApiError> {
        let eligible = match eligibility {
            "eligible" => true,
            "ineligible" => false,
            other => {
                return Err(ApiError::new(
                    400,
                    format!("invalid scheduling eligibility {other:?}"),
                ));
            }
        };
        if !self.nodes.contains_key(id) {
            return Err(ApiError::new(404, "node not found"));
        }
        let index = self.bump();
        if let Some(n) = self.nodes.get_mut(id) {
            n.eligible = eligible;
            n.modify_index = index;
        }
        self.reconcile();
        Ok(index)
    }

    /// The node's VM is gone (deleted, or its heartbeat lapsed): it goes `down` and its live
    /// allocations become `lost`, which makes Nomad place replacements elsewhere.
    pub fn node_down(&mut self, id: &str) -> Result<(), ApiError> {
        self.booting.retain(|(_, n)| n.id != id);
        if !self.nodes.contains_key(id) {
            return Err(ApiError::new(404, "node not found"));
        }
        let index = self.bump();
        let now = self.now;
        if let Some(n) = self.nodes.get_mut(id) {
            n.status = "down".into();
            n.modify_index = index;
            n.status_updated_at = now / 1_000_000_000;
        }
        for a in self
            .allocs
            .values_mut()
            .filter(|a| a.node_id == id && a.is_live())
        {
            stop_alloc(a, "lost", now, index);
        }
        self.reconcile();
        Ok(())
    }

    /// Removes a node that never registered (its VM was deleted while booting), or forgets a
    /// down node.
    pub fn forget_node(&mut self, id: &str) {
        self.booting.retain(|(_, n)| n.id != id);
        if self.nodes.get(id).is_some_and(|n| n.status == "down") {
            self.nodes.remove(id);
        }
    }

    // ---- allocations ----------------------------------------------------------------------

    /// One allocation.
    pub fn alloc(&self, id: &str) -> Result<&Alloc, ApiError> {
        self.allocs
            .get(id)
            .ok_or_else(|| ApiError::new(404, "alloc not found"))
    }

    /// The processing on an allocation ended with `exit_code` (after Nomad's in-place restarts):
    /// 0 completes it; anything else fails it, and a batch job gets one reschedule after 5 s.
    pub fn finish_alloc(&mut self, id: &str, exit_code: i32) -> Result<(), ApiError> {
        let index = self.bump();
        let now = self.now;
        let delay = self.config.batch_reschedule_delay.as_nanos() as u64;
        let a = self
            .allocs
            .get_mut(id)
            .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
        if !a.is_live() {
            return Err(ApiError::new(
                400,
                format!("allocation {id} is already {}", a.client_status),
            ));
        }
        let status = if exit_code == 0 { "complete" } else { "failed" };
        stop_alloc(a, status, now, index);
        a.desired_status = "run".into();
        if exit_code != 0 {
            a.reschedule_at = Some(now + delay);
        }
        self.reconcile();
        Ok(())
    }

    /// Marks one allocation lost without its node going down (a lost heartbeat on that alloc).
    pub fn lose_alloc(&mut self, id: &str) -> Result<(), ApiError> {
        let index = self.bump();
        let now = self.now;
        let a = self
            .allocs
            .get_mut(id)
            .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
        stop_alloc(a, "lost", now, index);
        self.reconcile();
        Ok(())
    }

    // ---- scheduling -----------------------------------------------------------------------

    /// One pass over the allocations: per-group counts, live jobs and per-node usage, so a
    /// reconciliation costs O(jobs + allocations) rather than their product.
    fn alloc_index(&self) -> AllocIndex {
        let mut ix = AllocIndex::default();
        for a in self.allocs.values() {
            let c = ix
                .groups
                .entry((a.job_id.clone(), a.task_group.clone()))
                .or_default();
            if a.is_live() {
                c.live += 1;
                ix.live_jobs.insert(a.job_id.clone());
                let u = ix.node_used.entry(a.node_id.clone()).or_default();
                u.0 += a.cpu;
                u.1 += a.memory_mb;
            }
            match a.client_status.as_str() {
                // A server-side stop (alloc stop, drain) asks for a replacement.
                "complete" if !a.migrate => c.complete += 1,
                "failed" => {
                    c.failed += 1;
                    if a.reschedule_at.is_some_and(|t| t > self.now) {
                        c.waiting += 1;
                    }
                }
                _ => {}
            }
        }
        ix
    }

    /// Instances of a group that still need a placement.
    fn needed(&self, e: &JobEntry, c: Option<&GroupCounts>, count: u64) -> u64 {
        if e.job.stop || e.job.parameterized_job.is_some() {
            return 0;
        }
        let c = c.copied().unwrap_or_default();
        if e.job.job_type != "batch" {
            return count.saturating_sub(c.live);
        }
        if c.failed > u64::from(self.config.batch_reschedule_attempts) * count {
            return 0;
        }
        count.saturating_sub(c.live + c.complete + c.waiting)
    }

    /// What placement depends on: dispatched children of one parent share their parent's
    /// constraints unless the parent changed in between, hence the constraints' hash.
    fn shape(&self, id: &str, group: &str, cpu: u64, mem: u64) -> (String, u64, String, u64, u64) {
        use std::hash::{Hash, Hasher};
        let job = &self.jobs[id].job;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        job.constraints.hash(&mut h);
        job.datacenters.hash(&mut h);
        let base = if job.parent_id.is_empty() {
            job.id.clone()
        } else {
            job.parent_id.clone()
        };
        (base, h.finish(), group.to_owned(), cpu, mem)
    }

    /// Places whatever can be placed, oldest job first; records what stays queued and why.
    fn reconcile(&mut self) {
        self.reconcile_some(None);
    }

    /// Reconciles one job, or all of them. A new job only uses capacity up, so it cannot make
    /// another queued job placeable: a dispatch reconciles only its child (O(1), not O(jobs)).
    fn reconcile_some(&mut self, only: Option<&str>) {
        let mut ix = self.alloc_index();
        let mut order: Vec<(u64, String)> = self
            .jobs
            .values()
            .filter(|e| only.is_none_or(|id| e.job.id == id))
            .map(|e| (e.job.create_index, e.job.id.clone()))
            .collect();
        order.sort();
        // Placements only use up capacity within one pass, so once a job shape (parent, group,
        // ask) fails, every later job of that shape fails the same way: skip the search.
        let mut failed: HashMap<(String, u64, String, u64, u64), String> = HashMap::new();
        for (_, id) in order {
            let groups: Vec<(String, u64, u64, u64)> = self.jobs[&id]
                .job
                .task_groups
                .iter()
                .map(|g| (g.name.clone(), g.count.unwrap_or(1), g.cpu(), g.memory_mb()))
                .collect();
            for (group, count, cpu, mem) in groups {
                let key = (id.clone(), group.clone());
                let need = self.needed(&self.jobs[&id], ix.groups.get(&key), count);
                let mut placed = 0;
                let mut why = String::new();
                let shape_key = if need > 0 {
                    self.shape(&id, &group, cpu, mem)
                } else {
                    Default::default()
                };
                for _ in 0..need {
                    let pick = match failed.get(&shape_key) {
                        Some(reason) => Err(reason.clone()),
                        None => self.pick_node(&id, &group, cpu, mem, &ix.node_used),
                    };
                    match pick {
                        Ok(node_id) => {
                            self.place(&id, &group, &node_id, cpu, mem);
                            let u = ix.node_used.entry(node_id).or_default();
                            u.0 += cpu;
                            u.1 += mem;
                            ix.groups.entry(key.clone()).or_default().live += 1;
                            ix.live_jobs.insert(id.clone());
                            placed += 1;
                        }
                        Err(reason) => {
                            failed.insert(shape_key.clone(), reason.clone());
                            why = reason;
                            break;
                        }
                    }
                }
                let e = self.jobs.get_mut(&id).expect("job listed above");
                let left = need - placed;
                if left > 0 {
                    e.queued.insert(group.clone(), left);
                    e.blocked.insert(group.clone(), why);
                } else {
                    e.queued.remove(&group);
                    e.blocked.remove(&group);
                }
            }
            let live = ix.live_jobs.contains(&id);
            self.refresh_status(&id, live);
        }
    }

    fn refresh_status(&mut self, id: &str, live: bool) {
        let now = self.now;
        let e = self.jobs.get_mut(id).expect("caller checked");
        let status = if e.job.parameterized_job.is_some() {
            if e.job.stop { "dead" } else { "running" }
        } else if live {
            "running"
        } else if e.queued.values().any(|q| *q > 0) {
            "pending"
        } else {
            "dead"
        };
        e.job.status = status.into();
        if e.queued.is_empty()
            && let Some(blocked) = e.blocked_eval.take()
            && let Some(ev) = self.evals.get_mut(&blocked)
        {
            ev.status = "complete".into();
            ev.modify_time = now;
        }
        let e = self.jobs.get_mut(id).expect("caller checked");
        if status == "dead" {
            e.dead_since.get_or_insert(now);
        } else {
            e.dead_since = None;
        }
    }

    /// Feasible nodes, then bin-packing (fullest node that fits), ties by name: deterministic.
    fn pick_node(
        &self,
        job_id: &str,
        group: &str,
        cpu: u64,
        mem: u64,
        used: &HashMap<String, (u64, u64)>,
    ) -> Result<String, String> {
        let job = &self.jobs[job_id].job;
        let g = job
            .task_groups
            .iter()
            .find(|g| g.name == group)
            .expect("group exists");
        let constraints: Vec<&Constraint> = job
            .constraints
            .iter()
            .chain(&g.constraints)
            .chain(g.tasks.iter().flat_map(|t| &t.constraints))
            .collect();
        let feasible: Vec<&Node> = self
            .nodes
            .values()
            .filter(|n| {
                n.status == "ready"
                    && n.eligible
                    && job.datacenters.contains(&n.datacenter)
                    && constraints.iter().all(|c| constraint_holds(c, n))
            })
            .collect();
        if feasible.is_empty() {
            return Err("no nodes were eligible for evaluation".into());
        }
        let mut exhausted = BTreeSet::new();
        let mut best: Option<(u64, &str, &str)> = None;
        for n in feasible {
            let (uc, um) = used.get(&n.id).copied().unwrap_or_default();
            let (fc, fm) = (
                n.spec.cpu_mhz.saturating_sub(uc),
                n.spec.memory_mb.saturating_sub(um),
            );
            if fc < cpu {
                exhausted.insert("cpu");
            }
            if fm < mem {
                exhausted.insert("memory");
            }
            if fc >= cpu && fm >= mem {
                let left = (fc - cpu) + (fm - mem);
                if best.is_none_or(|(l, name, _)| (left, n.spec.name.as_str()) < (l, name)) {
                    best = Some((left, &n.spec.name, &n.id));
                }
            }
        }
        match best {
            Some((_, _, id)) => Ok(id.to_owned()),
            None => Err(exhausted
                .iter()
                .map(|d| format!("Dimension \"{d}\" exhausted"))
                .collect::<Vec<_>>()
                .join(", ")),
        }
    }

    fn place(&mut self, job_id: &str, group: &str, node_id: &str, cpu: u64, mem: u64) {
        let index = self.bump();
        let now = self.now;
        let job = &self.jobs[job_id].job;
        let n = self
            .allocs
            .values()
            .filter(|a| a.job_id == job_id && a.task_group == group)
            .count();
        let tasks = job
            .task_groups
            .iter()
            .find(|g| g.name == group)
            .map(|g| g.tasks.iter().map(|t| t.name.clone()).collect::<Vec<_>>())
            .unwrap_or_default();
        let alloc = Alloc {
            id: self.ids.uuid(),
            eval_id: self
                .placing_eval
                .clone()
                .or_else(|| self.jobs[job_id].blocked_eval.clone())
                .unwrap_or_default(),
            name: format!("{job_id}.{group}[{}]", n.min(u64::MAX as usize)),
            node_id: node_id.to_owned(),
            node_name: self.nodes[node_id].spec.name.clone(),
            job_id: job_id.to_owned(),
            job_version: job.version,
            task_group: group.to_owned(),
            cpu,
            memory_mb: mem,
            desired_status: "run".into(),
            client_status: "running".into(),
            task_states: tasks
                .into_iter()
                .map(|t| {
                    (
                        t,
                        TaskState {
                            state: "running".into(),
                            failed: false,
                            started_at: now,
                            finished_at: 0,
                        },
                    )
                })
                .collect(),
            create_time: now,
            modify_time: now,
            create_index: index,
            modify_index: index,
            reschedule_at: None,
            previous_alloc: String::new(),
            next_alloc: String::new(),
            reschedules: Vec::new(),
            migrate: false,
        };
        let mut alloc = alloc;
        self.link_replacement(&mut alloc);
        if let Some((d, end)) = self
            .config
            .runs
            .as_ref()
            .and_then(|r| r.draw(&self.jobs[job_id].job.parent_id, &alloc.id))
        {
            let key = match end {
                RunEnd::Complete => RunEndKey::Complete,
                RunEnd::Failed => RunEndKey::Failed,
                RunEnd::Lost => RunEndKey::Lost,
            };
            self.run_ends.insert((now + d, alloc.id.clone(), key));
        }
        self.allocs.insert(alloc.id.clone(), alloc);
    }
}

fn stop_alloc(a: &mut Alloc, client_status: &str, now: u64, index: u64) {
    a.desired_status = "stop".into();
    a.client_status = client_status.into();
    a.modify_time = now;
    a.modify_index = index;
    for t in a.task_states.values_mut() {
        t.state = "dead".into();
        t.failed = client_status == "failed";
        t.finished_at = now;
    }
}

fn same_spec(a: &Job, b: &Job) -> bool {
    a.datacenters == b.datacenters
        && a.constraints == b.constraints
        && a.job_type == b.job_type
        && a.priority == b.priority
        && a.meta == b.meta
        && a.parameterized_job == b.parameterized_job
        && a.extra == b.extra
}

fn dimension_map(why: &str) -> Value {
    let mut m = serde_json::Map::new();
    for d in ["cpu", "memory"] {
        if why.contains(&format!("\"{d}\"")) {
            m.insert(d.into(), json!(1));
        }
    }
    Value::Object(m)
}

/// Resolves the interpolations the system's constraints use.
fn node_value(target: &str, n: &Node) -> Option<String> {
    let inner = target
        .strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))?;
    match inner {
        "node.class" => Some(n.spec.node_class.clone()),
        "node.datacenter" => Some(n.datacenter.clone()),
        "node.unique.name" | "attr.unique.hostname" => Some(n.spec.name.clone()),
        "node.unique.id" => Some(n.id.clone()),
        "attr.platform.aws.instance-type" => n.spec.instance_type.clone(),
        "attr.unique.network.ip-address" => Some(n.spec.address.clone()),
        _ => None,
    }
}

fn constraint_holds(c: &Constraint, n: &Node) -> bool {
    let l = node_value(&c.l_target, n);
    match c.operand.as_str() {
        "=" | "==" | "is" => l.as_deref() == Some(c.r_target.as_str()),
        "!=" | "not" => l.as_deref() != Some(c.r_target.as_str()),
        "is_set" => l.is_some(),
        "is_not_set" => l.is_none(),
        // Operators the system does not use are treated as unsatisfiable rather than guessed.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mocks::nomad_files;

    const MIN: u64 = 60_000_000_000;

    fn server_with_services(wpm_cpu: u64) -> NomadState {
        let mut s = NomadState::new(NomadConfig::default(), 0);
        for (_, src) in nomad_files::default_job_files(wpm_cpu) {
            s.register(crate::mocks::jobspec::parse_hcl(&src).unwrap())
                .unwrap();
        }
        s
    }

    fn status(s: &NomadState, id: &str) -> String {
        s.job(id).unwrap().job.status.clone()
    }

    #[test]
    fn services_wait_pending_until_the_orchestrator_registers() {
        let mut s = server_with_services(1000);
        assert_eq!(status(&s, "job-creation"), "pending");
        s.add_node(NodeSpec::orchestrator(), Duration::from_secs(60));
        s.tick(30_000_000_000);
        assert_eq!(status(&s, "job-creation"), "pending");
        s.tick(MIN);
        for id in nomad_files::SERVICE_JOBS.iter().map(|(id, ..)| *id) {
            assert_eq!(status(&s, id), "running", "{id}");
        }
        // Parameterized parents are reported running even with no worker.
        assert_eq!(status(&s, "si-processing"), "running");
    }

    #[test]
    fn worker_pool_management_at_1500_stays_pending_and_1000_places_it() {
        let mut s = server_with_services(1500);
        s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
        assert_eq!(status(&s, "worker-pool-management"), "pending");
        let e = s.job("worker-pool-management").unwrap();
        assert_eq!(e.queued.get("worker-pool-management"), Some(&1));
        assert!(e.blocked["worker-pool-management"].contains("Dimension \"cpu\" exhausted"));
        // The other five fit: 9000 - 1000 = 8000 MHz of the assumed 9200.
        let used: u64 = s
            .node_allocs(&s.nodes().next().unwrap().id.clone())
            .unwrap()
            .iter()
            .filter(|a| a.is_live())
            .map(|a| a.cpu)
            .sum();
        assert_eq!(used, 8000);
        let mut job = e.job.clone();
        job.task_groups[0].tasks[0].resources.cpu = Some(1000);
        s.register(job).unwrap();
        assert_eq!(status(&s, "worker-pool-management"), "running");
        assert_eq!(s.job("worker-pool-management").unwrap().job.version, 1);
    }

    #[test]
    fn a_stopped_service_is_collected_after_the_gc_threshold_and_can_be_run_again() {
        let mut s = server_with_services(1000);
        s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
        s.deregister("job-publication", false).unwrap();
        assert_eq!(status(&s, "job-publication"), "dead");
        s.tick(4 * MIN);
        assert!(s.job("job-publication").is_ok());
        s.tick(5 * MIN);
        assert_eq!(s.job("job-publication").unwrap_err().status, 404);
        let src = nomad_files::default_job_files(1000)
            .into_iter()
            .find(|(f, _)| f == "job_publication.nomad")
            .unwrap()
            .1;
        s.register(crate::mocks::jobspec::parse_hcl(&src).unwrap())
            .unwrap();
        assert_eq!(status(&s, "job-publication"), "running");
    }

    #[test]
    fn dispatch_waits_for_a_worker_of_the_right_flavor() {
        let mut s = server_with_services(1000);
        let meta: BTreeMap<String, String> = [
            ("job_id".into(), "42".into()),
            ("job_unique_id".into(), "u42".into()),
        ]
        .into();
        let (child, _) = s.dispatch("si-processing", meta.clone(), None).unwrap();
        assert!(child.starts_with("si-processing/dispatch-0-"), "{child}");
        assert_eq!(child.len(), "si-processing/dispatch-0-".len() + 8);
        assert_eq!(status(&s, &child), "pending");
        // A GFSC worker (eo2.medium) does not match the hm.medium constraint.
        s.add_node(
            NodeSpec::worker("os-worker-001", "eo2.medium", 1, 4096, "10.0.0.1"),
            Duration::ZERO,
        );
        assert_eq!(status(&s, &child), "pending");
        s.add_node(
            NodeSpec::worker("os-worker-002", "hm.medium", 2, 16384, "10.0.0.2"),
            Duration::ZERO,
        );
        assert_eq!(status(&s, &child), "running");
        // One job per worker: a second dispatch does not fit in the 16 GB left (10300 MB each).
        let (second, _) = s.dispatch("si-processing", meta, None).unwrap();
        assert_eq!(status(&s, &second), "pending");
        let alloc = s.job_allocs(&child).unwrap()[0].id.clone();
        s.finish_alloc(&alloc, 0).unwrap();
        assert_eq!(status(&s, &child), "dead");
        assert_eq!(status(&s, &second), "running");
        let sum = s.summary_json(&child).unwrap();
        assert_eq!(sum["Summary"]["run-and-log"]["Complete"], 1);
    }

    #[test]
    fn served_processing_allocs_end_by_themselves_after_their_drawn_duration() {
        let mut s = NomadState::new(NomadConfig::served(), 0);
        for (_, src) in nomad_files::default_job_files(1000) {
            s.register(crate::mocks::jobspec::parse_hcl(&src).unwrap())
                .unwrap();
        }
        s.add_node(NodeSpec::orchestrator(), Duration::ZERO);
        for i in 0..8 {
            s.add_node(
                NodeSpec::worker(&format!("os-worker-{i}"), "eo2.medium", 1, 4096, "10.0.0.1"),
                Duration::ZERO,
            );
        }
        let meta: BTreeMap<String, String> = [
            ("job_id".into(), "1".into()),
            ("job_unique_id".into(), "u1".into()),
        ]
        .into();
        let children: Vec<String> = (0..8)
            .map(|_| s.dispatch("gfsc-processing", meta.clone(), None).unwrap().0)
            .collect();
        let runs = s.config.runs.clone().unwrap();
        let mut ends = Vec::new();
        for c in &children {
            assert_eq!(status(&s, c), "running");
            let a = s.job_allocs(c).unwrap()[0].id.clone();
            ends.push((a.clone(), runs.draw("gfsc-processing", &a).unwrap()));
        }
        // Services never end by themselves.
        let service_alloc = s.job_allocs("job-creation").unwrap()[0].id.clone();
        s.tick(MIN);
        for (a, (d, _)) in &ends {
            let live = s.alloc(a).unwrap().is_live();
            assert_eq!(live, *d > MIN, "{a} drawn {d} ns");
        }
        ends.sort_by_key(|(_, (d, _))| *d);
        for (a, (d, end)) in ends.iter().filter(|(_, (d, _))| *d > MIN) {
            // Checked right after its end: dead jobs are collected 5 min later.
            s.tick(d + 1);
            let al = s.alloc(a).unwrap();
            let want = match end {
                RunEnd::Complete => "complete",
                RunEnd::Failed => "failed",
                RunEnd::Lost => "lost",
            };
            assert_eq!(al.client_status, want);
            // Ended at its own end time, not at the tick.
            assert_eq!(al.modify_time, *d);
        }
        assert!(s.alloc(&service_alloc).unwrap().is_live());
        // Without a run model (a rehearsal), processing runs until the harness ends it.
        let mut r = server_with_services(1000);
        r.add_node(
            NodeSpec::worker("os-worker-x", "eo2.medium", 1, 4096, "10.0.0.1"),
            Duration::ZERO,
        );
        let (c, _) = r.dispatch("gfsc-processing", meta, None).unwrap();
        r.tick(6000 * MIN);
        assert_eq!(status(&r, &c), "running");
    }

    #[test]
    fn evaluations_are_bounded_and_each_write_records_one() {
        let mut s = server_with_services(1000);
        let n0 = s.eval_count();
        let job = s.job("job-creation").unwrap().job.clone();
        let r = s.register(job.clone()).unwrap();
        assert_eq!(s.eval(&r.eval_id).unwrap().triggered_by, "job-register");
        assert_eq!(s.eval_count(), n0 + 1);
        for _ in 0..MAX_EVALS + 50 {
            s.register(job.clone()).unwrap();
        }
        assert!(s.eval_count() <= MAX_EVALS, "{}", s.eval_count());
        // The blocked evaluations waiting for capacity are kept.
        assert!(s.evals("").iter().any(|e| e.status == "blocked"));
    }

    #[test]
    fn queued_dispatches_are_placed_first_in_first_out_as_workers_register() {
        let mut s = server_with_services(1000);
        let meta: BTreeMap<String, String> = [
            ("job_id".into(), "1".into()),
            ("job_unique_id".into(), "u".into()),
        ]
        .into();
        let children: Vec<String> = (0..300)
            .map(|_| s.dispatch("si-processing", meta.clone(), None).unwrap().0)
            .collect();
        for i in 0..3 {
            s.add_node(
                NodeSpec::worker(
                    &format!("os-worker-{i:03}"),
                    "hm.medium",
                    2,
                    16384,
                    "10.0.0.1",
                ),
                Duration::from_secs(60),
            );
        }
        s.tick(60_000_000_000);
        let running: Vec<&String> = children
            .iter()
            .filter(|c| status(&s, c) == "running")
            .collect();
        assert_eq!(running, children.iter().take(3).collect::<Vec<_>>());
        assert_eq!(status(&s, &children[3]), "pending");
        assert_eq!(
            s.summary_json("si-processing").unwrap()["Children"],
            json!({"Pending": 297, "Running": 3, "Dead": 0})
        );
    }

    #[test]
    fn dispatch_errors_match_nomad() {
        let mut s = server_with_services(1000);
        let e = s
            .dispatch("job-creation", BTreeMap::new(), None)
            .unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (
                400,
                "Specified job \"job-creation\" is not a parameterized job"
            )
        );
        let e = s
            .dispatch(
                "si-processing",
                [("job_id".to_owned(), "1".to_owned())].into(),
                None,
            )
            .unwrap_err();
        assert_eq!(
            e.message,
            "Dispatch did not provide required meta keys: [\"job_unique_id\"]"
        );
        assert_eq!(
            s.dispatch("nope", BTreeMap::new(), None)
                .unwrap_err()
                .status,
            404
        );
    }

    #[test]
    fn a_failed_batch_alloc_is_rescheduled_once_after_five_seconds() {
        let mut s = server_with_services(1000);
        s.add_node(
            NodeSpec::worker("os-worker-001", "eo2.medium", 1, 4096, "10.0.0.1"),
            Duration::ZERO,
        );
        let meta: BTreeMap<String, String> = [
            ("job_id".into(), "1".into()),
            ("job_unique_id".into(), "u".into()),
        ]
        .into();
        let (child, _) = s.dispatch("gfsc-processing", meta, None).unwrap();
        let first = s.job_allocs(&child).unwrap()[0].id.clone();
        s.finish_alloc(&first, 2).unwrap();
        assert_eq!(s.job_allocs(&child).unwrap().len(), 1);
        s.tick(5_000_000_000);
        let allocs: Vec<String> = s
            .job_allocs(&child)
            .unwrap()
            .iter()
            .map(|a| a.id.clone())
            .collect();
        assert_eq!(allocs.len(), 2);
        s.finish_alloc(&allocs[1], 2).unwrap();
        s.tick(20_000_000_000);
        assert_eq!(
            s.job_allocs(&child).unwrap().len(),
            2,
            "only one reschedule"
        );
        assert_eq!(status(&s, &child), "dead");
        assert_eq!(
            s.summary_json(&child).unwrap()["Summary"]["run-and-log"]["Failed"],
            2
        );
    }

    #[test]
    fn a_lost_node_loses_its_allocs_and_an_ineligible_node_takes_no_work() {
        let mut s = server_with_services(1000);
        let w1 = s.add_node(
            NodeSpec::worker("os-worker-001", "hm.medium", 2, 16384, "10.0.0.1"),
            Duration::ZERO,
        );
        let meta: BTreeMap<String, String> = [
            ("job_id".into(), "1".into()),
            ("job_unique_id".into(), "u".into()),
        ]
        .into();
        let (child, _) = s.dispatch("si-processing", meta, None).unwrap();
        s.node_down(&w1).unwrap();
        assert_eq!(
            s.summary_json(&child).unwrap()["Summary"]["run-and-log"]["Lost"],
            1
        );
        assert_eq!(status(&s, &child), "pending");
        let w2 = s.add_node(
            NodeSpec::worker("os-worker-002", "hm.medium", 2, 16384, "10.0.0.2"),
            Duration::from_secs(10),
        );
        s.tick(1);
        assert_eq!(
            s.set_eligibility(&w2, "ineligible").unwrap_err().status,
            404,
            "not registered yet"
        );
        s.tick(10_000_000_000);
        assert_eq!(status(&s, &child), "running");
        assert_eq!(s.set_eligibility(&w2, "maybe").unwrap_err().status, 400);
    }
}
