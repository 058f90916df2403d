//! Pushing a stored image: every blob first (skipped when the repository has it,
//! mounted from another repository of the same registry when one of ours came from
//! there, else streamed from the store), then the manifest bytes exactly as stored, so
//! the pushed image keeps its digests. An index goes too when the store holds every
//! manifest it lists; otherwise the tag gets the platform manifest.

use crate::digest::Digest;
use crate::manifest::{self, Document};
use crate::pull::{Progress, PullEvent};
use crate::reference::ImageRef;
use crate::registry::{Registry, RegistryError};
use crate::store::{ImageRecord, Store, StoreError};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// How many blobs upload at once.
const PARALLEL_BLOBS: usize = 3;

/// Errors from a push. Each names the destination and, for blobs, the digest.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob the registry lacks is not in the local store either.
    #[error("cannot push {image}: {what} {digest} is not in the local store (the layer was unpacked from another copy of the same content); pull the image again, then push")]
    MissingBlob {
        /// The destination.
        image: String,
        /// `layer` or `config`.
        what: &'static str,
        /// The blob.
        digest: Digest,
    },
    /// The destination names a digest other than the image's.
    #[error("cannot push to {image}: the image's manifest digest is {actual}; name a tag instead")]
    DigestDestination {
        /// The destination.
        image: String,
        /// The image's manifest digest.
        actual: Digest,
    },
    /// A stored manifest or index does not parse.
    #[error("{image}: stored {what} {digest} is unusable: {error}")]
    Manifest {
        /// The destination.
        image: String,
        /// `manifest` or `index`.
        what: &'static str,
        /// Its digest.
        digest: Digest,
        /// The problem.
        error: manifest::ManifestError,
    },
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// Digest of what the tag now points at (the index when one was pushed).
    pub digest: Digest,
    /// Blobs uploaded from the store.
    pub uploaded: usize,
    /// Blobs mounted from another repository of the registry.
    pub mounted: usize,
    /// Blobs the repository already had.
    pub existing: usize,
    /// Whether the image's index was pushed (all its manifests were stored).
    pub index: bool,
}

struct Blob {
    what: &'static str,
    digest: Digest,
    size: u64,
}

enum BlobOutcome {
    Uploaded,
    Mounted,
    Existing,
}

struct Ctx<'a> {
    registry: &'a Registry,
    store: &'a Store,
    dest: &'a ImageRef,
    progress: &'a dyn Progress,
    /// Blob digest -> a repository of the destination registry that has it.
    sources: HashMap<Digest, String>,
}

/// Push stored image `image` to `dest`.
pub async fn push(
    registry: &Registry,
    store: &Store,
    image: &ImageRecord,
    dest: &ImageRef,
    progress: &dyn Progress,
) -> Result<Pushed, PushError> {
    let reference = match (&dest.tag, &dest.digest) {
        (_, Some(d)) if d != &image.manifest_digest && image.index_digest.as_ref() != Some(d) => {
            return Err(PushError::DigestDestination {
                image: dest.to_string(),
                actual: image.manifest_digest.clone(),
            })
        }
        (Some(t), _) => t.clone(),
        (None, Some(d)) => d.to_string(),
        (None, None) => crate::reference::DEFAULT_TAG.to_string(),
    };
    let _lock = store.lock_shared()?;
    let cx = Ctx {
        registry,
        store,
        dest,
        progress,
        sources: mount_sources(store, dest)?,
    };
    let mut pushed = Pushed {
        digest: image.manifest_digest.clone(),
        uploaded: 0,
        mounted: 0,
        existing: 0,
        index: false,
    };
    match (&image.index_digest, cx.index_members(image)?) {
        (Some(idx), Some(members)) => {
            for m in &members {
                cx.push_blobs(m, &mut pushed).await?;
                let by_digest = m.manifest_digest.to_string();
                cx.put_manifest(&m.manifest_digest, &m.media_type, &by_digest)
                    .await?;
            }
            let body = store.read_blob(idx)?;
            let media = document_media_type(&body, dest, idx)?;
            pushed.digest = cx.put_manifest(idx, &media, &reference).await?;
            pushed.index = true;
        }
        _ => {
            cx.push_blobs(image, &mut pushed).await?;
            pushed.digest = cx
                .put_manifest(&image.manifest_digest, &image.media_type, &reference)
                .await?;
        }
    }
    Ok(pushed)
}

/// The media type a stored document declares (an index without one is OCI).
fn document_media_type(body: &[u8], dest: &ImageRef, d: &Digest) -> Result<String, PushError> {
    let doc = manifest::parse_document(body, None).map_err(|error| PushError::Manifest {
        image: dest.to_string(),
        what: "index",
        digest: d.clone(),
        error,
    })?;
    Ok(match doc {
        Document::Index(i) => i
            .media_type
            .unwrap_or_else(|| manifest::OCI_INDEX.to_string()),
        Document::Manifest(m) => m
            .media_type
            .unwrap_or_else(|| manifest::OCI_MANIFEST.to_string()),
    })
}

/// Repositories on `dest`'s registry that our references say hold each blob.
fn mount_sources(store: &Store, dest: &ImageRef) -> Result<HashMap<Digest, String>, StoreError> {
    let mut out = HashMap::new();
    for r in store.refs()? {
        let Ok(parsed) = ImageRef::parse(&r.reference) else {
            continue;
        };
        if parsed.registry != dest.registry || parsed.repository == dest.repository {
            continue;
        }
        if let Some(img) = store.image(&r.manifest_digest)? {
            for l in &img.layers {
                out.entry(l.digest.clone())
                    .or_insert_with(|| parsed.repository.clone());
            }
            out.entry(img.config_digest.clone())
                .or_insert_with(|| parsed.repository.clone());
        }
    }
    Ok(out)
}

impl Ctx<'_> {
    /// The images an index lists, when the store has every one of them; `None` when
    /// there is no index or a platform is missing.
    fn index_members(&self, image: &ImageRecord) -> Result<Option<Vec<ImageRecord>>, PushError> {
        let Some(idx) = &image.index_digest else {
            return Ok(None);
        };
        if !self.store.has_blob(idx) {
            return Ok(None);
        }
        let body = self.store.read_blob(idx)?;
        let Ok(Document::Index(index)) = manifest::parse_document(&body, None) else {
            return Ok(None);
        };
        let mut members = Vec::new();
        for entry in &index.manifests {
            let Ok(d) = Digest::parse(&entry.digest) else {
                return Ok(None);
            };
            match self.store.image(&d)? {
                Some(rec) => members.push(rec),
                None => return Ok(None),
            }
        }
        Ok((!members.is_empty()).then_some(members))
    }

    async fn push_blobs(&self, image: &ImageRecord, pushed: &mut Pushed) -> Result<(), PushError> {
        let mut blobs: Vec<Blob> = image
            .layers
            .iter()
            .map(|l| Blob {
                what: "layer",
                digest: l.digest.clone(),
                size: l.size,
            })
            .collect();
        let config_size =
            std::fs::metadata(self.store.blob_path(&image.config_digest)).map_or(0, |m| m.len());
        blobs.push(Blob {
            what: "config",
            digest: image.config_digest.clone(),
            size: config_size,
        });
        let outcomes: Vec<BlobOutcome> =
            futures_util::stream::iter(blobs.iter().map(|b| self.blob(b)))
                .buffer_unordered(PARALLEL_BLOBS)
                .try_collect()
                .await?;
        for o in outcomes {
            match o {
                BlobOutcome::Uploaded => pushed.uploaded += 1,
                BlobOutcome::Mounted => pushed.mounted += 1,
                BlobOutcome::Existing => pushed.existing += 1,
            }
        }
        Ok(())
    }

    async fn blob(&self, b: &Blob) -> Result<BlobOutcome, PushError> {
        let d = &b.digest;
        if self.registry.blob_exists(self.dest, b.what, d).await? {
            self.progress.event(PullEvent::LayerExists { digest: d });
            return Ok(BlobOutcome::Existing);
        }
        if let Some(from) = self.sources.get(d) {
            if self.registry.mount_blob(self.dest, b.what, d, from).await {
                self.progress.event(PullEvent::LayerExists { digest: d });
                return Ok(BlobOutcome::Mounted);
            }
        }
        if !self.store.has_blob(d) {
            return Err(PushError::MissingBlob {
                image: self.dest.to_string(),
                what: b.what,
                digest: d.clone(),
            });
        }
        self.progress.event(PullEvent::LayerStart {
            digest: d,
            size: b.size,
        });
        let progress = self.progress;
        self.registry
            .upload_blob(self.dest, b.what, d, &self.store.blob_path(d), &|n| {
                progress.event(PullEvent::LayerBytes {
                    digest: d,
                    bytes: n,
                })
            })
            .await?;
        self.progress.event(PullEvent::LayerDone { digest: d });
        Ok(BlobOutcome::Uploaded)
    }

    /// PUT the stored manifest `d` under `reference`; its bytes are re-verified.
    async fn put_manifest(
        &self,
        d: &Digest,
        media_type: &str,
        reference: &str,
    ) -> Result<Digest, PushError> {
        let body = self.store.read_blob(d)?;
        Ok(self
            .registry
            .put_manifest(self.dest, reference, media_type, body)
            .await?)
    }
}
