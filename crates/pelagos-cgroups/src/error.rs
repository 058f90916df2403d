//! The crate's error type: every variant names the cgroup file or directory it concerns
//! and, where the user can act, what to do.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result alias for cgroup operations.
pub type Result<T> = std::result::Result<T, CgroupError>;

/// Errors from detection, path resolution and cgroup file operations.
///
/// Each message is whole: it spells out the underlying error itself, so no variant
/// exposes that error again as [`std::error::Error::source`] (printing an error with
/// its chain, as anyhow's `{:#}` does, would show it twice). Hence no field is named
/// `source`, which thiserror would take for one.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The mountinfo text did not describe a usable cgroup layout.
    #[error("cgroup detection under {root}: {reason}")]
    Detect {
        /// The cgroup root the caller passed in.
        root: PathBuf,
        /// Why detection failed.
        reason: String,
    },
    /// A mountinfo line or /proc/self/cgroup line could not be parsed.
    #[error("{source_name} line {line}: {reason}")]
    ParseProc {
        /// Which text (mountinfo, /proc/self/cgroup).
        source_name: &'static str,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The OCI `linux.cgroupsPath` (or the container id used in the default path) is invalid.
    #[error("invalid cgroupsPath {path:?}: {reason}")]
    Path {
        /// The value as given.
        path: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Writing a value to a cgroup control file failed.
    #[error("{}={value}: {}: {hint}", file.display(), errno_text(error))]
    Write {
        /// The control file.
        file: PathBuf,
        /// The value written.
        value: String,
        /// The kernel's answer.
        error: io::Error,
        /// What the error most likely means and what to do.
        hint: String,
    },
    /// Reading a cgroup control file failed.
    #[error("read {}: {}", file.display(), errno_text(error))]
    Read {
        /// The control file.
        file: PathBuf,
        /// The kernel's answer.
        error: io::Error,
    },
    /// A control file held text this crate does not understand.
    #[error("parse {}: unexpected content {content:?}: {reason}", file.display())]
    Parse {
        /// The control file.
        file: PathBuf,
        /// The offending content (trimmed).
        content: String,
        /// What was expected.
        reason: String,
    },
    /// Creating a cgroup directory failed.
    #[error("create cgroup {}: {}: {hint}", dir.display(), errno_text(error))]
    Create {
        /// The directory.
        dir: PathBuf,
        /// The kernel's answer.
        error: io::Error,
        /// What to do.
        hint: String,
    },
    /// A resource value is out of range or inconsistent.
    #[error("linux.resources.{field}={value}: {reason}")]
    Invalid {
        /// The OCI field path, e.g. `memory.swap`.
        field: String,
        /// The offending value.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// The operation or resource is not available with this cgroup layout.
    #[error("{what}: {reason}")]
    Unsupported {
        /// The operation or OCI field.
        what: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A state change (freeze, thaw, kill) did not settle in time.
    #[error("{what} in {}: did not settle within {millis} ms: {detail}", dir.display())]
    Timeout {
        /// The operation.
        what: &'static str,
        /// The cgroup directory.
        dir: PathBuf,
        /// How long we waited.
        millis: u64,
        /// The last observed state.
        detail: String,
    },
    /// Sending a signal to a process of the cgroup failed.
    #[error("kill pid {pid} with signal {signal}: {error}")]
    Signal {
        /// The process.
        pid: i32,
        /// The signal number.
        signal: i32,
        /// The kernel's answer.
        error: nix::Error,
    },
    /// Loading, attaching or detaching the cgroup v2 eBPF device filter failed.
    #[error("linux.resources.devices: {what} the eBPF device filter of {}: {errno}{}", dir.display(), bpf_detail(hint, log))]
    Bpf {
        /// `lock`, `load`, `attach`, `list` or `detach`.
        what: &'static str,
        /// The cgroup directory.
        dir: PathBuf,
        /// The kernel's answer (`EPERM`, `EINVAL`...).
        errno: String,
        /// The verifier log of a refused program.
        log: String,
        /// What to do (may be empty).
        hint: &'static str,
    },
    /// Some cgroup directories could not be removed.
    #[error("could not remove cgroup directories: {}", RemoveList(failed))]
    Remove {
        /// Each directory with the error that kept it.
        failed: Vec<(PathBuf, io::Error)>,
    },
}

/// Formats an io error as `EINVAL: Invalid argument` when it carries an errno.
pub(crate) fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).to_string(),
        None => e.to_string(),
    }
}

/// `: hint` and the verifier log on its own lines, each when present.
fn bpf_detail(hint: &str, log: &str) -> String {
    let mut s = String::new();
    if !hint.is_empty() {
        s.push_str(": ");
        s.push_str(hint);
    }
    if !log.is_empty() {
        s.push_str("\nverifier log:\n");
        s.push_str(log);
    }
    s
}

struct RemoveList<'a>(&'a [(PathBuf, io::Error)]);

impl fmt::Display for RemoveList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (dir, e)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", dir.display(), errno_text(e))?;
        }
        if !self.0.is_empty() {
            f.write_str(" (processes still inside? kill them first, or retry)")?;
        }
        Ok(())
    }
}
