//! The operator tools: `hrsi params get|set` and `hrsi jobs patch` without their command line,
//! so that the CLI and a rehearsal's `set_param` and `patch_jobs` steps run the same checks
//! and reach the database the same way (its HTTP API, as the operator scripts do, or a
//! PostgreSQL URL, as `sudo -u postgres psql` does).

pub mod jobs;
pub mod params;
mod target;

pub use target::{Refusal, Selection, Target};

/// Why an operator tool did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// Bad input (unknown name, wrong type, invalid value): nothing changed.
    #[error("{0}")]
    Usage(String),
    /// The API or the database could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The API or the database refused or failed.
    #[error("{0}")]
    Failed(String),
}

/// Bad input.
pub fn usage(msg: impl Into<String>) -> OpError {
    OpError::Usage(msg.into())
}

fn failed(msg: impl Into<String>) -> OpError {
    OpError::Failed(msg.into())
}
