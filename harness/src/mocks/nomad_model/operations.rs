//! The operator's writes beyond register/dispatch/deregister: allocation stop, node drain and
//! evaluate, system GC, and the job sub-resources (evaluate, versions, revert, stable, scale).

use serde_json::{Value, json};

use super::{Alloc, ApiError, EvalResult, JOB_TRACKED_VERSIONS, Job, NomadState, stop_alloc};

/// A node drain in progress (`DrainStrategy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drain {
    /// `Deadline` as given, ns: negative forces at once, 0 waits without limit.
    pub deadline_ns: i64,
    /// Leave system jobs' allocations in place.
    pub ignore_system_jobs: bool,
    /// When the drain started, ns.
    pub started_at: u64,
}

impl Drain {
    /// Absolute time (ns) after which remaining allocations are stopped, if any.
    pub fn force_at(&self) -> Option<u64> {
        match self.deadline_ns {
            0 => None,
            d if d < 0 => Some(self.started_at),
            d => Some(self.started_at.saturating_add(d as u64)),
        }
    }
}

impl NomadState {
    /// Links a new placement to the allocation it replaces (a rescheduled failure, a lost or
    /// migrated allocation of the same group), carrying the reschedule history.
    pub(super) fn link_replacement(&mut self, new: &mut Alloc) {
        let now = self.now;
        let prev = self
            .allocs
            .values()
            .filter(|a| {
                a.job_id == new.job_id
                    && a.task_group == new.task_group
                    && a.next_alloc.is_empty()
                    && !a.is_live()
                    && (a.migrate
                        || a.client_status == "lost"
                        || (a.client_status == "failed"
                            && a.reschedule_at.is_some_and(|t| t <= now)))
            })
            .max_by_key(|a| a.modify_index)
            .map(|a| a.id.clone());
        let Some(prev_id) = prev else { return };
        if let Some(p) = self.allocs.get_mut(&prev_id) {
            p.next_alloc = new.id.clone();
            new.previous_alloc = prev_id.clone();
            if p.client_status == "failed" {
                new.reschedules = p.reschedules.clone();
                new.reschedules.push((now, prev_id, p.node_id.clone()));
            }
        }
    }

    /// All allocations whose ID starts with `prefix`, oldest first (`GET /v1/allocations`).
    pub fn allocs(&self, prefix: &str) -> Vec<&Alloc> {
        let mut v: Vec<&Alloc> = self
            .allocs
            .values()
            .filter(|a| a.id.starts_with(prefix))
            .collect();
        v.sort_by_key(|a| a.create_index);
        v
    }

    /// `POST /v1/allocation/:id/stop`: the allocation is stopped and, its job still wanting it,
    /// replaced (the `Migrate` transition); returns the evaluation.
    pub fn stop_alloc(&mut self, id: &str) -> Result<EvalResult, ApiError> {
        let a = self
            .allocs
            .get(id)
            .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
        let job_id = a.job_id.clone();
        let index = self.bump();
        let now = self.now;
        if let Some(a) = self.allocs.get_mut(id) {
            a.migrate = true;
            if a.is_live() {
                stop_alloc(a, "complete", now, index);
            }
        }
        let eval_id = self.evaluate(&job_id, "alloc-stop", None);
        Ok(EvalResult {
            eval_id,
            index,
            job_modify_index: self.jobs.get(&job_id).map_or(0, |e| e.job.job_modify_index),
        })
    }

    /// `POST /v1/node/:id/drain`: with a drain, the node becomes ineligible and its
    /// allocations migrate (service ones at once, batch ones at the deadline); without one the
    /// drain is cancelled and, with `mark_eligible`, the node takes work again.
    pub fn drain_node(
        &mut self,
        id: &str,
        drain: Option<(i64, bool)>,
        mark_eligible: bool,
    ) -> Result<(Vec<String>, u64), ApiError> {
        if !self.nodes.contains_key(id) {
            return Err(ApiError::new(404, "node not found"));
        }
        let index = self.bump();
        let now = self.now;
        let node = self.nodes.get_mut(id).expect("checked above");
        node.modify_index = index;
        match drain {
            Some((deadline_ns, ignore_system_jobs)) => {
                node.eligible = false;
                node.drain = Some(Drain {
                    deadline_ns,
                    ignore_system_jobs,
                    started_at: now,
                });
            }
            None => {
                node.drain = None;
                if mark_eligible {
                    node.eligible = true;
                }
            }
        }
        let evals = self.progress_drains(Some(id));
        Ok((evals, index))
    }

    /// Moves drains forward: service allocations leave a draining node at once, the rest at
    /// the deadline; a node with nothing left is done draining (and stays ineligible).
    pub(super) fn progress_drains(&mut self, only: Option<&str>) -> Vec<String> {
        let now = self.now;
        let draining: Vec<(String, Drain)> = self
            .nodes
            .values()
            .filter(|n| only.is_none_or(|o| n.id == o))
            .filter_map(|n| n.drain.clone().map(|d| (n.id.clone(), d)))
            .collect();
        let mut evals = Vec::new();
        for (node_id, d) in draining {
            let forced = d.force_at().is_some_and(|t| t <= now);
            let movable: Vec<(String, String)> = self
                .allocs
                .values()
                .filter(|a| a.node_id == node_id && a.is_live())
                .filter_map(|a| {
                    let jt = self.jobs.get(&a.job_id).map(|e| e.job.job_type.as_str())?;
                    let system = jt == "system" || jt == "sysbatch";
                    let moves = match jt {
                        _ if system => forced && !d.ignore_system_jobs,
                        "service" => true,
                        _ => forced,
                    };
                    moves.then(|| (a.id.clone(), a.job_id.clone()))
                })
                .collect();
            let mut jobs: Vec<String> = Vec::new();
            if !movable.is_empty() {
                let index = self.bump();
                for (aid, job) in &movable {
                    if let Some(a) = self.allocs.get_mut(aid) {
                        a.migrate = true;
                        stop_alloc(a, "complete", now, index);
                    }
                    if !jobs.contains(job) {
                        jobs.push(job.clone());
                    }
                }
            }
            for j in jobs {
                evals.push(self.evaluate(&j, "node-drain", Some(&node_id)));
            }
            let left = self.allocs.values().any(|a| {
                a.node_id == node_id
                    && a.is_live()
                    && !(d.ignore_system_jobs
                        && self
                            .jobs
                            .get(&a.job_id)
                            .is_some_and(|e| e.job.job_type == "system"))
            });
            if !left {
                let index = self.bump();
                if let Some(n) = self.nodes.get_mut(&node_id) {
                    n.drain = None;
                    n.modify_index = index;
                }
            }
        }
        evals
    }

    /// Whether a drain is waiting for a deadline (the clock must look at it).
    pub(super) fn drains_pending(&self) -> bool {
        self.nodes.values().any(|n| n.drain.is_some())
    }

    /// `POST /v1/node/:id/evaluate`: one evaluation per job with allocations on the node.
    pub fn evaluate_node(&mut self, id: &str) -> Result<(Vec<String>, u64), ApiError> {
        if !self.nodes.contains_key(id) {
            return Err(ApiError::new(404, "node not found"));
        }
        let mut jobs: Vec<String> = self
            .allocs
            .values()
            .filter(|a| a.node_id == id)
            .map(|a| a.job_id.clone())
            .collect();
        jobs.sort();
        jobs.dedup();
        let index = self.bump();
        let evals = jobs
            .iter()
            .map(|j| self.evaluate(j, "node-update", Some(id)))
            .collect();
        Ok((evals, index))
    }

    /// `PUT /v1/system/gc`: every dead job goes now, whatever its age, with its allocations
    /// and evaluations.
    pub fn system_gc(&mut self) -> u64 {
        let doomed: Vec<String> = self
            .jobs
            .iter()
            .filter(|(_, e)| {
                e.job.status == "dead" && (e.job.parameterized_job.is_none() || e.job.stop)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &doomed {
            self.jobs.remove(id);
        }
        self.allocs.retain(|_, a| !doomed.contains(&a.job_id));
        self.evals.retain(|_, e| !doomed.contains(&e.job_id));
        self.nodes.retain(|_, n| n.status != "down");
        self.bump()
    }

    /// `POST /v1/job/:id/evaluate`: a new evaluation of the job.
    pub fn evaluate_job(&mut self, id: &str) -> Result<EvalResult, ApiError> {
        let jmi = self.job(id)?.job.job_modify_index;
        if self.jobs[id].job.parameterized_job.is_some() {
            return Err(ApiError::new(400, "can't evaluate parameterized job"));
        }
        let index = self.bump();
        let eval_id = self.evaluate(id, "job-register", None);
        Ok(EvalResult {
            eval_id,
            index,
            job_modify_index: jmi,
        })
    }

    /// Every tracked version of a job, newest first (`GET /v1/job/:id/versions`).
    pub fn job_versions(&self, id: &str) -> Result<Vec<&Job>, ApiError> {
        let e = self.job(id)?;
        let mut v: Vec<&Job> = e.versions.iter().collect();
        v.push(&e.job);
        v.reverse();
        v.truncate(JOB_TRACKED_VERSIONS);
        Ok(v)
    }

    /// `POST /v1/job/:id/revert`: registers version `version` again (as a new version).
    pub fn revert_job(
        &mut self,
        id: &str,
        version: u64,
        enforce_prior: Option<u64>,
    ) -> Result<EvalResult, ApiError> {
        let e = self.job(id)?;
        if let Some(p) = enforce_prior
            && p != e.job.version
        {
            return Err(ApiError::new(
                400,
                format!(
                    "current job has version {}; enforcing version {p}",
                    e.job.version
                ),
            ));
        }
        if version == e.job.version {
            return Err(ApiError::new(400, "can't revert to current version"));
        }
        let Some(old) = e.versions.iter().find(|j| j.version == version).cloned() else {
            return Err(ApiError::new(
                404,
                format!("job {id:?} in namespace \"default\" at version {version} not found"),
            ));
        };
        let mut job = old;
        job.stop = false;
        self.register(job)
    }

    /// `POST /v1/job/:id/stable`: marks a version stable or not.
    pub fn set_stable(&mut self, id: &str, version: u64, stable: bool) -> Result<u64, ApiError> {
        self.job(id)?;
        let index = self.bump();
        let e = self.jobs.get_mut(id).expect("checked above");
        let job = if e.job.version == version {
            Some(&mut e.job)
        } else {
            e.versions.iter_mut().find(|j| j.version == version)
        };
        match job {
            Some(j) => {
                j.stable = stable;
                j.modify_index = index;
                Ok(index)
            }
            None => Err(ApiError::new(
                404,
                format!("job {id:?} in namespace \"default\" at version {version} not found"),
            )),
        }
    }

    /// `GET /v1/job/:id/scale` body.
    pub fn scale_status(&self, id: &str) -> Result<Value, ApiError> {
        let e = self.job(id)?;
        let mut groups = serde_json::Map::new();
        for g in &e.job.task_groups {
            let (mut placed, mut running) = (0, 0);
            for a in self
                .allocs
                .values()
                .filter(|a| a.job_id == id && a.task_group == g.name)
            {
                if a.is_live() {
                    placed += 1;
                    running += u64::from(a.client_status == "running");
                }
            }
            groups.insert(g.name.clone(), json!({"Desired": g.count.unwrap_or(1), "Placed": placed, "Running": running, "Healthy": running, "Unhealthy": 0, "Events": null}));
        }
        Ok(json!({
            "JobID": id, "Namespace": "default", "JobCreateIndex": e.job.create_index,
            "JobModifyIndex": e.job.job_modify_index, "JobStopped": e.job.stop, "TaskGroups": groups,
        }))
    }

    /// `POST /v1/job/:id/scale`: sets a group's count (a new version).
    pub fn scale_job(
        &mut self,
        id: &str,
        group: &str,
        count: Option<i64>,
    ) -> Result<EvalResult, ApiError> {
        let e = self.job(id)?;
        if e.job.parameterized_job.is_some() || e.job.dispatched {
            return Err(ApiError::new(
                400,
                "cannot scale a parameterized or dispatched job",
            ));
        }
        let Some(count) = count else {
            // A scaling event without a count only records a message in Nomad: nothing moves.
            let index = self.bump();
            return Ok(EvalResult {
                eval_id: String::new(),
                index,
                job_modify_index: self.jobs[id].job.job_modify_index,
            });
        };
        if count < 0 {
            return Err(ApiError::new(400, "scaling action count can't be negative"));
        }
        let mut job = e.job.clone();
        let Some(g) = job.task_groups.iter_mut().find(|g| g.name == group) else {
            return Err(ApiError::new(
                400,
                format!("task group {group:?} specified for scaling does not exist in job"),
            ));
        };
        g.count = Some(count as u64);
        job.stop = false;
        self.register(job)
    }
}
