//! The expectations a simulated run can check, checked against its report: lost counts at the
//! horizon (`lost`, `lost_reasons`, `lost_vs_baseline`), catch-up and recovery bounds, and every
//! `run_until … within`. The others (Terraform plan, Nomad jobs, SQL, refusals, failing
//! services, error patterns) need the harness: they are listed as not checked, never passed.

use hrsi_sim::Report;

use crate::model::{Count, Expect, Plan, Scenario, StepKind};

/// One expectation checked against the simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Line of the step in the file.
    pub line: u64,
    /// The step's kind (`stop`, `run_until`, `expect`, …).
    pub step: &'static str,
    /// The expectation, as it reads (`lost.fsc_rlie_job == 0`).
    pub expectation: String,
    /// What the run gave.
    pub observed: String,
    /// Whether it holds.
    pub passed: bool,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: step `{}`: expectation `{}` {}: observed {}",
            self.line,
            self.step,
            self.expectation,
            if self.passed { "holds" } else { "not met" },
            self.observed
        )
    }
}

/// The outcome of [`Scenario::check`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    /// Every expectation the simulator checked, in file order.
    pub checked: Vec<Check>,
    /// Expectations the simulator cannot check: (line, expectation, why).
    pub not_checked: Vec<(u64, String, &'static str)>,
}

impl Checks {
    /// The expectations that do not hold.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checked.iter().filter(|c| !c.passed)
    }
}

const HARNESS: &str = "needs the harness (hrsi rehearse)";
const MID_RUN: &str = "a count before the last simulated step: the simulator counts at the horizon \
                       (hrsi rehearse checks it there)";

/// A `within` as written: whole hours, minutes or seconds.
fn duration(ms: hrsi_sim::time::Ms) -> String {
    use hrsi_sim::time::{HOUR, MINUTE, SECOND};
    if ms % HOUR == 0 {
        format!("{} h", ms / HOUR)
    } else if ms % MINUTE == 0 {
        format!("{} min", ms / MINUTE)
    } else {
        format!("{} s", ms / SECOND)
    }
}

fn hours(v: Option<f64>) -> String {
    v.map_or("never".to_owned(), |h| format!("{h:.2} h"))
}

impl Scenario {
    /// Checks the expectations a simulated run can check against its report.
    pub fn check(&self, report: &Report) -> Checks {
        let mut out = Checks::default();
        let Plan::Steps(list) = &self.plan else {
            return out;
        };
        let late = self.late_waits(report);
        // Counts are known at the horizon: they stand for the steps after the last simulated one.
        let last_sim = list.iter().rposition(|s| !s.kind.harness_only());
        let (mut up, mut restarts) = (true, 0usize);
        for (i, st) in list.iter().enumerate() {
            match &st.kind {
                StepKind::Stop { confirm: true } => up = false,
                StepKind::Start { confirm: true } if !up => {
                    up = true;
                    restarts += 1;
                }
                _ => {}
            }
            let step = st.kind.name();
            if let StepKind::RunUntil {
                within: Some(_), ..
            } = &st.kind
                && restarts == 0
            {
                out.not_checked.push((
                    st.line,
                    "within".to_owned(),
                    "no restart before it: nothing to catch up",
                ));
            } else if let StepKind::RunUntil {
                caught_up,
                within: Some(w),
            } = &st.kind
            {
                let within = duration(*w);
                let what = match caught_up {
                    crate::CaughtUp::All => "all".to_owned(),
                    crate::CaughtUp::Types(t) => {
                        t.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
                    }
                };
                let mine: Vec<_> = late.iter().filter(|l| l.line == st.line).collect();
                out.checked.push(Check {
                    line: st.line,
                    step,
                    expectation: format!("caught up ({what}) within {within}"),
                    observed: if mine.is_empty() {
                        "every type in time".to_owned()
                    } else {
                        mine.iter()
                            .map(|l| format!("{} {}", l.job_type.name(), hours(l.catch_up_hours)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    passed: mine.is_empty(),
                });
            }
            let Some(e) = &st.expect else { continue };
            let at_horizon = last_sim.is_none_or(|l| i >= l);
            let restart = restarts.checked_sub(1).and_then(|k| report.restarts.get(k));
            self.check_one(e, st.line, step, at_horizon, restart, report, &mut out);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn check_one(
        &self,
        e: &Expect,
        line: u64,
        step: &'static str,
        at_horizon: bool,
        restart: Option<&hrsi_sim::report::RestartReport>,
        report: &Report,
        out: &mut Checks,
    ) {
        let mut count = |what: String, c: Count, v: u64, observed: String| {
            if at_horizon {
                out.checked.push(Check {
                    line,
                    step,
                    expectation: format!("{what} {c}"),
                    observed,
                    passed: c.holds(v),
                });
            } else {
                out.not_checked.push((line, what, MID_RUN));
            }
        };
        for (t, c) in &e.lost {
            let r = &report.job_types[t.name()];
            let reasons: Vec<String> = r
                .lost_reasons
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let observed = if reasons.is_empty() {
                r.lost.to_string()
            } else {
                format!("{} ({})", r.lost, reasons.join(", "))
            };
            count(format!("lost.{}", t.name()), *c, r.lost, observed);
        }
        for (t, reasons) in &e.lost_reasons {
            let r = &report.job_types[t.name()];
            for (reason, c) in reasons {
                let v = r.lost_reasons.get(reason.as_str()).copied().unwrap_or(0);
                count(
                    format!("lost_reasons.{}.{reason}", t.name()),
                    *c,
                    v,
                    v.to_string(),
                );
            }
        }
        for (t, c) in &e.lost_vs_baseline {
            let r = &report.job_types[t.name()];
            let base = r.baseline_lost.unwrap_or(0);
            let v = r.lost.saturating_sub(base);
            count(
                format!("lost_vs_baseline.{}", t.name()),
                *c,
                v,
                format!("{v} (lost {}, baseline {base})", r.lost),
            );
        }
        let mut bound = |what: String, b: crate::HoursBound, v: Option<Option<f64>>| {
            let (passed, observed) = match v {
                None => (false, "no restart before this step".to_owned()),
                Some(v) => (b.holds(v), hours(v)),
            };
            out.checked.push(Check {
                line,
                step,
                expectation: format!("{what} {b}"),
                observed,
                passed,
            });
        };
        for (t, b) in &e.catch_up_hours {
            let not_nrt = report.baseline_not_at_nrt.contains(&t.name());
            let v = restart.map(|r| r.catch_up_hours.get(t.name()).copied().flatten());
            let what = format!("catch_up_hours.{}", t.name());
            if not_nrt {
                bound(what, *b, Some(None));
            } else {
                bound(what, *b, v);
            }
        }
        for (t, b) in &e.recovery_hours {
            let v = restart.map(|r| match t {
                None => r.recovery_hours,
                Some(t) => r.recovery_hours_by_type.get(t.name()).copied().flatten(),
            });
            let name = t.map_or("all", |t| t.name());
            bound(format!("recovery_hours.{name}"), *b, v);
        }
        let mut harness = |what: &str| out.not_checked.push((line, what.to_owned(), HARNESS));
        if e.plan.is_some() {
            harness("plan");
        }
        if !e.nomad_running.is_empty() {
            harness("nomad_running");
        }
        if !e.sql.is_empty() {
            harness("sql");
        }
        if e.refused.is_some() {
            harness("refused");
        }
        if e.services_failing.is_some() {
            harness("services_failing");
        }
        if !e.errors_only.is_empty() {
            harness("errors_only");
        }
        if e.verdict.is_some() {
            harness("verdict");
        }
        if !e.findings.is_empty() {
            harness("findings");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{BoundOp, HoursBound, Scenario};

    #[test]
    fn hours_bounds_parse_and_hold() {
        let b = HoursBound::parse("<= 48h").unwrap();
        assert_eq!((b.op, b.hours), (BoundOp::Le, 48.0));
        assert!(b.holds(Some(48.0)) && !b.holds(Some(48.01)) && !b.holds(None));
        assert_eq!(HoursBound::parse("30").unwrap().op, BoundOp::Le);
        assert!(
            HoursBound::parse("> 2.5 h").unwrap().holds(None),
            "never is later than any bound"
        );
        for bad in ["", "soon", "<= -1", "< inf", "<= NaN", "1e7", "<<3"] {
            assert_eq!(HoursBound::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bad_bound_or_type_is_refused_where_it_is() {
        let src = "steps:\n  - expect:\n      recovery_hours: { all: soon }\n      lost_vs_baseline: { fsc_rlie_jb: 0 }\n";
        let e = Scenario::from_yaml_str(src, "s.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.yaml:3:30: error: `soon` is not a bound on hours"),
            "{e}"
        );
        assert!(
            e.contains("s.yaml:4:27: error: unknown job type `fsc_rlie_jb`"),
            "{e}"
        );
    }
}
