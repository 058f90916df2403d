//! Planning a load: which images the archive's `index.json` (OCI layout) or
//! `manifest.json` (docker-archive) names, and the staged blobs each needs, checked
//! against their digests and sizes. docker-archive images get a synthesised manifest.

use super::docker::{self, Entry};
use super::load::LoadError;
use super::stage::{Staged, StagedFile};
use super::{CONTAINERD_NAME, REF_NAME};
use crate::digest::Digest;
use crate::manifest::{
    layer_compression, parse_document, Compression, Descriptor, Document, ImageConfig, Index,
    Manifest, OCI_MANIFEST,
};
use crate::platform::{self, Platform};
use crate::reference::ImageRef;
use std::io::{self, Read};

/// Largest JSON document (index, manifest, config) read from an archive.
const MAX_JSON: u64 = 8 << 20;

/// A layer to verify and commit.
pub(super) struct PlannedLayer {
    /// Archive entry holding the blob.
    pub(super) entry: String,
    pub(super) digest: Digest,
    pub(super) diff_id: Digest,
    pub(super) size: u64,
    pub(super) media_type: String,
    pub(super) comp: Compression,
}

/// An image to commit.
pub(super) struct Planned {
    pub(super) manifest_bytes: Vec<u8>,
    /// Archive entry of the manifest; `None` when synthesised.
    pub(super) manifest_entry: Option<String>,
    pub(super) media_type: String,
    pub(super) config_entry: String,
    pub(super) config_digest: Digest,
    pub(super) platform: String,
    pub(super) layers: Vec<PlannedLayer>,
    pub(super) references: Vec<ImageRef>,
}

/// Read a staged JSON document (at most [`MAX_JSON`] bytes).
fn read_json_entry(staged: &Staged, entry: &str, source: &str) -> Result<Vec<u8>, LoadError> {
    let f = staged
        .get(entry)
        .ok_or_else(|| LoadError::doc(source, entry, "missing from the archive"))?;
    if f.size > MAX_JSON {
        return Err(LoadError::doc(
            source,
            entry,
            format!(
                "{} bytes is over the {MAX_JSON}-byte limit for JSON documents",
                f.size
            ),
        ));
    }
    std::fs::read(f.tmp.path()).map_err(|e| LoadError::read(source, e))
}

/// The staged blob `d`, checked against the digest it is named by and, when known, its
/// descriptor size.
fn blob<'a>(
    staged: &'a Staged,
    d: &Digest,
    size: Option<u64>,
    what: &str,
    source: &str,
) -> Result<(String, &'a StagedFile), LoadError> {
    let entry = format!("blobs/sha256/{}", d.hex());
    let f = staged.get(&entry).ok_or_else(|| LoadError::MissingBlob {
        source_name: source.to_string(),
        what: what.to_string(),
        blob: d.to_string(),
        entry: entry.clone(),
    })?;
    if &f.digest != d {
        return Err(LoadError::BlobDigest {
            source_name: source.to_string(),
            entry,
            expected: d.clone(),
            actual: f.digest.clone(),
        });
    }
    if let Some(s) = size.filter(|s| *s != f.size) {
        return Err(LoadError::BlobSize {
            source_name: source.to_string(),
            entry,
            expected: s,
            actual: f.size,
        });
    }
    Ok((entry, f))
}

/// References from an index entry's annotations: containerd's full name, else the OCI
/// ref name when it is a full reference (a bare tag such as `latest` names no image).
fn names(d: &Descriptor) -> Vec<ImageRef> {
    let full = d.annotations.get(CONTAINERD_NAME).or_else(|| {
        d.annotations
            .get(REF_NAME)
            .filter(|n| n.contains('/') || n.contains(':'))
    });
    full.and_then(|n| ImageRef::parse(n).ok())
        .into_iter()
        .collect()
}

/// The images of the archive: from `index.json` when there is one (OCI layout, also
/// in Docker 25+ docker-archives), else from `manifest.json`.
pub(super) fn plan(staged: &Staged, source: &str) -> Result<Vec<Planned>, LoadError> {
    let drafts = if staged.get("index.json").is_some() {
        oci_drafts(staged, source)?
    } else if staged.get("manifest.json").is_some() {
        docker_drafts(staged, source)?
    } else {
        return Err(LoadError::NotArchive {
            source_name: source.to_string(),
            detail: "it has neither index.json (OCI layout) nor manifest.json (docker-archive)"
                .into(),
        });
    };
    drafts
        .into_iter()
        .map(|d| finish_plan(staged, source, d))
        .collect()
}

fn oci_drafts(staged: &Staged, source: &str) -> Result<Vec<Draft>, LoadError> {
    let body = read_json_entry(staged, "index.json", source)?;
    let index: Index =
        serde_json::from_slice(&body).map_err(|e| LoadError::doc(source, "index.json", e))?;
    let mut drafts: Vec<Draft> = Vec::new();
    for d in &index.manifests {
        let refs = names(d);
        let (manifest_digest, bytes, manifest) = resolve_manifest(staged, d, source)?;
        // Several index entries name one image under different tags.
        if let Some(p) = drafts
            .iter_mut()
            .find(|p| p.manifest_entry.as_deref() == Some(&entry_of(&manifest_digest)))
        {
            p.references.extend(refs);
            continue;
        }
        let what = format!("image {manifest_digest}");
        let config_digest = desc_digest(&manifest.config, source, &what)?;
        let (config_entry, _) = blob(
            staged,
            &config_digest,
            Some(manifest.config.size),
            &format!("config of {what}"),
            source,
        )?;
        let mut layers = Vec::new();
        for (i, l) in manifest.layers.iter().enumerate() {
            let digest = desc_digest(l, source, &what)?;
            let lwhat = format!("layer {} of {what}", i + 1);
            let (entry, _) = blob(staged, &digest, Some(l.size), &lwhat, source)?;
            let comp = layer_compression(l).map_err(|e| LoadError::doc(source, &entry, e))?;
            layers.push(LayerDraft {
                entry,
                digest,
                size: l.size,
                media_type: l.media_type.clone(),
                comp,
            });
        }
        let media_type = manifest.media_type.clone();
        drafts.push(Draft {
            manifest_entry: Some(entry_of(&manifest_digest)),
            media_type: media_type.unwrap_or_else(|| d.media_type.clone()),
            manifest_bytes: bytes,
            config_entry,
            config_digest,
            references: refs,
            layers,
        });
    }
    Ok(drafts)
}

fn entry_of(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn desc_digest(d: &Descriptor, source: &str, what: &str) -> Result<Digest, LoadError> {
    Digest::parse(&d.digest).map_err(|e| LoadError::doc(source, what, e))
}

/// The manifest an index entry names; a nested index is resolved to this host's entry.
fn resolve_manifest(
    staged: &Staged,
    d: &Descriptor,
    source: &str,
) -> Result<(Digest, Vec<u8>, Manifest), LoadError> {
    let mut desc = d.clone();
    for _ in 0..4 {
        let digest = desc_digest(&desc, source, "index.json")?;
        let (entry, _) = blob(staged, &digest, Some(desc.size), "manifest", source)?;
        let bytes = read_json_entry(staged, &entry, source)?;
        let mt = (!desc.media_type.is_empty()).then_some(desc.media_type.as_str());
        match parse_document(&bytes, mt).map_err(|e| LoadError::doc(source, &entry, e))? {
            Document::Manifest(m) => return Ok((digest, bytes, m)),
            Document::Index(idx) => {
                desc = platform::select(&idx, &Platform::host(), &entry)
                    .map_err(|e| LoadError::Platform {
                        source_name: source.to_string(),
                        error: Box::new(e),
                    })?
                    .clone();
            }
        }
    }
    Err(LoadError::doc(
        source,
        "index.json",
        "indexes nested too deep",
    ))
}

/// A layer before its diff_id is known.
struct LayerDraft {
    entry: String,
    digest: Digest,
    size: u64,
    media_type: String,
    comp: Compression,
}

/// An image before its config is read.
struct Draft {
    manifest_entry: Option<String>,
    manifest_bytes: Vec<u8>,
    media_type: String,
    config_entry: String,
    config_digest: Digest,
    layers: Vec<LayerDraft>,
    references: Vec<ImageRef>,
}

/// Read the config, pair the layers with its diff_ids and make the plan.
fn finish_plan(staged: &Staged, source: &str, d: Draft) -> Result<Planned, LoadError> {
    let Draft {
        manifest_entry,
        manifest_bytes,
        media_type,
        config_entry,
        config_digest,
        layers,
        references,
    } = d;
    let cfg_bytes = read_json_entry(staged, &config_entry, source)?;
    let cfg =
        ImageConfig::parse(&cfg_bytes).map_err(|e| LoadError::doc(source, &config_entry, e))?;
    let diff_ids = cfg
        .diff_ids(layers.len())
        .map_err(|e| LoadError::doc(source, &config_entry, e))?;
    let platform = Platform {
        os: cfg.os.clone(),
        architecture: cfg.architecture.clone(),
        variant: cfg.variant.clone(),
    };
    Ok(Planned {
        manifest_bytes,
        manifest_entry,
        media_type,
        config_entry,
        config_digest,
        platform: platform.to_string(),
        layers: layers
            .into_iter()
            .zip(diff_ids)
            .map(|(l, diff_id)| PlannedLayer {
                entry: l.entry,
                digest: l.digest,
                diff_id,
                size: l.size,
                media_type: l.media_type,
                comp: l.comp,
            })
            .collect(),
        references,
    })
}

fn docker_drafts(staged: &Staged, source: &str) -> Result<Vec<Draft>, LoadError> {
    let body = read_json_entry(staged, "manifest.json", source)?;
    let entries: Vec<Entry> =
        serde_json::from_slice(&body).map_err(|e| LoadError::doc(source, "manifest.json", e))?;
    let mut drafts = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        let what = format!("image {} of manifest.json", n + 1);
        let missing = |w: String, path: &str| LoadError::MissingBlob {
            source_name: source.to_string(),
            what: w,
            blob: path.to_string(),
            entry: path.to_string(),
        };
        let cfg = staged
            .get(&e.config)
            .ok_or_else(|| missing(format!("config of {what}"), &e.config))?;
        let config_digest = cfg.digest.clone();
        let mut layers = Vec::new();
        for (i, path) in e.layers.iter().enumerate() {
            let f = staged
                .get(path)
                .ok_or_else(|| missing(format!("layer {} of {what}", i + 1), path))?;
            let comp = sniff(f.tmp.path()).map_err(|e| LoadError::read(source, e))?;
            layers.push(LayerDraft {
                entry: staged.resolve(path).unwrap_or_else(|| path.clone()),
                digest: f.digest.clone(),
                size: f.size,
                media_type: docker::layer_media_type(comp).to_string(),
                comp,
            });
        }
        let sizes: Vec<(Digest, u64, Compression)> = layers
            .iter()
            .map(|l| (l.digest.clone(), l.size, l.comp))
            .collect();
        let manifest = docker::synthesize((&config_digest, cfg.size), &sizes);
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| LoadError::doc(source, "manifest.json", e))?;
        let references: Vec<ImageRef> = e
            .repo_tags
            .iter()
            .flatten()
            .filter_map(|t| ImageRef::parse(t).ok())
            .collect();
        let config_entry = staged
            .resolve(&e.config)
            .unwrap_or_else(|| e.config.clone());
        drafts.push(Draft {
            media_type: manifest.media_type.unwrap_or_else(|| OCI_MANIFEST.into()),
            manifest_entry: None,
            manifest_bytes: bytes,
            config_digest,
            config_entry,
            layers,
            references,
        });
    }
    Ok(drafts)
}

/// Compression of a staged layer, from its magic bytes.
fn sniff(path: &std::path::Path) -> io::Result<Compression> {
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)?.read(&mut head)?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    })
}
