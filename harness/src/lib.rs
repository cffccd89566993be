//! Work in progress.

/// HTTP stand-ins for Nomad and OpenStack, and a client for the real services.
pub mod mocks;

/// Real PostgreSQL: ephemeral clusters, external servers, templates and clones.
pub mod postgres;
/// SQL scripts and schemas: our `cosims` schema and a loader for users' schema files.
pub mod schema;
/// Running real `psql` and reading every error it prints.
pub mod psql;
/// A generated, production-shaped `cosims` data set.
pub mod dataset;
/// UTC date formatting for archive names and SQL timestamps.
pub mod timefmt;
/// The Terraform layout as a model, with the deployment scripts and their real effects.
pub mod iac;
