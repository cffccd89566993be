//! The scheduler: which groups need placements, feasibility and bin-packing, placement.

use super::*;

impl NomadState {
    // ---- scheduling -----------------------------------------------------------------------

    /// One pass over the allocations: per-group counts, live jobs and per-node usage, so a
    /// reconciliation costs O(jobs + allocations) rather than their product.
    pub(super) fn alloc_index(&self) -> AllocIndex {
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
    pub(super) fn needed(&self, e: &JobEntry, c: Option<&GroupCounts>, count: u64) -> u64 {
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
    pub(super) fn shape(
        &self,
        id: &str,
        group: &str,
        cpu: u64,
        mem: u64,
    ) -> (String, u64, String, u64, u64) {
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
    pub(super) fn reconcile(&mut self) {
        self.reconcile_some(None);
    }

    /// Reconciles one job, or all of them. A new job only uses capacity up, so it cannot make
    /// another queued job placeable: a dispatch reconciles only its child (O(1), not O(jobs)).
    pub(super) fn reconcile_some(&mut self, only: Option<&str>) {
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

    pub(super) fn refresh_status(&mut self, id: &str, live: bool) {
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
    pub(super) fn pick_node(
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

    pub(super) fn place(&mut self, job_id: &str, group: &str, node_id: &str, cpu: u64, mem: u64) {
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
