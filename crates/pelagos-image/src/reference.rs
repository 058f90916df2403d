//! Image references: parsing, validation and Docker-style normalisation.
//!
//! `alpine` becomes `docker.io/library/alpine:latest`; `host:port/repo[:tag][@digest]`
//! keeps its registry. A reference is validated fully before any request is sent, so
//! the registry never sees a name it would answer with a plain-text 404 or a 500.

use crate::digest::{Digest, DigestError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The registry used when a reference names none.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag used when a reference names neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// Errors from parsing an image reference.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The reference is empty.
    #[error("empty image reference")]
    Empty,
    /// The repository path is not valid.
    #[error("invalid image reference {reference:?}: repository {repo:?} must be lowercase letters, digits and separators (. _ __ -) between components")]
    Repository {
        /// The whole reference.
        reference: String,
        /// The offending repository path.
        repo: String,
    },
    /// The tag is not valid.
    #[error("invalid image reference {reference:?}: tag {tag:?} must be 1-128 of [A-Za-z0-9_.-] not starting with . or -")]
    Tag {
        /// The whole reference.
        reference: String,
        /// The offending tag.
        tag: String,
    },
    /// The registry host is not valid.
    #[error("invalid image reference {reference:?}: registry {registry:?} is not a host[:port]")]
    Registry {
        /// The whole reference.
        reference: String,
        /// The offending registry.
        registry: String,
    },
    /// The digest is not valid.
    #[error("invalid image reference {reference:?}: {error}")]
    Digest {
        /// The whole reference.
        reference: String,
        /// Why the digest is invalid.
        error: DigestError,
    },
}

/// A fully normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// Registry host, with port if any (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/alpine`).
    pub repository: String,
    /// Tag, `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// Digest pin, if given.
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// Parse and normalise a reference string.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match input.rsplit_once('@') {
            Some((r, d)) => {
                let d = Digest::parse(d).map_err(|error| ReferenceError::Digest {
                    reference: input.to_string(),
                    error,
                })?;
                (r, Some(d))
            }
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::Tag {
                    reference: input.into(),
                    tag: t.into(),
                });
            }
        }
        let (registry, repository) = split_registry(name);
        if !valid_registry(&registry) {
            return Err(ReferenceError::Registry {
                reference: input.into(),
                registry,
            });
        }
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        if !valid_repository(&repository) {
            return Err(ReferenceError::Repository {
                reference: input.into(),
                repo: repository,
            });
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same reference with another tag and no digest (for `image tag`).
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The host part without port, for matching `--insecure` lists.
    pub fn host(&self) -> &str {
        self.registry
            .rsplit_once(':')
            .map_or(&self.registry, |(h, _)| h)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        Self::parse(s)
    }
}

/// Split `name` into (registry, repository) by Docker's rule: the first component is a
/// registry when it contains `.` or `:`, or is `localhost`.
fn split_registry(name: &str) -> (String, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            let reg = if first == "index.docker.io" || first == "registry-1.docker.io" {
                DEFAULT_REGISTRY.to_string()
            } else {
                first.to_string()
            };
            (reg, rest)
        }
        _ => (DEFAULT_REGISTRY.to_string(), name),
    }
}

/// Is `r` a registry name: `host[:port]` (a DNS name, IPv4 or `[IPv6]`)?
pub fn valid_registry(r: &str) -> bool {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || r.starts_with('[') => (h, Some(p)),
        _ => (r, None),
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty() && repo.len() <= 255 && repo.split('/').all(valid_path_component)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const D: &str = "sha256:80c608a3ed4159dc114901e7c949965aabe8f0f5559e7cc20eae904052e2d180";

    #[test]
    fn docker_hub_short_names() {
        assert_eq!(p("alpine").to_string(), "docker.io/library/alpine:latest");
        assert_eq!(
            p("alpine:3.19").to_string(),
            "docker.io/library/alpine:3.19"
        );
        assert_eq!(p("user/app").to_string(), "docker.io/user/app:latest");
        assert_eq!(
            p("docker.io/alpine").to_string(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            p("index.docker.io/library/x").to_string(),
            "docker.io/library/x:latest"
        );
    }

    #[test]
    fn registries_with_ports() {
        let r = p("localhost:5000/x");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "x")
        );
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = p("127.0.0.1:5000/private/busybox:1.35");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "private/busybox");
        assert_eq!(r.tag.as_deref(), Some("1.35"));
        assert_eq!(r.host(), "127.0.0.1");
        assert_eq!(p("localhost/x").registry, "localhost");
        assert_eq!(p("ghcr.io/o/r").to_string(), "ghcr.io/o/r:latest");
        assert_eq!(p("[::1]:5000/x").registry, "[::1]:5000");
    }

    #[test]
    fn digests() {
        let r = p(&format!("busybox@{D}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_ref().map(Digest::as_str), Some(D));
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        let r = p(&format!("127.0.0.1:5000/busybox:1.35@{D}"));
        assert_eq!(r.tag.as_deref(), Some("1.35"));
        assert!(r.digest.is_some());
    }

    #[test]
    fn rejects_invalid() {
        for s in [
            "",
            "Busybox",
            "busybox@sha256:xyz",
            "busybox:",
            "busybox:-x",
            "a//b",
            "/a",
            "a/",
            "a..b",
            "localhost:x5/a",
            "bad_host.io:99999999/a",
            "ex ample/a",
            "a/../b",
        ] {
            assert!(ImageRef::parse(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn separators() {
        assert!(valid_path_component("a__b"));
        assert!(valid_path_component("a---b"));
        assert!(!valid_path_component("a___b"));
        assert!(!valid_path_component("a._b"));
    }

    #[test]
    fn with_tag_drops_digest() {
        let r = p(&format!("x@{D}")).with_tag("v1");
        assert_eq!(r.to_string(), "docker.io/library/x:v1");
    }
}
