//! Pulling an image: resolve the reference (and the platform in an index), fetch and
//! verify config and layers, unpack each layer once, then record the image.
//!
//! Nothing about an image is recorded until every layer is verified (blob digest and
//! diff_id) and committed; a failed pull leaves only complete, verified layers that an
//! earlier or concurrent pull could have produced too.

use crate::digest::Digest;
use crate::layer_fetch::Verified;
use crate::manifest::{
    self, Compression, Descriptor, Document, ImageConfig, Manifest, ManifestError,
};
use crate::platform::{self, Platform, PlatformError};
use crate::reference::ImageRef;
use crate::registry::{Registry, RegistryError};
use crate::store::{ImageRecord, LayerRecord, Store, StoreError, TempFile};
use crate::unpack::UnpackError;
use futures_util::{StreamExt, TryStreamExt};

/// How many layers download at once.
const PARALLEL_LAYERS: usize = 3;

/// Errors from a pull. Each names the image and, for layer problems, the layer digest.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A manifest, index or config is unusable.
    #[error("{image}: {error}")]
    Manifest {
        /// The image.
        image: String,
        /// The problem.
        error: ManifestError,
    },
    /// No index entry matches the platform.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// A single-platform image is for another platform than the one asked for.
    #[error("{image} is for {found}, not the requested {wanted}")]
    WrongPlatform {
        /// The image.
        image: String,
        /// What was asked for.
        wanted: Platform,
        /// What the config says.
        found: String,
    },
    /// An index entry points at another index.
    #[error("{image}: index entry {digest} is not an image manifest")]
    NestedIndex {
        /// The image.
        image: String,
        /// The entry.
        digest: Digest,
    },
    /// A layer's uncompressed content does not match the config's diff_id.
    #[error("diff_id mismatch: {image}: layer {layer} unpacks to {actual}, but the image config says {expected}; the image is corrupt")]
    DiffId {
        /// The image.
        image: String,
        /// The layer blob digest.
        layer: Digest,
        /// diff_id from the config.
        expected: Digest,
        /// What the content hashes to.
        actual: Digest,
    },
    /// A layer cannot be unpacked.
    #[error("{image}: layer {layer}: {error}")]
    Unpack {
        /// The image.
        image: String,
        /// The layer blob digest.
        layer: Digest,
        /// The problem.
        error: UnpackError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A worker task died.
    #[error("{image}: layer {layer}: unpack task failed: {detail}")]
    Task {
        /// The image.
        image: String,
        /// The layer blob digest.
        layer: Digest,
        /// What happened.
        detail: String,
    },
}

/// Progress events; the CLI turns them into bars or lines.
#[derive(Debug)]
pub enum PullEvent<'a> {
    /// The reference resolved to a manifest.
    Resolved {
        /// Manifest digest.
        manifest: &'a Digest,
        /// Platform of the image.
        platform: &'a str,
    },
    /// A layer is already in the store.
    LayerExists {
        /// Layer blob digest.
        digest: &'a Digest,
    },
    /// A layer download starts.
    LayerStart {
        /// Layer blob digest.
        digest: &'a Digest,
        /// Size from the manifest.
        size: u64,
    },
    /// Bytes of a layer arrived.
    LayerBytes {
        /// Layer blob digest.
        digest: &'a Digest,
        /// How many.
        bytes: u64,
    },
    /// A layer is downloaded and verified; unpacking starts.
    LayerDownloaded {
        /// Layer blob digest.
        digest: &'a Digest,
    },
    /// A layer is unpacked, verified and committed.
    LayerDone {
        /// Layer blob digest.
        digest: &'a Digest,
    },
    /// Something the user should know.
    Warning(String),
}

/// Receives [`PullEvent`]s.
pub trait Progress: Send + Sync {
    /// Handle one event.
    fn event(&self, e: PullEvent<'_>);
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: PullEvent<'_>) {}
}

/// Pull options.
#[derive(Clone, Debug, Default)]
pub struct PullOptions {
    /// Platform to select from an index; the host when `None`.
    pub platform: Option<Platform>,
}

/// What a pull produced.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The reference as recorded.
    pub reference: ImageRef,
    /// The stored image.
    pub image: ImageRecord,
    /// Layers downloaded by this pull.
    pub downloaded: usize,
    /// Layers already present.
    pub reused: usize,
}

struct Ctx<'a> {
    registry: &'a Registry,
    store: &'a Store,
    image: &'a ImageRef,
    progress: &'a dyn Progress,
    /// Layers downloaded and verified, waiting for the one commit at the end.
    verified: std::sync::Mutex<Vec<Verified>>,
}

/// Pull `image` into `store`.
pub async fn pull(
    registry: &Registry,
    store: &Store,
    image: &ImageRef,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Pulled, PullError> {
    let cx = Ctx {
        registry,
        store,
        image,
        progress,
        verified: std::sync::Mutex::default(),
    };
    let name = image.to_string();
    let merr = |error| PullError::Manifest {
        image: name.clone(),
        error,
    };
    let _lock = store.lock_shared()?;
    let wanted = opts.platform.clone().unwrap_or_else(Platform::host);
    let resolved = cx.resolve(&wanted).await;
    cx.flush_warnings();
    let Resolved {
        index,
        manifest_body,
        manifest_digest,
        manifest,
    } = resolved?;
    let (config_bytes, config_digest, config) = cx.config(&manifest).await?;
    let found = Platform {
        os: config.os.clone(),
        architecture: config.architecture.clone(),
        variant: config.variant.clone(),
    };
    if index.is_none() && !wanted.matches(&found) {
        if opts.platform.is_some() {
            return Err(PullError::WrongPlatform {
                image: name,
                wanted,
                found: found.to_string(),
            });
        }
        progress.event(PullEvent::Warning(format!(
            "{name} is for {found}, not this host's {wanted}; it may not run here"
        )));
    }
    let platform_str = found.to_string();
    progress.event(PullEvent::Resolved {
        manifest: &manifest_digest,
        platform: &platform_str,
    });
    let diff_ids = config.diff_ids(manifest.layers.len()).map_err(merr)?;
    let mut plan = Vec::new();
    for (desc, diff_id) in manifest.layers.iter().zip(diff_ids) {
        let digest = desc.digest("image manifest layers").map_err(merr)?;
        let comp = manifest::layer_compression(desc).map_err(merr)?;
        plan.push((desc, digest, diff_id, comp));
    }
    let results: Result<Vec<(LayerRecord, bool)>, PullError> = futures_util::stream::iter(
        plan.into_iter()
            .map(|(desc, digest, diff_id, comp)| cx.layer(desc, digest, diff_id, comp)),
    )
    .buffered(PARALLEL_LAYERS)
    .try_collect()
    .await;
    cx.flush_warnings();
    // What was verified is committed also when another layer failed: a re-pull
    // reuses it. The documents go only with a complete image.
    let mut docs = Vec::new();
    if results.is_ok() {
        let bodies = index
            .iter()
            .map(|(b, _)| b)
            .chain([&manifest_body, &config_bytes]);
        for body in bodies {
            if !store.has_blob(&Digest::of_bytes(body)) {
                docs.push(store.temp_blob(body)?);
            }
        }
    }
    cx.commit(docs).await?;
    let results = results?;
    let downloaded = results.iter().filter(|r| r.1).count();
    let index_digest = index.map(|(_, d)| d);
    let record = ImageRecord {
        manifest_digest,
        index_digest,
        media_type: manifest
            .media_type
            .clone()
            .unwrap_or_else(|| manifest::OCI_MANIFEST.to_string()),
        config_digest,
        platform: platform_str,
        layers: results.iter().map(|r| r.0.clone()).collect(),
        pulled_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    store.put_image(&record)?;
    store.set_ref(image, &record.manifest_digest)?;
    Ok(Pulled {
        reference: image.clone(),
        downloaded,
        reused: results.len() - downloaded,
        image: record,
    })
}

/// The manifest a reference resolves to, and the index it came from.
struct Resolved {
    index: Option<(Vec<u8>, Digest)>,
    manifest_body: Vec<u8>,
    manifest_digest: Digest,
    manifest: Manifest,
}

impl Ctx<'_> {
    /// Commit the verified layers and `docs` with one flush, off the async threads.
    async fn commit(&self, docs: Vec<(TempFile, Digest)>) -> Result<(), PullError> {
        let verified = self
            .verified
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        if verified.is_empty() && docs.is_empty() {
            return Ok(());
        }
        let mut blobs = docs;
        let mut layers = Vec::new();
        for v in verified {
            blobs.push(v.blob);
            layers.push(v.layer);
        }
        let store = self.store.clone();
        let root = self.store.root().to_path_buf();
        tokio::task::spawn_blocking(move || store.commit(blobs, layers))
            .await
            .map_err(|e| StoreError::Io {
                path: root,
                op: "commit",
                source: std::io::Error::other(e),
            })??;
        Ok(())
    }

    /// Pass on what the registry client noticed (mirrors skipped).
    fn flush_warnings(&self) {
        for w in self.registry.take_warnings() {
            self.progress.event(PullEvent::Warning(w));
        }
    }

    fn name(&self) -> String {
        self.image.to_string()
    }

    /// Fetch the manifest; for an index, select `wanted` and fetch that entry.
    async fn resolve(&self, wanted: &Platform) -> Result<Resolved, PullError> {
        let name = self.name();
        let merr = |error| PullError::Manifest {
            image: name.clone(),
            error,
        };
        let (body, digest) = self.registry.fetch_manifest(self.image).await?;
        let idx = match manifest::parse_document(&body, None).map_err(merr)? {
            Document::Manifest(m) => {
                return Ok(Resolved {
                    index: None,
                    manifest_body: body,
                    manifest_digest: digest,
                    manifest: m,
                })
            }
            Document::Index(idx) => idx,
        };
        let entry = platform::select(&idx, wanted, &name)?;
        let child = entry.digest("image index").map_err(merr)?;
        let child_ref = ImageRef {
            digest: Some(child.clone()),
            ..self.image.clone()
        };
        let (mbody, mdigest) = self.registry.fetch_manifest(&child_ref).await?;
        match manifest::parse_document(&mbody, Some(&entry.media_type)).map_err(merr)? {
            Document::Manifest(m) => Ok(Resolved {
                index: Some((body, digest)),
                manifest_body: mbody,
                manifest_digest: mdigest,
                manifest: m,
            }),
            Document::Index(_) => Err(PullError::NestedIndex {
                image: name,
                digest: child,
            }),
        }
    }

    async fn config(&self, m: &Manifest) -> Result<(Vec<u8>, Digest, ImageConfig), PullError> {
        let merr = |error| PullError::Manifest {
            image: self.name(),
            error,
        };
        let digest = m.config.digest("image manifest config").map_err(merr)?;
        let bytes = if self.store.has_blob(&digest) {
            self.store.read_blob(&digest)?
        } else {
            let mut buf = Vec::new();
            self.registry
                .fetch_blob(self.image, "config", &digest, &mut buf, &mut |_| {})
                .await?;
            buf
        };
        let config = ImageConfig::parse(&bytes).map_err(merr)?;
        Ok((bytes, digest, config))
    }

    /// Fetch, verify, unpack and commit one layer. Returns its record and whether it
    /// was downloaded.
    async fn layer(
        &self,
        desc: &Descriptor,
        digest: Digest,
        diff_id: Digest,
        comp: Compression,
    ) -> Result<(LayerRecord, bool), PullError> {
        let record = LayerRecord {
            digest: digest.clone(),
            diff_id: diff_id.clone(),
            size: desc.size,
            media_type: desc.media_type.clone(),
        };
        // Skip only when this image's own blob is stored too: a layer unpacked from
        // another image's blob (another compression of the same tar) leaves this image
        // without the blob that save and push send.
        if self.store.has_layer(&diff_id) && self.store.has_blob(&digest) {
            self.progress
                .event(PullEvent::LayerExists { digest: &digest });
            return Ok((record, false));
        }
        self.progress.event(PullEvent::LayerStart {
            digest: &digest,
            size: desc.size,
        });
        let verified = crate::layer_fetch::LayerJob {
            registry: self.registry,
            store: self.store,
            image: self.image,
            progress: self.progress,
            digest: &digest,
            diff_id: &diff_id,
            comp,
        }
        .run()
        .await?;
        if let Ok(mut v) = self.verified.lock() {
            v.push(verified);
        }
        self.progress
            .event(PullEvent::LayerDone { digest: &digest });
        Ok((record, true))
    }
}
