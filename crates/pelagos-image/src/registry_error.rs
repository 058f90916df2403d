//! Errors talking to a registry, and the mapping of HTTP answers and client failures
//! onto them, so that each message names the image (and blob) and what to do.

use crate::digest::Digest;
use std::path::PathBuf;

/// Errors talking to a registry. Each names the image and, for blobs, the digest.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The CA file cannot be read.
    #[error("cannot read CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP client cannot be built.
    #[error("cannot set up the registry client: {0}")]
    Client(String),
    /// The registry wants credentials and has none, or refuses anonymous access.
    #[error("unauthorized: {image}: the registry requires credentials or they lack access ({detail}); log in with `pelagos login {registry}` or pass --username and --password-stdin")]
    Unauthorized {
        /// The image.
        image: String,
        /// Registry detail.
        detail: String,
        /// The registry to log in to.
        registry: String,
    },
    /// The token server or registry rejected the credentials.
    #[error("authentication failed for {image}: {detail}; check the username and password")]
    AuthFailed {
        /// The image.
        image: String,
        /// Server detail.
        detail: String,
    },
    /// The credentials are valid but lack the access asked for (e.g. push).
    #[error("denied: {image}: {detail}; the account lacks this access to the repository")]
    Denied {
        /// The image.
        image: String,
        /// Server detail.
        detail: String,
    },
    /// The manifest does not exist.
    #[error("manifest unknown: {image}: no such tag, digest or repository in the registry")]
    ManifestUnknown {
        /// The image.
        image: String,
    },
    /// A blob does not exist.
    #[error("blob unknown: {image}: {what} {digest} is missing from the registry (404)")]
    BlobUnknown {
        /// The image.
        image: String,
        /// `layer` or `config`.
        what: &'static str,
        /// The blob digest.
        digest: Digest,
    },
    /// Content did not hash to its digest.
    #[error("digest mismatch: {image}: {what} {expected} downloaded as {actual}; the registry content is corrupt")]
    DigestMismatch {
        /// The image.
        image: String,
        /// What was fetched.
        what: &'static str,
        /// The digest asked for.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// TLS failed.
    #[error("tls error talking to {registry} for {image}: {detail}; pass --ca-file with the registry's CA certificate (or --insecure for a plain-HTTP registry)")]
    Tls {
        /// The image.
        image: String,
        /// The registry host.
        registry: String,
        /// The underlying error chain.
        detail: String,
    },
    /// A TLS request got a plain-HTTP answer.
    #[error("{registry} answered a TLS request for {image} with plain HTTP; pass --insecure to use plain HTTP")]
    PlainHttp {
        /// The image.
        image: String,
        /// The registry host.
        registry: String,
    },
    /// The registry kept answering 429/5xx or the network kept failing.
    #[error("registry error for {image}{what}: gave up after {attempts} attempts: {detail}")]
    Exhausted {
        /// The image.
        image: String,
        /// Extra context such as `, layer sha256:...`.
        what: String,
        /// How many tries were made.
        attempts: u32,
        /// The last failure.
        detail: String,
    },
    /// The registry asked to wait longer than the retry policy allows.
    #[error("registry error for {image}{what}: {status}, and the registry asks to retry after {wait_secs}s, longer than the {cap_secs}s this client waits (retry.maxDelaySeconds in the registries config); try again later")]
    RetryTooLate {
        /// The image.
        image: String,
        /// Extra context.
        what: String,
        /// The HTTP status.
        status: String,
        /// What `Retry-After` asked for.
        wait_secs: u64,
        /// The policy's cap.
        cap_secs: u64,
    },
    /// Any other failure.
    #[error("registry error for {image}{what}: {detail}")]
    Other {
        /// The image.
        image: String,
        /// Extra context such as `, layer sha256:...`.
        what: String,
        /// The underlying error chain.
        detail: String,
        /// A failure part-way through a body that may pass when the whole blob is
        /// fetched again.
        transient: bool,
    },
    /// Writing the download failed.
    #[error("writing {what} {digest} of {image}: {source}")]
    Write {
        /// The image.
        image: String,
        /// What was fetched.
        what: &'static str,
        /// The blob digest.
        digest: Digest,
        /// The error.
        source: std::io::Error,
    },
    /// Reading a local blob for upload failed.
    #[error("reading {path} to upload to {image}: {source}")]
    Read {
        /// The image.
        image: String,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl RegistryError {
    /// Worth fetching the whole blob again: the body broke off part-way.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Other {
                transient: true,
                ..
            }
        )
    }
}

/// What a request is about, for error messages.
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    /// The image (or registry, for a login).
    pub name: String,
    /// `("layer", digest)` for blob requests.
    pub blob: Option<(&'static str, Digest)>,
}

impl Subject {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            blob: None,
        }
    }

    pub fn blob(name: impl Into<String>, what: &'static str, d: &Digest) -> Self {
        Self {
            name: name.into(),
            blob: Some((what, d.clone())),
        }
    }

    /// `, layer sha256:...` or nothing.
    pub fn what(&self) -> String {
        self.blob
            .as_ref()
            .map(|(w, d)| format!(", {w} {d}"))
            .unwrap_or_default()
    }

    pub fn other(&self, detail: String, transient: bool) -> RegistryError {
        RegistryError::Other {
            image: self.name.clone(),
            what: self.what(),
            detail,
            transient,
        }
    }
}

/// An error and its sources, joined with `: `, without repeats.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// The start of a response body, for messages: the registry's error messages when
/// it sent the distribution error JSON, else the text.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let entries = envelope(body);
    if !entries.is_empty() {
        return entries
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// One entry of the distribution error JSON (`{"errors":[{"code":..,"message":..}]}`).
#[derive(serde::Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

fn envelope(body: &[u8]) -> Vec<ErrorEntry> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<ErrorEntry>,
    }
    serde_json::from_slice::<Envelope>(body)
        .map(|e| e.errors)
        .unwrap_or_default()
}

/// The distribution error codes in a body (`MANIFEST_UNKNOWN`, `DENIED`, ...).
pub(crate) fn error_codes(body: &[u8]) -> Vec<String> {
    envelope(body).into_iter().map(|e| e.code).collect()
}

/// Classify a failure of the HTTP client (no response).
pub(crate) fn network_error(
    e: &reqwest::Error,
    registry: &str,
    subject: &Subject,
) -> (RegistryError, bool) {
    let detail = chain(e);
    let lower = detail.to_lowercase();
    if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        let err = RegistryError::PlainHttp {
            image: subject.name.clone(),
            registry: registry.to_string(),
        };
        return (err, false);
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("unknownissuer") {
        let err = RegistryError::Tls {
            image: subject.name.clone(),
            registry: registry.to_string(),
            detail,
        };
        return (err, false);
    }
    let retry = e.is_connect() || e.is_timeout() || e.is_request() || e.is_body();
    (subject.other(detail, false), retry)
}

/// The error for a final non-success answer to a manifest or blob request.
pub(crate) fn status_error(
    status: reqwest::StatusCode,
    body: &[u8],
    subject: &Subject,
) -> RegistryError {
    let codes = error_codes(body);
    let has = |c: &str| codes.iter().any(|x| x == c);
    if status == reqwest::StatusCode::NOT_FOUND
        || has("MANIFEST_UNKNOWN")
        || has("NAME_UNKNOWN")
        || has("BLOB_UNKNOWN")
    {
        return match &subject.blob {
            Some((what, d)) if !has("NAME_UNKNOWN") && !has("MANIFEST_UNKNOWN") => {
                RegistryError::BlobUnknown {
                    image: subject.name.clone(),
                    what,
                    digest: d.clone(),
                }
            }
            _ => RegistryError::ManifestUnknown {
                image: subject.name.clone(),
            },
        };
    }
    if status == reqwest::StatusCode::FORBIDDEN || has("DENIED") {
        return RegistryError::Denied {
            image: subject.name.clone(),
            detail: format!("{status}: {}", body_excerpt(body)),
        };
    }
    subject.other(format!("{status}: {}", body_excerpt(body)), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_errors() {
        let d = Digest::of_bytes(b"x");
        let blob = Subject::blob("r/x:1", "layer", &d);
        let e = status_error(reqwest::StatusCode::NOT_FOUND, b"", &blob);
        assert!(matches!(e, RegistryError::BlobUnknown { .. }), "{e}");
        let e = status_error(
            reqwest::StatusCode::NOT_FOUND,
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#,
            &blob,
        );
        assert!(matches!(e, RegistryError::ManifestUnknown { .. }), "{e}");
        let e = status_error(
            reqwest::StatusCode::FORBIDDEN,
            br#"{"errors":[{"code":"DENIED","message":"no"}]}"#,
            &Subject::new("r/x:1"),
        );
        assert!(e.to_string().contains("DENIED: no"), "{e}");
        let e = status_error(
            reqwest::StatusCode::BAD_REQUEST,
            b"plain text",
            &Subject::new("r/x:1"),
        );
        assert_eq!(
            e.to_string(),
            "registry error for r/x:1: 400 Bad Request: plain text"
        );
    }
}
