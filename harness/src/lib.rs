//! Work in progress.

/// HTTP stand-ins for Nomad and OpenStack, and a client for the real services.
pub mod mocks;

/// The operator tools (`hrsi params set`, `hrsi jobs patch`) without their command line.
pub mod operator;

/// The database's HTTP API: a PostgREST-compatible subset over the `cosims` schema.
pub mod api;
/// Backups and restores with the real tools: pg_dumpall, borg, psql.
pub mod backup;
/// A generated, production-shaped `cosims` data set.
pub mod dataset;
/// The Terraform layout as a model, with the deployment scripts and their real effects.
pub mod iac;
/// Real PostgreSQL: ephemeral clusters, external servers, templates and clones.
/// `hrsi patch-test`: a database patch rehearsed on real PostgreSQL holding data.
pub mod patch;
pub mod postgres;
/// Running real `psql` and reading every error it prints.
pub mod psql;
/// `hrsi rehearse`: scenarios replayed against the real components and the stand-ins.
pub mod rehearse;
/// SQL scripts and schemas: our `cosims` schema and a loader for users' schema files.
pub mod schema;
/// UTC date formatting for archive names and SQL timestamps.
pub mod timefmt;
/// The simulator's world in the `cosims` schema: export (whole, incremental), import, and the
/// template holding a production-shaped history.
pub mod world;
