//! Evaluations: every write that asks the scheduler to act (register, dispatch, deregister,
//! job evaluate, node drain/evaluate, allocation stop) creates one; it is `complete` once
//! scheduled and, when a group could not be placed, points at a `blocked` evaluation that
//! stays until capacity appears (what `nomad job status` shows as "Placement Failure").

use std::collections::BTreeMap;

use serde_json::Value;

use super::{ApiError, NomadState, dimension_map};

/// The most evaluations held before the oldest finished ones are forgotten.
pub const MAX_EVALS: usize = 10_000;

/// One evaluation, with the fields `GET /v1/evaluation/:id` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Eval {
    /// Evaluation ID.
    pub id: String,
    /// Job it evaluates.
    pub job_id: String,
    /// Node that triggered it (`node-update`, `node-drain`), if any.
    pub node_id: String,
    /// `job-register`, `job-deregister`, `node-drain`, `alloc-stop`, `queued-allocs`, ...
    pub triggered_by: String,
    /// `pending`, `complete` or `blocked`.
    pub status: String,
    /// Job type and priority at creation.
    pub job_type: String,
    /// Job priority.
    pub priority: i64,
    /// Job modify index the evaluation saw.
    pub job_modify_index: u64,
    /// Groups that could not be placed: (group, reason, count).
    pub failed: Vec<(String, String, u64)>,
    /// The blocked evaluation created for the unplaced groups.
    pub blocked_eval: String,
    /// The evaluation this blocked one comes from.
    pub previous_eval: String,
    /// Raft indexes.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Creation and last change, ns.
    pub create_time: u64,
    /// Last change, ns.
    pub modify_time: u64,
}

impl NomadState {
    /// Creates a pending evaluation of `job_id`; placements until [`NomadState::end_eval`]
    /// record it as theirs.
    pub(super) fn begin_eval(
        &mut self,
        job_id: &str,
        triggered_by: &str,
        node_id: Option<&str>,
    ) -> String {
        let id = self.ids.uuid();
        let (job_type, priority, jmi) = self.jobs.get(job_id).map_or_else(
            || ("service".to_owned(), 50, 0),
            |e| {
                (
                    e.job.job_type.clone(),
                    e.job.priority,
                    e.job.job_modify_index,
                )
            },
        );
        let ev = Eval {
            id: id.clone(),
            job_id: job_id.to_owned(),
            node_id: node_id.unwrap_or_default().to_owned(),
            triggered_by: triggered_by.to_owned(),
            status: "pending".into(),
            job_type,
            priority,
            job_modify_index: jmi,
            failed: Vec::new(),
            blocked_eval: String::new(),
            previous_eval: String::new(),
            create_index: self.index,
            modify_index: self.index,
            create_time: self.now,
            modify_time: self.now,
        };
        self.evals.insert(id.clone(), ev);
        self.placing_eval = Some(id.clone());
        if self.evals.len() > MAX_EVALS {
            self.forget_old_evals();
        }
        id
    }

    /// Nomad collects finished evaluations after an hour; here the oldest tenth goes once
    /// [`MAX_EVALS`] are held, so a client that re-registers in a loop cannot grow the table.
    fn forget_old_evals(&mut self) {
        let mut done: Vec<(u64, String)> = self
            .evals
            .values()
            .filter(|e| e.status == "complete")
            .map(|e| (e.create_index, e.id.clone()))
            .collect();
        done.sort();
        for (_, id) in done.into_iter().take(MAX_EVALS / 10) {
            self.evals.remove(&id);
        }
    }

    /// Marks the evaluation scheduled: what stayed unplaced is recorded and handed to a blocked
    /// evaluation (one per job, reused while it waits).
    pub(super) fn end_eval(&mut self, id: &str) {
        self.placing_eval = None;
        let Some(job_id) = self.evals.get(id).map(|e| e.job_id.clone()) else {
            return;
        };
        let failed: Vec<(String, String, u64)> = self
            .jobs
            .get(&job_id)
            .map(|e| {
                e.blocked
                    .iter()
                    .map(|(g, why)| {
                        (
                            g.clone(),
                            why.clone(),
                            e.queued.get(g).copied().unwrap_or(1),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut blocked_id = String::new();
        if !failed.is_empty() {
            let existing = self.jobs.get(&job_id).and_then(|e| e.blocked_eval.clone());
            blocked_id = match existing {
                Some(b) if self.evals.contains_key(&b) => b,
                _ => {
                    let b = self.begin_eval(&job_id, "queued-allocs", None);
                    self.placing_eval = None;
                    if let Some(ev) = self.evals.get_mut(&b) {
                        ev.status = "blocked".into();
                        ev.previous_eval = id.to_owned();
                        ev.failed = failed.clone();
                    }
                    if let Some(e) = self.jobs.get_mut(&job_id) {
                        e.blocked_eval = Some(b.clone());
                    }
                    b
                }
            };
        }
        if let Some(ev) = self.evals.get_mut(id) {
            ev.status = "complete".into();
            ev.failed = failed;
            ev.blocked_eval = blocked_id;
            ev.modify_index = self.index;
            ev.modify_time = self.now;
        }
    }

    /// Creates and schedules an evaluation at once (job evaluate, node evaluate, alloc stop).
    pub(super) fn evaluate(
        &mut self,
        job_id: &str,
        triggered_by: &str,
        node: Option<&str>,
    ) -> String {
        let id = self.begin_eval(job_id, triggered_by, node);
        self.reconcile();
        self.end_eval(&id);
        id
    }

    /// How many evaluations are held.
    pub fn eval_count(&self) -> usize {
        self.evals.len()
    }

    /// All evaluations whose ID starts with `prefix`, oldest first.
    pub fn evals(&self, prefix: &str) -> Vec<&Eval> {
        let mut v: Vec<&Eval> = self
            .evals
            .values()
            .filter(|e| e.id.starts_with(prefix))
            .collect();
        v.sort_by_key(|e| (e.create_index, e.id.clone()));
        v
    }

    /// One evaluation.
    pub fn eval(&self, id: &str) -> Result<&Eval, ApiError> {
        self.evals
            .get(id)
            .ok_or_else(|| ApiError::new(404, "eval not found"))
    }

    /// A job's evaluations, oldest first (`[]` for a job that does not exist, as Nomad).
    pub fn job_evals(&self, job_id: &str) -> Vec<&Eval> {
        let mut v: Vec<&Eval> = self.evals.values().filter(|e| e.job_id == job_id).collect();
        v.sort_by_key(|e| (e.create_index, e.id.clone()));
        v
    }

    fn eval_view<'a>(&'a self, e: &'a Eval) -> EvalView<'a> {
        // A blocked evaluation shows why placement fails now (nodes come and go meanwhile).
        let reasons: Vec<(&str, &str, u64)> = match (e.status.as_str(), self.jobs.get(&e.job_id)) {
            ("blocked", Some(j)) => j
                .blocked
                .iter()
                .map(|(g, why)| {
                    (
                        g.as_str(),
                        why.as_str(),
                        j.queued.get(g).copied().unwrap_or(1),
                    )
                })
                .collect(),
            _ => e
                .failed
                .iter()
                .map(|(g, w, n)| (g.as_str(), w.as_str(), *n))
                .collect(),
        };
        let n = self.nodes.len();
        let failed: BTreeMap<&str, FailedView<'_>> = reasons
            .into_iter()
            .map(|(g, why, q)| {
                (
                    g,
                    FailedView {
                        nodes_evaluated: n,
                        nodes_filtered: 0,
                        nodes_available: BTreeMap::from([(self.config.datacenter.as_str(), n)]),
                        class_filtered: None,
                        constraint_filtered: None,
                        nodes_exhausted: n,
                        class_exhausted: None,
                        dimension_exhausted: dimension_map(why),
                        quota_exhausted: None,
                        scores: None,
                        allocation_time: 0,
                        coalesced_failures: q.saturating_sub(1),
                    },
                )
            })
            .collect();
        let queued: BTreeMap<&str, u64> = self
            .jobs
            .get(&e.job_id)
            .map(|j| {
                j.job
                    .task_groups
                    .iter()
                    .map(|g| (g.name.as_str(), j.queued.get(&g.name).copied().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        EvalView {
            id: &e.id,
            namespace: "default",
            priority: e.priority,
            eval_type: &e.job_type,
            triggered_by: &e.triggered_by,
            job_id: &e.job_id,
            job_modify_index: e.job_modify_index,
            node_id: &e.node_id,
            node_modify_index: 0,
            deployment_id: "",
            status: &e.status,
            status_description: if e.status == "blocked" {
                "created due to placement conflicts"
            } else {
                ""
            },
            wait: 0,
            wait_until: "0001-01-01T00:00:00Z",
            next_eval: "",
            previous_eval: &e.previous_eval,
            blocked_eval: &e.blocked_eval,
            failed_tg_allocs: (!failed.is_empty()).then_some(failed),
            class_eligibility: None,
            escaped_computed_class: false,
            quota_limit_reached: "",
            annotate_plan: false,
            queued_allocations: queued,
            leader_acl: "",
            snapshot_index: e.create_index,
            create_index: e.create_index,
            modify_index: e.modify_index,
            create_time: e.create_time,
            modify_time: e.modify_time,
        }
    }

    /// `GET /v1/evaluation/:id` body.
    pub fn eval_json(&self, e: &Eval) -> Value {
        serde_json::to_value(self.eval_view(e)).unwrap_or(Value::Null)
    }

    /// `GET /v1/evaluations?prefix=` body, kept until the state changes (as the job list).
    pub fn evals_cached(&mut self, prefix: &str) -> bytes::Bytes {
        if let Some((i, p, b)) = &self.evals_cache
            && *i == self.index
            && p == prefix
        {
            return b.clone();
        }
        let b = bytes::Bytes::from(self.evals_body(self.evals(prefix).into_iter()));
        self.evals_cache = Some((self.index, prefix.to_owned(), b.clone()));
        b
    }

    /// A list of evaluations, serialized (typed: a thousand blocked dispatches stay cheap).
    pub fn evals_body<'a>(&'a self, evals: impl Iterator<Item = &'a Eval>) -> Vec<u8> {
        let views: Vec<EvalView<'_>> = evals.map(|e| self.eval_view(e)).collect();
        serde_json::to_vec(&views).unwrap_or_default()
    }

    /// Allocations placed by an evaluation (`GET /v1/evaluation/:id/allocations`).
    pub fn eval_allocs(&self, id: &str) -> Result<Vec<&super::Alloc>, ApiError> {
        self.eval(id)?;
        let mut v: Vec<&super::Alloc> = self.allocs.values().filter(|a| a.eval_id == id).collect();
        v.sort_by_key(|a| a.create_index);
        Ok(v)
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct FailedView<'a> {
    nodes_evaluated: usize,
    nodes_filtered: usize,
    nodes_available: BTreeMap<&'a str, usize>,
    class_filtered: Option<()>,
    constraint_filtered: Option<()>,
    nodes_exhausted: usize,
    class_exhausted: Option<()>,
    dimension_exhausted: Value,
    quota_exhausted: Option<()>,
    scores: Option<()>,
    allocation_time: u64,
    coalesced_failures: u64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct EvalView<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    namespace: &'a str,
    priority: i64,
    #[serde(rename = "Type")]
    eval_type: &'a str,
    triggered_by: &'a str,
    #[serde(rename = "JobID")]
    job_id: &'a str,
    job_modify_index: u64,
    #[serde(rename = "NodeID")]
    node_id: &'a str,
    node_modify_index: u64,
    #[serde(rename = "DeploymentID")]
    deployment_id: &'a str,
    status: &'a str,
    status_description: &'a str,
    wait: u64,
    wait_until: &'a str,
    next_eval: &'a str,
    previous_eval: &'a str,
    blocked_eval: &'a str,
    #[serde(rename = "FailedTGAllocs")]
    failed_tg_allocs: Option<BTreeMap<&'a str, FailedView<'a>>>,
    class_eligibility: Option<()>,
    escaped_computed_class: bool,
    quota_limit_reached: &'a str,
    annotate_plan: bool,
    queued_allocations: BTreeMap<&'a str, u64>,
    #[serde(rename = "LeaderACL")]
    leader_acl: &'a str,
    snapshot_index: u64,
    create_index: u64,
    modify_index: u64,
    create_time: u64,
    modify_time: u64,
}
