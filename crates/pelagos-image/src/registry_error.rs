//! Errors talking to a registry, and the mapping of HTTP answers and client failures
//! onto them, so that each message names the image (and blob) and what to do.

use crate::auth::Credentials;
use crate::digest::Digest;
use crate::transport::Access;
use oci_client::errors::OciDistributionError;
use std::path::PathBuf;

/// Errors talking to a registry. Each names the image and, for blobs, the digest.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The CA file cannot be read.
    #[error("cannot read CA file {path}: {error}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
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
    #[error("writing {what} {digest} of {image}: {error}")]
    Write {
        /// The image.
        image: String,
        /// What was fetched.
        what: &'static str,
        /// The blob digest.
        digest: Digest,
        /// The error.
        error: std::io::Error,
    },
    /// Reading a local blob for upload failed.
    #[error("reading {path} to upload to {image}: {error}")]
    Read {
        /// The image.
        image: String,
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
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

/// What a failed call was about, for [`classify`].
pub(crate) struct Context<'a> {
    /// The registry (or mirror) asked.
    pub registry: &'a str,
    /// The repository.
    pub repository: &'a str,
    /// A push (else a pull).
    pub push: bool,
    /// The credentials sent, if any.
    pub credentials: Option<&'a Credentials>,
    /// How access was held.
    pub access: Access,
    /// The image and blob, for messages.
    pub subject: &'a Subject,
}

impl Context<'_> {
    fn scope(&self) -> String {
        let actions = if self.push { "pull,push" } else { "pull" };
        format!("repository:{}:{actions}", self.repository)
    }

    /// The request was refused for lack of access.
    fn unauthorized(&self) -> RegistryError {
        let image = self.subject.name.clone();
        match (self.credentials, self.access) {
            (None, _) => RegistryError::Unauthorized {
                image,
                detail: format!("anonymous access refused for {}", self.scope()),
                registry: self.registry.to_string(),
            },
            (Some(c), Access::Token) => RegistryError::Denied {
                image,
                detail: format!("user {:?} was not granted {}", c.username, self.scope()),
            },
            (Some(c), Access::Plain) => RegistryError::AuthFailed {
                image,
                detail: format!(
                    "{} rejected the credentials of user {:?}",
                    self.registry, c.username
                ),
            },
        }
    }
}

/// What to do about a failed call.
pub(crate) enum Failure {
    /// Worth another try; the detail is for the error when the tries are used up.
    Retry(String),
    /// The registry refused the request (401): final, unless the access it was sent
    /// with was a token, which a new one may fix.
    Refused(RegistryError),
    /// The answer stands.
    Final(RegistryError),
}

/// Statuses that say "try again later".
fn retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Classify a failure of oci-client.
pub(crate) fn classify(e: OciDistributionError, ctx: &Context<'_>) -> Failure {
    let subject = ctx.subject;
    match e {
        OciDistributionError::RequestError(re) => match re.status() {
            Some(s) => answer(Some(s.as_u16()), &[], s.to_string(), ctx),
            None => network_error(&re, ctx),
        },
        OciDistributionError::ServerError { code, message, .. } => {
            let body = message.as_bytes();
            let status = reqwest::StatusCode::from_u16(code)
                .map_or_else(|_| code.to_string(), |s| s.to_string());
            answer(
                Some(code),
                &error_codes(body),
                format!("{status}: {}", body_excerpt(body)),
                ctx,
            )
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .filter_map(|e| serde_json::to_value(&e.code).ok())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let detail = envelope
                .errors
                .iter()
                .zip(&codes)
                .map(|(e, c)| format!("{c}: {}", e.message))
                .collect::<Vec<_>>()
                .join("; ");
            answer(None, &codes, detail, ctx)
        }
        OciDistributionError::UnauthorizedError { .. } => Failure::Refused(ctx.unauthorized()),
        OciDistributionError::AuthenticationFailure(reason) => match ctx.credentials {
            None => Failure::Final(ctx.unauthorized()),
            Some(c) => Failure::Final(RegistryError::AuthFailed {
                image: subject.name.clone(),
                detail: format!(
                    "the token server refused user {:?}: {}",
                    c.username,
                    body_excerpt(reason.as_bytes())
                ),
            }),
        },
        OciDistributionError::DigestError(d) => Failure::Final(mismatch(&d, subject)),
        OciDistributionError::IoError(io) => Failure::Final(stream_error(io, subject)),
        other => Failure::Final(subject.other(chain(&other), false)),
    }
}

/// A digest check of oci-client failed.
fn mismatch(e: &oci_client::errors::DigestError, subject: &Subject) -> RegistryError {
    let (expected, actual) = match e {
        oci_client::errors::DigestError::VerificationError { expected, actual } => {
            (expected.clone(), actual.clone())
        }
        other => (String::new(), other.to_string()),
    };
    RegistryError::DigestMismatch {
        image: subject.name.clone(),
        what: subject.blob.as_ref().map_or("manifest", |(w, _)| w),
        expected,
        actual,
    }
}

/// A read of a blob body failed: a digest mismatch found at its end, or a connection
/// that broke off (worth fetching the whole blob again).
pub(crate) fn stream_error(e: std::io::Error, subject: &Subject) -> RegistryError {
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<oci_client::errors::DigestError>())
    {
        Some(d) => mismatch(d, subject),
        None => subject.other(chain(&e), true),
    }
}

/// Classify a failure of the HTTP client (no response).
fn network_error(e: &reqwest::Error, ctx: &Context<'_>) -> Failure {
    let detail = chain(e);
    let lower = detail.to_lowercase();
    let image = ctx.subject.name.clone();
    let registry = ctx.registry.to_string();
    if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        return Failure::Final(RegistryError::PlainHttp { image, registry });
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("unknownissuer") {
        return Failure::Final(RegistryError::Tls {
            image,
            registry,
            detail,
        });
    }
    if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() {
        return Failure::Retry(detail);
    }
    Failure::Final(ctx.subject.other(detail, false))
}

/// The error for a non-success answer: its status when known, the distribution error
/// codes of its body, and a detail line for messages.
fn answer(status: Option<u16>, codes: &[String], detail: String, ctx: &Context<'_>) -> Failure {
    let has = |c: &str| codes.iter().any(|x| x == c);
    let subject = ctx.subject;
    if status.is_some_and(retryable) || has("TOOMANYREQUESTS") {
        return Failure::Retry(detail);
    }
    if status == Some(401) || has("UNAUTHORIZED") {
        return Failure::Refused(ctx.unauthorized());
    }
    // NOT_FOUND: Harbor's code for a 404 (oci-client passes on the codes, not the status).
    let unknown = [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
        "BLOB_UNKNOWN",
        "NOT_FOUND",
    ];
    if status == Some(404) || unknown.into_iter().any(has) {
        return Failure::Final(match &subject.blob {
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
        });
    }
    if status == Some(403) || has("DENIED") {
        return Failure::Final(RegistryError::Denied {
            image: subject.name.clone(),
            detail,
        });
    }
    Failure::Final(subject.other(detail, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(
        subject: &'a Subject,
        creds: Option<&'a Credentials>,
        access: Access,
    ) -> Context<'a> {
        Context {
            registry: "r:5000",
            repository: "x",
            push: false,
            credentials: creds,
            access,
            subject,
        }
    }

    fn fin(f: Failure) -> RegistryError {
        match f {
            Failure::Final(e) | Failure::Refused(e) => e,
            Failure::Retry(d) => panic!("retry: {d}"),
        }
    }

    #[test]
    fn answers_map_to_errors() {
        let d = Digest::of_bytes(b"x");
        let blob = Subject::blob("r/x:1", "layer", &d);
        let c = ctx(&blob, None, Access::Plain);
        let e = fin(answer(Some(404), &[], String::new(), &c));
        assert!(matches!(e, RegistryError::BlobUnknown { .. }), "{e}");
        let e = fin(answer(None, &["NAME_UNKNOWN".into()], String::new(), &c));
        assert!(matches!(e, RegistryError::ManifestUnknown { .. }), "{e}");
        let e = fin(answer(None, &["NOT_FOUND".into()], String::new(), &c));
        assert!(matches!(e, RegistryError::BlobUnknown { .. }), "{e}");
        let plain = Subject::new("r/x:1");
        let c = ctx(&plain, None, Access::Plain);
        let e = fin(answer(
            Some(403),
            &["DENIED".into()],
            "DENIED: no".into(),
            &c,
        ));
        assert!(e.to_string().contains("DENIED: no"), "{e}");
        let e = fin(answer(
            Some(400),
            &[],
            "400 Bad Request: plain text".into(),
            &c,
        ));
        assert_eq!(
            e.to_string(),
            "registry error for r/x:1: 400 Bad Request: plain text"
        );
        for s in [429, 502, 503, 504] {
            assert!(matches!(
                answer(Some(s), &[], String::new(), &c),
                Failure::Retry(_)
            ));
        }
        assert!(matches!(
            answer(None, &["TOOMANYREQUESTS".into()], String::new(), &c),
            Failure::Retry(_)
        ));
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let s = Subject::new("r:5000/x:1");
        let u = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let e = fin(answer(
            Some(401),
            &[],
            String::new(),
            &ctx(&s, None, Access::Plain),
        ));
        assert!(matches!(e, RegistryError::Unauthorized { .. }), "{e}");
        let e = ctx(&s, Some(&u), Access::Plain).unauthorized();
        assert!(matches!(e, RegistryError::AuthFailed { .. }), "{e}");
        let e = ctx(&s, Some(&u), Access::Token).unauthorized();
        assert!(e.to_string().contains("repository:x:pull"), "{e}");
    }

    #[test]
    fn digest_errors_inside_a_stream_are_found() {
        let d = Digest::of_bytes(b"x");
        let s = Subject::blob("r/x:1", "layer", &d);
        let io = std::io::Error::other(oci_client::errors::DigestError::VerificationError {
            expected: "sha256:a".into(),
            actual: "sha256:b".into(),
        });
        let e = stream_error(io, &s);
        assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
        let e = stream_error(std::io::Error::other("reset"), &s);
        assert!(e.is_transient(), "{e}");
    }
}
