//! The rehearsal's course beside the prediction (issue 13, "Outputs"): what `hrsi simulate`
//! predicts for the file, against what the rehearsal's world gives once it is run on to the same
//! horizon as if nothing else happened, and which steps of the rehearsal the prediction does not
//! contain (the operator's SQL, a restore, a fault). Both reports cover the same period with
//! the same definitions (simulation.md), so a figure that differs is the rehearsal's doing.

use hrsi_scenario::{Plan, Scenario, StepKind};
use hrsi_sim::Report;

/// Steps of the rehearsal the prediction does not contain ([`StepKind::harness_only`]) that
/// may move the simulated system: not the ones that only observe or copy (dumps, backups,
/// plans, checks, a sandboxed patch test), nor the scripts the loader keeps as scripts (a
/// run of the whole core with every answer `yes` is a `stop` or `start`, which the plan has;
/// any other run leaves the simulated services as they are).
fn off_plan(k: &StepKind) -> bool {
    k.harness_only()
        && !matches!(
            k,
            StepKind::Expect
                | StepKind::Backup
                | StepKind::BorgList
                | StepKind::BorgExtract { .. }
                | StepKind::PgDumpall { .. }
                | StepKind::TfPlan { .. }
                | StepKind::NomadWaitGone { .. }
                | StepKind::PatchTest(_)
                | StepKind::Script { .. }
        )
}

fn hours(h: Option<f64>) -> String {
    h.map_or_else(|| "never".to_owned(), |h| format!("{h:.1} h"))
}

/// One figure of both reports: `None` when they agree.
fn differs(what: String, predicted: String, course: String) -> Option<String> {
    (predicted != course).then(|| format!("{what} {predicted} → {course}"))
}

/// The figures of `course` that differ from `predicted`, in a fixed order: per type lost,
/// published and reprocessed; peak workers; each restart's recovery; restarts missing on
/// either side.
pub fn differences(predicted: &Report, course: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for (t, p) in &predicted.job_types {
        let Some(c) = course.job_types.get(t) else {
            continue;
        };
        out.extend(differs(
            format!("lost {t}"),
            p.lost.to_string(),
            c.lost.to_string(),
        ));
        out.extend(differs(
            format!("published {t}"),
            p.published.to_string(),
            c.published.to_string(),
        ));
        out.extend(differs(
            format!("reprocessed {t}"),
            p.reprocessed.to_string(),
            c.reprocessed.to_string(),
        ));
    }
    out.extend(differs(
        "peak workers".into(),
        predicted.peak_workers.to_string(),
        course.peak_workers.to_string(),
    ));
    let n = predicted.restarts.len().max(course.restarts.len());
    for i in 0..n {
        let p = predicted.restarts.get(i);
        let c = course.restarts.get(i);
        let show = |r: Option<&hrsi_sim::report::RestartReport>| {
            r.map_or_else(
                || "no restart".to_owned(),
                |r| format!("at {}, recovery {}", r.at, hours(r.recovery_hours)),
            )
        };
        out.extend(differs(format!("restart {}", i + 1), show(p), show(c)));
    }
    out
}

/// The transcript's `course:` lines: the rehearsal's world run on to the horizon against the
/// prediction, and the steps that may have moved it.
pub fn lines(sc: &Scenario, predicted: &Report, course: &Report) -> Vec<String> {
    let diff = differences(predicted, course);
    let mut out = Vec::new();
    if diff.is_empty() {
        out.push(format!(
            "the rehearsal's world, run on to {} as if nothing else happened, gives the prediction's figures (lost, published, reprocessed per type; peak workers {}; {} restart(s))",
            course.end,
            course.peak_workers,
            course.restarts.len()
        ));
    } else {
        out.push(format!(
            "the rehearsal's world, run on to {} as if nothing else happened, differs from the prediction (predicted → rehearsed): {}",
            course.end,
            diff.join("; ")
        ));
    }
    let Plan::Steps(steps) = &sc.plan else {
        return out;
    };
    let off: Vec<String> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| off_plan(&s.kind))
        .map(|(i, s)| format!("step {} ({})", i + 1, s.kind.name()))
        .collect();
    if !off.is_empty() {
        out.push(format!(
            "steps the prediction does not contain: {}",
            off.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(yaml: &str) -> Scenario {
        Scenario::from_yaml_str(yaml, "t.yaml").expect("valid")
    }

    #[test]
    fn a_world_left_on_its_plan_gives_the_prediction_and_a_changed_one_says_what_moved() {
        let sc = scenario(
            "seed: 7\ndays: 4\nsteps:\n  - advance: 1d\n  - stop: { confirm: yes }\n  - advance: 1d\n  - start: { confirm: yes }\n",
        );
        let predicted = hrsi_sim::simulate(&sc.to_sim_config());
        let same = hrsi_sim::simulate(&sc.to_sim_config());
        let l = lines(&sc, &predicted, &same);
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(l[0].contains("gives the prediction's figures"), "{l:?}");

        // A longer stop than the plan's: fewer published, a later restart.
        let other = scenario(
            "seed: 7\ndays: 4\nsteps:\n  - advance: 1d\n  - stop: { confirm: yes }\n  - advance: 2d\n  - start: { confirm: yes }\n",
        );
        let moved = hrsi_sim::simulate(&other.to_sim_config());
        let d = differences(&predicted, &moved);
        assert!(d.iter().any(|l| l.starts_with("restart 1 at ")), "{d:?}");
        assert!(d.iter().any(|l| l.starts_with("published ")), "{d:?}");
        let l = lines(&sc, &predicted, &moved);
        assert!(l[0].contains("differs from the prediction"), "{l:?}");
    }

    #[test]
    fn the_steps_off_the_plan_are_listed() {
        let sc = scenario(
            "seed: 7\ndays: 2\nsteps:\n  - advance: 1h\n  - sql: \"delete from cosims.parent_jobs\"\n  - fault: { postgres_killed: yes }\n  - advance: 1h\n",
        );
        let r = hrsi_sim::simulate(&sc.to_sim_config());
        let l = lines(&sc, &r, &r);
        assert_eq!(
            l.last().map(String::as_str),
            Some("steps the prediction does not contain: step 2 (sql), step 3 (fault)")
        );
        // The database instance applied alone does not touch the simulated services.
        let sc = scenario(
            "seed: 7\ndays: 2\nsteps:\n  - advance: 1h\n  - stop: { confirm: yes }\n  - start: { confirm: yes, target: module.core.openstack_compute_instance_v2.database }\n  - sql: \"select 1\"\n",
        );
        let l = lines(&sc, &r, &r);
        assert_eq!(
            l.last().map(String::as_str),
            Some("steps the prediction does not contain: step 4 (sql)")
        );
    }
}
