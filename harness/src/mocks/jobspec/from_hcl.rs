//! From the parsed HCL to the API's [`Job`]: the job, group and task stanzas the model uses,
//! the stanzas it keeps as API fields, Nomad's key checks and defaults.

use super::{
    hcl::{Attr, Block, Body, Parser, body_to_json, lex},
    *,
};

fn check_keys(body: &Body, what: &str, allowed: &[&str], line: usize) -> Result<(), JobspecError> {
    let unknown: Vec<&str> = body
        .attrs
        .iter()
        .map(|a| a.key.as_str())
        .chain(body.blocks.iter().map(|b| b.kind.as_str()))
        .filter(|k| !allowed.contains(k))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(JobspecError {
            line,
            message: format!(
                "invalid key{} in {what}: {}",
                if unknown.len() > 1 { "s" } else { "" },
                unknown.join(", ")
            ),
        })
    }
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Attr> {
    body.attrs.iter().rev().find(|a| a.key == key)
}

fn str_attr(body: &Body, key: &str) -> Result<Option<String>, JobspecError> {
    match attr(body, key) {
        None => Ok(None),
        Some(Attr {
            value: Value::String(s),
            ..
        }) => Ok(Some(s.clone())),
        Some(a) => Err(JobspecError {
            line: a.line,
            message: format!("`{key}` must be a string"),
        }),
    }
}

fn u64_attr(body: &Body, key: &str) -> Result<Option<u64>, JobspecError> {
    match attr(body, key) {
        None => Ok(None),
        Some(Attr {
            value: Value::Number(n),
            line,
            ..
        }) => n.as_u64().map(Some).ok_or_else(|| JobspecError {
            line: *line,
            message: format!("`{key}` must be a non-negative integer"),
        }),
        Some(a) => Err(JobspecError {
            line: a.line,
            message: format!("`{key}` must be a number"),
        }),
    }
}

fn bool_attr(body: &Body, key: &str) -> Result<bool, JobspecError> {
    match attr(body, key) {
        None => Ok(false),
        Some(Attr {
            value: Value::Bool(b),
            ..
        }) => Ok(*b),
        Some(a) => Err(JobspecError {
            line: a.line,
            message: format!("`{key}` must be true or false"),
        }),
    }
}

fn str_list(body: &Body, key: &str) -> Result<Vec<String>, JobspecError> {
    match attr(body, key) {
        None => Ok(Vec::new()),
        Some(Attr {
            value: Value::Array(items),
            line,
            ..
        }) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| JobspecError {
                    line: *line,
                    message: format!("`{key}` must be a list of strings"),
                })
            })
            .collect(),
        Some(a) => Err(JobspecError {
            line: a.line,
            message: format!("`{key}` must be a list"),
        }),
    }
}

fn string_map(body: &Body, key: &str) -> Result<BTreeMap<String, String>, JobspecError> {
    let mut out = BTreeMap::new();
    let mut add = |v: &Value, line: usize| -> Result<(), JobspecError> {
        let Value::Object(m) = v else {
            return Err(JobspecError {
                line,
                message: format!("`{key}` must be a map"),
            });
        };
        for (k, v) in m {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(JobspecError {
                        line,
                        message: format!("`{key}.{k}` must be a string"),
                    });
                }
            };
            out.insert(k.clone(), s);
        }
        Ok(())
    };
    if let Some(a) = attr(body, key) {
        add(&a.value, a.line)?;
    }
    for b in body.blocks.iter().filter(|b| b.kind == key) {
        add(&body_to_json(&b.body), b.line)?;
    }
    Ok(out)
}

/// Parses a duration such as `100s`, `5m`, `1h` or `250ms` into nanoseconds.
pub fn parse_duration_ns(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    let mul = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    Some(n * mul)
}

fn constraints(body: &Body) -> Result<Vec<Constraint>, JobspecError> {
    body.blocks
        .iter()
        .filter(|b| b.kind == "constraint")
        .map(|b| {
            check_keys(
                &b.body,
                "constraint",
                &["attribute", "value", "operator"],
                b.line,
            )?;
            Ok(Constraint {
                l_target: str_attr(&b.body, "attribute")?.unwrap_or_default(),
                r_target: str_attr(&b.body, "value")?.unwrap_or_default(),
                operand: str_attr(&b.body, "operator")?.unwrap_or_else(|| "=".into()),
            })
        })
        .collect()
}

/// The API field of a stanza the model does not use but keeps: (HCL block, JSON field, whether
/// it repeats into a list). What `nomad job run` sends for them, so that reading the job back
/// returns them.
const KEPT_STANZAS: &[(&str, &str, bool)] = &[
    ("update", "Update", false),
    ("restart", "RestartPolicy", false),
    ("reschedule", "ReschedulePolicy", false),
    ("migrate", "Migrate", false),
    ("ephemeral_disk", "EphemeralDisk", false),
    ("periodic", "Periodic", false),
    ("logs", "LogConfig", false),
    ("lifecycle", "Lifecycle", false),
    ("vault", "Vault", false),
    ("dispatch_payload", "DispatchPayload", false),
    ("scaling", "Scaling", false),
    ("service", "Services", true),
    ("network", "Networks", true),
    ("artifact", "Artifacts", true),
    ("spread", "Spreads", true),
    ("affinity", "Affinities", true),
    ("volume_mount", "VolumeMounts", true),
];

/// Keys whose API names are not the plain PascalCase of the HCL key.
fn api_key(k: &str) -> String {
    match k {
        "max_file_size" => "MaxFileSizeMB".into(),
        "size" => "SizeMB".into(),
        "mbits" => "MBits".into(),
        "port" => "PortLabel".into(),
        "cron" => "Spec".into(),
        _ => k
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect(),
    }
}

/// Duration-valued keys (the API takes nanoseconds).
const DURATION_KEYS: &[&str] = &[
    "interval",
    "delay",
    "stagger",
    "min_healthy_time",
    "healthy_deadline",
    "progress_deadline",
    "max_delay",
    "timeout",
];

fn stanza_json(body: &Body) -> Value {
    let mut m = Map::new();
    for a in &body.attrs {
        let v = match (&a.value, DURATION_KEYS.contains(&a.key.as_str())) {
            (Value::String(d), true) => parse_duration_ns(d).map_or(a.value.clone(), Value::from),
            _ => a.value.clone(),
        };
        m.insert(api_key(&a.key), v);
    }
    for b in &body.blocks {
        let key = api_key(&b.kind);
        let v = stanza_json(&b.body);
        match m.get_mut(&key) {
            Some(Value::Array(arr)) => arr.push(v),
            Some(prev) => {
                let p = prev.take();
                *prev = Value::Array(vec![p, v]);
            }
            None => {
                m.insert(key, v);
            }
        }
    }
    Value::Object(m)
}

/// The kept stanzas of a job, group or task body, as API fields.
fn kept_stanzas(body: &Body) -> Map<String, Value> {
    let mut out = Map::new();
    for (hcl, field, list) in KEPT_STANZAS {
        let blocks: Vec<Value> = body
            .blocks
            .iter()
            .filter(|b| b.kind == *hcl)
            .map(|b| {
                let mut v = stanza_json(&b.body);
                if let (Some(label), Value::Object(o)) = (b.labels.first(), &mut v) {
                    o.insert("Name".into(), Value::from(label.clone()));
                }
                v
            })
            .collect();
        match (blocks.len(), list) {
            (0, _) => {}
            (_, true) => {
                out.insert((*field).into(), Value::Array(blocks));
            }
            (_, false) => {
                out.insert(
                    (*field).into(),
                    blocks.into_iter().next_back().unwrap_or_default(),
                );
            }
        }
    }
    out
}

const IGNORED_BLOCKS: &[&str] = &[
    "update",
    "restart",
    "reschedule",
    "migrate",
    "spread",
    "affinity",
    "vault",
    "periodic",
    "network",
    "service",
    "ephemeral_disk",
    "volume",
    "scaling",
    "logs",
    "artifact",
    "lifecycle",
    "dispatch_payload",
    "volume_mount",
    "csi_plugin",
    "kind",
];

fn task(b: &Block) -> Result<Task, JobspecError> {
    let allowed: Vec<&str> = [
        "driver",
        "config",
        "env",
        "resources",
        "template",
        "leader",
        "kill_timeout",
        "constraint",
        "meta",
        "user",
        "kill_signal",
        "shutdown_delay",
    ]
    .into_iter()
    .chain(IGNORED_BLOCKS.iter().copied())
    .collect();
    check_keys(
        &b.body,
        &format!("task {:?}", b.labels.first().cloned().unwrap_or_default()),
        &allowed,
        b.line,
    )?;
    let name = b.labels.first().cloned().ok_or(JobspecError {
        line: b.line,
        message: "task block needs a name label".into(),
    })?;
    let config = match b.body.blocks.iter().find(|x| x.kind == "config") {
        Some(c) => match body_to_json(&c.body) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        None => match attr(&b.body, "config").map(|a| &a.value) {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        },
    };
    let mut resources = Resources::default();
    if let Some(r) = b.body.blocks.iter().find(|x| x.kind == "resources") {
        check_keys(
            &r.body,
            "resources",
            &["cpu", "memory", "memory_max", "cores", "network", "device"],
            r.line,
        )?;
        resources.cpu = u64_attr(&r.body, "cpu")?;
        resources.memory_mb = u64_attr(&r.body, "memory")?;
    }
    let mut templates = Vec::new();
    for t in b.body.blocks.iter().filter(|x| x.kind == "template") {
        check_keys(
            &t.body,
            "template",
            &[
                "data",
                "destination",
                "env",
                "change_mode",
                "change_signal",
                "source",
                "perms",
                "splay",
                "left_delimiter",
                "right_delimiter",
            ],
            t.line,
        )?;
        templates.push(Template {
            embedded_tmpl: str_attr(&t.body, "data")?.unwrap_or_default(),
            dest_path: str_attr(&t.body, "destination")?.unwrap_or_default(),
            envvars: bool_attr(&t.body, "env")?,
        });
    }
    let kill_timeout = match str_attr(&b.body, "kill_timeout")? {
        None => 5_000_000_000,
        Some(s) => parse_duration_ns(&s).ok_or(JobspecError {
            line: b.line,
            message: format!("invalid kill_timeout {s:?}"),
        })?,
    };
    Ok(Task {
        name,
        driver: str_attr(&b.body, "driver")?.unwrap_or_default(),
        config,
        env: string_map(&b.body, "env")?,
        resources,
        templates,
        leader: bool_attr(&b.body, "leader")?,
        kill_timeout,
        constraints: constraints(&b.body)?,
        extra: kept_stanzas(&b.body),
    })
}

fn group(b: &Block) -> Result<TaskGroup, JobspecError> {
    let allowed: Vec<&str> = ["count", "task", "constraint", "meta"]
        .into_iter()
        .chain(IGNORED_BLOCKS.iter().copied())
        .collect();
    let name = b.labels.first().cloned().ok_or(JobspecError {
        line: b.line,
        message: "group block needs a name label".into(),
    })?;
    check_keys(&b.body, &format!("group {name:?}"), &allowed, b.line)?;
    Ok(TaskGroup {
        name,
        count: u64_attr(&b.body, "count")?,
        tasks: b
            .body
            .blocks
            .iter()
            .filter(|x| x.kind == "task")
            .map(task)
            .collect::<Result<_, _>>()?,
        constraints: constraints(&b.body)?,
        extra: kept_stanzas(&b.body),
    })
}

/// Parses a `.nomad` file into the API's job shape (like `POST /v1/jobs/parse`), canonicalized.
pub fn parse_hcl(src: &str) -> Result<Job, JobspecError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0 };
    let top = p.body(true)?;
    let jobs: Vec<&Block> = top.blocks.iter().filter(|b| b.kind == "job").collect();
    if let Some(a) = top.attrs.first() {
        return Err(JobspecError {
            line: a.line,
            message: format!("unexpected attribute `{}` outside the job block", a.key),
        });
    }
    let [jb] = jobs.as_slice() else {
        return Err(JobspecError {
            line: 1,
            message: format!("expected exactly one job block, found {}", jobs.len()),
        });
    };
    if let Some(b) = top.blocks.iter().find(|b| b.kind != "job") {
        return Err(JobspecError {
            line: b.line,
            message: format!("unexpected block `{}` outside the job block", b.kind),
        });
    }
    let id = jb.labels.first().cloned().ok_or(JobspecError {
        line: jb.line,
        message: "job block needs a name label".into(),
    })?;
    let allowed: Vec<&str> = [
        "region",
        "datacenters",
        "type",
        "priority",
        "meta",
        "constraint",
        "parameterized",
        "group",
        "task",
        "namespace",
        "all_at_once",
        "node_pool",
    ]
    .into_iter()
    .chain(IGNORED_BLOCKS.iter().copied())
    .collect();
    check_keys(&jb.body, &format!("job {id:?}"), &allowed, jb.line)?;
    let body = &jb.body;
    let mut task_groups: Vec<TaskGroup> = body
        .blocks
        .iter()
        .filter(|b| b.kind == "group")
        .map(group)
        .collect::<Result<_, _>>()?;
    // Nomad's HCL1 turns a task written directly under the job into a group of the same name.
    for tb in body.blocks.iter().filter(|b| b.kind == "task") {
        let t = task(tb)?;
        task_groups.push(TaskGroup {
            name: t.name.clone(),
            count: Some(1),
            tasks: vec![t],
            constraints: Vec::new(),
            extra: Map::new(),
        });
    }
    let parameterized_job = match body.blocks.iter().find(|b| b.kind == "parameterized") {
        None => None,
        Some(pb) => {
            check_keys(
                &pb.body,
                "parameterized",
                &["payload", "meta_required", "meta_optional"],
                pb.line,
            )?;
            Some(ParameterizedJob {
                payload: str_attr(&pb.body, "payload")?.unwrap_or_else(|| "optional".into()),
                meta_required: str_list(&pb.body, "meta_required")?,
                meta_optional: str_list(&pb.body, "meta_optional")?,
            })
        }
    };
    let mut job = Job {
        id,
        region: str_attr(body, "region")?.unwrap_or_default(),
        namespace: str_attr(body, "namespace")?.unwrap_or_default(),
        job_type: str_attr(body, "type")?.unwrap_or_default(),
        priority: u64_attr(body, "priority")?.unwrap_or(0) as i64,
        datacenters: str_list(body, "datacenters")?,
        constraints: constraints(body)?,
        task_groups,
        parameterized_job,
        meta: string_map(body, "meta")?,
        extra: kept_stanzas(body),
        ..Job::default()
    };
    job.canonicalize();
    Ok(job)
}
