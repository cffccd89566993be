//! The simulation's vocabulary: the plan (`outages:` or `steps:`), outages, instants, job
//! types, counts (`advance` and `run_until` are read in the step dispatch).

use super::*;

impl Validator<'_> {
    pub(super) fn plan(&mut self, raw: &RawScenario, sc: &Scenario) -> Plan {
        if let (Some(_), Some(steps)) = (&raw.outages, &raw.steps) {
            self.err(
                steps,
                "a file uses `outages:` or `steps:`, not both",
                Some(
                    "write the outages as steps (`stop`, `advance`, `start`), or drop `outages:`"
                        .into(),
                ),
            );
        }
        let restart = match &raw.restart {
            None => Restart::All,
            Some(r) if raw.outages.is_none() => {
                let msg =
                    "`restart` applies to `outages:`; with `steps:` write the restart as steps";
                self.err(
                    r,
                    msg,
                    Some("remove `restart:`, or describe the outage with `outages:`".into()),
                );
                Restart::All
            }
            Some(r) => match r.value.as_str() {
                "all" => Restart::All,
                "waves" => Restart::Waves,
                other => {
                    let h = did_you_mean(other, ["all", "waves"].into_iter())
                        .or(Some("`all` or `waves`".into()));
                    self.err(r, format!("unknown restart plan `{other}`"), h);
                    Restart::All
                }
            },
        };
        if let Some(outages) = &raw.outages {
            return Plan::Outages(self.outages(outages, restart, sc));
        }
        match &raw.steps {
            Some(steps) => Plan::Steps(self.steps(steps)),
            None => Plan::Outages(Vec::new()),
        }
    }

    pub(super) fn outages(
        &mut self,
        list: &Spanned<Vec<Spanned<RawOutage>>>,
        restart: Restart,
        sc: &Scenario,
    ) -> Vec<Outage> {
        let mut out: Vec<Outage> = Vec::new();
        let horizon = Ms::from(sc.days) * DAY;
        for o in &list.value {
            let r = &o.value;
            let (start, length) = match (&r.start_day, &r.days, &r.start, &r.end) {
                (Some(sd), Some(d), None, None) => {
                    if !(sd.value >= 0.0
                        && d.value > 0.0
                        && sd.value.is_finite()
                        && d.value.is_finite())
                    {
                        self.err(
                            o,
                            "`start_day` must be 0 or more and `days` more than 0",
                            Some("e.g. `{start_day: 3, days: 0.5}` for 12 hours on day 3".into()),
                        );
                        continue;
                    }
                    (
                        (sd.value * DAY as f64).round() as Ms,
                        (d.value * DAY as f64).round() as Ms,
                    )
                }
                (None, None, Some(s), Some(e)) => {
                    let (Some(a), Some(b)) = (self.instant(s), self.instant(e)) else {
                        continue;
                    };
                    if a.0 < sc.start.0 {
                        let h = format!("the scenario starts at {}", sc.start.iso());
                        self.err(s, "the outage starts before the scenario", Some(h));
                        continue;
                    }
                    if b.0 <= a.0 {
                        self.err(
                            e,
                            "an outage must end after it starts",
                            Some("swap `start` and `end`".into()),
                        );
                        continue;
                    }
                    (a.0 - sc.start.0, b.0 - a.0)
                }
                _ => {
                    let h =
                        "write `{start_day: 3, days: 5}` or `{start: 2025-01-09, end: 2025-01-14}`";
                    self.err(
                        o,
                        "an outage is `start_day` + `days`, or `start` + `end`",
                        Some(h.into()),
                    );
                    continue;
                }
            };
            if let Some(prev) = out.last() {
                if prev.restart == Restart::Waves {
                    let h = "the waves end when the types are caught up, so a later outage has no fixed \
                             date: write the scenario as steps, or use `restart: all`";
                    self.err(o, "an outage after a restart in waves", Some(h.into()));
                    continue;
                }
                if start < prev.start + prev.length {
                    let h = format!(
                        "the previous outage ends on day {}",
                        (prev.start + prev.length) as f64 / DAY as f64
                    );
                    self.err(o, "outages must be in order and must not overlap", Some(h));
                    continue;
                }
            }
            if start + length > horizon {
                let h = format!(
                    "raise `days` to at least {}",
                    (start + length + DAY - 1) / DAY
                );
                self.err(
                    o,
                    format!("the outage ends after the horizon ({} days)", sc.days),
                    Some(h),
                );
                continue;
            }
            out.push(Outage {
                start,
                length,
                restart,
            });
        }
        out
    }

    pub(super) fn instant(&mut self, s: &Spanned<String>) -> Option<Instant> {
        match Instant::parse(&s.value) {
            Ok(i) => Some(i),
            Err(m) => {
                self.err(s, m, None);
                None
            }
        }
    }

    pub(super) fn types(&mut self, t: &Spanned<RawTypes>) -> Option<CaughtUp> {
        match &t.value {
            RawTypes::Word(w) if w == "all" => Some(CaughtUp::All),
            RawTypes::Word(w) => {
                let h = type_hint(w).or(Some(
                    "`all` or a list such as `[fsc_rlie_job, rlies1_job]`".into(),
                ));
                self.err(
                    t,
                    format!("expected `all` or a list of job types, found `{w}`"),
                    h,
                );
                None
            }
            RawTypes::List(items) => {
                let mut out = Vec::new();
                for it in items {
                    match JobType::from_name(&it.value) {
                        Some(jt) => out.push(jt),
                        None => self.err(
                            it,
                            format!("unknown job type `{}`", it.value),
                            type_hint(&it.value),
                        ),
                    }
                }
                (out.len() == items.len()).then_some(CaughtUp::Types(out))
            }
        }
    }

    pub(super) fn job_type(&mut self, s: &Spanned<String>) -> Option<JobType> {
        let t = JobType::from_name(&s.value);
        if t.is_none() {
            self.err(
                s,
                format!("unknown job type `{}`", s.value),
                type_hint(&s.value),
            );
        }
        t
    }

    pub(super) fn count(&mut self, c: &Spanned<RawCount>) -> Option<Count> {
        match &c.value {
            RawCount::Exact(n) => Some(Count::Eq(*n)),
            RawCount::Text(t) => {
                let n = Count::parse(t);
                if n.is_none() {
                    self.err(
                        c,
                        format!("`{t}` is not a count"),
                        Some("e.g. `0`, `\"> 0\"` or `\"<= 5\"`".into()),
                    );
                }
                n
            }
        }
    }
}

impl Validator<'_> {
    /// `advance: 5d`.
    pub(super) fn advance(&mut self, a: &Spanned<String>) -> Option<StepKind> {
        match parse_duration(&a.value) {
            Ok(ms) => Some(StepKind::Advance(ms)),
            Err(m) => {
                self.err(a, m, Some("e.g. `advance: 5d`".into()));
                None
            }
        }
    }

    /// `run_until: { caught_up: …, within: 72h }`.
    pub(super) fn run_until(&mut self, ru: &Spanned<RawRunUntil>) -> Option<StepKind> {
        let caught_up = self.types(&ru.value.caught_up)?;
        let within = match &ru.value.within {
            None => None,
            Some(w) => match parse_duration(&w.value) {
                Ok(ms) => Some(ms),
                Err(m) => {
                    self.err(w, m, Some("e.g. `within: 72h`".into()));
                    None
                }
            },
        };
        Some(StepKind::RunUntil { caught_up, within })
    }
}
