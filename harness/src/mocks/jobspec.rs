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

// ---------------------------------------------------------------------------------------------
// HCL subset

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Eq,
    Comma,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, JobspecError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let err = |line, message: String| JobspecError { line, message };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let start = line;
                i += 2;
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "unterminated comment".into())),
                        Some('*') if chars.get(i + 1) == Some(&'/') => {
                            i += 2;
                            break;
                        }
                        Some('\n') => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
            }
            '{' => {
                out.push((Tok::LBrace, line));
                i += 1;
            }
            '}' => {
                out.push((Tok::RBrace, line));
                i += 1;
            }
            '[' => {
                out.push((Tok::LBrack, line));
                i += 1;
            }
            ']' => {
                out.push((Tok::RBrack, line));
                i += 1;
            }
            '=' | ':' => {
                out.push((Tok::Eq, line));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, line));
                i += 1;
            }
            '"' => {
                let start = line;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => return Err(err(start, "unterminated string".into())),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = chars.get(i + 1).copied();
                            s.push(match e {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some('"') => '"',
                                Some('\\') => '\\',
                                other => {
                                    return Err(err(
                                        line,
                                        format!("invalid escape {other:?} in string"),
                                    ));
                                }
                            });
                            i += 2;
                        }
                        Some('$') if chars.get(i + 1) == Some(&'{') => {
                            // Interpolations may hold quotes and braces: copy them verbatim.
                            let mut depth = 0;
                            loop {
                                let Some(&ch) = chars.get(i) else {
                                    return Err(err(start, "unterminated interpolation".into()));
                                };
                                s.push(ch);
                                i += 1;
                                if ch == '{' {
                                    depth += 1;
                                } else if ch == '}' {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                }
                            }
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(s), start));
            }
            '<' if chars.get(i + 1) == Some(&'<') => {
                let start = line;
                i += 2;
                let indent = chars.get(i) == Some(&'-');
                if indent {
                    i += 1;
                }
                let mut marker = String::new();
                while i < chars.len() && chars[i] != '\n' {
                    marker.push(chars[i]);
                    i += 1;
                }
                let marker = marker.trim().to_owned();
                if marker.is_empty() {
                    return Err(err(start, "heredoc without a marker".into()));
                }
                i += 1;
                line += 1;
                let mut lines = Vec::new();
                loop {
                    if i >= chars.len() {
                        return Err(err(start, format!("heredoc not terminated by {marker}")));
                    }
                    let mut l = String::new();
                    while i < chars.len() && chars[i] != '\n' {
                        l.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                    line += 1;
                    if l.trim() == marker {
                        line -= 1;
                        break;
                    }
                    lines.push(l);
                }
                if indent {
                    let n = lines
                        .iter()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| l.len() - l.trim_start().len())
                        .min()
                        .unwrap_or(0);
                    for l in &mut lines {
                        *l = l.chars().skip(n).collect();
                    }
                }
                let mut text = lines.join("\n");
                text.push('\n');
                out.push((Tok::Str(text), start));
                // The newline after the closing marker was consumed above.
                line += 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let mut s = String::from(c);
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    s.push(chars[i]);
                    i += 1;
                }
                let n = s
                    .parse::<f64>()
                    .map_err(|_| err(line, format!("invalid number {s:?}")))?;
                out.push((Tok::Num(n), line));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::new();
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
                {
                    s.push(chars[i]);
                    i += 1;
                }
                out.push((Tok::Ident(s), line));
            }
            other => return Err(err(line, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
struct Attr {
    key: String,
    value: Value,
    line: usize,
}

#[derive(Clone, Debug)]
struct Block {
    kind: String,
    labels: Vec<String>,
    body: Body,
    line: usize,
}

#[derive(Clone, Debug, Default)]
struct Body {
    attrs: Vec<Attr>,
    blocks: Vec<Block>,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |t| t.1)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, JobspecError> {
        Err(JobspecError {
            line: self.line(),
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.0.clone());
        self.pos += 1;
        t
    }

    fn body(&mut self, top: bool) -> Result<Body, JobspecError> {
        let mut body = Body::default();
        loop {
            let line = self.line();
            match self.next() {
                None if top => return Ok(body),
                None => return self.err("unexpected end of file: missing `}`"),
                Some(Tok::RBrace) if !top => return Ok(body),
                Some(Tok::Ident(key)) | Some(Tok::Str(key)) => match self.peek() {
                    Some(Tok::Eq) => {
                        self.pos += 1;
                        let value = self.value()?;
                        body.attrs.push(Attr { key, value, line });
                    }
                    Some(Tok::Str(_)) | Some(Tok::LBrace) => {
                        let mut labels = Vec::new();
                        while let Some(Tok::Str(l)) = self.peek() {
                            labels.push(l.clone());
                            self.pos += 1;
                        }
                        if self.next() != Some(Tok::LBrace) {
                            return self.err(format!("expected `{{` after block `{key}`"));
                        }
                        let inner = self.body(false)?;
                        body.blocks.push(Block {
                            kind: key,
                            labels,
                            body: inner,
                            line,
                        });
                    }
                    _ => return self.err(format!("expected `=` or a block after `{key}`")),
                },
                Some(t) => return self.err(format!("unexpected {}", describe(&t))),
            }
        }
    }

    fn value(&mut self) -> Result<Value, JobspecError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Num(n)) => Ok(if n.fract() == 0.0 && n.abs() < 9e15 {
                Value::from(n as i64)
            } else {
                Value::from(n)
            }),
            Some(Tok::Ident(id)) => match id.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                other => self.err(format!(
                    "unsupported expression `{other}` (use a quoted string)"
                )),
            },
            Some(Tok::LBrack) => {
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(&Tok::RBrack) {
                        self.pos += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    match self.next() {
                        Some(Tok::Comma) => {}
                        Some(Tok::RBrack) => return Ok(Value::Array(items)),
                        _ => return self.err("expected `,` or `]` in list"),
                    }
                }
            }
            Some(Tok::LBrace) => {
                let body = self.body(false)?;
                Ok(body_to_json(&body))
            }
            Some(t) => self.err(format!("expected a value, found {}", describe(&t))),
            None => self.err("expected a value, found end of file"),
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Str(_) => "a string".into(),
        Tok::Num(n) => format!("number {n}"),
        Tok::LBrace => "`{`".into(),
        Tok::RBrace => "`}`".into(),
        Tok::LBrack => "`[`".into(),
        Tok::RBrack => "`]`".into(),
        Tok::Eq => "`=`".into(),
        Tok::Comma => "`,`".into(),
    }
}

/// Free-form conversion (driver config, meta, env): repeated blocks become arrays.
fn body_to_json(body: &Body) -> Value {
    let mut m = Map::new();
    for a in &body.attrs {
        m.insert(a.key.clone(), a.value.clone());
    }
    for b in &body.blocks {
        let v = body_to_json(&b.body);
        match m.get_mut(&b.kind) {
            Some(Value::Array(arr)) => arr.push(v),
            Some(prev) => {
                let p = prev.take();
                *prev = Value::Array(vec![p, v]);
            }
            None => {
                m.insert(b.kind.clone(), v);
            }
        }
    }
    Value::Object(m)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = r#"
# Orchestrator service, as in build/instance_init_packages/nomad_server/src/envsubst/
job "monitor" {
  datacenters = ["dc1"]
  type = "service"
  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }
  task "monitor" {
    driver = "docker"
    config {
      image = "registry-ext.magellium.com:443/cosims/cosims/monitor:git-xxxxxxxx"
      auth {
        username = "gitlab+deploy-token-4"
        password = "s3cret"
      }
    }
    logs {
      max_files     = 29
      max_file_size = 10
    }
    template {
      data = <<EOH
CSI_SCIHUB_ACCOUNT_PASSWORD=hunter2
EOH
      destination = "${NOMAD_SECRETS_DIR}/csi_secrets.env"
      env = true
    }
    resources {
      cpu    = 1500 // MHz
      memory = 500
    }
  }
}
"#;

    #[test]
    fn a_task_under_the_job_becomes_its_own_group() {
        let job = parse_hcl(SERVICE).unwrap();
        assert_eq!(job.id, "monitor");
        assert_eq!(job.job_type, "service");
        assert_eq!(job.priority, 50);
        assert_eq!(job.task_groups.len(), 1);
        let g = &job.task_groups[0];
        assert_eq!(
            (g.name.as_str(), g.count, g.cpu(), g.memory_mb()),
            ("monitor", Some(1), 1500, 500)
        );
        assert_eq!(
            job.constraints[0],
            Constraint {
                l_target: "${node.class}".into(),
                r_target: "orchestrator".into(),
                operand: "=".into()
            }
        );
        assert_eq!(
            job.docker_image(),
            Some("registry-ext.magellium.com:443/cosims/cosims/monitor:git-xxxxxxxx")
        );
        assert_eq!(
            g.tasks[0].templates[0].embedded_tmpl,
            "CSI_SCIHUB_ACCOUNT_PASSWORD=hunter2\n"
        );
        assert!(g.tasks[0].templates[0].envvars);
    }

    #[test]
    fn a_parameterized_batch_job_keeps_its_meta_and_default_sidecar_resources() {
        let src = r#"
job "si-processing" {
  datacenters = ["dc1"]
  type = "batch"
  parameterized {
    meta_required = ["job_id", "job_unique_id"]
    meta_required = ["job_id", "job_unique_id"]
  }
  group "run-and-log" {
    task "run-worker" {
      driver = "raw_exec"
      leader = true
      config { command = "run.sh"  args = ["${NOMAD_META_JOB_ID}"] }
      resources { cpu = 50  memory = 10000 }
    }
    task "upload-nomad-alloc-dir" {
      driver = "raw_exec"
      kill_timeout = "100s"
      config { command = "bash" }
    }
  }
}"#;
        let job = parse_hcl(src).unwrap();
        let p = job.parameterized_job.as_ref().unwrap();
        assert_eq!(p.meta_required, ["job_id", "job_unique_id"]);
        let g = &job.task_groups[0];
        // 50 + Nomad's default 100 MHz for the sidecar; 10000 + 300 MB (orchestration.md §4.3).
        assert_eq!((g.cpu(), g.memory_mb()), (150, 10300));
        assert_eq!(g.tasks[1].kill_timeout, 100_000_000_000);
    }

    #[test]
    fn stanzas_the_model_does_not_use_are_kept_as_api_fields() {
        let job = parse_hcl(
            r#"
job "svc" {
  datacenters = ["dc1"]
  update { stagger = "30s" max_parallel = 1 }
  group "g" {
    restart { attempts = 3 interval = "24h" delay = "15s" mode = "fail" }
    reschedule { attempts = 1 delay = "5s" unlimited = false }
    network { port "http" {} }
    service { name = "svc" port = "http" }
    task "t" {
      driver = "raw_exec"
      logs { max_files = 29 max_file_size = 10 }
    }
  }
}
"#,
        )
        .unwrap();
        assert_eq!(job.extra["Update"]["Stagger"], 30_000_000_000i64);
        assert_eq!(job.extra["Update"]["MaxParallel"], 1);
        let g = &job.task_groups[0];
        assert_eq!(g.extra["RestartPolicy"]["Attempts"], 3);
        assert_eq!(g.extra["RestartPolicy"]["Interval"], 86_400_000_000_000i64);
        assert_eq!(g.extra["RestartPolicy"]["Delay"], 15_000_000_000i64);
        assert_eq!(g.extra["RestartPolicy"]["Mode"], "fail");
        assert_eq!(g.extra["ReschedulePolicy"]["Delay"], 5_000_000_000i64);
        assert_eq!(g.extra["Services"][0]["Name"], "svc");
        assert_eq!(g.extra["Services"][0]["PortLabel"], "http");
        assert_eq!(g.extra["Networks"].as_array().unwrap().len(), 1);
        let t = &g.tasks[0];
        assert_eq!(t.extra["LogConfig"]["MaxFiles"], 29);
        assert_eq!(t.extra["LogConfig"]["MaxFileSizeMB"], 10);
        // And they survive the API round trip (GET then POST back).
        let back: Job = serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap();
        assert_eq!(back, job);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let e = parse_hcl("job \"x\" {\n  datacenters = [\"dc1\"]\n  typo = 3\n}\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: invalid key in job \"x\": typo");
        let e = parse_hcl("job \"x\" {\n  type = \"service\"\n").unwrap_err();
        assert!(e.message.contains("missing `}`"), "{e}");
        let e = parse_hcl("job \"x\" {\n  name = \"unterminated\n}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            parse_hcl("")
                .unwrap_err()
                .message
                .contains("exactly one job")
        );
    }

    #[test]
    fn validation_lists_every_problem() {
        let job = Job {
            id: "a b".into(),
            job_type: "nope".into(),
            ..Job::default()
        };
        let e = job.validate().unwrap_err();
        assert!(e.starts_with("4 errors occurred:"), "{e}");
        assert!(
            e.contains("Job ID contains a space")
                && e.contains("Missing job datacenters")
                && e.contains("Invalid job type")
        );
    }

    #[test]
    fn api_json_with_nulls_parses() {
        let v = serde_json::json!({"ID": "x", "Datacenters": ["dc1"], "Constraints": null, "Meta": null,
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker", "Config": null, "Resources": {"CPU": 1000, "MemoryMB": null}}]}]});
        let mut job: Job = serde_json::from_value(v).unwrap();
        job.canonicalize();
        assert_eq!(job.task_groups[0].cpu(), 1000);
        assert_eq!(job.task_groups[0].memory_mb(), 300);
        assert!(job.validate().is_ok());
    }
}
