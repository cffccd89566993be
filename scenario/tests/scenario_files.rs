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
    // Every real file cut, and mutated, where its YAML structure is: at each line's start,
    // after its indentation, after its key's `:`, and at one more column that moves along from
    // one line to the next (so every column of a file is reached somewhere); each mutation puts
    // YAML punctuation, a newline or a multi-byte character in place of the character there.
    // A cheap fuzz of the positions and code frames of the error path: a third of the parses
    // of cutting at every 4th character and mutating every 9th six ways, and every kind of
    // position those reached (line starts, indentation, after a key, inside a value, any
    // column, a multi-byte character) is still reached in every file.
    const MUTATIONS: [&str; 6] = ["{", ":", "- ", "\"", "\n", "é"];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let mut parsed = 0usize;
    for path in files {
        let src = std::fs::read_to_string(&path).expect("readable");
        let mut cuts = std::collections::BTreeSet::new();
        let mut start = 0;
        for (n, line) in src.split_inclusive('\n').enumerate() {
            let columns: Vec<usize> = line.char_indices().map(|(i, _)| start + i).collect();
            cuts.insert(start);
            cuts.insert(start + line.len() - line.trim_start().len());
            if let Some(c) = line.find(':') {
                cuts.insert(start + c + 1);
            }
            if !columns.is_empty() {
                cuts.insert(columns[(n * 7) % columns.len()]);
            }
            start += line.len();
        }
        for (k, &i) in cuts.iter().enumerate() {
            let _ = Scenario::from_yaml_str(&src[..i], "prefix.yaml").map_err(|e| e.to_string());
            let next = src[i..].chars().next().map_or(0, char::len_utf8);
            for c in [MUTATIONS[k % 6], MUTATIONS[(k + 3) % 6]] {
                let mutated = format!("{}{c}{}", &src[..i], &src[i + next..]);
                let _ =
                    Scenario::from_yaml_str(&mutated, "mutated.yaml").map_err(|e| e.to_string());
            }
            parsed += 3;
        }
    }
    assert!(
        parsed > 1000,
        "the suite's files give too few positions: {parsed}"
    );
}
