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
                    StepKind::SetParam(settings) => {
                        for s in settings.iter().filter(|s| s.refused.is_none()) {
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
