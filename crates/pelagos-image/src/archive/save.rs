//! Writing stored images as an OCI layout or docker-archive tar.
//!
//! Every blob goes out as stored - the registry's bytes, so digests and the manifest
//! stay the same - and is streamed from its file through a reader that checks it
//! against its digest, so a corrupt store never produces an archive that looks good.
//! Entries carry fixed owners, modes and mtimes: saving the same images twice gives
//! the same bytes.

use super::docker::{self, Entry};
use super::{CONTAINERD_NAME, OCI_LAYOUT, REF_NAME};
use crate::digest::{Digest, Hasher};
use crate::manifest::{Descriptor, Index, OCI_INDEX};
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store, StoreError};
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// Archive formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// An OCI image layout.
    #[default]
    Oci,
    /// A docker-archive: the OCI layout plus `manifest.json` and `repositories`.
    Docker,
}

/// Errors from saving.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob the archive needs is not in the store.
    #[error("image {image}: {what} blob {blob} is not in the store; pull the image again (a layer unpacked from another image's identical content is stored without its own blob)")]
    MissingBlob {
        /// The image id.
        image: Digest,
        /// Which blob (`layer 2`, `config`...).
        what: String,
        /// Its digest.
        blob: Digest,
    },
    /// A stored blob no longer matches its digest.
    #[error("image store blob {path}: content does not hash to {expected}; the store is corrupt (run `pelagos image check`)")]
    Corrupt {
        /// The blob file.
        path: PathBuf,
        /// Its name.
        expected: Digest,
    },
    /// Writing the archive failed.
    #[error("writing the archive: {0}")]
    Write(io::Error),
    /// Nothing to save.
    #[error("no images to save")]
    Empty,
}

/// One image to save and the references it is saved under (none: untagged).
#[derive(Clone, Debug)]
pub struct SaveItem {
    /// The stored image.
    pub image: ImageRecord,
    /// Names written into the archive.
    pub references: Vec<ImageRef>,
}

/// What a save wrote.
#[derive(Clone, Debug, Default)]
pub struct Saved {
    /// Images written.
    pub images: usize,
    /// Distinct blobs written.
    pub blobs: usize,
    /// Blob bytes written.
    pub bytes: u64,
}

/// Write `items` from `store` to `out` as a tar in `format`. Holds the store's shared
/// lock throughout, so no removal runs while blobs stream out.
pub fn save<W: Write>(
    store: &Store,
    items: &[SaveItem],
    format: ArchiveFormat,
    out: W,
) -> Result<Saved, SaveError> {
    if items.is_empty() {
        return Err(SaveError::Empty);
    }
    let _lock = store.lock_shared()?;
    // Everything needed is checked before the first byte goes out.
    let mut blobs: Vec<Digest> = Vec::new();
    let mut seen = HashSet::new();
    for it in items {
        for (what, d) in blob_list(&it.image) {
            if !store.has_blob(d) {
                return Err(SaveError::MissingBlob {
                    image: it.image.config_digest.clone(),
                    what,
                    blob: d.clone(),
                });
            }
            if seen.insert(d.clone()) {
                blobs.push(d.clone());
            }
        }
    }
    let mut tar = tar::Builder::new(out);
    let w = SaveError::Write;
    append_bytes(&mut tar, "oci-layout", OCI_LAYOUT).map_err(w)?;
    append_dir(&mut tar, "blobs/").map_err(w)?;
    append_dir(&mut tar, "blobs/sha256/").map_err(w)?;
    let mut saved = Saved {
        images: items.len(),
        ..Saved::default()
    };
    for d in &blobs {
        saved.bytes += append_blob(&mut tar, store, d)?;
        saved.blobs += 1;
    }
    append_bytes(&mut tar, "index.json", &to_json(&index(store, items)?)?).map_err(w)?;
    if format == ArchiveFormat::Docker {
        let (manifest, repos) = docker_files(items);
        append_bytes(&mut tar, "manifest.json", &to_json(&manifest)?).map_err(w)?;
        append_bytes(&mut tar, "repositories", &to_json(&repos)?).map_err(w)?;
    }
    tar.into_inner().and_then(|mut o| o.flush()).map_err(w)?;
    Ok(saved)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, SaveError> {
    serde_json::to_vec(v).map_err(|e| SaveError::Write(io::Error::other(e)))
}

/// The blobs of an image in archive order (config, layers, manifest), with names for
/// error messages.
fn blob_list(img: &ImageRecord) -> Vec<(String, &Digest)> {
    let mut v = vec![("config".to_string(), &img.config_digest)];
    for (i, l) in img.layers.iter().enumerate() {
        v.push((format!("layer {}", i + 1), &l.digest));
    }
    v.push(("manifest".to_string(), &img.manifest_digest));
    v
}

fn index(store: &Store, items: &[SaveItem]) -> Result<Index, SaveError> {
    let mut manifests = Vec::new();
    for it in items {
        let img = &it.image;
        let size = std::fs::metadata(store.blob_path(&img.manifest_digest))
            .map_err(|e| StoreError::Io {
                path: store.blob_path(&img.manifest_digest),
                op: "stat blob",
                source: e,
            })?
            .len();
        let base = Descriptor {
            media_type: img.media_type.clone(),
            digest: img.manifest_digest.to_string(),
            size,
            platform: Platform::parse(&img.platform).ok(),
            annotations: BTreeMap::new(),
        };
        if it.references.is_empty() {
            manifests.push(base.clone());
        }
        for r in &it.references {
            let mut d = base.clone();
            d.annotations.insert(CONTAINERD_NAME.into(), r.to_string());
            d.annotations.insert(REF_NAME.into(), r.to_string());
            manifests.push(d);
        }
    }
    Ok(Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_string()),
        manifests,
    })
}

type Repositories = BTreeMap<String, BTreeMap<String, String>>;

fn docker_files(items: &[SaveItem]) -> (Vec<Entry>, Repositories) {
    let path = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let mut tagged = Vec::new();
    let entries = items
        .iter()
        .map(|it| {
            let top = it.image.layers.last().map(|l| l.diff_id.clone());
            for r in &it.references {
                if let Some(t) = &top {
                    tagged.push((r.clone(), t.clone()));
                }
            }
            let tags: Vec<String> = it.references.iter().filter_map(docker::familiar).collect();
            Entry {
                config: path(&it.image.config_digest),
                repo_tags: (!tags.is_empty()).then_some(tags),
                layers: it.image.layers.iter().map(|l| path(&l.digest)).collect(),
            }
        })
        .collect();
    (entries, docker::repositories(&tagged))
}

fn header(path: &str, size: u64, kind: tar::EntryType) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    Ok(h)
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> io::Result<()> {
    tar.append(&header(path, 0, tar::EntryType::Directory)?, io::empty())
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> io::Result<()> {
    let h = header(path, data.len() as u64, tar::EntryType::Regular)?;
    tar.append(&h, data)
}

/// Stream one blob into the archive; the entry fails (and the archive with it) if the
/// stored bytes do not hash to the blob's name.
fn append_blob<W: Write>(
    tar: &mut tar::Builder<W>,
    store: &Store,
    d: &Digest,
) -> Result<u64, SaveError> {
    let path = store.blob_path(d);
    let open_err = |e| {
        SaveError::Store(StoreError::Io {
            path: path.clone(),
            op: "open blob",
            source: e,
        })
    };
    let f = File::open(&path).map_err(open_err)?;
    let size = f.metadata().map_err(open_err)?.len();
    let h = header(
        &format!("blobs/sha256/{}", d.hex()),
        size,
        tar::EntryType::Regular,
    )
    .map_err(SaveError::Write)?;
    let mut r = Verified {
        inner: io::BufReader::with_capacity(1 << 20, f).take(size),
        hasher: Some(Hasher::default()),
        expected: d,
    };
    tar.append(&h, &mut r).map_err(|e| {
        if e.get_ref().is_some_and(|i| i.is::<Mismatch>()) {
            SaveError::Corrupt {
                path: path.clone(),
                expected: d.clone(),
            }
        } else {
            SaveError::Write(e)
        }
    })?;
    Ok(size)
}

#[derive(Debug, thiserror::Error)]
#[error("blob content does not match its digest")]
struct Mismatch;

/// Fails at end of input unless what was read hashes to `expected`.
struct Verified<'a, R> {
    inner: R,
    hasher: Option<Hasher>,
    expected: &'a Digest,
}

impl<R: Read> Read for Verified<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(h) = &mut self.hasher {
                h.update(&buf[..n]);
            }
        } else if !buf.is_empty() {
            if let Some(h) = self.hasher.take() {
                if &h.finish() != self.expected {
                    return Err(io::Error::other(Mismatch));
                }
            }
        }
        Ok(n)
    }
}
