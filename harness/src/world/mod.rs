//! The world in PostgreSQL: a simulator [`Snapshot`](hrsi_sim::snapshot::Snapshot) written into
//! the `cosims` schema and read back.
//!
//! The database is the truth at step boundaries (design/architecture.md, "One truth during a
//! rehearsal"): before time advances the world is [`import`]ed (parameters, resume points, every
//! job with its fields and history, so hand patches are seen); after, what changed is written
//! with [`export_delta`]. [`export`] writes a whole snapshot into a fresh clone, and
//! [`history_template`] makes the template every scenario clones: the warm start plus N days of
//! simulated production.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), hrsi_harness::world::Error> {
//! use hrsi_harness::{postgres::Server, schema::Schema, world};
//! let server = Server::ephemeral()?;
//! let t = world::history_template(&server, &Schema::builtin(), &world::HistorySpec::default().config()).await?;
//! let admin = server.admin().await?;
//! let db = t.template.clone_db(&admin).await?;
//! let mut client = server.connect(&db).await?;
//! let back = world::import(&mut client, t.snapshot.epoch, t.snapshot.at).await?;
//! assert_eq!(back.snapshot, t.snapshot);
//! # Ok(()) }
//! ```

mod delta;
mod export;
mod import;
mod rows;
mod stream;
mod template;

pub use delta::{DeltaOptions, DeltaWritten, export_delta, export_delta_with};
pub use export::{ExportSummary, export};
pub use import::{Drift, Imported, MAX_JOBS, MAX_STATUS_CHANGES, import};
pub use template::{HistorySpec, HistoryTemplate, MAX_HISTORY_DAYS, history_template};

use hrsi_sim::snapshot::SnapshotError;

/// Why the world could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The snapshot holds what the database would refuse; nothing was written.
    #[error("refusing to export the world, nothing was written: {0}")]
    Invalid(#[from] SnapshotError),
    /// A PostgreSQL operation failed (the export's transaction was rolled back).
    #[error(transparent)]
    Postgres(#[from] crate::postgres::Error),
    /// A whole export into a database that already holds jobs.
    #[error(
        "refusing to export the world into a database that already holds {jobs} jobs\n(hint: export into a fresh clone of the schema template, or export only what changed with export_delta)"
    )]
    NotEmpty {
        /// Jobs found.
        jobs: i64,
    },
    /// The database changed under the world since the base snapshot.
    #[error(
        "refusing to export: job {job} in the database is at {found}, the world expected {expected}\n(hint: the database changed since the last export (an operator's SQL?): import it first, then export)"
    )]
    Moved {
        /// `parent_jobs.id`.
        job: i64,
        /// What the world's base says.
        expected: String,
        /// What the database holds.
        found: String,
    },
    /// A job of the base is missing from the new snapshot.
    #[error(
        "refusing to export: job {job} of the previous snapshot is missing from the new one\n(hint: the world never deletes jobs; compute the new snapshot from the imported one)"
    )]
    Missing {
        /// `parent_jobs.id`.
        job: i64,
    },
    /// The schema has no `check_status_change` trigger on `job_status_changes`.
    #[error(
        "the schema has no trigger `check_status_change` on cosims.job_status_changes\n(hint: the world is exported into the cosims schema of init_database.sql or the harness's own)"
    )]
    NoTrigger,
    /// A table the export writes carries a trigger the export would skip.
    #[error(
        "refusing to export: cosims.{table} has the trigger `{name}`, which the bulk load would skip\n(hint: the export does the work of the schema's own triggers only; export into a clone of a schema without it)"
    )]
    UnknownTrigger {
        /// The table.
        table: String,
        /// The trigger.
        name: String,
    },
    /// The schema has no `system_parameters` row to update.
    #[error(
        "cosims.system_parameters has no row to write the parameters into\n(hint: re-seed it with `insert into cosims.system_parameters (id) values (1)`)"
    )]
    NoParameterRow,
    /// A row the world cannot read.
    #[error("cannot read cosims.{table}, row {row}: {reason}")]
    BadData {
        /// The table.
        table: String,
        /// 1-based row number in the read order.
        row: usize,
        /// Why.
        reason: String,
    },
    /// More rows than the import accepts.
    #[error(
        "cosims {what} holds more than {limit} rows, more than the world imports\n(hint: rehearse on a smaller copy, e.g. one restored from a recent backup)"
    )]
    TooLarge {
        /// The table.
        what: String,
        /// The bound.
        limit: usize,
    },
    /// A template of more days than allowed.
    #[error("a history of {days} days is more than {max}\n(hint: use at most {max} days)")]
    TooManyDays {
        /// Days asked.
        days: u32,
        /// The bound.
        max: u32,
    },
}

/// Result alias of the world layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
