//! Platforms (`os/arch[/variant]`) and manifest selection from an image index.
//!
//! Attestation entries (`unknown/unknown`, or annotated as attestation manifests) are
//! never chosen. When nothing matches, the error lists what the index offers.

use crate::manifest::{Descriptor, Index};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Errors from platform parsing and selection.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// `--platform` value not of the form os/arch[/variant].
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/arm64/v8")]
    Invalid(String),
    /// No index entry matches the wanted platform.
    #[error("no matching manifest for {wanted} in {image}; available platforms: {available}")]
    NoMatch {
        /// The platform asked for.
        wanted: Platform,
        /// The image reference.
        image: String,
        /// Comma-separated list of what the index offers.
        available: String,
    },
}

/// An OCI platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture in GOARCH spelling, e.g. `amd64`.
    pub architecture: String,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Self::new(os, arch, None)),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Self::new(os, arch, Some(v))),
            _ => Err(PlatformError::Invalid(s.to_string())),
        }
    }

    fn new(os: &str, arch: &str, variant: Option<&str>) -> Self {
        Self {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// The platform this binary runs on.
    pub fn host() -> Self {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            other => (other, None),
        };
        Self::new("linux", arch, variant)
    }

    /// Variant with the architecture's default filled in (`arm64` means `v8`).
    fn effective_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8"),
            (_, v) => v,
        }
    }

    /// Does an offered platform satisfy this wanted one? A wanted platform without a
    /// variant accepts any variant.
    pub fn matches(&self, offered: &Platform) -> bool {
        self.os == offered.os
            && self.architecture == offered.architecture
            && (self.variant.is_none() || self.effective_variant() == offered.effective_variant())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn is_attestation(d: &Descriptor) -> bool {
    d.annotations
        .get("vnd.docker.reference.type")
        .map(String::as_str)
        == Some("attestation-manifest")
        || d.platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" || p.architecture == "unknown")
}

/// Pick the manifest for `wanted` from an index. Among several matches an exact variant
/// match wins, then the first entry.
pub fn select<'a>(
    index: &'a Index,
    wanted: &Platform,
    image: &str,
) -> Result<&'a Descriptor, PlatformError> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| !is_attestation(d))
        .filter(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
        .collect();
    let exact = candidates.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.effective_variant() == wanted.effective_variant())
    });
    if let Some(d) = exact.or(candidates.first()) {
        return Ok(d);
    }
    let available: Vec<String> = index
        .manifests
        .iter()
        .filter(|d| !is_attestation(d))
        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
        .collect();
    Err(PlatformError::NoMatch {
        wanted: wanted.clone(),
        image: image.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, os: &str, arch: &str, v: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: crate::manifest::OCI_MANIFEST.into(),
            digest: format!("sha256:{}", format!("{n:02x}").repeat(32)),
            size: 1,
            platform: Some(Platform::new(os, arch, v)),
            annotations: Default::default(),
        }
    }

    fn index() -> Index {
        let mut att = entry(9, "unknown", "unknown", None);
        att.annotations.insert(
            "vnd.docker.reference.type".into(),
            "attestation-manifest".into(),
        );
        Index {
            schema_version: 2,
            media_type: None,
            manifests: vec![
                att,
                entry(1, "linux", "amd64", None),
                entry(2, "linux", "arm64", Some("v8")),
                entry(3, "linux", "arm", Some("v6")),
                entry(4, "linux", "arm", Some("v7")),
            ],
        }
    }

    #[test]
    fn parses() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64/v8"
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selects_by_arch_and_variant() {
        let i = index();
        let pick = |s: &str| {
            select(&i, &Platform::parse(s).unwrap(), "x")
                .unwrap()
                .digest
                .clone()
        };
        assert!(pick("linux/amd64").starts_with("sha256:01"));
        assert!(pick("linux/arm64").starts_with("sha256:02"));
        assert!(pick("linux/arm64/v8").starts_with("sha256:02"));
        assert!(pick("linux/arm/v7").starts_with("sha256:04"));
        assert!(pick("linux/arm/v6").starts_with("sha256:03"));
    }

    #[test]
    fn never_picks_attestation_and_lists_available() {
        let i = index();
        let err = select(&i, &Platform::parse("unknown/unknown").unwrap(), "reg/x:1").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("no matching manifest for unknown/unknown in reg/x:1"),
            "{msg}"
        );
        assert!(
            msg.contains("linux/amd64, linux/arm64/v8, linux/arm/v6, linux/arm/v7"),
            "{msg}"
        );
        assert!(select(&i, &Platform::parse("linux/s390x").unwrap(), "x").is_err());
    }
}
