//! Error type of the crate: every variant names the profile field or file it is about.

use std::path::PathBuf;

/// Errors from parsing, compiling or caching a seccomp profile.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A JSON document could not be parsed as an OCI seccomp profile.
    #[error("{origin}: {field}: {message}")]
    Parse {
        /// Where the document came from (file path or a label such as `config.json`).
        origin: String,
        /// JSON path of the offending field, e.g. `linux.seccomp.syscalls[3].action`.
        field: String,
        /// What serde reported.
        message: String,
    },
    /// A field holds a value the compiler cannot translate into a filter.
    #[error("{field}: {message}")]
    InvalidField {
        /// JSON path of the offending field, e.g. `linux.seccomp.syscalls[3].args[0].index`.
        field: String,
        /// What is wrong and what to do about it.
        message: String,
    },
    /// libseccomp refused an operation while building or exporting the filter.
    #[error("{what}: libseccomp: {source}")]
    Libseccomp {
        /// The operation and, where known, the field it came from.
        what: String,
        /// The error libseccomp reported.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// The exported BPF program is not a whole number of `struct sock_filter`.
    #[error("exported seccomp program has {len} bytes, not a multiple of 8")]
    BadProgramLength {
        /// Length of the exported program in bytes.
        len: usize,
    },
    /// The program is longer than the kernel accepts (`BPF_MAXINSNS`).
    #[error("{FIELD}: the compiled program has {instructions} instructions, more than the kernel limit of {limit}: merge rules or drop argument filters", FIELD = crate::FIELD_ROOT)]
    ProgramTooLong {
        /// Instructions in the compiled program.
        instructions: usize,
        /// The kernel's limit.
        limit: usize,
    },
    /// Reading or writing a file (cache entry, export buffer) failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, SeccompError>;

impl SeccompError {
    pub(crate) fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
