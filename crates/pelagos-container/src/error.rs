//! Errors of the container layer. Each names the container, path or step that failed.

use pelagos_sys::Errno;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ContainerError>;

/// What can go wrong creating or managing a container. Messages spell out any underlying
/// error themselves and do not expose it again as `source()` (an error printed with its
/// chain, as the runtime does, would show it twice).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Spec(#[from] pelagos_spec::SpecError),
    #[error(transparent)]
    Cgroup(#[from] pelagos_cgroups::CgroupError),
    #[error("invalid container id {0:?}: use letters, digits, '_', '-' and '.', starting with a letter or digit")]
    InvalidId(String),
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {id:?} is {status}: {what}")]
    BadState {
        id: String,
        status: String,
        what: String,
    },
    /// A step of the container init failed: "mount proc on /proc: EPERM".
    #[error("{what}: {errno} ({desc})", desc = errno.description())]
    Init { what: String, errno: Errno },
    /// A kernel call in the runtime itself failed.
    #[error("{what}: {errno} ({desc})", desc = errno.description())]
    Sys { what: String, errno: Errno },
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
    #[error("hook {kind}[{index}] {path}: {message}")]
    Hook {
        kind: &'static str,
        index: usize,
        path: String,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

impl ContainerError {
    pub(crate) fn sys(what: impl Into<String>, errno: Errno) -> Self {
        ContainerError::Sys {
            what: what.into(),
            errno,
        }
    }

    pub(crate) fn io(what: impl Into<String>, error: std::io::Error) -> Self {
        ContainerError::Io {
            what: what.into(),
            error,
        }
    }
}
