//! The registry client: one HTTP client per process ([`crate::transport`]), the
//! endpoints of a registry (its mirrors first, for pulls), and the read side of the
//! distribution API (manifests, blobs, login checks). The write side is in
//! [`crate::registry_push`].

use crate::backoff::{RetryPolicy, Timeouts};
use crate::digest::Digest;
use crate::hosts::{parse_mirror, HostSettings, RegistriesConfig};
use crate::manifest::ACCEPT_ALL;
use crate::reference::{ImageRef, DEFAULT_REGISTRY};
use crate::registry_error::{stream_error, Subject};
use crate::transport::{Access, Endpoint, Setup, Transport};
use oci_client::errors::OciDistributionError;
use oci_client::RegistryOperation;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub use crate::auth::Credentials;
pub use crate::registry_error::RegistryError;

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
    mirrors: HashMap<String, Vec<String>>,
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
        let mut plain_http: HashSet<String> = opts.insecure.iter().cloned().collect();
        let mut mirrors = HashMap::new();
        for (name, h) in &opts.hosts {
            ca_files.extend(h.ca.iter().cloned());
            if h.insecure {
                plain_http.insert(name.clone());
            }
            let mut list = Vec::new();
            for (http, host) in h.mirrors.iter().filter_map(|m| parse_mirror(m)) {
                if http {
                    plain_http.insert(host.to_string());
                }
                list.push(host.to_string());
            }
            mirrors.insert(name.clone(), list);
        }
        let transport = Transport::new(Setup {
            ca_files: &ca_files,
            plain_http: &plain_http,
            timeouts: &opts.timeouts,
            policy: opts.retry.clone(),
            credentials: opts.credentials.clone(),
        })?;
        Ok(Self {
            transport,
            mirrors,
            dead: Mutex::default(),
            lacking: Mutex::default(),
            warnings: Mutex::default(),
        })
    }

    /// Tell `f` of every retry as it happens: what failed, the wait and the attempt.
    pub fn on_retry(&mut self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.transport.notice = Some(Box::new(f));
    }

    /// Warnings gathered since the last call (mirrors that failed and were skipped).
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// The endpoint of `registry` itself.
    pub(crate) fn endpoint(registry: &str) -> Endpoint {
        Endpoint {
            registry: registry.to_string(),
            mirror: false,
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
            .filter(|host| {
                !dead.contains(*host)
                    && !lacking.contains(&((*host).clone(), image.repository.clone()))
            })
            .map(|host| Endpoint {
                registry: host.clone(),
                mirror: true,
            })
            .collect();
        v.push(Self::endpoint(&image.registry));
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
        let body = self
            .try_sources(image, async |ep| {
                let r = ep.reference(&image.repository, &reference);
                self.transport
                    .call(
                        ep,
                        &r,
                        RegistryOperation::Pull,
                        &subject,
                        async |c, auth| c.pull_manifest_raw(&r, auth, &ACCEPT_ALL).await,
                    )
                    .await
            })
            .await?
            .0;
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

    /// Start downloading a blob from the first source that has it: its chunks come
    /// from [`BlobReader::chunk`], which checks the digest at the end.
    pub async fn blob_reader(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
    ) -> Result<BlobReader, RegistryError> {
        let subject = Subject::blob(image.to_string(), what, digest);
        let stream = self
            .try_sources(image, async |ep| {
                let r = ep.reference(&image.repository, digest.as_str());
                self.transport
                    .call(ep, &r, RegistryOperation::Pull, &subject, async |c, _| {
                        c.pull_blob_stream(&r, digest.as_str()).await
                    })
                    .await
            })
            .await?;
        Ok(BlobReader {
            stream: stream.stream,
            subject,
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
                .map_err(|error| RegistryError::Write {
                    image: image.to_string(),
                    what,
                    digest: digest.clone(),
                    error,
                })?;
            total += chunk.len() as u64;
            progress(chunk.len() as u64);
        }
        Ok(total)
    }

    /// Check that the credentials for `registry` are accepted: access to a repository
    /// is asked for (a token server checks them then) and the repository's tag list
    /// read (a registry with Basic auth checks them then). A token that grants nothing
    /// on that repository still means the token server took the credentials (Docker
    /// Hub's answer for a repository that does not exist). A registry that asks for
    /// nothing passes; an answer that is not a registry's is an error.
    pub async fn check_login(&self, registry: &str) -> Result<(), RegistryError> {
        let ep = Self::endpoint(registry);
        let subject = Subject::new(registry);
        let r = ep.reference(LOGIN_PROBE, "latest");
        let answer = self
            .transport
            .call(
                &ep,
                &r,
                RegistryOperation::Pull,
                &subject,
                async |c, auth| {
                    match c.list_tags(&r, auth, Some(1), None).await {
                        Ok(_) => Ok(()),
                        // A registry's "no such repository": the credentials passed.
                        Err(OciDistributionError::RegistryError { .. }) => Ok(()),
                        Err(e) => Err(e),
                    }
                },
            )
            .await;
        match answer {
            Err(RegistryError::Denied { .. })
                if self.transport.access(&r, RegistryOperation::Pull) == Some(Access::Token) =>
            {
                Ok(())
            }
            Err(RegistryError::ManifestUnknown { .. }) => Err(subject.other(
                format!("{registry} answered /v2/{LOGIN_PROBE}/tags/list with 404 and no registry error; is this a registry?"),
                false,
            )),
            other => other,
        }
    }
}

/// The repository a login check reads the tags of; it need not exist.
const LOGIN_PROBE: &str = "pelagos-login-check";

/// A blob download in progress.
pub struct BlobReader {
    stream: futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
    subject: Subject,
}

impl BlobReader {
    /// The next chunk, or `None` at the end once the content hashed to its digest.
    /// A connection that breaks off gives a transient error (fetch the blob again).
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, RegistryError> {
        use futures_util::StreamExt as _;
        match self.stream.next().await {
            Some(Ok(c)) => Ok(Some(c)),
            Some(Err(e)) => Err(stream_error(e, &self.subject)),
            None => Ok(None),
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
        let names: Vec<(&str, bool)> = eps
            .iter()
            .map(|e| (e.registry.as_str(), e.mirror))
            .collect();
        assert_eq!(
            names,
            [
                ("m.example:1", true),
                ("10.0.0.2:2", true),
                ("docker.io", false)
            ]
        );
        let local = r.pull_endpoints(&ImageRef::parse("local:5000/x").unwrap());
        assert_eq!(local[0].reference("x", "v1").to_string(), "local:5000/x:v1");
    }
}
