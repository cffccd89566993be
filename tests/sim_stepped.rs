//! The steppable world (`hrsi_sim::World`) gives the batch run's bytes, for every shipped
//! scenario: stepped through `run_until` in irregular increments, with the plan's steps taken
//! from outside with `act` (and `run_until_caught_up` for the waves), and forked from a shared
//! prefix with `set_steps`, as `hrsi plan` does.
use std::path::{Path, PathBuf};

use hrsi_sim::time::{DAY, HOUR, MINUTE, Ms};
use hrsi_sim::{Baseline, Config, Report, Step, World};

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("scenarios/ is readable") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            scenario_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

/// Every shipped scenario's simulator config, by file name.
fn configs() -> Vec<(String, Config)> {
    let mut files = Vec::new();
    scenario_files(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .as_path(),
        &mut files,
    );
    files.sort();
    assert!(files.len() >= 20, "the shipped scenarios: {files:?}");
    files
        .into_iter()
        .map(|p| {
            let name = p.display().to_string();
            let src = std::fs::read_to_string(&p).expect("readable scenario");
            let sc = hrsi_scenario::Scenario::from_yaml_str(&src, &name).expect("valid scenario");
            (name, sc.to_sim_config())
        })
        .collect()
}

/// The baseline `run_with_baseline` uses (none for a plan without steps).
fn baseline_of(cfg: &Config) -> Option<Baseline> {
    (!cfg.steps.is_empty()).then(|| hrsi_sim::baseline(cfg))
}

fn json(cfg: &Config, out: hrsi_sim::Outcome) -> String {
    serde_json::to_string(&Report::new(cfg, out)).expect("a report serialises")
}

fn batch(cfg: &Config, b: Option<&Baseline>) -> String {
    json(cfg, hrsi_sim::run(cfg, b))
}

/// A deterministic irregular sequence: from a millisecond to about 7 hours, with repeats.
fn increments(seed: u64) -> impl Iterator<Item = Ms> {
    let mut x = seed | 1;
    std::iter::from_fn(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Some(match x % 5 {
            0 => 0,
            1 => (x >> 8) as Ms % 1_000 + 1,
            2 => (x >> 8) as Ms % (10 * MINUTE) + 1,
            _ => (x >> 8) as Ms % (7 * HOUR) + 1,
        })
    })
}

#[test]
fn stepping_in_irregular_increments_gives_the_batch_bytes() {
    for (k, (name, cfg)) in configs().into_iter().enumerate() {
        let b = baseline_of(&cfg);
        let expected = batch(&cfg, b.as_ref());
        let mut w = World::new(cfg.clone(), b.as_ref());
        let mut t = w.now();
        let mut looked = 0;
        for (i, d) in increments(k as u64 + 11).enumerate() {
            t += d;
            w.run_until(t);
            assert_eq!(w.now(), t.min(w.horizon()), "{name}");
            // An earlier instant changes nothing.
            w.run_until(t - HOUR);
            assert_eq!(w.now(), t.min(w.horizon()), "{name}");
            if i % 97 == 40 && looked < 2 {
                // A look at the outcome so far leaves the world as it was.
                let _ = w.outcome();
                looked += 1;
            }
            if t >= w.horizon() + DAY {
                break;
            }
        }
        assert_eq!(w.now(), w.horizon());
        // At the horizon, the look is the batch outcome.
        assert_eq!(
            json(&cfg, w.outcome()),
            expected,
            "{name}: outcome() at the horizon"
        );
        assert_eq!(json(&cfg, w.finish()), expected, "{name}");
    }
}

/// Takes a config's steps from outside: `act` at each timed step's instant, and
/// `run_until_caught_up` for a step that waits for a catch-up (as a rehearsal does).
fn run_from_outside(cfg: &Config, b: Option<&Baseline>) -> String {
    let inner = Config {
        steps: Vec::new(),
        ..cfg.clone()
    };
    let mut w = World::new(inner, b);
    let mut origin: Ms = 0;
    let mut next = 0;
    while let Some(step) = cfg.steps.get(next) {
        let at = if step.caught_up.is_empty() {
            origin + step.after
        } else {
            match w.run_until_caught_up(&step.caught_up, w.horizon()) {
                Some(c) => c + step.after,
                None => break,
            }
        };
        if at >= w.horizon() {
            break;
        }
        w.run_until(at);
        assert_eq!(w.now(), at);
        w.act(step.action.clone());
        origin = at;
        next += 1;
    }
    // The steps that never came are still the plan's (the report counts them).
    w.set_steps(cfg.steps[next..].to_vec());
    json(cfg, w.finish())
}

#[test]
fn the_plan_taken_from_outside_gives_the_batch_bytes() {
    let mut acted = 0;
    for (name, cfg) in configs() {
        let b = baseline_of(&cfg);
        assert_eq!(
            run_from_outside(&cfg, b.as_ref()),
            batch(&cfg, b.as_ref()),
            "{name}"
        );
        acted += cfg.steps.len();
    }
    assert!(acted >= 20, "the scenarios carry steps to act: {acted}");
}

/// Another point of the same seed: the same first step, the later ones `shift` later.
fn other_point(steps: &[Step], shift: Ms) -> Vec<Step> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| Step {
            after: if i == 0 { s.after } else { s.after + shift },
            ..s.clone()
        })
        .collect()
}

#[test]
fn a_fork_of_the_shared_prefix_gives_a_fresh_runs_bytes() {
    let mut forks = 0;
    for (name, cfg) in configs() {
        let Some(first) = cfg.steps.first() else {
            continue;
        };
        if !first.caught_up.is_empty() || first.after >= cfg.horizon {
            continue;
        }
        let b = baseline_of(&cfg);
        let mut prefix = World::new(cfg.clone(), b.as_ref());
        prefix.run_until(first.after);
        for shift in [37 * MINUTE, 5 * HOUR] {
            let point = Config {
                steps: other_point(&cfg.steps, shift),
                ..cfg.clone()
            };
            // Cloned at the first step's instant, given the point's whole plan.
            let mut fork = prefix.clone();
            fork.set_steps(point.steps.clone());
            assert_eq!(
                json(&point, fork.finish()),
                batch(&point, b.as_ref()),
                "{name}: fork at the first step, shift {shift}"
            );
            forks += 1;
            // Cloned after the first step ran (when the second comes later), given the point's
            // later steps.
            let mut later = prefix.clone();
            later.run_until(first.after + 1);
            if later.steps_done() == 1 {
                later.set_steps(point.steps[1..].to_vec());
                assert_eq!(
                    json(&point, later.finish()),
                    batch(&point, b.as_ref()),
                    "{name}: fork after the first step, shift {shift}"
                );
                forks += 1;
            }
        }
        // The prefix itself is untouched by its forks.
        assert_eq!(
            json(&cfg, prefix.finish()),
            batch(&cfg, b.as_ref()),
            "{name}"
        );
    }
    assert!(forks >= 10, "forked scenarios: {forks}");
}
