//! `patch_jobs`: `hrsi jobs patch` as a step. The names are checked here, before anything
//! runs; the selection and the transitions are the tool's and the database's business.

use hrsi_sim::status::ALL as STATUSES;

use super::*;

/// The job tables' types as `hrsi jobs patch --type` takes them (database.md §1.3): the
/// `job_types_list` names, and the two tables no job type of the model has.
fn patch_types() -> Vec<&'static str> {
    ALL_TYPES
        .iter()
        .map(|t| t.name())
        .chain(["psa_arlie_job", "test_job"])
        .collect()
}

/// Most `ids` one step takes (the tool's bound).
const MAX_IDS: usize = 1000;
/// Most statuses one step posts (the longest path through the matrix is shorter).
const MAX_POST: usize = 16;

impl Validator<'_> {
    pub(super) fn patch_jobs(&mut self, p: &Spanned<RawPatchJobs>) -> Option<JobsPatch> {
        let r = &p.value;
        let n = self.errors.len();
        let t = &r.job_type.value;
        let types = patch_types();
        let full = if t.ends_with("_job") {
            t.clone()
        } else {
            format!("{t}_job")
        };
        if !types.contains(&full.as_str()) {
            let h = did_you_mean(t, types.iter().copied())
                .or_else(|| Some(format!("one of {}", types.join(", "))));
            self.err(&r.job_type, format!("unknown job type `{t}`"), h);
        }
        let status: Vec<String> = r
            .status
            .iter()
            .flatten()
            .filter_map(|s| self.status(s))
            .collect();
        if r.post.value.is_empty() || r.post.value.len() > MAX_POST {
            self.err(
                &r.post,
                format!("`post` lists 1 to {MAX_POST} statuses"),
                Some("e.g. `post: [error_checked, ready]`".into()),
            );
        }
        let post: Vec<String> = r.post.value.iter().filter_map(|s| self.status(s)).collect();
        let ids = r.ids.as_ref().map(|i| i.value.clone()).unwrap_or_default();
        if let Some(i) = &r.ids
            && (i.value.is_empty() || i.value.len() > MAX_IDS || i.value.iter().any(|&x| x < 1))
        {
            self.err(
                i,
                format!("`ids` lists 1 to {MAX_IDS} job ids (positive)"),
                Some("the job table's `id`, as `job.id` in patch_database_jobs.py; or select by `status:`".into()),
            );
        }
        if status.is_empty() && ids.is_empty() && r.status.is_none() && r.ids.is_none() {
            self.err(
                p,
                "`patch_jobs` selects nothing",
                Some("give `status: [internal_error]` and/or `ids: [...]`: patching every job of a type is never what the runbook asks".into()),
            );
        }
        if self.errors.len() > n {
            return None;
        }
        Some(JobsPatch {
            job_type: t.clone(),
            status,
            ids,
            post,
        })
    }

    /// A status of `cosims.job_status`, by name.
    fn status(&mut self, s: &Spanned<String>) -> Option<String> {
        if STATUSES.iter().any(|st| st.name() == s.value) {
            return Some(s.value.clone());
        }
        let h = did_you_mean(&s.value, STATUSES.iter().map(|st| st.name())).or_else(|| {
            Some(format!(
                "one of {}",
                STATUSES
                    .iter()
                    .map(|st| st.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        });
        self.err(s, format!("unknown job status `{}`", s.value), h);
        None
    }
}
