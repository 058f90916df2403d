//! Helpers shared by the end-to-end test binaries (dev-dependency only, never shipped):
//! [`harness`] runs a list of cases against one fixture and reports skips visibly;
//! [`registry`] starts the local registries of `tests/fixtures/`.

pub mod harness;
pub mod registry;
