//! Work in progress.

/// HTTP stand-ins for Nomad and OpenStack, and a client for the real services.
pub mod mocks;
