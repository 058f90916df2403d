//! Errors of config validation: each names the JSON field and the bad value.

/// A rejected configuration. Messages spell out any underlying error themselves and do
/// not expose it again as `source()` (an error printed with its chain would show it twice).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The bundle's `config.json` could not be read.
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    /// `config.json` is not valid JSON or has a field of the wrong shape.
    #[error("invalid {path}: {field}: {message}")]
    Parse {
        path: String,
        field: String,
        message: String,
    },
    /// A field has a value pelagos refuses.
    #[error("invalid config.json: {field}: {message}")]
    Invalid { field: String, message: String },
}

impl SpecError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The JSON field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            SpecError::Read { .. } => None,
            SpecError::Parse { field, .. } | SpecError::Invalid { field, .. } => Some(field),
        }
    }
}
