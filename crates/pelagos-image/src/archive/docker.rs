//! The docker-archive parts: `manifest.json` entries, `repositories`, Docker's short
//! names, and the schema2 manifest made for images that arrive without one.

use crate::digest::Digest;
use crate::manifest::{Compression, Descriptor, Manifest, DOCKER_MANIFEST, OCI_MANIFEST};
use crate::reference::{ImageRef, DEFAULT_REGISTRY};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Docker's image config media type.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// OCI image config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// One image of a docker-archive `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    /// Archive path of the config.
    pub config: String,
    /// Names the image is loaded as (`busybox:latest`).
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Archive paths of the layer tars, base first.
    pub layers: Vec<String>,
}

/// Docker's short form: `docker.io/library/busybox:1` -> `busybox:1`,
/// `docker.io/x/y:1` -> `x/y:1`; other registries stay as they are. `None` for a
/// reference without tag.
pub fn familiar(r: &ImageRef) -> Option<String> {
    let tag = r.tag.as_deref()?;
    Some(format!("{}:{tag}", familiar_name(r)))
}

fn familiar_name(r: &ImageRef) -> String {
    if r.registry == DEFAULT_REGISTRY {
        r.repository
            .strip_prefix("library/")
            .unwrap_or(&r.repository)
            .to_string()
    } else {
        r.name()
    }
}

/// `repositories`: short name -> tag -> id of the top layer.
pub fn repositories(tagged: &[(ImageRef, Digest)]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (r, top) in tagged {
        if let Some(tag) = &r.tag {
            out.entry(familiar_name(r))
                .or_default()
                .insert(tag.clone(), top.hex().to_string());
        }
    }
    out
}

/// Media type of a docker-archive layer stored with compression `c`.
pub fn layer_media_type(c: Compression) -> &'static str {
    match c {
        Compression::None => "application/vnd.docker.image.rootfs.diff.tar",
        Compression::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// The manifest for a docker-archive image: Docker schema2, or OCI when a layer is
/// zstd (schema2 has no media type for it).
pub fn synthesize(config: (&Digest, u64), layers: &[(Digest, u64, Compression)]) -> Manifest {
    let oci = layers.iter().any(|l| l.2 == Compression::Zstd);
    let desc = |media_type: &str, digest: &Digest, size: u64| Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        platform: None,
        annotations: BTreeMap::new(),
    };
    Manifest {
        schema_version: 2,
        media_type: Some(if oci { OCI_MANIFEST } else { DOCKER_MANIFEST }.to_string()),
        config: desc(
            if oci { OCI_CONFIG } else { DOCKER_CONFIG },
            config.0,
            config.1,
        ),
        layers: layers
            .iter()
            .map(|(d, size, c)| desc(layer_media_type(*c), d, *size))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        let p = |s| ImageRef::parse(s).unwrap();
        assert_eq!(familiar(&p("busybox")).unwrap(), "busybox:latest");
        assert_eq!(familiar(&p("x/y:1")).unwrap(), "x/y:1");
        assert_eq!(
            familiar(&p("127.0.0.1:5000/a/b:2")).unwrap(),
            "127.0.0.1:5000/a/b:2"
        );
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(familiar(&p(&d)), None);
        let top = Digest::of_bytes(b"top");
        let repos = repositories(&[(p("busybox:1"), top.clone())]);
        assert_eq!(repos["busybox"]["1"], top.hex());
    }

    #[test]
    fn synthesized_manifest_types() {
        let c = Digest::of_bytes(b"c");
        let l = Digest::of_bytes(b"l");
        let m = synthesize((&c, 3), &[(l.clone(), 9, Compression::None)]);
        assert_eq!(m.media_type.as_deref(), Some(DOCKER_MANIFEST));
        assert_eq!(m.config.media_type, DOCKER_CONFIG);
        let m = synthesize((&c, 3), &[(l, 9, Compression::Zstd)]);
        assert_eq!(m.media_type.as_deref(), Some(OCI_MANIFEST));
    }
}
