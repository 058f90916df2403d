//! Manifest, index and image-config documents (OCI and Docker schema2 forms).
//!
//! The two formats share one JSON shape, so one set of tolerant structs reads both; the
//! media type decides what a document is. Unknown fields are ignored.

use crate::digest::{Digest, DigestError};
use crate::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Every manifest type we accept. The registry answers 404 or converts to schema1 when
/// one of them is missing from `Accept`, so all four are always sent.
pub const ACCEPT_ALL: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Errors from reading a manifest-like document.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The JSON does not parse.
    #[error("cannot parse {what}: {error}")]
    Json {
        /// What was being parsed.
        what: &'static str,
        /// The parser's complaint.
        error: serde_json::Error,
    },
    /// The media type is none we support.
    #[error("unsupported manifest media type {0:?} (supported: OCI manifest/index, Docker schema2 manifest/list)")]
    MediaType(String),
    /// A descriptor carries an invalid digest.
    #[error("descriptor in {what}: {error}")]
    Digest {
        /// What document held the descriptor.
        what: &'static str,
        /// The digest problem.
        error: DigestError,
    },
    /// The layer media type is none we can unpack.
    #[error("unsupported layer media type {media_type:?} for layer {digest}")]
    LayerType {
        /// The layer digest.
        digest: String,
        /// Its media type.
        media_type: String,
    },
    /// The config lists a different number of diff_ids than the manifest has layers.
    #[error("image config lists {diff_ids} diff_ids but the manifest has {layers} layers")]
    LayerCount {
        /// Number of diff_ids in the config.
        diff_ids: usize,
        /// Number of layers in the manifest.
        layers: usize,
    },
}

/// A content descriptor.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the target.
    #[serde(default)]
    pub media_type: String,
    /// Digest of the target (validated with [`Descriptor::digest`]).
    pub digest: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Platform, for index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The validated digest.
    pub fn digest(&self, what: &'static str) -> Result<Digest, ManifestError> {
        Digest::parse(&self.digest).map_err(|error| ManifestError::Digest { what, error })
    }
}

/// A single-platform image manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (absent in some OCI manifests).
    #[serde(default)]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// Layer blobs, base first.
    pub layers: Vec<Descriptor>,
}

/// An image index / manifest list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Per-platform manifests.
    pub manifests: Vec<Descriptor>,
}

/// A fetched manifest document, classified.
#[derive(Clone, Debug)]
pub enum Document {
    /// A single-platform manifest.
    Manifest(Manifest),
    /// An index of manifests.
    Index(Index),
}

/// Classify raw manifest bytes using the response content type, falling back to the
/// `mediaType` field and finally to the document's shape.
pub fn parse_document(body: &[u8], content_type: Option<&str>) -> Result<Document, ManifestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(body).map_err(|error| ManifestError::Json {
        what: "manifest",
        error,
    })?;
    let mt = probe
        .media_type
        .or_else(|| content_type.map(str::to_string))
        .unwrap_or_else(|| {
            if probe.manifests.is_some() {
                OCI_INDEX
            } else {
                OCI_MANIFEST
            }
            .to_string()
        });
    match mt.as_str() {
        OCI_INDEX | DOCKER_LIST => {
            serde_json::from_slice(body)
                .map(Document::Index)
                .map_err(|error| ManifestError::Json {
                    what: "image index",
                    error,
                })
        }
        OCI_MANIFEST | DOCKER_MANIFEST => serde_json::from_slice(body)
            .map(Document::Manifest)
            .map_err(|error| ManifestError::Json {
                what: "image manifest",
                error,
            }),
        other => Err(ManifestError::MediaType(other.to_string())),
    }
}

/// Compression of a layer blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// The compression a layer media type implies.
pub fn layer_compression(d: &Descriptor) -> Result<Compression, ManifestError> {
    match d.media_type.as_str() {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Ok(Compression::Zstd),
        other => Err(ManifestError::LayerType {
            digest: d.digest.clone(),
            media_type: other.to_string(),
        }),
    }
}

/// The parts of an image config pelagos reads. The raw JSON is kept in the store too.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Creation time as written by the builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Runtime defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    /// Layer diff_ids.
    #[serde(default)]
    pub rootfs: RootFs,
}

/// The `rootfs` section of an image config.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// sha256 of each uncompressed layer, base first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// The `config` section of an image config (Docker capitalisation).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `user[:group]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Entrypoint argv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Stop signal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Exposed ports (`8080/tcp` -> {}).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Volumes (`/data` -> {}).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// Docker healthcheck, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
}

impl ImageConfig {
    /// Parse a config blob.
    pub fn parse(body: &[u8]) -> Result<Self, ManifestError> {
        serde_json::from_slice(body).map_err(|error| ManifestError::Json {
            what: "image config",
            error,
        })
    }

    /// The validated diff_ids, checked against the manifest's layer count.
    pub fn diff_ids(&self, layers: usize) -> Result<Vec<Digest>, ManifestError> {
        if self.rootfs.diff_ids.len() != layers {
            return Err(ManifestError::LayerCount {
                diff_ids: self.rootfs.diff_ids.len(),
                layers,
            });
        }
        self.rootfs
            .diff_ids
            .iter()
            .map(|d| {
                Digest::parse(d).map_err(|error| ManifestError::Digest {
                    what: "image config rootfs",
                    error,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn classifies_documents() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"x","digest":"{D}","size":1}},"layers":[]}}"#
        );
        assert!(matches!(
            parse_document(m.as_bytes(), None).unwrap(),
            Document::Manifest(_)
        ));
        let i = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        );
        assert!(matches!(
            parse_document(i.as_bytes(), None).unwrap(),
            Document::Index(_)
        ));
        let bad = r#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(matches!(
            parse_document(bad.as_bytes(), None),
            Err(ManifestError::MediaType(_))
        ));
        assert!(parse_document(b"not json", None).is_err());
    }

    #[test]
    fn layer_types() {
        let mut d = Descriptor {
            media_type: String::new(),
            digest: D.into(),
            size: 0,
            platform: None,
            annotations: BTreeMap::new(),
        };
        for (mt, c) in [
            ("application/vnd.oci.image.layer.v1.tar", Compression::None),
            (
                "application/vnd.oci.image.layer.v1.tar+gzip",
                Compression::Gzip,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Compression::Gzip,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+zstd",
                Compression::Zstd,
            ),
        ] {
            d.media_type = mt.into();
            assert_eq!(layer_compression(&d).unwrap(), c);
        }
        d.media_type = "application/vnd.in-toto+json".into();
        assert!(layer_compression(&d).is_err());
    }

    #[test]
    fn config_diff_ids_checked() {
        let c = ImageConfig::parse(format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{D}"]}},"config":{{"Env":["A=b=c"],"User":"1000"}}}}"#).as_bytes()).unwrap();
        assert_eq!(c.diff_ids(1).unwrap().len(), 1);
        assert!(c.diff_ids(2).is_err());
        assert_eq!(c.config.unwrap().user.as_deref(), Some("1000"));
    }
}
