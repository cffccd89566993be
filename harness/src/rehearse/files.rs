//! The suite's files: found and loaded strictly ([`discover`]), chosen ([`filter`]) and split
//! between machines ([`shard`]), in the sorted order every report keeps.

use std::path::{Path, PathBuf};

use hrsi_scenario::{Plan, Scenario, StepKind};

/// A loaded scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// Path relative to the suite root, `/`-separated (the identity in every report).
    pub rel: String,
    /// The file.
    pub path: PathBuf,
    /// The validated scenario.
    pub scenario: Scenario,
}

/// Finds `*.yaml` files under the paths (files or directories), sorted, and loads them all.
/// Every error of every file is returned at once.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<ScenarioFile>, Vec<String>> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                let Ok(rd) = std::fs::read_dir(&d) else {
                    errors.push(format!("{}: cannot read the directory", d.display()));
                    continue;
                };
                for e in rd.flatten() {
                    let f = e.path();
                    if f.is_dir() {
                        stack.push(f);
                    } else if f.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                        let rel = f
                            .strip_prefix(p)
                            .unwrap_or(&f)
                            .to_string_lossy()
                            .replace('\\', "/");
                        let base = p
                            .file_name()
                            .map(|b| b.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        found.push((format!("{base}/{rel}"), f));
                    }
                }
            }
        } else if p.is_file() {
            found.push((p.to_string_lossy().replace('\\', "/"), p.clone()));
        } else {
            errors.push(format!(
                "{}: no such file or directory (hint: `hrsi rehearse` runs `scenarios/` by default)",
                p.display()
            ));
        }
    }
    found.sort();
    found.dedup();
    let mut out = Vec::new();
    for (rel, path) in found {
        let meta = std::fs::metadata(&path);
        if meta.as_ref().map(|m| m.len()).unwrap_or(0) > 1 << 20 {
            errors.push(format!("{rel}: larger than 1 MiB: not a scenario file"));
            continue;
        }
        let src = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("{rel}: {e}"));
                continue;
            }
        };
        match Scenario::from_yaml_str(&src, &rel) {
            Ok(mut sc) => {
                if let Some(file) = sc.calibration_file.clone() {
                    let p = path.parent().unwrap_or(Path::new(".")).join(&file);
                    match std::fs::read_to_string(&p)
                        .map_err(|e| e.to_string())
                        .and_then(|t| {
                            hrsi_scenario::parse_calibration(&t, &file).map_err(|e| e.to_string())
                        }) {
                        Ok(c) => sc.set_calibration(c),
                        Err(e) => {
                            errors.push(format!("{rel}: calibration `{file}`: {e}"));
                            continue;
                        }
                    }
                }
                let dir = path.parent().unwrap_or(Path::new("."));
                let missing = patch_files(&sc, dir, &rel);
                if !missing.is_empty() {
                    errors.extend(missing);
                    continue;
                }
                if matches!(&sc.plan, Plan::Outages(_)) {
                    // A file without steps has nothing to rehearse: it is a simulation only.
                    continue;
                }
                out.push(ScenarioFile {
                    rel,
                    path,
                    scenario: sc,
                });
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The patches the scenario's `patch_test` steps name, looked up before anything runs: each
/// error at the `patch:` value's file:line:column, with a hint.
fn patch_files(sc: &Scenario, dir: &Path, rel: &str) -> Vec<String> {
    let Plan::Steps(steps) = &sc.plan else {
        return Vec::new();
    };
    steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::PatchTest(t) => super::steps::patch_path(dir, &t.patch)
                .err()
                .map(|(m, h)| format!("{rel}:{}:{}: error: {m} (hint: {h})", t.at.0, t.at.1)),
            _ => None,
        })
        .collect()
}

/// Keeps the files whose path or name contains `filter` (case-insensitive).
pub fn filter(files: Vec<ScenarioFile>, filter: Option<&str>) -> Vec<ScenarioFile> {
    let Some(f) = filter else { return files };
    let f = f.to_lowercase();
    files
        .into_iter()
        .filter(|s| {
            s.rel.to_lowercase().contains(&f)
                || s.scenario
                    .name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&f))
        })
        .collect()
}

/// Parses `I/N` (1-based).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not I/N (e.g. `--shard 1/3`)"))?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a shard number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a shard count"))?,
    );
    if n == 0 || n > 1000 || i == 0 || i > n {
        return Err(format!(
            "shard {i}/{n}: I must be between 1 and N, N at most 1000"
        ));
    }
    Ok((i, n))
}

/// The files of shard `i` of `n`: every n-th file of the sorted list, from the i-th.
pub fn shard(files: Vec<ScenarioFile>, i: usize, n: usize) -> Vec<ScenarioFile> {
    files
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % n == i - 1)
        .map(|(_, f)| f)
        .collect()
}
