//! A scenario's plan as the simulator's steps.

use std::mem;

use hrsi_sim::config::outage_steps;
use hrsi_sim::params::JobTypesList;
use hrsi_sim::{Action, JobType, Step, SystemParameters};

use crate::model::{CaughtUp, Plan, StepKind};

pub(crate) fn sim_steps(plan: &Plan, params: &SystemParameters) -> Vec<Step> {
    match plan {
        Plan::Outages(outages) => {
            let mut steps = Vec::new();
            // Each step's delay counts from the previous step: the first outage from the start,
            // the next from the previous restart (outages after waves are refused by validation).
            let mut prev_end = 0;
            for o in outages {
                steps.extend(outage_steps(o.start, o.length, o.restart, prev_end));
                prev_end = o.start + o.length;
            }
            steps
        }
        Plan::Steps(list) => {
            let mut out = Vec::new();
            let mut after = 0;
            let mut wait: Vec<JobType> = Vec::new();
            let mut enabled = match params.job_types() {
                JobTypesList::Valid(v) => v,
                _ => Vec::new(),
            };
            let mut push = |action: Action, after: &mut i64, wait: &mut Vec<JobType>| {
                out.push(Step {
                    caught_up: mem::take(wait),
                    after: mem::take(after),
                    action,
                });
            };
            for st in list {
                match &st.kind {
                    StepKind::Advance(ms) => after += ms,
                    StepKind::RunUntil { caught_up, .. } => {
                        let types = match caught_up {
                            CaughtUp::All => enabled.clone(),
                            CaughtUp::Types(t) => t.clone(),
                        };
                        for t in types {
                            if !wait.contains(&t) {
                                wait.push(t);
                            }
                        }
                    }
                    StepKind::Stop { confirm: true } => push(Action::Stop, &mut after, &mut wait),
                    StepKind::Start { confirm: true } => push(Action::Start, &mut after, &mut wait),
                    // `hrsi params set` refuses the whole change when one value is refused.
                    StepKind::SetParam(settings)
                        if settings.iter().all(|s| s.refused.is_none()) =>
                    {
                        for s in settings {
                            if s.name == "job_types_list"
                                && let JobTypesList::Valid(v) = JobTypesList::parse(&s.value)
                            {
                                enabled = v;
                            }
                            let action = Action::SetParam {
                                name: s.name.clone(),
                                value: s.value.clone(),
                            };
                            push(action, &mut after, &mut wait);
                        }
                    }
                    _ => {}
                }
            }
            out
        }
    }
}

/// The `run_until … within` limits the simulated run did not meet (see [`crate::LateWait`]).
pub(crate) fn late_waits(
    plan: &Plan,
    params: &SystemParameters,
    report: &hrsi_sim::Report,
) -> Vec<crate::LateWait> {
    let Plan::Steps(list) = plan else {
        return Vec::new();
    };
    let mut enabled = match params.job_types() {
        JobTypesList::Valid(v) => v,
        _ => Vec::new(),
    };
    // Which restart a wait belongs to: the simulator records one when a start finds it down.
    let (mut up, mut restarts) = (true, 0usize);
    let mut late = Vec::new();
    for st in list {
        match &st.kind {
            StepKind::Stop { confirm: true } => up = false,
            StepKind::Start { confirm: true } if !up => {
                up = true;
                restarts += 1;
            }
            StepKind::SetParam(settings) if settings.iter().all(|s| s.refused.is_none()) => {
                for s in settings.iter().filter(|s| s.name == "job_types_list") {
                    if let JobTypesList::Valid(v) = JobTypesList::parse(&s.value) {
                        enabled = v;
                    }
                }
            }
            StepKind::RunUntil {
                caught_up,
                within: Some(within),
            } if restarts > 0 => {
                let Some(restart) = report.restarts.get(restarts - 1) else {
                    continue;
                };
                let types = match caught_up {
                    CaughtUp::All => enabled.clone(),
                    CaughtUp::Types(t) => t.clone(),
                };
                for t in types {
                    // A type not restarted there has nothing to catch up.
                    let Some(hours) = restart.catch_up_hours.get(t.name()) else {
                        continue;
                    };
                    let limit = *within as f64 / hrsi_sim::time::HOUR as f64;
                    if hours.is_none_or(|h| h > limit) {
                        late.push(crate::LateWait {
                            line: st.line,
                            job_type: t,
                            within: *within,
                            catch_up_hours: *hours,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    late
}

/// Inserts `UPDATE … SET name = value` steps just before every `start`: they take the start's
/// wait and delay, and the start follows them at once.
pub(crate) fn set_before_starts(steps: Vec<Step>, params: &[(String, String)]) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len() + params.len());
    for mut st in steps {
        if st.action == Action::Start {
            for (k, (name, value)) in params.iter().enumerate() {
                out.push(Step {
                    caught_up: if k == 0 {
                        mem::take(&mut st.caught_up)
                    } else {
                        Vec::new()
                    },
                    after: if k == 0 { mem::take(&mut st.after) } else { 0 },
                    action: Action::SetParam {
                        name: name.clone(),
                        value: value.clone(),
                    },
                });
            }
        }
        out.push(st);
    }
    out
}
