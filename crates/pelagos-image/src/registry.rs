//! The registry client: one HTTP client per process ([`crate::transport`]), the
//! endpoints of a registry (its mirrors first, for pulls), and the read side of the
//! distribution API (manifests, blobs, login checks). The write side is in
//! [`crate::registry_push`].

use crate::backoff::{RetryPolicy, Timeouts};
use crate::digest::{Digest, Hasher};
use crate::hosts::{parse_mirror, HostSettings, RegistriesConfig};
use crate::manifest::ACCEPT_ALL;
use crate::reference::{ImageRef, DEFAULT_REGISTRY};
use crate::registry_error::{chain, status_error, Subject};
use crate::transport::{Endpoint, Transport};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub use crate::auth::Credentials;
pub use crate::registry_error::RegistryError;

/// Where Docker Hub serves the API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Registries (`host[:port]`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Extra PEM CA certificates to trust.
    pub ca_files: Vec<PathBuf>,
    /// Credentials by registry (`host[:port]`, `docker.io` for Docker Hub).
    pub credentials: HashMap<String, Credentials>,
    /// Per-registry settings (plain HTTP, CA, mirrors), e.g. from a registries config.
    pub hosts: BTreeMap<String, HostSettings>,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Client timeouts.
    pub timeouts: Timeouts,
}

impl RegistryOptions {
    /// Take the settings, retry policy and timeouts of a registries config.
    pub fn apply_config(&mut self, c: RegistriesConfig) {
        // References name Docker Hub `docker.io`, whatever alias the config uses.
        self.hosts.extend(c.registries.into_iter().map(|(k, v)| {
            match crate::docker_config::normalize_server(&k).as_str() {
                DEFAULT_REGISTRY => (DEFAULT_REGISTRY.to_string(), v),
                _ => (k, v),
            }
        }));
        self.retry = c.retry;
        self.timeouts = c.timeouts;
    }

    /// Use `creds` for `registry`.
    pub fn with_credentials(mut self, registry: &str, creds: Credentials) -> Self {
        self.credentials.insert(registry.to_string(), creds);
        self
    }

    /// The registries a pull of something on `registry` may contact: its mirrors
    /// (`host[:port]`) and itself. Credentials are needed for these.
    pub fn pull_sources(&self, registry: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .hosts
            .get(registry)
            .map(|h| {
                h.mirrors
                    .iter()
                    .filter_map(|m| parse_mirror(m).map(|(_, host)| host.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        v.push(registry.to_string());
        v
    }
}

/// The registry client; build one per process and share it.
pub struct Registry {
    pub(crate) transport: Transport,
    insecure: HashSet<String>,
    mirrors: HashMap<String, Vec<(bool, String)>>,
    /// Mirrors that failed other than by lacking content; skipped from then on.
    dead: Mutex<HashSet<String>>,
    /// (mirror, repository) pairs where the mirror lacked content; skipped for that
    /// repository from then on.
    lacking: Mutex<HashSet<(String, String)>>,
    warnings: Mutex<Vec<String>>,
}

impl Registry {
    /// Build the client.
    pub fn new(opts: &RegistryOptions) -> Result<Self, RegistryError> {
        let mut ca_files = opts.ca_files.clone();
        let mut insecure: HashSet<String> = opts.insecure.iter().cloned().collect();
        let mut mirrors = HashMap::new();
        for (name, h) in &opts.hosts {
            ca_files.extend(h.ca.iter().cloned());
            if h.insecure {
                insecure.insert(name.clone());
            }
            let list: Vec<(bool, String)> = h
                .mirrors
                .iter()
                .filter_map(|m| parse_mirror(m).map(|(http, host)| (http, host.to_string())))
                .collect();
            mirrors.insert(name.clone(), list);
        }
        let transport = Transport::new(
            &ca_files,
            &opts.timeouts,
            opts.retry.clone(),
            opts.credentials.clone(),
        )?;
        Ok(Self {
            transport,
            insecure,
            mirrors,
            dead: Mutex::default(),
            lacking: Mutex::default(),
            warnings: Mutex::default(),
        })
    }

    /// Warnings gathered since the last call (mirrors that failed and were skipped).
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// The endpoint of `registry` itself (`plain_http` forces plain HTTP).
    pub(crate) fn endpoint(&self, registry: &str, plain_http: bool, mirror: bool) -> Endpoint {
        let api_host = if registry == DEFAULT_REGISTRY {
            DOCKER_HUB_API.to_string()
        } else {
            registry.to_string()
        };
        let http = plain_http || self.insecure.contains(registry);
        Endpoint {
            registry: registry.to_string(),
            api_host,
            scheme: if http { "http" } else { "https" },
            mirror,
        }
    }

    /// Where a pull of `image` looks: live mirrors in order, then the registry.
    fn pull_endpoints(&self, image: &ImageRef) -> Vec<Endpoint> {
        let dead = self.dead.lock().map(|d| d.clone()).unwrap_or_default();
        let lacking = self.lacking.lock().map(|d| d.clone()).unwrap_or_default();
        let mut v: Vec<Endpoint> = self
            .mirrors
            .get(&image.registry)
            .into_iter()
            .flatten()
            .filter(|(_, host)| {
                !dead.contains(host) && !lacking.contains(&(host.clone(), image.repository.clone()))
            })
            .map(|(http, host)| self.endpoint(host, *http, true))
            .collect();
        v.push(self.endpoint(&image.registry, false, false));
        v
    }

    /// Run `op` against each pull endpoint of `image` until one succeeds. A mirror's
    /// failure is a warning, and the mirror is skipped from then on (for this
    /// repository when it only lacked the content); the registry's own failure is the
    /// error.
    async fn try_sources<T, F>(&self, image: &ImageRef, op: F) -> Result<T, RegistryError>
    where
        F: AsyncFn(&Endpoint) -> Result<T, RegistryError>,
    {
        let endpoints = self.pull_endpoints(image);
        let mut last = None;
        for ep in &endpoints {
            match op(ep).await {
                Ok(v) => return Ok(v),
                Err(e) if ep.mirror => {
                    let lacks = matches!(
                        e,
                        RegistryError::ManifestUnknown { .. } | RegistryError::BlobUnknown { .. }
                    );
                    if lacks {
                        if let Ok(mut l) = self.lacking.lock() {
                            l.insert((ep.registry.clone(), image.repository.clone()));
                        }
                    } else if let Ok(mut d) = self.dead.lock() {
                        d.insert(ep.registry.clone());
                    }
                    if let Ok(mut w) = self.warnings.lock() {
                        w.push(format!(
                            "mirror {} of {}: {e}; trying the next source",
                            ep.registry, image.registry
                        ));
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last
            .unwrap_or_else(|| Subject::new(image.to_string()).other("no source".into(), false)))
    }

    /// Fetch a manifest or index (by the reference's digest if pinned, else its tag),
    /// always accepting all four manifest types. Returns the body and its digest.
    pub async fn fetch_manifest(
        &self,
        image: &ImageRef,
    ) -> Result<(Vec<u8>, Digest), RegistryError> {
        let subject = Subject::new(image.to_string());
        let reference = match (&image.digest, &image.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => crate::reference::DEFAULT_TAG.to_string(),
        };
        let path = format!("/v2/{}/manifests/{reference}", image.repository);
        let scopes = crate::auth::Scopes::pull(&image.repository);
        let body = self
            .try_sources(image, async |ep| {
                let url = ep.url(&path);
                let resp = self
                    .transport
                    .send(ep, &scopes, &subject, |c| {
                        Ok(c.get(&url)
                            .header(reqwest::header::ACCEPT, ACCEPT_ALL.join(", ")))
                    })
                    .await?;
                let status = resp.status();
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| subject.other(chain(&e), false))?;
                if !status.is_success() {
                    return Err(status_error(status, &body, &subject));
                }
                Ok(body)
            })
            .await?;
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
        Ok((body.to_vec(), actual))
    }

    /// Open a blob for reading from the first source that has it.
    async fn open_blob(
        &self,
        image: &ImageRef,
        subject: &Subject,
        digest: &Digest,
    ) -> Result<reqwest::Response, RegistryError> {
        let path = format!("/v2/{}/blobs/{digest}", image.repository);
        let scopes = crate::auth::Scopes::pull(&image.repository);
        self.try_sources(image, async |ep| {
            let url = ep.url(&path);
            let resp = self
                .transport
                .send(ep, &scopes, subject, |c| Ok(c.get(&url)))
                .await?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let body = resp.bytes().await.unwrap_or_default();
            Err(status_error(status, &body, subject))
        })
        .await
    }

    /// Start downloading a blob: its chunks come from [`BlobReader::chunk`], which
    /// checks the digest at the end.
    pub async fn blob_reader(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
    ) -> Result<BlobReader, RegistryError> {
        let subject = Subject::blob(image.to_string(), what, digest);
        let resp = self.open_blob(image, &subject, digest).await?;
        Ok(BlobReader {
            resp,
            hasher: Hasher::default(),
            subject,
            digest: digest.clone(),
            done: false,
        })
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
        let mut r = self.blob_reader(image, what, digest).await?;
        let mut total = 0u64;
        while let Some(chunk) = r.chunk().await? {
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
        Ok(total)
    }

    /// Check that the credentials for `registry` are accepted (the `/v2/` endpoint,
    /// through whatever challenge it presents). A registry that asks for nothing
    /// passes.
    pub async fn check_login(&self, registry: &str) -> Result<(), RegistryError> {
        let ep = self.endpoint(registry, false, false);
        let subject = Subject::new(registry);
        let url = ep.url("/v2/");
        let resp = self
            .transport
            .send(&ep, &crate::auth::Scopes::none(), &subject, |c| {
                Ok(c.get(&url))
            })
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(subject.other(
            format!(
                "{url} answered {status}: {}; is this a registry?",
                crate::registry_error::body_excerpt(&body)
            ),
            false,
        ))
    }
}

/// A blob download in progress.
pub struct BlobReader {
    resp: reqwest::Response,
    hasher: Hasher,
    subject: Subject,
    digest: Digest,
    done: bool,
}

impl BlobReader {
    /// The next chunk, or `None` at the end once the content hashed to its digest.
    /// A connection that breaks off gives a transient error (fetch the blob again).
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, RegistryError> {
        if self.done {
            return Ok(None);
        }
        match self.resp.chunk().await {
            Ok(Some(c)) => {
                self.hasher.update(&c);
                Ok(Some(c))
            }
            Ok(None) => {
                self.done = true;
                let actual = std::mem::take(&mut self.hasher).finish();
                if actual != self.digest {
                    let (what, _) = self
                        .subject
                        .blob
                        .clone()
                        .unwrap_or(("blob", actual.clone()));
                    return Err(RegistryError::DigestMismatch {
                        image: self.subject.name.clone(),
                        what,
                        expected: self.digest.to_string(),
                        actual: actual.to_string(),
                    });
                }
                Ok(None)
            }
            Err(e) => Err(self.subject.other(chain(&e), true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_come_first_and_hub_aliases_fold() {
        let mut o = RegistryOptions::default();
        o.apply_config(
            RegistriesConfig::parse(
                std::path::Path::new("r.json"),
                r#"{"registries":{"index.docker.io":{"mirrors":["m.example:1","http://10.0.0.2:2"]},
                    "local:5000":{"insecure":true}}}"#,
            )
            .unwrap(),
        );
        assert_eq!(
            o.pull_sources("docker.io"),
            ["m.example:1", "10.0.0.2:2", "docker.io"]
        );
        assert_eq!(o.pull_sources("other:1"), ["other:1"]);
        let r = Registry::new(&o).unwrap();
        let eps = r.pull_endpoints(&ImageRef::parse("alpine").unwrap());
        let urls: Vec<(String, bool)> = eps.iter().map(|e| (e.url("/v2/"), e.mirror)).collect();
        assert_eq!(
            urls,
            [
                ("https://m.example:1/v2/".to_string(), true),
                ("http://10.0.0.2:2/v2/".to_string(), true),
                ("https://registry-1.docker.io/v2/".to_string(), false),
            ]
        );
        let local = r.pull_endpoints(&ImageRef::parse("local:5000/x").unwrap());
        assert_eq!(local[0].url("/v2/"), "http://local:5000/v2/");
    }
}
