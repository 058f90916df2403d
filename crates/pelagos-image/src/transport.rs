//! The one HTTP client (reqwest, rustls on ring) of a [`crate::Registry`] and the
//! request loop every registry call goes through: the `Authorization` header learnt so
//! far, one answer to a `WWW-Authenticate` challenge, and retries of 429/502/503/504
//! and network failures with exponential backoff that honours `Retry-After`.

use crate::auth::{parse_challenge, Auth, Credentials, Scopes};
use crate::backoff::{parse_retry_after, RetryPolicy, Timeouts};
use crate::registry_error::{body_excerpt, chain, network_error, RegistryError, Subject};
use reqwest::{header, StatusCode};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

/// Where requests for one registry go: the registry itself or one of its mirrors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The registry as references and credentials name it (`docker.io`, `host:5000`).
    pub registry: String,
    /// The host (and port) serving the API (`registry-1.docker.io` for `docker.io`).
    pub api_host: String,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// A mirror: failures move on to the next endpoint instead of retrying.
    pub mirror: bool,
}

impl Endpoint {
    /// The URL of an API path (`/v2/...`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.api_host)
    }
}

/// The HTTP client plus auth state and retry policy.
pub(crate) struct Transport {
    client: reqwest::Client,
    policy: RetryPolicy,
    pub auth: Auth,
}

/// Statuses that say "try again later".
fn retryable(s: StatusCode) -> bool {
    matches!(s.as_u16(), 429 | 502 | 503 | 504)
}

impl Transport {
    /// Build the client: extra CA certificates (PEM files) on top of the system's.
    pub fn new(
        ca_files: &[PathBuf],
        timeouts: &Timeouts,
        policy: RetryPolicy,
        credentials: HashMap<String, Credentials>,
    ) -> Result<Self, RegistryError> {
        // reqwest is built without a default crypto provider; ring is ours. A second
        // call finds one installed and that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut certs = Vec::new();
        for p in ca_files {
            let data = std::fs::read(p).map_err(|source| RegistryError::CaFile {
                path: p.clone(),
                source,
            })?;
            let mut found = reqwest::Certificate::from_pem_bundle(&data).map_err(|e| {
                RegistryError::CaFile {
                    path: p.clone(),
                    source: std::io::Error::other(chain(&e)),
                }
            })?;
            if found.is_empty() {
                return Err(RegistryError::CaFile {
                    path: p.clone(),
                    source: std::io::Error::other("no PEM certificate in the file"),
                });
            }
            certs.append(&mut found);
        }
        let client = reqwest::Client::builder()
            .tls_certs_merge(certs)
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .user_agent(concat!("pelagos/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Client(chain(&e)))?;
        Ok(Self {
            client,
            policy,
            auth: Auth::new(credentials),
        })
    }

    /// Send the request `make` builds (again for every try) to `ep` with the access
    /// `scopes` need. Returns any answer but 401 and the retryable statuses; those
    /// become errors once the challenge was answered or the retries are used up.
    pub async fn send<F>(
        &self,
        ep: &Endpoint,
        scopes: &Scopes,
        subject: &Subject,
        make: F,
    ) -> Result<reqwest::Response, RegistryError>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder, RegistryError>,
    {
        // A mirror gets one try: the next endpoint is the better retry.
        let attempts = if ep.mirror {
            1
        } else {
            self.policy.attempts.max(1)
        };
        let mut attempt = 1;
        let mut answered = false;
        loop {
            let mut req = make(&self.client)?;
            if let Some(h) = self.auth.header(&ep.registry, &ep.api_host, scopes) {
                req = req.header(header::AUTHORIZATION, h);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    let (err, retry) = network_error(&e, &ep.registry, subject);
                    if !retry {
                        return Err(err);
                    }
                    if attempt >= attempts {
                        return Err(match attempts {
                            1 => err,
                            n => self.exhausted(subject, n, chain(&e)),
                        });
                    }
                    tokio::time::sleep(self.policy.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                let challenge = resp
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_challenge);
                match challenge {
                    Some(c) if !answered => {
                        self.auth
                            .answer(
                                &self.client,
                                &ep.registry,
                                &ep.api_host,
                                scopes,
                                &c,
                                subject,
                            )
                            .await?;
                        answered = true;
                        continue;
                    }
                    c => return Err(self.auth.refused(&ep.registry, c.as_ref(), scopes, subject)),
                }
            }
            if !retryable(status) {
                return Ok(resp);
            }
            let wait = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let body = resp.bytes().await.unwrap_or_default();
            let detail = format!("{status}: {}", body_excerpt(&body));
            if attempt >= attempts {
                return Err(self.exhausted(subject, attempts, detail));
            }
            let delay = match wait {
                Some(w) if w > self.policy.max_delay => {
                    return Err(RegistryError::RetryTooLate {
                        image: subject.name.clone(),
                        what: subject.what(),
                        status: status.to_string(),
                        wait_secs: w.as_secs(),
                        cap_secs: self.policy.max_delay.as_secs(),
                    })
                }
                Some(w) => w,
                None => self.policy.backoff(attempt),
            };
            tracing::debug!("{}: {detail}; retrying in {delay:?}", subject.name);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    fn exhausted(&self, subject: &Subject, attempts: u32, detail: String) -> RegistryError {
        if attempts == 1 {
            return subject.other(detail, false);
        }
        RegistryError::Exhausted {
            image: subject.name.clone(),
            what: subject.what(),
            attempts,
            detail,
        }
    }
}
