//! Loading an OCI layout or docker-archive tar into the store.
//!
//! 1. Stage: every file of the (plain, gzip or zstd) tar goes to a temp file in the
//!    store while its digest is computed; a short entry means a truncated archive.
//! 2. Plan: `index.json` (OCI layout; preferred when both are present, as in Docker
//!    25+ archives) or `manifest.json` (docker-archive) names the images; each blob a
//!    manifest names must be staged under its digest with the right size and content.
//!    docker-archive images get a synthesised schema2 manifest over their layer tars.
//! 3. Verify: every layer is decompressed and hashed against the config's diff_id; new
//!    layers are unpacked into temp dirs on the way.
//! 4. Commit: blobs, layers, image records, then references - only when everything
//!    above passed, so a corrupt or truncated archive commits nothing.

use super::plan::{plan, Planned};
use super::stage::{self, Staged};
use crate::digest::Digest;
use crate::layer_fetch::{decompress, unpack_hashed};
use crate::platform::PlatformError;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, LayerRecord, Store, StoreError, TempDir};
use crate::unpack::UnpackError;
use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read};

/// Errors from loading. Each names the archive (`source_name`: a file or `stdin`) and,
/// where one is involved, the entry or blob.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the archive failed (a corrupt compressed stream, a broken tar header...).
    #[error("{source_name}: reading the archive: {error}")]
    Read {
        /// The archive.
        source_name: String,
        /// The error.
        error: io::Error,
    },
    /// The input is no image archive.
    #[error("{source_name}: not an image archive: {detail}")]
    NotArchive {
        /// The archive.
        source_name: String,
        /// Why.
        detail: String,
    },
    /// An entry name is unusable.
    #[error("{source_name}: entry {entry:?} has an empty or '..' name")]
    BadEntry {
        /// The archive.
        source_name: String,
        /// The entry name.
        entry: String,
    },
    /// An entry ends early.
    #[error("{source_name}: entry {entry} is truncated ({actual} of {expected} bytes); the archive is incomplete")]
    Truncated {
        /// The archive.
        source_name: String,
        /// The entry.
        entry: String,
        /// Size from its header.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// A blob the archive's manifests need is not in it.
    #[error("{source_name}: {what}: blob {blob} is missing from the archive (no entry {entry}); the archive is truncated or incomplete")]
    MissingBlob {
        /// The archive.
        source_name: String,
        /// Which blob (`layer 2 of image ...`).
        what: String,
        /// Its digest, or the path the docker manifest names.
        blob: String,
        /// The entry looked for.
        entry: String,
    },
    /// A blob's content does not match its digest.
    #[error("{source_name}: blob {entry}: content hashes to {actual}, not {expected}; the archive is corrupt")]
    BlobDigest {
        /// The archive.
        source_name: String,
        /// The entry.
        entry: String,
        /// The digest it should have.
        expected: Digest,
        /// What it hashes to.
        actual: Digest,
    },
    /// A blob's size differs from its descriptor.
    #[error("{source_name}: blob {entry} has {actual} bytes, but its descriptor says {expected}")]
    BlobSize {
        /// The archive.
        source_name: String,
        /// The entry.
        entry: String,
        /// Size from the descriptor.
        expected: u64,
        /// Size in the archive.
        actual: u64,
    },
    /// A JSON document is unusable.
    #[error("{source_name}: {entry}: {detail}")]
    Document {
        /// The archive.
        source_name: String,
        /// The entry.
        entry: String,
        /// The problem.
        detail: String,
    },
    /// A layer does not decompress to the config's diff_id.
    #[error("{source_name}: image {image}: layer {layer} unpacks to {actual}, but the image config says {expected}; the archive is corrupt")]
    DiffId {
        /// The archive.
        source_name: String,
        /// The image id.
        image: Digest,
        /// The layer blob.
        layer: Digest,
        /// diff_id from the config.
        expected: Digest,
        /// What the content hashes to.
        actual: Digest,
    },
    /// A layer cannot be unpacked.
    #[error("{source_name}: layer {layer}: {error}")]
    Unpack {
        /// The archive.
        source_name: String,
        /// The layer blob.
        layer: Digest,
        /// The problem.
        error: UnpackError,
    },
    /// No entry of a nested index fits this host.
    #[error("{source_name}: {error}")]
    Platform {
        /// The archive.
        source_name: String,
        /// The problem.
        error: Box<PlatformError>,
    },
}

impl LoadError {
    pub(super) fn read(source: &str, e: io::Error) -> Self {
        Self::Read {
            source_name: source.to_string(),
            error: e,
        }
    }

    pub(super) fn not_archive(source: &str, detail: &str) -> Self {
        Self::NotArchive {
            source_name: source.to_string(),
            detail: detail.to_string(),
        }
    }

    pub(super) fn doc(source: &str, entry: &str, detail: impl std::fmt::Display) -> Self {
        Self::Document {
            source_name: source.to_string(),
            entry: entry.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Progress of a load.
#[derive(Debug)]
pub enum LoadEvent<'a> {
    /// An archive entry is being read.
    Entry {
        /// Its name.
        name: &'a str,
        /// Its size.
        size: u64,
    },
    /// A layer is being verified (and unpacked unless already stored).
    Layer {
        /// The layer blob.
        digest: &'a Digest,
        /// Whether the store already had it unpacked.
        present: bool,
    },
}

/// One loaded image.
#[derive(Clone, Debug)]
pub struct LoadedImage {
    /// The stored record.
    pub image: ImageRecord,
    /// References set from the archive's names.
    pub references: Vec<ImageRef>,
}

/// What a load stored.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// The images, in archive order.
    pub images: Vec<LoadedImage>,
    /// Layers unpacked by this load.
    pub unpacked: usize,
    /// Layers already in the store.
    pub reused: usize,
}

/// Load the archive `input` (named `source` in messages) into `store`.
pub fn load(
    store: &Store,
    input: impl Read,
    source: &str,
    progress: &mut dyn FnMut(LoadEvent<'_>),
) -> Result<Loaded, LoadError> {
    let reader = stage::open_input(input, source)?;
    let mut staged = stage::stage(store, reader, source, &mut |name, size| {
        progress(LoadEvent::Entry { name, size })
    })?;
    let plans = plan(&staged, source)?;
    if plans.is_empty() {
        return Err(LoadError::not_archive(source, "it lists no images"));
    }
    // Pulls hold the same lock: prune and rm wait until the images are recorded.
    let _lock = store.lock_shared()?;
    let mut loaded = Loaded::default();
    let dirs = verify_layers(store, &staged, &plans, source, progress, &mut loaded)?;
    commit(store, &mut staged, plans, dirs, &mut loaded)?;
    Ok(loaded)
}

/// Decompress and hash every distinct layer against its diff_id; unpack those the
/// store lacks into temp dirs, returned for commit.
fn verify_layers(
    store: &Store,
    staged: &Staged,
    plans: &[Planned],
    source: &str,
    progress: &mut dyn FnMut(LoadEvent<'_>),
    loaded: &mut Loaded,
) -> Result<HashMap<Digest, TempDir>, LoadError> {
    let mut dirs: HashMap<Digest, TempDir> = HashMap::new();
    let mut verified: HashSet<(Digest, Digest)> = HashSet::new();
    for p in plans {
        for l in &p.layers {
            if !verified.insert((l.digest.clone(), l.diff_id.clone())) {
                continue;
            }
            let present = store.has_layer(&l.diff_id) || dirs.contains_key(&l.diff_id);
            progress(LoadEvent::Layer {
                digest: &l.digest,
                present,
            });
            let f = staged.get(&l.entry).ok_or_else(|| LoadError::MissingBlob {
                source_name: source.to_string(),
                what: "layer".into(),
                blob: l.digest.to_string(),
                entry: l.entry.clone(),
            })?;
            let file = std::fs::File::open(f.tmp.path()).map_err(|e| LoadError::read(source, e))?;
            let uerr = |e| LoadError::Unpack {
                source_name: source.to_string(),
                layer: l.digest.clone(),
                error: e,
            };
            let reader = decompress(BufReader::with_capacity(1 << 20, file), l.comp)
                .map_err(|e| uerr(UnpackError::Archive(e)))?;
            let (actual, dir) = if present {
                let mut h = crate::digest::HashingReader::new(reader);
                io::copy(&mut h, &mut io::sink()).map_err(|e| uerr(UnpackError::Archive(e)))?;
                (h.finish().0, None)
            } else {
                let dir = store.temp_dir("load-layer")?;
                (unpack_hashed(reader, dir.path()).map_err(uerr)?, Some(dir))
            };
            if actual != l.diff_id {
                return Err(LoadError::DiffId {
                    source_name: source.to_string(),
                    image: p.config_digest.clone(),
                    layer: l.digest.clone(),
                    expected: l.diff_id.clone(),
                    actual,
                });
            }
            match dir {
                Some(d) => {
                    loaded.unpacked += 1;
                    dirs.insert(l.diff_id.clone(), d);
                }
                None => loaded.reused += 1,
            }
        }
    }
    Ok(dirs)
}

/// Commit one staged blob (dropping it when the store already has it).
fn commit_staged(
    store: &Store,
    staged: &mut Staged,
    entry: &str,
    d: &Digest,
) -> Result<(), LoadError> {
    if let Some(f) = staged.take(entry) {
        if !store.has_blob(d) {
            store.commit_blob(f.tmp, d)?;
        }
    }
    Ok(())
}

fn commit(
    store: &Store,
    staged: &mut Staged,
    plans: Vec<Planned>,
    mut dirs: HashMap<Digest, TempDir>,
    loaded: &mut Loaded,
) -> Result<(), LoadError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for p in plans {
        for l in &p.layers {
            commit_staged(store, staged, &l.entry, &l.digest)?;
            if let Some(dir) = dirs.remove(&l.diff_id) {
                store.commit_layer(dir, &l.diff_id)?;
            }
        }
        commit_staged(store, staged, &p.config_entry, &p.config_digest)?;
        let manifest_digest = match &p.manifest_entry {
            Some(entry) => {
                let d = Digest::of_bytes(&p.manifest_bytes);
                commit_staged(store, staged, entry, &d)?;
                d
            }
            None => store.put_blob_bytes(&p.manifest_bytes)?,
        };
        let image = ImageRecord {
            manifest_digest,
            index_digest: None,
            media_type: p.media_type,
            config_digest: p.config_digest,
            platform: p.platform,
            layers: p
                .layers
                .into_iter()
                .map(|l| LayerRecord {
                    digest: l.digest,
                    diff_id: l.diff_id,
                    size: l.size,
                    media_type: l.media_type,
                })
                .collect(),
            pulled_at: now,
        };
        store.put_image(&image)?;
        for r in &p.references {
            store.set_ref(r, &image.manifest_digest)?;
        }
        loaded.images.push(LoadedImage {
            image,
            references: p.references,
        });
    }
    Ok(())
}
