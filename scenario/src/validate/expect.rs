//! `expect:`: what the harness can observe after a step (the simulator's own figures are in
//! `sim_expect`).

use super::*;

/// What `hrsi patch-test` concludes (its `result`).
const VERDICTS: [&str; 5] = [
    "applies",
    "applies-with-findings",
    "fails",
    "timed-out",
    "not-run",
];

impl Validator<'_> {
    pub(super) fn patterns(&mut self, list: Option<&Vec<Spanned<String>>>) -> Vec<String> {
        let mut out = Vec::new();
        for p in list.into_iter().flatten() {
            match regex::RegexBuilder::new(&p.value)
                .size_limit(1 << 20)
                .build()
            {
                Ok(_) => out.push(p.value.clone()),
                Err(e) => {
                    let msg = e.to_string();
                    let last = msg.lines().last().unwrap_or("").trim();
                    let first = last.strip_prefix("error: ").unwrap_or(last).to_owned();
                    self.err(p, format!("not a valid pattern: {first}"), Some("a regular expression; escape `(`, `[`, `.` and `*` with `\\` to match them literally".into()));
                }
            }
        }
        out
    }

    pub(super) fn expect(&mut self, e: &RawExpect) -> Expect {
        let mut out = Expect {
            plan: e.plan.as_ref().map(|p| PlanCounts {
                add: p.value.add,
                change: p.value.change,
                destroy: p.value.destroy,
            }),
            nomad_running: e
                .nomad_running
                .iter()
                .flatten()
                .map(|n| n.value.clone())
                .collect(),
            refused: e.refused.as_ref().map(|r| r.value.clone()),
            exit_code: e.exit_code.as_ref().map(|c| c.value),
            no_errors: e.no_errors.unwrap_or(false),
            database_running: e.database_running,
            ..Expect::default()
        };
        out.errors_only = self.patterns(e.errors_only.as_ref());
        out.errors = self.patterns(e.errors.as_ref());
        out.output = self.patterns(e.output.as_ref());
        out.no_output = self.patterns(e.no_output.as_ref());
        for (job, state) in e.nomad_jobs.iter().flat_map(|p| &p.0) {
            if self.nomad_job(job).is_none() {
                continue;
            }
            if !["running", "pending", "dead", "absent"].contains(&state.value.as_str()) {
                let h = did_you_mean(
                    &state.value,
                    ["running", "pending", "dead", "absent"].into_iter(),
                )
                .or(Some("`running`, `pending`, `dead` or `absent`".into()));
                self.err(state, format!("unknown job state `{}`", state.value), h);
                continue;
            }
            out.nomad_jobs
                .insert(job.value.clone(), state.value.clone());
        }
        for (job, spec) in e.nomad_spec.iter().flat_map(|p| &p.0) {
            if self.nomad_job(job).is_some() {
                out.nomad_spec.insert(
                    job.value.clone(),
                    NomadSpec {
                        image: spec.value.image.clone(),
                        cpu: spec.value.cpu,
                        running: spec.value.running,
                    },
                );
            }
        }
        if let Some(s) = &e.openstack_servers {
            out.openstack_servers = Some(ServersCheck {
                count: s.value.count.as_ref().and_then(|c| self.count(c)),
                include: s
                    .value
                    .include
                    .iter()
                    .flatten()
                    .map(|x| x.value.clone())
                    .collect(),
                exclude: s
                    .value
                    .exclude
                    .iter()
                    .flatten()
                    .map(|x| x.value.clone())
                    .collect(),
            });
        }
        if let Some(c) = &e.caught_up {
            out.caught_up = self.types(c);
        }
        out.workers = e.workers.as_ref().and_then(|c| self.count(c));
        for (t, c) in e.backlog.iter().flat_map(|p| &p.0) {
            if let (Some(t), Some(c)) = (self.job_type(t), self.count(c)) {
                out.backlog.insert(t, c);
            }
        }
        for (t, c) in e.lost.iter().flat_map(|p| &p.0) {
            if let (Some(t), Some(c)) = (self.job_type(t), self.count(c)) {
                out.lost.insert(t, c);
            }
        }
        for (t, reasons) in e.lost_reasons.iter().flat_map(|p| &p.0) {
            let t = self.job_type(t);
            for (reason, c) in &reasons.value.0 {
                if !lost_reasons().any(|r| r == reason.value) {
                    let h = did_you_mean(&reason.value, lost_reasons()).or_else(|| {
                        Some(format!(
                            "one of {}",
                            lost_reasons().collect::<Vec<_>>().join(", ")
                        ))
                    });
                    self.err(reason, format!("unknown lost reason `{}`", reason.value), h);
                    continue;
                }
                if let (Some(t), Some(c)) = (t, self.count(c)) {
                    out.lost_reasons
                        .entry(t)
                        .or_default()
                        .insert(reason.value.clone(), c);
                }
            }
        }
        for q in e.sql.iter().flatten() {
            let equals = q.value.equals.as_ref().and_then(|v| match &v.value {
                ParamValue::Null => Some("null".to_owned()),
                ParamValue::Scalar(s) => Some(s.clone()),
                ParamValue::List(_) => {
                    self.err(
                        v,
                        "`equals` takes one value",
                        Some("e.g. `equals: 0`".into()),
                    );
                    None
                }
            });
            let equals_backup = q.value.equals_backup.unwrap_or(false);
            if equals.is_none() && !equals_backup {
                self.err(
                    q,
                    "an SQL check needs `equals:` or `equals_backup: true`",
                    Some("e.g. `equals: 0` under `query:`".into()),
                );
            }
            out.sql.push(SqlCheck {
                query: q.value.query.value.clone(),
                equals,
                equals_backup,
            });
        }
        if let Some(s) = &e.services_failing {
            out.services_failing = match &s.value {
                RawTypes::Word(w) if w == "all" => Some(Services::All),
                RawTypes::Word(w) if w == "none" => Some(Services::None),
                RawTypes::Word(w) => {
                    self.err(
                        s,
                        format!("expected `all`, `none` or a list of services, found `{w}`"),
                        did_you_mean(w, ["all", "none"].into_iter()),
                    );
                    None
                }
                RawTypes::List(l) => {
                    Some(Services::Named(l.iter().map(|x| x.value.clone()).collect()))
                }
            };
        }
        if let Some(v) = &e.verdict {
            if VERDICTS.contains(&v.value.as_str()) {
                out.verdict = Some(v.value.clone());
            } else {
                let h = did_you_mean(&v.value, VERDICTS.into_iter())
                    .or_else(|| Some(format!("one of {}", VERDICTS.join(", "))));
                self.err(v, format!("unknown patch-test verdict `{}`", v.value), h);
            }
        }
        out.findings = self.patterns(e.findings.as_ref());
        self.sim_expect(e, &mut out);
        out
    }

    /// Expectations only one step kind produces, refused elsewhere (they could never hold).
    pub(super) fn results_of(&mut self, kind: &StepKind, e: &RawExpect) {
        if matches!(kind, StepKind::PatchTest(_)) {
            return;
        }
        let hint = Some("`verdict` and `findings` are the outcome of a `patch_test` step".into());
        if let Some(v) = &e.verdict {
            self.err(
                v,
                "`verdict` after a step that tests no patch",
                hint.clone(),
            );
        }
        if let Some(f) = e.findings.as_ref().and_then(|f| f.first()) {
            self.err(f, "`findings` after a step that tests no patch", hint);
        }
    }
}
