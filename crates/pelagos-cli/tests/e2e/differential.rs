//! stub

use crate::support::Runtime;

/// A differential case: oracle, pelagos.
pub type DiffFn = fn(&Runtime, &Runtime) -> anyhow::Result<()>;

/// The table.
pub fn cases() -> Vec<(&'static str, DiffFn)> {
    vec![]
}
