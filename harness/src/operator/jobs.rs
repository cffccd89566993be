//! `hrsi jobs patch` without its command line: the runbook's "Patch the system database jobs"
//! (`update_jobs_status()` of `patch_database_jobs.py`): select jobs of one type by last status
//! or by a time window on one of their date columns, optionally by id, then post a sequence of
//! statuses through the transition trigger, job by job, and report what changed and what the
//! matrix refused.
//!
//! Differences from the script, on purpose: the selection is paged (the script's first method
//! fails on `done`, which holds most jobs); a refused transition is reported and the next job
//! is patched (the script stops at the first exception); the current status is the last
//! history row, as the trigger reads it, so the prediction matches the trigger.

use std::collections::BTreeMap;

use hrsi_sim::status::{ALL, Status, allowed, allowed_change};

use super::{OpError, Refusal, Selection, Target, usage};
use crate::timefmt::UnixTime;

/// The job tables, by type name (database.md §1.3).
pub const TYPES: &[(&str, &str)] = &[
    ("fsc_rlie", "fsc_rlie_jobs"),
    ("rlies1", "rlies1_jobs"),
    ("rlies1s2", "rlies1s2_jobs"),
    ("sws_wds", "sws_wds_jobs"),
    ("gfsc", "gfsc_jobs"),
    ("psa_arlie", "psa_arlie_jobs"),
    ("test", "test_jobs"),
];

/// Most `ids` one patch takes.
pub const MAX_IDS: usize = 1000;

/// The job table of a type (`fsc_rlie` or `fsc_rlie_job`).
pub fn table_for(t: &str) -> Result<&'static str, OpError> {
    let short = t.strip_suffix("_job").unwrap_or(t);
    TYPES
        .iter()
        .find(|(n, _)| *n == short)
        .map(|(_, table)| *table)
        .ok_or_else(|| {
            let near = hrsi_sim::params::closest(short, TYPES.iter().map(|(n, _)| *n));
            usage(format!(
                "unknown job type `{t}`{}\n(hint: one of {})",
                near.map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default(),
                TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ))
        })
}

/// A status by name or id.
pub fn parse_status(s: &str) -> Result<Status, OpError> {
    let s = s.trim();
    if let Ok(id) = s.parse::<u8>() {
        return Status::from_id(id).ok_or_else(|| usage(format!("unknown status id {id} (1..16)")));
    }
    ALL.iter()
        .copied()
        .find(|st| st.name() == s)
        .ok_or_else(|| {
            let near = hrsi_sim::params::closest(s, ALL.iter().map(|st| st.name()));
            usage(format!(
                "unknown status `{s}`{}\n(hint: one of {})",
                near.map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default(),
                ALL.iter()
                    .map(|st| st.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

fn sql_time(s: &str) -> Result<String, OpError> {
    let i = hrsi_sim::time::Instant::parse(s).map_err(usage)?;
    Ok(UnixTime(i.0.div_euclid(1000)).sql())
}

/// Why the matrix refuses `from → to`.
pub fn matrix_reason(from: Option<Status>, to: Status) -> String {
    let targets: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|t| allowed_change(from, *t))
        .map(Status::name)
        .collect();
    match from {
        None => format!("a job's first status must be one of {}", targets.join(", ")),
        Some(f) => format!(
            "the matrix allows {} -> {} only (not {})",
            f.name(),
            targets.join(", "),
            to.name()
        ),
    }
}

/// What the operator asks, as typed (names or ids, ISO times).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Job type (`fsc_rlie` or `fsc_rlie_job`).
    pub job_type: String,
    /// Select by last status.
    pub status: Vec<String>,
    /// Select by a window on this timestamp column…
    pub date_column: Option<String>,
    /// …from (inclusive)…
    pub from: Option<String>,
    /// …to (exclusive; default: now).
    pub to: Option<String>,
    /// Only these job ids.
    pub ids: Vec<i64>,
    /// The statuses to post, in order.
    pub post: Vec<String>,
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct Patch {
    /// The job table.
    pub table: &'static str,
    /// The selection.
    pub selection: Selection,
    /// The statuses to post, in order.
    pub post: Vec<Status>,
}

impl Patch {
    /// Checks a request; `now` ends a window without `to` (the wall clock for the CLI, virtual
    /// time in a rehearsal).
    pub fn new(r: &Request, now: UnixTime) -> Result<Patch, OpError> {
        let table = table_for(&r.job_type)?;
        let statuses = r
            .status
            .iter()
            .map(|s| parse_status(s))
            .collect::<Result<Vec<_>, _>>()?;
        let post = r
            .post
            .iter()
            .map(|s| parse_status(s))
            .collect::<Result<Vec<_>, _>>()?;
        if post.is_empty() {
            return Err(usage("--post needs at least one status"));
        }
        let window = match (&r.date_column, &r.from) {
            (Some(col), Some(from)) => {
                if col.is_empty()
                    || !col
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    return Err(usage(format!("`{col}` is not a column name")));
                }
                let to = match &r.to {
                    Some(t) => sql_time(t)?,
                    None => now.sql(),
                };
                Some((col.clone(), sql_time(from)?, to))
            }
            _ => None,
        };
        if statuses.is_empty() && window.is_none() && r.ids.is_empty() {
            return Err(usage(
                "no selection: give --status, or --date-column with --from, and/or --ids\n(hint: patching every job of a type is never what the runbook asks)",
            ));
        }
        if r.ids.len() > MAX_IDS {
            return Err(usage(format!(
                "at most {MAX_IDS} --ids; select by status or time window instead"
            )));
        }
        Ok(Patch {
            table,
            selection: Selection {
                statuses: statuses.iter().map(|s| s.id()).collect(),
                window,
                ids: r.ids.clone(),
            },
            post,
        })
    }

    /// The type's short name (`fsc_rlie`).
    pub fn type_name(&self) -> &'static str {
        self.table.trim_end_matches("_jobs")
    }

    /// The statuses to post, as `a -> b`.
    pub fn post_names(&self) -> String {
        self.post
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    /// The selected jobs and what the matrix predicts for each (nothing changed yet).
    /// `page_size` jobs per request; more than `max_jobs` selected is refused.
    pub async fn plan(
        &self,
        target: &Target,
        page_size: u32,
        max_jobs: u32,
    ) -> Result<Vec<Outcome>, OpError> {
        if self.table == "psa_arlie_jobs"
            && !self.selection.statuses.is_empty()
            && matches!(target, Target::Api { .. })
        {
            // The status selection reads the dashboard view, and the legacy PSA/ARLIE table
            // has none.
            return Err(usage(
                "psa_arlie jobs have no view to select by status through the API\n(hint: use --database-url, or select by --date-column / --ids)",
            ));
        }
        let page_size = page_size.max(1);
        let mut jobs: Vec<(i64, i64)> = Vec::new();
        let mut after = 0i64;
        loop {
            let page = target
                .select_jobs(self.table, &self.selection, after, page_size)
                .await?;
            let n = page.len();
            if let Some(last) = page.last() {
                after = last.1;
            }
            jobs.extend(page);
            if jobs.len() > max_jobs as usize {
                return Err(usage(format!(
                    "more than {max_jobs} jobs match; narrow the selection (a shorter time window, --ids) or raise --max-jobs"
                )));
            }
            if n < page_size as usize {
                break;
            }
        }
        let mut current: BTreeMap<i64, u8> = BTreeMap::new();
        for chunk in jobs.chunks(page_size as usize) {
            let parents: Vec<i64> = chunk.iter().map(|j| j.1).collect();
            current.extend(target.current_status(&parents).await?);
        }
        Ok(jobs
            .iter()
            .map(|&(id, parent)| {
                let from = current.get(&parent).and_then(|s| Status::from_id(*s));
                let mut o = Outcome {
                    id,
                    parent,
                    from,
                    taken: Vec::new(),
                    refused: None,
                };
                let mut cur = from;
                for &s in &self.post {
                    if !allowed_change(cur, s) {
                        o.refused = Some((cur, s, matrix_reason(cur, s)));
                        break;
                    }
                    o.taken.push(s);
                    cur = Some(s);
                }
                o
            })
            .collect())
    }

    /// Posts every status of the patch to every planned job through the trigger; a refusal
    /// ends that job's sequence (with PostgreSQL's message). `done` is told each job's outcome
    /// as it ends.
    pub async fn run(
        &self,
        target: &Target,
        plan: &[Outcome],
        mut done: impl FnMut(&Outcome),
    ) -> Result<Vec<Outcome>, OpError> {
        let mut outcomes = Vec::with_capacity(plan.len());
        for p in plan {
            let mut o = Outcome {
                taken: Vec::new(),
                refused: None,
                ..p.clone()
            };
            let mut cur = o.from;
            for &s in &self.post {
                match target.post_status(o.parent, s.id()).await? {
                    Ok(()) => {
                        o.taken.push(s);
                        cur = Some(s);
                    }
                    Err(Refusal { code, message }) => {
                        let why = match cur {
                            Some(f) if !allowed(f, s) => {
                                format!("{message} ({code}); {}", matrix_reason(cur, s))
                            }
                            _ => format!("{message} ({code})"),
                        };
                        o.refused = Some((cur, s, why));
                        break;
                    }
                }
            }
            done(&o);
            outcomes.push(o);
        }
        Ok(outcomes)
    }
}

/// What happened (or would happen) to one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The job table's id.
    pub id: i64,
    /// Its parent job.
    pub parent: i64,
    /// Its status before the patch.
    pub from: Option<Status>,
    /// Statuses taken, in order.
    pub taken: Vec<Status>,
    /// The refused step: (from, to, why).
    pub refused: Option<(Option<Status>, Status, String)>,
}

fn name(s: Option<Status>) -> &'static str {
    s.map_or("(no status)", Status::name)
}

impl Outcome {
    /// One report line: `job ID (parent P): a -> b[: refused a -> c: why]`.
    pub fn line(&self, dry: bool) -> String {
        let mut path = vec![name(self.from)];
        path.extend(self.taken.iter().map(|s| s.name()));
        let head = format!(
            "job {} (parent {}): {}",
            self.id,
            self.parent,
            path.join(" -> ")
        );
        match &self.refused {
            None => head,
            Some((from, to, why)) => format!(
                "{head}: {} {} -> {}: {why}",
                if dry { "would be refused" } else { "refused" },
                name(*from),
                to.name()
            ),
        }
    }
}

/// The closing line of a run: `changed N job(s) (M fully), R refused, of S selected`.
pub fn summary(outcomes: &[Outcome]) -> String {
    let refused = outcomes.iter().filter(|o| o.refused.is_some()).count();
    let changed = outcomes.iter().filter(|o| !o.taken.is_empty()).count();
    format!(
        "changed {changed} job(s) ({} fully), {refused} refused, of {} selected",
        outcomes.len() - refused,
        outcomes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_statuses_parse_with_suggestions() {
        assert_eq!(table_for("fsc_rlie_job").unwrap(), "fsc_rlie_jobs");
        assert_eq!(table_for("gfsc").unwrap(), "gfsc_jobs");
        assert!(format!("{}", table_for("fscrlie").unwrap_err()).contains("fsc_rlie"));
        assert_eq!(parse_status("13").unwrap(), Status::InternalError);
        assert_eq!(parse_status("error_checked").unwrap(), Status::ErrorChecked);
        assert!(format!("{}", parse_status("error_check").unwrap_err()).contains("error_checked"));
        assert!(parse_status("17").is_err());
    }

    #[test]
    fn the_matrix_reason_lists_the_allowed_targets() {
        assert_eq!(
            matrix_reason(Some(Status::InternalError), Status::Ready),
            "the matrix allows internal_error -> internal_error, external_error, error_checked only (not ready)"
        );
    }

    #[test]
    fn a_request_needs_a_selection_and_statuses_to_post() {
        let now = UnixTime(1_736_121_600);
        let mut r = Request {
            job_type: "fsc_rlie".into(),
            post: vec!["error_checked".into(), "ready".into()],
            ..Request::default()
        };
        assert!(
            Patch::new(&r, now)
                .unwrap_err()
                .to_string()
                .contains("no selection")
        );
        r.status = vec!["internal_error".into()];
        let p = Patch::new(&r, now).unwrap();
        assert_eq!(p.selection.statuses, vec![13]);
        assert_eq!(p.post_names(), "error_checked -> ready");
        r.date_column = Some("measurement_date; drop table x".into());
        r.from = Some("2025-01-01".into());
        assert!(Patch::new(&r, now).is_err());
        r.date_column = Some("measurement_date".into());
        let p = Patch::new(&r, now).unwrap();
        assert_eq!(p.selection.window.unwrap().2, "2025-01-06 00:00:00");
        r.post.clear();
        assert!(Patch::new(&r, now).is_err());
    }
}
