//! The one registry client of the process, an [`oci_client::Client`] (reqwest, rustls
//! on ring), and the loop every registry call goes through: access to the repository
//! asked for once (Basic credentials or a token, as the registry's challenge says), then
//! the call, retried with exponential backoff on 429/502/503/504 and network failures,
//! and its failure mapped onto a [`RegistryError`] that names the image and what to do.
//!
//! oci-client keeps response headers to itself, so a `Retry-After` is not seen: the
//! backoff of the [`RetryPolicy`] applies to every retryable answer.

use crate::auth::Credentials;
use crate::backoff::{RetryPolicy, Timeouts};
use crate::registry_error::{classify, Failure, RegistryError, Subject};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

/// Where requests for one registry go: the registry itself or one of its mirrors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The registry as references and credentials name it (`docker.io`, `host:5000`).
    pub registry: String,
    /// A mirror: failures move on to the next endpoint instead of retrying.
    pub mirror: bool,
}

impl Endpoint {
    /// `repository` on this endpoint at `reference` (a tag or a digest).
    pub fn reference(&self, repository: &str, reference: &str) -> Reference {
        if reference.contains(':') {
            Reference::with_digest(
                self.registry.clone(),
                repository.to_string(),
                reference.to_string(),
            )
        } else {
            Reference::with_tag(
                self.registry.clone(),
                repository.to_string(),
                reference.to_string(),
            )
        }
    }
}

/// How the client holds access to one repository for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// A token from the registry's token server.
    Token,
    /// Basic credentials on every request, or nothing (the registry asked for none).
    Plain,
}

/// Where a notice of a retry goes as it happens (a user waiting on a registry that
/// does not answer sees why).
pub(crate) type Notice = Box<dyn Fn(&str) + Send + Sync>;

/// The client plus what it knows about access, and the retry policy.
pub(crate) struct Transport {
    client: oci_client::Client,
    policy: RetryPolicy,
    /// Told of every retry before its wait.
    pub notice: Option<Notice>,
    credentials: HashMap<String, Credentials>,
    access: Mutex<HashMap<(String, String, bool), Access>>,
}

/// The arguments to build a [`Transport`] from.
pub(crate) struct Setup<'a> {
    /// Extra PEM CA files, trusted for every registry.
    pub ca_files: &'a [PathBuf],
    /// Registries (`host[:port]`, as references name them) reached over plain HTTP.
    pub plain_http: &'a HashSet<String>,
    /// Connect and read timeouts.
    pub timeouts: &'a Timeouts,
    /// How failed calls are retried.
    pub policy: RetryPolicy,
    /// Credentials by registry.
    pub credentials: HashMap<String, Credentials>,
}

fn push(op: RegistryOperation) -> bool {
    matches!(op, RegistryOperation::Push)
}

impl Transport {
    /// Build the client: extra CA certificates on top of the system's, plain HTTP for
    /// the registries that want it, the timeouts, monolithic streamed uploads.
    pub fn new(s: Setup<'_>) -> Result<Self, RegistryError> {
        // reqwest is built without a default crypto provider; ring is ours. A second
        // call finds one installed and that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut certs = Vec::new();
        for p in s.ca_files {
            let data = std::fs::read(p).map_err(|error| RegistryError::CaFile {
                path: p.clone(),
                error,
            })?;
            if !String::from_utf8_lossy(&data).contains("-----BEGIN CERTIFICATE-----") {
                return Err(RegistryError::CaFile {
                    path: p.clone(),
                    error: std::io::Error::other("no PEM certificate in the file"),
                });
            }
            certs.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        // oci-client compares the scheme exceptions with the host it talks to, which
        // for Docker Hub is index.docker.io.
        let mut http: Vec<String> = s
            .plain_http
            .iter()
            .map(|r| Reference::with_tag(r.clone(), "x".into(), "x".into()))
            .map(|r| r.resolve_registry().to_string())
            .collect();
        http.sort();
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(http),
            extra_root_certificates: certs,
            platform_resolver: None,
            use_monolithic_push: true,
            connect_timeout: Some(s.timeouts.connect),
            read_timeout: Some(s.timeouts.read),
            user_agent: concat!("pelagos/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = oci_client::Client::try_from(config)
            .map_err(|e| RegistryError::Client(crate::registry_error::chain(&e)))?;
        Ok(Self {
            client,
            policy: s.policy,
            notice: None,
            credentials: s.credentials,
            access: Mutex::default(),
        })
    }

    /// The credentials for `registry`, if any.
    pub fn credentials(&self, registry: &str) -> Option<&Credentials> {
        self.credentials.get(registry)
    }

    /// What the client sends to `registry`.
    pub fn auth(&self, registry: &str) -> RegistryAuth {
        match self.credentials(registry) {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// Where the access to `image`'s repository for `op` is kept.
    fn key(image: &Reference, op: RegistryOperation) -> (String, String, bool) {
        (
            image.registry().to_string(),
            image.repository().to_string(),
            push(op),
        )
    }

    /// How access to `image`'s repository for `op` is held, once asked for.
    pub fn access(&self, image: &Reference, op: RegistryOperation) -> Option<Access> {
        let m = self.access.lock().ok()?;
        m.get(&Self::key(image, op)).copied()
    }

    /// Ask for access to `image`'s repository for `op` again on the next call.
    fn forget(&self, image: &Reference, op: RegistryOperation) {
        if let Ok(mut m) = self.access.lock() {
            m.remove(&Self::key(image, op));
        }
    }

    /// Get access to `image`'s repository for `op` unless the client has it: a token
    /// when the registry names a token server, else Basic credentials (or none).
    async fn authorize(
        &self,
        image: &Reference,
        op: RegistryOperation,
    ) -> Result<Access, OciDistributionError> {
        if let Some(a) = self.access(image, op) {
            return Ok(a);
        }
        let token = self
            .client
            .auth(image, &self.auth(image.registry()), op)
            .await?;
        // oci-client puts the token in the Authorization header with an unwrap: one it
        // cannot hold stops here as an error instead of a panic there.
        if let Some(t) = &token {
            if reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).is_err() {
                return Err(OciDistributionError::RegistryTokenDecodeError(format!(
                    "the token server of {} sent a token that cannot go in an HTTP header",
                    image.registry()
                )));
            }
        }
        let access = if token.is_some() {
            Access::Token
        } else {
            Access::Plain
        };
        if let Ok(mut m) = self.access.lock() {
            m.insert(Self::key(image, op), access);
        }
        Ok(access)
    }

    /// Run `call` for `image` (on endpoint `ep`) with access for `op`, retrying what
    /// is worth retrying; a mirror gets one try, as the next endpoint is the better
    /// retry.
    pub async fn call<T, F>(
        &self,
        ep: &Endpoint,
        image: &Reference,
        op: RegistryOperation,
        subject: &Subject,
        call: F,
    ) -> Result<T, RegistryError>
    where
        F: AsyncFn(&oci_client::Client, &RegistryAuth) -> Result<T, OciDistributionError>,
    {
        let attempts = if ep.mirror {
            1
        } else {
            self.policy.attempts.max(1)
        };
        let auth = self.auth(&ep.registry);
        let mut attempt = 1;
        let mut renewed = false;
        loop {
            let result = match self.authorize(image, op).await {
                Ok(access) => call(&self.client, &auth).await.map_err(|e| (e, access)),
                Err(e) => Err((e, Access::Plain)),
            };
            let (e, access) = match result {
                Ok(v) => return Ok(v),
                Err(x) => x,
            };
            let ctx = crate::registry_error::Context {
                registry: &ep.registry,
                repository: image.repository(),
                push: push(op),
                credentials: self.credentials(&ep.registry),
                access,
                subject,
            };
            match classify(e, &ctx) {
                // The registry turned the token down: expired by its clock, revoked, or
                // oci-client's own renewal failed and it sent none (it keeps that
                // error to itself). A new one is asked for, once; its errors show.
                Failure::Refused(_) if access == Access::Token && !renewed => {
                    tracing::debug!("{}: token refused; asking for a new one", subject.name);
                    self.forget(image, op);
                    renewed = true;
                }
                Failure::Refused(err) | Failure::Final(err) => return Err(err),
                Failure::Retry(detail) if attempt >= attempts => {
                    return Err(match attempts {
                        1 => subject.other(detail, false),
                        n => RegistryError::Exhausted {
                            image: subject.name.clone(),
                            what: subject.what(),
                            attempts: n,
                            detail,
                        },
                    })
                }
                Failure::Retry(detail) => {
                    let delay = self.policy.backoff(attempt);
                    if let Some(notice) = &self.notice {
                        notice(&format!(
                            "{}{}: {detail}; retrying in {:.1}s (attempt {} of {attempts})",
                            subject.name,
                            subject.what(),
                            delay.as_secs_f64(),
                            attempt + 1
                        ));
                    }
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}
