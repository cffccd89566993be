//! Nomad steps: the system's jobs and the changes to their definitions.

use super::*;

impl Validator<'_> {
    /// One of the system's Nomad jobs.
    pub(super) fn nomad_job(&mut self, j: &Spanned<String>) -> Option<String> {
        if NOMAD_JOBS.contains(&j.value.as_str()) {
            return Some(j.value.clone());
        }
        let h = did_you_mean(&j.value, NOMAD_JOBS.iter().copied())
            .or_else(|| Some(format!("one of {}", NOMAD_JOBS.join(", "))));
        self.err(j, format!("unknown Nomad job `{}`", j.value), h);
        None
    }

    pub(super) fn nomad_change(&mut self, e: &Spanned<RawNomadEdit>) -> Option<NomadChange> {
        let job = self.nomad_job(&e.value.job)?;
        if e.value.image.is_none() && e.value.cpu.is_none() {
            self.err(
                e,
                "nothing to change",
                Some("give `image:` (a tag or a reference) or `cpu:` (MHz)".into()),
            );
            return None;
        }
        if let Some(c) = &e.value.cpu
            && !(1..=100_000).contains(&c.value)
        {
            self.err(
                c,
                format!("cpu {} MHz is out of range", c.value),
                Some("between 1 and 100000, e.g. `cpu: 1000`".into()),
            );
            return None;
        }
        if let Some(i) = &e.value.image
            && (i.value.is_empty()
                || i.value.len() > 300
                || i.value
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '\\'))
        {
            self.err(
                i,
                "not an image reference or tag",
                Some("e.g. `git-b7e71dc4`".into()),
            );
            return None;
        }
        Some(NomadChange {
            job,
            image: e.value.image.as_ref().map(|i| i.value.clone()),
            cpu: e.value.cpu.as_ref().map(|c| c.value),
        })
    }
}

impl Validator<'_> {
    /// `nomad_wait_gone: { job, within }`.
    pub(super) fn nomad_wait_gone(&mut self, w: &Spanned<RawNomadWait>) -> Option<StepKind> {
        let job = self.nomad_job(&w.value.job)?;
        match parse_duration(&w.value.within.value) {
            Ok(within) => Some(StepKind::NomadWaitGone { job, within }),
            Err(m) => {
                self.err(&w.value.within, m, Some("e.g. `within: 10m`".into()));
                None
            }
        }
    }
}
