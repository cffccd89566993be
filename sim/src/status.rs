//! The 16 job statuses and the allowed transitions of `cosims.check_status_change()`.
//!
//! This table is the single truth shared by the simulator (which only ever moves jobs along
//! allowed transitions) and the harness (whose test replays all 272 cases against the real
//! trigger in PostgreSQL and compares them with [`allowed_first`] and [`allowed`]).

use serde::{Deserialize, Serialize};

/// A job status, with the ids of the `cosims.job_status` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Status {
    /// 1: created by the job-creation service.
    Initialized = 1,
    /// 2: configured (inputs resolved) by the job-configuration service.
    Configured = 2,
    /// 3: ready to be dispatched.
    Ready = 3,
    /// 4: dispatched to Nomad, waiting for a worker.
    Queued = 4,
    /// 5: a worker picked it up (also the first status of service jobs).
    Started = 5,
    /// 6: worker pre-processing (downloads).
    PreProcessing = 6,
    /// 7: the processing chain runs.
    Processing = 7,
    /// 8: worker post-processing (uploads).
    PostProcessing = 8,
    /// 9: processed, waiting for publication.
    Processed = 9,
    /// 10: the publication service is publishing it.
    StartPublication = 10,
    /// 11: published (catalogue notified).
    Published = 11,
    /// 12: nothing left to do.
    Done = 12,
    /// 13: an internal error (a bug, or retries exhausted).
    InternalError = 13,
    /// 14: an external error (a dependency failed); retried.
    ExternalError = 14,
    /// 15: an error was handled; the job may go anywhere from here.
    ErrorChecked = 15,
    /// 16: cancelled.
    Cancelled = 16,
}

/// Every status, in id order.
pub const ALL: [Status; 16] = [
    Status::Initialized,
    Status::Configured,
    Status::Ready,
    Status::Queued,
    Status::Started,
    Status::PreProcessing,
    Status::Processing,
    Status::PostProcessing,
    Status::Processed,
    Status::StartPublication,
    Status::Published,
    Status::Done,
    Status::InternalError,
    Status::ExternalError,
    Status::ErrorChecked,
    Status::Cancelled,
];

impl Status {
    /// The id in `cosims.job_status`.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// The status with this id, if any.
    pub fn from_id(id: u8) -> Option<Status> {
        ALL.get(usize::from(id).checked_sub(1)?).copied()
    }

    /// The name in `cosims.job_status`.
    pub fn name(self) -> &'static str {
        NAMES[usize::from(self.id() - 1)]
    }

    /// Whether the job is in one of the statuses a worker runs (5..=8).
    pub fn is_running(self) -> bool {
        (5..=8).contains(&self.id())
    }
}

const NAMES: [&str; 16] = [
    "initialized",
    "configured",
    "ready",
    "queued",
    "started",
    "pre_processing",
    "processing",
    "post_processing",
    "processed",
    "start_publication",
    "published",
    "done",
    "internal_error",
    "external_error",
    "error_checked",
    "cancelled",
];

/// Bit `to - 1` of `ALLOWED[from - 1]` is set when `from → to` is allowed. Read off the
/// brute-forced matrix in the domain facts (database.md §2.2).
const ALLOWED: [u16; 16] = [
    bits(&[2, 13, 14, 16]),      // 1 initialized
    bits(&[3, 13, 16]),          // 2 configured (no 14)
    bits(&[4, 13, 14, 16]),      // 3 ready
    bits(&[5, 13]),              // 4 queued
    bits(&[6, 13, 14, 16]),      // 5 started
    bits(&[7, 13, 14, 16]),      // 6 pre_processing
    bits(&[8, 13, 14, 16]),      // 7 processing
    bits(&[9, 13, 14, 16]),      // 8 post_processing
    bits(&[10, 12, 13, 14, 16]), // 9 processed
    bits(&[11, 13, 14, 16]),     // 10 start_publication
    bits(&[12]),                 // 11 published
    bits(&[13, 14]),             // 12 done
    bits(&[13, 14, 15]),         // 13 internal_error
    bits(&[5, 13, 14, 15]),      // 14 external_error
    0xFFFF,                      // 15 error_checked: anything, itself included
    bits(&[13]),                 // 16 cancelled
];

const FIRST: u16 = bits(&[1, 5, 13, 16]);

const fn bits(ids: &[u8]) -> u16 {
    let mut m = 0u16;
    let mut i = 0;
    while i < ids.len() {
        m |= 1 << (ids[i] - 1);
        i += 1;
    }
    m
}

/// Whether a job with no status history may get `to` as its first status.
pub fn allowed_first(to: Status) -> bool {
    FIRST & (1 << (to.id() - 1)) != 0
}

/// Whether `from → to` is allowed by `cosims.check_status_change()`.
pub fn allowed(from: Status, to: Status) -> bool {
    ALLOWED[usize::from(from.id() - 1)] & (1 << (to.id() - 1)) != 0
}

/// Whether `from → to` is allowed, `None` meaning the job has no history yet.
pub fn allowed_change(from: Option<Status>, to: Status) -> bool {
    match from {
        None => allowed_first(to),
        Some(f) => allowed(f, to),
    }
}

/// Checks a whole status path (first status included) against the table.
pub fn check_path(path: &[Status]) -> Result<(), (Option<Status>, Status)> {
    let mut prev = None;
    for &s in path {
        if !allowed_change(prev, s) {
            return Err((prev, s));
        }
        prev = Some(s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        for s in ALL {
            assert_eq!(Status::from_id(s.id()), Some(s));
        }
        assert_eq!(Status::from_id(0), None);
        assert_eq!(Status::from_id(17), None);
        assert_eq!(Status::ErrorChecked.name(), "error_checked");
    }

    #[test]
    fn nominal_chain_is_allowed() {
        let chain = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(|i| Status::from_id(i).unwrap());
        assert_eq!(check_path(&chain), Ok(()));
    }

    #[test]
    fn only_error_statuses_repeat() {
        for s in ALL {
            let repeat = matches!(
                s,
                Status::InternalError | Status::ExternalError | Status::ErrorChecked
            );
            assert_eq!(allowed(s, s), repeat, "{s:?}");
        }
    }

    #[test]
    fn recovery_goes_through_error_checked() {
        assert!(!allowed(Status::InternalError, Status::Ready));
        assert!(
            check_path(&[
                Status::Initialized,
                Status::InternalError,
                Status::ErrorChecked,
                Status::Ready
            ])
            .is_ok()
        );
        assert!(!allowed(Status::Queued, Status::Ready));
        assert!(allowed(Status::ExternalError, Status::Started));
    }

    #[test]
    fn matrix_has_the_documented_size() {
        let n: u32 = ALLOWED.iter().map(|m| m.count_ones()).sum();
        // 4+3+4+2+4+4+4+4+5+4+1+2+3+4+16+1 allowed pairs out of 256.
        assert_eq!(n, 65);
        assert_eq!(FIRST.count_ones(), 4);
    }
}
