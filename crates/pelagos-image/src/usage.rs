//! Images in use by containers: one small record per container under `<store>/uses/`.
//!
//! The engine's contract (the later `pelagos run` follows it):
//!
//! 1. [`crate::bundle::create`] registers a use for the container (its id, or a name
//!    derived from the bundle directory) before it mounts the rootfs, and releases it
//!    again if creating the bundle fails.
//! 2. While a use exists, `image rm` refuses to remove the image ("in use by container
//!    X"); `image rm -f` only removes its references, so the image becomes dangling but
//!    its record, blobs and unpacked layers stay for the container's overlay. Prune and
//!    garbage collection never remove an image or layer a use names.
//! 3. When the container is removed, the engine unmounts the bundle and calls
//!    [`Store::release_use`] (or [`crate::bundle::destroy`], which does both). A later
//!    `image prune` then removes an image left dangling by `rm -f`.
//!
//! Registration takes the store's shared lock and removal its exclusive lock, so a use
//! is never registered for an image that a concurrent `rm` or prune is deleting. Each
//! record is written atomically (temp file, fsync, rename).

use crate::digest::Digest;
use crate::store::{read_json, ImageRecord, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Longest container id accepted as a use holder.
const MAX_HOLDER: usize = 128;

/// One container's use of an image.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageUse {
    /// The container (or bundle) holding the image.
    pub holder: String,
    /// The image's manifest digest.
    pub manifest_digest: Digest,
    /// The image id.
    pub config_digest: Digest,
    /// diff_ids of the layers its rootfs stacks, base first.
    pub layers: Vec<Digest>,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Seconds since the epoch when the use was registered.
    pub since: u64,
}

/// Check that `holder` is safe as a file name: 1-128 of `[A-Za-z0-9_.-]`, starting with a
/// letter or digit.
pub fn validate_holder(holder: &str) -> Result<(), StoreError> {
    let ok = !holder.is_empty()
        && holder.len() <= MAX_HOLDER
        && holder.as_bytes()[0].is_ascii_alphanumeric()
        && holder
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidHolder(holder.to_string()))
    }
}

impl Store {
    fn use_path(&self, holder: &str) -> PathBuf {
        self.root().join("uses").join(format!("{holder}.json"))
    }

    /// Record that `holder` (a container id) uses `image`, whose rootfs lives in `bundle`.
    /// Fails with [`StoreError::NotFound`] when the image was removed meanwhile.
    pub fn register_use(
        &self,
        holder: &str,
        image: &ImageRecord,
        bundle: &Path,
    ) -> Result<ImageUse, StoreError> {
        validate_holder(holder)?;
        let _lock = self.lock_shared()?;
        if self.image(&image.manifest_digest)?.is_none() {
            return Err(StoreError::NotFound(image.config_digest.to_string()));
        }
        let rec = ImageUse {
            holder: holder.to_string(),
            manifest_digest: image.manifest_digest.clone(),
            config_digest: image.config_digest.clone(),
            layers: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
            bundle: bundle.to_path_buf(),
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        self.write_json(&self.use_path(holder), &rec)?;
        Ok(rec)
    }

    /// Release `holder`'s use; returns whether there was one.
    pub fn release_use(&self, holder: &str) -> Result<bool, StoreError> {
        validate_holder(holder)?;
        let p = self.use_path(holder);
        match fs::remove_file(&p) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::Io {
                path: p,
                op: "remove use record",
                source: e,
            }),
        }
    }

    /// Every registered use, sorted by holder.
    pub fn uses(&self) -> Result<Vec<ImageUse>, StoreError> {
        let dir = self.root().join("uses");
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: dir,
                    op: "list",
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // Half-written records are dot files; only complete ones count.
            if name.ends_with(".json") && !name.starts_with('.') {
                if let Some(u) = read_json::<ImageUse>(&e.path())? {
                    out.push(u);
                }
            }
        }
        out.sort_by(|a, b| a.holder.cmp(&b.holder));
        Ok(out)
    }

    /// The holders using the image with this manifest digest.
    pub fn users_of(&self, manifest: &Digest) -> Result<Vec<String>, StoreError> {
        Ok(self
            .uses()?
            .into_iter()
            .filter(|u| &u.manifest_digest == manifest)
            .map(|u| u.holder)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LayerRecord;

    pub(crate) fn image(store: &Store, tag: &[u8]) -> ImageRecord {
        let layer = Digest::of_bytes(tag);
        let rec = ImageRecord {
            manifest_digest: Digest::of_bytes(&[tag, b"-m"].concat()),
            index_digest: None,
            media_type: crate::manifest::OCI_MANIFEST.into(),
            config_digest: Digest::of_bytes(&[tag, b"-c"].concat()),
            platform: "linux/amd64".into(),
            layers: vec![LayerRecord {
                digest: layer.clone(),
                diff_id: layer,
                size: 1,
                media_type: "x".into(),
            }],
            pulled_at: 0,
        };
        store.put_image(&rec).unwrap();
        rec
    }

    #[test]
    fn holders_are_validated() {
        for ok in ["abc", "a1_b.c-d", &"x".repeat(128)] {
            validate_holder(ok).unwrap();
        }
        for bad in ["", "../x", ".hidden", "-x", "a/b", "a b", &"x".repeat(129)] {
            assert!(validate_holder(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn register_list_release() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let img = image(&s, b"one");
        s.register_use("c1", &img, Path::new("/b/c1")).unwrap();
        s.register_use("c2", &img, Path::new("/b/c2")).unwrap();
        assert_eq!(s.users_of(&img.manifest_digest).unwrap(), ["c1", "c2"]);
        assert!(s.release_use("c1").unwrap());
        assert!(!s.release_use("c1").unwrap());
        assert_eq!(s.users_of(&img.manifest_digest).unwrap(), ["c2"]);
        assert!(matches!(
            s.register_use("../evil", &img, Path::new("/b")),
            Err(StoreError::InvalidHolder(_))
        ));
    }

    #[test]
    fn no_use_for_a_removed_image() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let mut img = image(&s, b"one");
        img.manifest_digest = Digest::of_bytes(b"gone");
        assert!(matches!(
            s.register_use("c1", &img, Path::new("/b")),
            Err(StoreError::NotFound(_))
        ));
        assert!(s.uses().unwrap().is_empty());
    }
}
