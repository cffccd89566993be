//! Every file in `scenarios/` parses, validates and converts to a simulator config: the runbook
//! as data must never rot silently.

use std::path::{Path, PathBuf};

use hrsi_scenario::{Plan, Scenario, parse_calibration};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("scenarios/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn every_scenario_file_parses_and_converts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the scenario files in {}, found {files:?}",
        dir.display()
    );
    // One verdict per file, all reported together.
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let src = std::fs::read_to_string(path).expect("readable");
        let mut sc = match Scenario::from_yaml_str(&src, &name) {
            Ok(sc) => sc,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        if let Some(file) = sc.calibration_file.clone() {
            let p = path.parent().expect("in a directory").join(&file);
            match std::fs::read_to_string(&p)
                .map_err(|e| e.to_string())
                .and_then(|t| parse_calibration(&t, &file).map_err(|e| e.to_string()))
            {
                Ok(c) => sc.set_calibration(c),
                Err(e) => failures.push(format!("{name}: calibration `{file}`: {e}")),
            }
        }
        let cfg = sc.to_sim_config();
        if cfg.horizon <= 0 || cfg.calibration.validate().is_err() {
            failures.push(format!("{name}: invalid simulator config"));
        }
        if matches!(&sc.plan, Plan::Steps(s) if s.is_empty()) {
            failures.push(format!("{name}: `steps:` is empty"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn broken_files_give_errors_never_panics() {
    // Every prefix of the real files, and each with characters swapped for YAML punctuation:
    // a cheap fuzz of the positions and code frames of the error path.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    for path in files {
        let src = std::fs::read_to_string(&path).expect("readable");
        let bounds: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
        for &i in bounds.iter().step_by(4) {
            let _ = Scenario::from_yaml_str(&src[..i], "prefix.yaml").map_err(|e| e.to_string());
        }
        for &i in bounds.iter().skip(1).step_by(9) {
            let next = src[i..].chars().next().map_or(0, char::len_utf8);
            for c in ["{", ":", "- ", "\"", "\n", "é"] {
                let mutated = format!("{}{c}{}", &src[..i], &src[i + next..]);
                let _ =
                    Scenario::from_yaml_str(&mutated, "mutated.yaml").map_err(|e| e.to_string());
            }
        }
    }
}
