//! Exit codes of `hrsi`, the same for every subcommand.

/// Everything ran and every expectation held.
pub const OK: u8 = 0;
/// The thing under test failed: a patch that does not apply, an expectation that did not hold.
pub const FAILED: u8 = 1;
/// Bad input: an invalid scenario file, parameter value, patch path or URL. Nothing ran.
pub const USAGE: u8 = 2;
/// The environment could not be set up (no PostgreSQL binaries, borg missing, ...).
pub const SETUP: u8 = 3;
