//! The field diff a plan returns (`"Diff": true` in `POST /v1/job/:id/plan`, what `nomad job
//! plan` prints as `+/-/~` lines): job fields, nested objects, task groups and tasks matched by
//! name, each with `Type` `Added`, `Deleted`, `Edited` or `None`. Values are strings, as Nomad
//! writes them.

use serde_json::{Map, Value, json};

use super::super::jobspec::Job;

/// Fields the server computes: never part of a diff.
const SERVER_FIELDS: &[&str] = &[
    "Status",
    "StatusDescription",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "Stable",
    "Stop",
    "Dispatched",
];

fn kind(old: bool, new: bool, changed: bool) -> &'static str {
    match (old, new) {
        (false, true) => "Added",
        (true, false) => "Deleted",
        _ if changed => "Edited",
        _ => "None",
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn field(name: &str, old: Option<&Value>, new: Option<&Value>) -> Value {
    let (o, n) = (old.map(scalar), new.map(scalar));
    let t = kind(
        o.as_deref().is_some_and(|s| !s.is_empty()),
        n.as_deref().is_some_and(|s| !s.is_empty()),
        o != n,
    );
    json!({"Type": t, "Name": name, "Old": o.unwrap_or_default(), "New": n.unwrap_or_default(), "Annotations": null})
}

fn is_none(d: &Value) -> bool {
    d["Type"] == "None"
}

/// Diffs two JSON objects: scalar members become `Fields`, nested objects and lists `Objects`.
fn object(
    name: &str,
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
    skip: &[&str],
    contextual: bool,
) -> Value {
    let empty = Map::new();
    let (o, n) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut fields = Vec::new();
    let mut objects = Vec::new();
    for k in keys {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let (ov, nv) = (o.get(k), n.get(k));
        let nested = |v: Option<&Value>| matches!(v, Some(Value::Object(_) | Value::Array(_)));
        if nested(ov) || nested(nv) {
            if let Some(d) = nested_diff(k, ov, nv, contextual) {
                objects.push(d);
            }
        } else {
            let d = field(k, ov, nv);
            if contextual || !is_none(&d) {
                fields.push(d);
            }
        }
    }
    let changed = fields.iter().chain(&objects).any(|d| !is_none(d));
    let t = kind(old.is_some(), new.is_some(), changed);
    json!({"Type": t, "Name": name, "Fields": fields, "Objects": objects})
}

/// A nested member: an object, a list of scalars (a set, as Nomad diffs `Datacenters`) or a
/// list of objects (compared by position).
fn nested_diff(
    name: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    contextual: bool,
) -> Option<Value> {
    let d = match (old, new) {
        (Some(Value::Array(_)) | None, Some(Value::Array(_)) | None)
            if [old, new].iter().flatten().all(|v| {
                v.as_array()
                    .is_some_and(|a| a.iter().all(|x| !x.is_object()))
            }) =>
        {
            let set = |v: Option<&Value>| -> Vec<String> {
                v.and_then(Value::as_array)
                    .map(|a| a.iter().map(scalar).collect())
                    .unwrap_or_default()
            };
            let (o, n) = (set(old), set(new));
            let mut fields = Vec::new();
            for x in o.iter().filter(|x| !n.contains(x)) {
                fields.push(json!({"Type": "Deleted", "Name": name, "Old": x, "New": "", "Annotations": null}));
            }
            for x in n.iter().filter(|x| !o.contains(x)) {
                fields.push(json!({"Type": "Added", "Name": name, "Old": "", "New": x, "Annotations": null}));
            }
            let t = kind(!o.is_empty(), !n.is_empty(), !fields.is_empty());
            json!({"Type": t, "Name": name, "Fields": fields, "Objects": []})
        }
        (Some(Value::Array(_)), _) | (_, Some(Value::Array(_))) => {
            let len = [old, new]
                .iter()
                .flatten()
                .filter_map(|v| v.as_array())
                .map(Vec::len)
                .max()
                .unwrap_or(0);
            let objects: Vec<Value> = (0..len)
                .map(|i| object(name, nth(old, i), nth(new, i), &[], contextual))
                .filter(|d| contextual || !is_none(d))
                .collect();
            let t = kind(
                old.is_some(),
                new.is_some(),
                objects.iter().any(|d| !is_none(d)),
            );
            return (contextual || t != "None")
                .then(|| json!({"Type": t, "Name": name, "Fields": [], "Objects": objects}));
        }
        _ => object(
            name,
            old.and_then(Value::as_object),
            new.and_then(Value::as_object),
            &[],
            contextual,
        ),
    };
    (contextual || !is_none(&d)).then_some(d)
}

fn nth(v: Option<&Value>, i: usize) -> Option<&Map<String, Value>> {
    v?.as_array()?.get(i)?.as_object()
}

fn named<'a>(list: Option<&'a Value>, name: &str) -> Option<&'a Map<String, Value>> {
    list?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .find(|o| o.get("Name").and_then(Value::as_str) == Some(name))
}

fn names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| o["Name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The job diff of a plan: `old` is the registered job (`None` when new).
pub fn job_diff(old: Option<&Job>, new: &Job, contextual: bool) -> Value {
    let ov = old.and_then(|j| serde_json::to_value(j).ok());
    let nv = serde_json::to_value(new).unwrap_or(Value::Null);
    let (om, nm) = (ov.as_ref().and_then(Value::as_object), nv.as_object());
    let mut skip: Vec<&str> = SERVER_FIELDS.to_vec();
    skip.push("TaskGroups");
    let mut d = object("", om, nm, &skip, contextual);
    let (ogs, ngs) = (
        om.and_then(|m| m.get("TaskGroups")),
        nm.and_then(|m| m.get("TaskGroups")),
    );
    let mut gnames = names(ogs);
    for n in names(ngs) {
        if !gnames.contains(&n) {
            gnames.push(n);
        }
    }
    let mut groups = Vec::new();
    for g in &gnames {
        let (og, ng) = (named(ogs, g), named(ngs, g));
        let mut gd = object(g, og, ng, &["Tasks", "Name"], contextual);
        let (ots, nts) = (
            og.and_then(|m| m.get("Tasks")),
            ng.and_then(|m| m.get("Tasks")),
        );
        let mut tnames = names(ots);
        for n in names(nts) {
            if !tnames.contains(&n) {
                tnames.push(n);
            }
        }
        let tasks: Vec<Value> = tnames
            .iter()
            .map(|t| {
                let mut td = object(t, named(ots, t), named(nts, t), &["Name"], contextual);
                td["Annotations"] = Value::Null;
                td
            })
            .filter(|td| contextual || !is_none(td))
            .collect();
        if tasks.iter().any(|t| !is_none(t)) && gd["Type"] == "None" {
            gd["Type"] = json!("Edited");
        }
        gd["Tasks"] = Value::Array(tasks);
        gd["Updates"] = Value::Null;
        groups.push(gd);
    }
    if groups.iter().any(|g| !is_none(g)) && d["Type"] == "None" {
        d["Type"] = json!("Edited");
    }
    if old.is_none() {
        d["Type"] = json!("Added");
    }
    d["ID"] = json!(new.id);
    d["TaskGroups"] = Value::Array(groups);
    d.as_object_mut().map(|m| m.remove("Name"));
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mocks::{jobspec::parse_hcl, nomad_files};

    #[test]
    fn an_image_change_is_an_edited_field_of_its_task() {
        let files = nomad_files::default_job_files(1000);
        let (_, src) = files.iter().find(|(n, _)| n.contains("monitor")).unwrap();
        let mut old = parse_hcl(src).unwrap();
        old.canonicalize();
        let mut new = old.clone();
        let t = &mut new.task_groups[0].tasks[0];
        let was = t.config["image"].clone();
        t.config
            .insert("image".into(), json!("registry/monitor:new"));
        new.priority = 70;
        let d = job_diff(Some(&old), &new, false);
        assert_eq!(d["Type"], "Edited");
        assert_eq!(d["Fields"][0]["Name"], "Priority");
        assert_eq!(d["Fields"][0]["Old"], "50");
        assert_eq!(d["Fields"][0]["New"], "70");
        let task = &d["TaskGroups"][0]["Tasks"][0];
        assert_eq!(task["Type"], "Edited");
        let config = task["Objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["Name"] == "Config")
            .unwrap();
        assert_eq!(config["Fields"][0]["Name"], "image");
        assert_eq!(config["Fields"][0]["Old"], scalar(&was));
        assert_eq!(config["Fields"][0]["New"], "registry/monitor:new");
        // Unchanged: nothing listed, type None.
        let same = job_diff(Some(&old), &old, false);
        assert_eq!(same["Type"], "None");
        assert_eq!(same["Fields"], json!([]));
        // New job: Added.
        assert_eq!(job_diff(None, &old, false)["Type"], "Added");
    }
}
