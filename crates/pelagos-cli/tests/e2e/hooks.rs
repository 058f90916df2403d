//! stub

use crate::support::Case;

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![]
}
