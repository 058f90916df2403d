//! `Paths`: the one place that knows where pelagos keeps things on disk.
//!
//! The data root comes from the caller (`--root`), else `PELAGOS_ROOT`, else
//! `/var/lib/pelagos` for root and `$XDG_DATA_HOME/pelagos` (or
//! `~/.local/share/pelagos`) for other users. This module is the only reader of those
//! environment variables; everything else receives a `Paths` or a directory from it.

use std::path::{Path, PathBuf};

/// Environment variable overriding the data root.
pub const ROOT_ENV: &str = "PELAGOS_ROOT";
/// Data root for root.
pub const DEFAULT_ROOT: &str = "/var/lib/pelagos";

/// Directory locations, all below one data root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    /// Paths below an explicit root (tests pass a tempdir).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Resolve the root: `flag` (from `--root`) wins, then `PELAGOS_ROOT`, then the
    /// per-user default.
    pub fn resolve(flag: Option<&Path>) -> Self {
        if let Some(f) = flag {
            return Self::new(f);
        }
        match std::env::var_os(ROOT_ENV) {
            Some(v) if !v.is_empty() => Self::new(PathBuf::from(v)),
            _ => Self::new(default_root()),
        }
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The content-addressed image store.
    pub fn image_store(&self) -> PathBuf {
        self.root.join("images")
    }

    /// Per-container state.
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
}

fn default_root() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from(DEFAULT_ROOT);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("pelagos");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/pelagos"),
        None => PathBuf::from(DEFAULT_ROOT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_and_children_are_below_root() {
        let p = Paths::resolve(Some(Path::new("/x/y")));
        assert_eq!(p.root(), Path::new("/x/y"));
        assert_eq!(p.image_store(), Path::new("/x/y/images"));
        assert_eq!(p.containers(), Path::new("/x/y/containers"));
    }

    #[test]
    fn default_is_absolute() {
        assert!(default_root().is_absolute());
    }
}
