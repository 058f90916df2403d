//! Shared machinery of the end-to-end tests: runtimes, bundles, container guards, cleanup,
//! the test-case table type and small assertion helpers.

pub mod bundle;
pub mod cleanup;
pub mod container;
pub mod runtime;

use anyhow::{bail, Result};

pub use bundle::Bundle;
pub use container::Container;
pub use runtime::Runtime;

/// How long a container may take to reach an expected state; generous because the test
/// machine may be loaded by parallel builds.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(30);

/// A test body, run once per runtime.
pub type TestFn = fn(&Runtime) -> Result<()>;

/// Which runtimes a case applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Only {
    /// Every runtime in the list.
    All,
    /// pelagos-runtime only (runc's behaviour differs and is not the reference).
    Pelagos,
}

/// One entry of a module's test table.
pub struct Case {
    /// Name below the module, e.g. `caps` (the runtime name is appended).
    pub name: &'static str,
    /// The body.
    pub run: TestFn,
    /// Which runtimes it runs for.
    pub only: Only,
}

/// A case that runs for every runtime.
pub const fn case(name: &'static str, run: TestFn) -> Case {
    Case {
        name,
        run,
        only: Only::All,
    }
}

/// A case that runs for pelagos-runtime only.
pub const fn pelagos_case(name: &'static str, run: TestFn) -> Case {
    Case {
        name,
        run,
        only: Only::Pelagos,
    }
}

/// Fails unless `hay` contains `needle`, showing both.
pub fn expect_contains(what: &str, hay: &str, needle: &str) -> Result<()> {
    if !hay.contains(needle) {
        bail!("{what}: expected to contain {needle:?}, got:\n{hay}");
    }
    Ok(())
}

/// Fails unless `a == b`, showing both.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<()> {
    if got != want {
        bail!("{what}: expected {want:?}, got {got:?}");
    }
    Ok(())
}

/// The value of a `Key:\tvalue` line (as in /proc/self/status), whitespace-trimmed.
pub fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}
