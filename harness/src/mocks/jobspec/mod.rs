//! Nomad job definitions: the API's JSON shape (typed, PascalCase as Nomad writes it) and a
//! parser for the HCL subset that the system's `.nomad` files use.
//!
//! The HCL subset: attributes (`key = value`), labelled blocks, strings with `${...}`
//! interpolations kept verbatim (Nomad resolves them on the client), numbers, booleans, lists,
//! heredocs (`<<EOH` / `<<-EOH`) and `#`, `//`, `/* */` comments. Unknown keys in `job`, `group`
//! and `task` are errors, as in Nomad; driver `config` blocks are free-form.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A placement constraint (`${node.class} = orchestrator`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Constraint {
    /// Left side, usually an interpolation such as `${node.class}`.
    #[serde(rename = "LTarget")]
    pub l_target: String,
    /// Right side, a literal.
    #[serde(rename = "RTarget")]
    pub r_target: String,
    /// Comparison; `=` when empty.
    pub operand: String,
}

/// The `parameterized` stanza of a dispatchable batch job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ParameterizedJob {
    /// `optional`, `required` or `forbidden`.
    pub payload: String,
    /// Meta keys every dispatch must give.
    #[serde(deserialize_with = "null_default")]
    pub meta_required: Vec<String>,
    /// Meta keys a dispatch may give.
    #[serde(deserialize_with = "null_default")]
    pub meta_optional: Vec<String>,
}

/// A task's resource ask.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// MHz; Nomad's default is 100.
    #[serde(rename = "CPU")]
    pub cpu: Option<u64>,
    /// MB; Nomad's default is 300.
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<u64>,
    /// Every other resource field (DiskMB, Networks, Devices, ...), kept as submitted.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `template` stanza (the env files that carry config and secrets).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Template {
    /// Inline template text (may hold secrets: never logged).
    pub embedded_tmpl: String,
    /// Destination inside the allocation.
    pub dest_path: String,
    /// Whether the rendered file is loaded as environment variables.
    pub envvars: bool,
}

/// One task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Task {
    /// Task name.
    pub name: String,
    /// `docker`, `raw_exec`, ...
    pub driver: String,
    /// Driver configuration (image, command, auth...), free-form.
    #[serde(deserialize_with = "null_default")]
    pub config: Map<String, Value>,
    /// Plain environment variables.
    #[serde(deserialize_with = "null_default")]
    pub env: BTreeMap<String, String>,
    /// Resource ask (defaults filled in at registration).
    #[serde(deserialize_with = "null_default")]
    pub resources: Resources,
    /// Templates.
    #[serde(deserialize_with = "null_default")]
    pub templates: Vec<Template>,
    /// Leader task: its end stops the group.
    pub leader: bool,
    /// Kill timeout in nanoseconds.
    pub kill_timeout: i64,
    /// Task constraints.
    #[serde(deserialize_with = "null_default")]
    pub constraints: Vec<Constraint>,
    /// Every other field of the submitted task (Services, LogConfig, Artifacts, ...), kept
    /// as submitted and returned on read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A task group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroup {
    /// Group name.
    pub name: String,
    /// Instances wanted; Nomad's default is 1.
    pub count: Option<u64>,
    /// Tasks.
    #[serde(deserialize_with = "null_default")]
    pub tasks: Vec<Task>,
    /// Group constraints.
    #[serde(deserialize_with = "null_default")]
    pub constraints: Vec<Constraint>,
    /// Every other field of the submitted group (RestartPolicy, ReschedulePolicy, Networks,
    /// Services, EphemeralDisk, Update, ...), kept as submitted and returned on read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TaskGroup {
    /// Sum of the tasks' CPU asks (MHz), defaults applied.
    pub fn cpu(&self) -> u64 {
        self.tasks
            .iter()
            .map(|t| t.resources.cpu.unwrap_or(DEFAULT_CPU))
            .sum()
    }

    /// Sum of the tasks' memory asks (MB), defaults applied.
    pub fn memory_mb(&self) -> u64 {
        self.tasks
            .iter()
            .map(|t| t.resources.memory_mb.unwrap_or(DEFAULT_MEMORY_MB))
            .sum()
    }
}

/// Nomad's default task CPU (MHz) when a task has no `resources` stanza.
pub const DEFAULT_CPU: u64 = 100;
/// Nomad's default task memory (MB) when a task has no `resources` stanza.
pub const DEFAULT_MEMORY_MB: u64 = 300;

/// A job as the API exchanges it (`{"Job": {...}}` bodies and `GET /v1/job/:id`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Job {
    /// Job ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name (the ID when empty).
    pub name: String,
    /// Namespace (`default`).
    pub namespace: String,
    /// Region (`global`).
    pub region: String,
    /// `service`, `batch`, `system` or `sysbatch`.
    #[serde(rename = "Type")]
    pub job_type: String,
    /// Priority; 50 by default.
    pub priority: i64,
    /// Datacenters.
    #[serde(deserialize_with = "null_default")]
    pub datacenters: Vec<String>,
    /// Job-level constraints.
    #[serde(deserialize_with = "null_default")]
    pub constraints: Vec<Constraint>,
    /// Task groups.
    #[serde(deserialize_with = "null_default")]
    pub task_groups: Vec<TaskGroup>,
    /// Present for dispatchable parents.
    pub parameterized_job: Option<ParameterizedJob>,
    /// Dispatch payload (base64), for children.
    pub payload: Option<String>,
    /// Job meta (the dispatch meta for children).
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    /// Parent of a dispatched child.
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    /// Whether this job was created by a dispatch.
    pub dispatched: bool,
    /// Set by a deregistration (`nomad job stop`).
    pub stop: bool,
    /// `pending`, `running` or `dead` (server-computed).
    pub status: String,
    /// Server-computed description.
    pub status_description: String,
    /// Version, bumped by every update.
    pub version: u64,
    /// Submission time, ns since the epoch.
    pub submit_time: i64,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Raft index of the last change to the specification.
    pub job_modify_index: u64,
    /// Marked stable (`POST /v1/job/:id/stable`, or a successful deployment).
    pub stable: bool,
    /// Every other field of the submitted job (Update, Periodic, Spreads, Affinities,
    /// ConsulToken, VaultToken, ...), kept as submitted and returned on read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A bad job definition: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct JobspecError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Job {
    /// Fills Nomad's defaults (what `Canonicalize` does) so comparisons and placement see the
    /// same numbers as a real server.
    pub fn canonicalize(&mut self) {
        if self.name.is_empty() {
            self.name = self.id.clone();
        }
        if self.namespace.is_empty() {
            self.namespace = "default".into();
        }
        if self.region.is_empty() {
            self.region = "global".into();
        }
        if self.job_type.is_empty() {
            self.job_type = "service".into();
        }
        if self.priority == 0 {
            self.priority = 50;
        }
        for c in self.constraints.iter_mut().chain(
            self.task_groups
                .iter_mut()
                .flat_map(|g| g.constraints.iter_mut()),
        ) {
            if c.operand.is_empty() {
                c.operand = "=".into();
            }
        }
        for g in &mut self.task_groups {
            if g.count.is_none() {
                g.count = Some(1);
            }
            for t in &mut g.tasks {
                t.resources.cpu.get_or_insert(DEFAULT_CPU);
                t.resources.memory_mb.get_or_insert(DEFAULT_MEMORY_MB);
                for c in &mut t.constraints {
                    if c.operand.is_empty() {
                        c.operand = "=".into();
                    }
                }
            }
        }
    }

    /// Nomad's validation of a registration, with its messages; all problems at once.
    pub fn validate(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        if self.id.is_empty() {
            errs.push("Missing job ID".to_owned());
        } else if self.id.contains(' ') {
            errs.push("Job ID contains a space".to_owned());
        }
        if self.datacenters.is_empty() {
            errs.push("Missing job datacenters".to_owned());
        }
        if !["service", "batch", "system", "sysbatch"].contains(&self.job_type.as_str()) {
            errs.push(format!("Invalid job type: {:?}", self.job_type));
        }
        if self.task_groups.is_empty() {
            errs.push("Missing job task groups".to_owned());
        }
        if self.parameterized_job.is_some()
            && self.job_type != "batch"
            && self.job_type != "sysbatch"
        {
            errs.push(
                "Parameterized job can only be used with \"batch\" or \"sysbatch\" scheduler"
                    .to_owned(),
            );
        }
        for g in &self.task_groups {
            if g.name.is_empty() {
                errs.push("Missing task group name".to_owned());
            }
            if g.tasks.is_empty() {
                errs.push(format!(
                    "Task group {} validation failed: Missing tasks for task group",
                    g.name
                ));
            }
            for t in &g.tasks {
                if t.driver.is_empty() {
                    errs.push(format!("Task group {} validation failed: Task {} validation failed: Missing task driver", g.name, t.name));
                }
            }
        }
        if errs.is_empty() {
            return Ok(());
        }
        let mut msg = format!(
            "{} error{} occurred:\n",
            errs.len(),
            if errs.len() == 1 { "" } else { "s" }
        );
        for e in errs {
            msg.push_str("\t* ");
            msg.push_str(&e);
            msg.push('\n');
        }
        Err(msg)
    }

    /// The image of the first docker task, if any (what a UI image patch changes).
    pub fn docker_image(&self) -> Option<&str> {
        self.task_groups
            .iter()
            .flat_map(|g| &g.tasks)
            .find_map(|t| t.config.get("image")?.as_str())
    }
}

mod from_hcl;
mod hcl;
#[cfg(test)]
mod tests;

pub use from_hcl::{parse_duration_ns, parse_hcl};
