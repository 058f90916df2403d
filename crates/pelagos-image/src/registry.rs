//! The registry client: one `oci-client` (reqwest, rustls on ring) per process, plus
//! auth, TLS options and error classification into messages a user can act on.

use crate::digest::{Digest, Hasher};
use crate::manifest::ACCEPT_ALL;
use crate::reference::ImageRef;
use futures_util::StreamExt;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use std::io::Write;
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
    /// The registry refused the request.
    #[error("unauthorized: {image}: the registry requires credentials or they lack access ({detail}); pass --username and --password-stdin")]
    Unauthorized {
        /// The image.
        image: String,
        /// Registry detail.
        detail: String,
    },
    /// The token server or registry rejected the credentials.
    #[error("authentication failed for {image}: {detail}; check the username and password")]
    AuthFailed {
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
    /// Any other failure.
    #[error("registry error for {image}{what}: {detail}")]
    Other {
        /// The image.
        image: String,
        /// Extra context such as `, layer sha256:...`.
        what: String,
        /// The underlying error chain.
        detail: String,
        /// A network failure or server error that may pass on retry.
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
}

impl RegistryError {
    /// Worth retrying: a network failure or server error, not a verdict about content
    /// or access.
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

/// Username and password for Basic auth or for the token server.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Registries (`host[:port]`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Extra PEM CA certificates to trust.
    pub ca_files: Vec<PathBuf>,
    /// Credentials, used for every registry.
    pub credentials: Option<Credentials>,
}

/// The registry client; build one per process and share it.
pub struct Registry {
    client: oci_client::Client,
    auth: RegistryAuth,
}

fn chain(e: &dyn std::error::Error) -> String {
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

impl Registry {
    /// Build the client.
    pub fn new(opts: &RegistryOptions) -> Result<Self, RegistryError> {
        // reqwest is built without a default crypto provider; ring is ours. A second
        // call finds one installed and that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut certs = Vec::new();
        for p in &opts.ca_files {
            let data = std::fs::read(p).map_err(|source| RegistryError::CaFile {
                path: p.clone(),
                source,
            })?;
            certs.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let config = ClientConfig {
            protocol: if opts.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(opts.insecure.clone())
            },
            extra_root_certificates: certs,
            platform_resolver: None,
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            user_agent: concat!("pelagos/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client =
            oci_client::Client::try_from(config).map_err(|e| RegistryError::Client(chain(&e)))?;
        let auth = match &opts.credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Ok(Self { client, auth })
    }

    fn has_credentials(&self) -> bool {
        !matches!(self.auth, RegistryAuth::Anonymous)
    }

    fn classify(
        &self,
        image: &ImageRef,
        e: OciDistributionError,
        blob: Option<(&'static str, &Digest)>,
    ) -> RegistryError {
        let name = image.to_string();
        match e {
            OciDistributionError::UnauthorizedError { url } if self.has_credentials() => {
                RegistryError::AuthFailed {
                    image: name,
                    detail: format!("401 from {url}: credentials rejected or without access"),
                }
            }
            OciDistributionError::UnauthorizedError { url } => RegistryError::Unauthorized {
                image: name,
                detail: format!("401 from {url}"),
            },
            OciDistributionError::AuthenticationFailure(d) => RegistryError::AuthFailed {
                image: name,
                detail: d.trim().to_string(),
            },
            OciDistributionError::ImageManifestNotFoundError(_) => {
                RegistryError::ManifestUnknown { image: name }
            }
            OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) => RegistryError::DigestMismatch {
                image: name,
                what: blob.map_or("manifest", |b| b.0),
                expected,
                actual,
            },
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                if codes.contains(&&OciErrorCode::ManifestUnknown)
                    || codes.contains(&&OciErrorCode::NameUnknown)
                {
                    return RegistryError::ManifestUnknown { image: name };
                }
                if let (true, Some((what, d))) = (codes.contains(&&OciErrorCode::BlobUnknown), blob)
                {
                    return RegistryError::BlobUnknown {
                        image: name,
                        what,
                        digest: d.clone(),
                    };
                }
                if codes.contains(&&OciErrorCode::Unauthorized)
                    || codes.contains(&&OciErrorCode::Denied)
                {
                    return RegistryError::Unauthorized {
                        image: name,
                        detail: envelope.to_string(),
                    };
                }
                self.other(image, blob, envelope.to_string(), false)
            }
            OciDistributionError::ServerError { code: 404, .. } => match blob {
                None => RegistryError::ManifestUnknown { image: name },
                Some((what, d)) => RegistryError::BlobUnknown {
                    image: name,
                    what,
                    digest: d.clone(),
                },
            },
            other => {
                let transient = match &other {
                    OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
                    OciDistributionError::RequestError(_) | OciDistributionError::IoError(_) => {
                        true
                    }
                    _ => false,
                };
                let detail = chain(&other);
                let lower = detail.to_lowercase();
                if lower.contains("invalidcontenttype") {
                    RegistryError::PlainHttp {
                        image: name,
                        registry: image.registry.clone(),
                    }
                } else if lower.contains("certificate")
                    || lower.contains("tls")
                    || lower.contains("unknownissuer")
                {
                    RegistryError::Tls {
                        image: name,
                        registry: image.registry.clone(),
                        detail,
                    }
                } else {
                    self.other(image, blob, detail, transient)
                }
            }
        }
    }

    fn other(
        &self,
        image: &ImageRef,
        blob: Option<(&'static str, &Digest)>,
        detail: String,
        transient: bool,
    ) -> RegistryError {
        RegistryError::Other {
            image: image.to_string(),
            what: blob.map(|(w, d)| format!(", {w} {d}")).unwrap_or_default(),
            detail,
            transient,
        }
    }

    /// Authenticate for pulling `image` (Basic, or a Bearer token from the realm the
    /// registry names). Anonymous registries need nothing.
    pub async fn authenticate(&self, image: &ImageRef) -> Result<(), RegistryError> {
        self.client
            .auth(&image.to_oci(), &self.auth, RegistryOperation::Pull)
            .await
            .map(|_| ())
            .map_err(|e| self.classify(image, e, None))
    }

    /// Fetch a manifest or index (by the reference's digest if pinned, else its tag),
    /// always accepting all four manifest types. Returns the body and its digest.
    pub async fn fetch_manifest(
        &self,
        image: &ImageRef,
    ) -> Result<(Vec<u8>, Digest), RegistryError> {
        let (body, digest) = self
            .client
            .pull_manifest_raw(&image.to_oci(), &self.auth, &ACCEPT_ALL)
            .await
            .map_err(|e| self.classify(image, e, None))?;
        let actual = Digest::of_bytes(&body);
        if let Some(want) = &image.digest {
            if &actual != want {
                return Err(RegistryError::DigestMismatch {
                    image: image.to_string(),
                    what: "manifest",
                    expected: want.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if digest != actual.as_str() {
            tracing::warn!(
                "{image}: registry reported manifest digest {digest}, content hashes to {actual}"
            );
        }
        Ok((body.to_vec(), actual))
    }

    /// Stream a blob into `out`, verifying its digest; `progress` gets byte counts.
    pub async fn fetch_blob<W: Write>(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
        out: &mut W,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, RegistryError> {
        let desc = oci_client::manifest::OciDescriptor {
            digest: digest.to_string(),
            ..Default::default()
        };
        let sized = self
            .client
            .pull_blob_stream(&image.to_oci(), &desc)
            .await
            .map_err(|e| self.classify(image, e, Some((what, digest))))?;
        let mut stream = sized.stream;
        let mut hasher = Hasher::default();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    if let Some(oci_client::errors::DigestError::VerificationError {
                        expected,
                        actual,
                    }) = e.get_ref().and_then(|i| i.downcast_ref())
                    {
                        return Err(RegistryError::DigestMismatch {
                            image: image.to_string(),
                            what,
                            expected: expected.clone(),
                            actual: actual.clone(),
                        });
                    }
                    return Err(self.other(image, Some((what, digest)), chain(&e), true));
                }
            };
            hasher.update(&chunk);
            out.write_all(&chunk)
                .map_err(|source| RegistryError::Write {
                    image: image.to_string(),
                    what,
                    digest: digest.clone(),
                    source,
                })?;
            total += chunk.len() as u64;
            progress(chunk.len() as u64);
        }
        let actual = hasher.finish();
        if &actual != digest {
            return Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                what,
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(total)
    }
}
