//! Jobs: register (with versions), plan, stop, dispatch, summaries and the job list.

use super::*;

impl NomadState {
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
    pub(super) fn summary_index(&self) -> SummaryIndex<'_> {
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

    pub(super) fn summary_of<'a>(
        &'a self,
        e: &'a JobEntry,
        ix: &SummaryIndex<'a>,
    ) -> JobSummary<'a> {
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

    /// [`NomadState::job_stubs_body`], kept until the state changes: clients poll the job list
    /// (the worker pool every 5 s) far more often than it changes.
    pub fn job_stubs_cached(&mut self, prefix: &str) -> bytes::Bytes {
        if let Some((i, p, b)) = &self.stubs_cache
            && *i == self.index
            && p == prefix
        {
            return b.clone();
        }
        let b = bytes::Bytes::from(self.job_stubs_body(prefix));
        self.stubs_cache = Some((self.index, prefix.to_owned(), b.clone()));
        b
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
}
