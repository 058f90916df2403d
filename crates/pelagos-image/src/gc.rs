//! Removing images and collecting what no image needs any more: `image rm` and
//! `image prune`.
//!
//! Both run under the store's exclusive lock, so they wait for running pulls and loads
//! (which hold the shared lock from their first blob to the image record) and never
//! see a layer that a pull has committed but not yet recorded. An image a container
//! uses (see [`crate::usage`]) is never removed, nor are the layers a use names.

use crate::digest::Digest;
use crate::store::{io_err, remove_tree, ImageRecord, Store, StoreError};
use std::collections::HashSet;
use std::fs;
use std::path::Path;

/// What [`Store::prune`] removes besides unreferenced blobs and layers.
#[derive(Clone, Copy, Debug, Default)]
pub struct PruneOptions {
    /// Also remove tagged images no container uses (`prune -a`).
    pub all: bool,
}

/// What a prune or removal removed.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Removed {
    /// References removed.
    pub untagged: Vec<String>,
    /// Image ids (config digests) whose records were removed.
    pub images: Vec<Digest>,
    /// Blobs removed.
    pub blobs: Vec<Digest>,
    /// Unpacked layers (diff_ids) removed.
    pub layers: Vec<Digest>,
    /// Bytes freed: blob sizes plus the apparent size of the removed layer trees.
    pub reclaimed: u64,
}

/// Apparent size of a tree: the sum of the lengths of its files and symlinks, not
/// following symlinks; unreadable parts count as zero.
pub fn tree_size(path: &Path) -> u64 {
    let Ok(md) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !md.is_dir() {
        return md.len();
    }
    let Ok(rd) = fs::read_dir(path) else {
        return 0;
    };
    rd.flatten().map(|e| tree_size(&e.path())).sum()
}

/// Everything the remaining images and the registered uses still need.
struct Live {
    blobs: HashSet<Digest>,
    layers: HashSet<Digest>,
}

impl Store {
    fn live(&self, images: &[ImageRecord]) -> Result<Live, StoreError> {
        let mut live = Live {
            blobs: HashSet::new(),
            layers: HashSet::new(),
        };
        for i in images {
            live.blobs.insert(i.manifest_digest.clone());
            live.blobs.insert(i.config_digest.clone());
            live.blobs.extend(i.index_digest.iter().cloned());
            for l in &i.layers {
                live.blobs.insert(l.digest.clone());
                live.layers.insert(l.diff_id.clone());
            }
        }
        for u in self.uses()? {
            live.layers.extend(u.layers);
        }
        Ok(live)
    }

    /// Remove the blobs and layers among the candidates that `live` does not name.
    fn collect(
        &self,
        blobs: impl IntoIterator<Item = Digest>,
        layers: impl IntoIterator<Item = Digest>,
        live: &Live,
        out: &mut Removed,
    ) -> Result<(), StoreError> {
        for d in layers {
            let lp = self.layer_path(&d);
            if live.layers.contains(&d) || !lp.is_dir() {
                continue;
            }
            let size = tree_size(&lp);
            // Move out of sight first so a half-removed layer never looks complete.
            let t = self.tmp_name("rm");
            fs::rename(&lp, &t).map_err(io_err(&lp, "move layer out of the store"))?;
            remove_tree(&t).map_err(io_err(&t, "remove layer"))?;
            out.reclaimed += size;
            out.layers.push(d);
        }
        for d in blobs {
            let bp = self.blob_path(&d);
            if live.blobs.contains(&d) {
                continue;
            }
            let Ok(md) = fs::symlink_metadata(&bp) else {
                continue;
            };
            fs::remove_file(&bp).map_err(io_err(&bp, "remove blob"))?;
            out.reclaimed += md.len();
            out.blobs.push(d);
        }
        Ok(())
    }

    /// Remove an image record whose last reference is gone, and the blobs and layers
    /// only it used. Refuses with [`StoreError::InUse`] while a container uses it.
    pub fn remove_image(&self, manifest: &Digest) -> Result<Removed, StoreError> {
        let _lock = self.lock_exclusive()?;
        let mut out = Removed::default();
        let Some(img) = self.image(manifest)? else {
            return Ok(out);
        };
        let users = self.users_of(manifest)?;
        if !users.is_empty() {
            return Err(StoreError::InUse {
                image: img.config_digest.to_string(),
                containers: users,
            });
        }
        let p = self.image_path(manifest);
        fs::remove_file(&p).map_err(io_err(&p, "remove image record"))?;
        out.images.push(img.config_digest.clone());
        let others: Vec<ImageRecord> = self.images()?;
        let live = self.live(&others)?;
        let blobs = [&img.manifest_digest, &img.config_digest]
            .into_iter()
            .chain(img.index_digest.as_ref())
            .chain(img.layers.iter().map(|l| &l.digest))
            .cloned();
        let layers = img.layers.iter().map(|l| l.diff_id.clone());
        self.collect(blobs, layers, &live, &mut out)?;
        Ok(out)
    }

    /// Remove dangling images (no reference) that no container uses - with
    /// [`PruneOptions::all`] every image no container uses - then every blob and
    /// unpacked layer no remaining image or use needs, and references to missing images.
    pub fn prune(&self, opts: PruneOptions) -> Result<Removed, StoreError> {
        let _lock = self.lock_exclusive()?;
        let mut out = Removed::default();
        let images = self.images()?;
        let in_use: HashSet<Digest> = self
            .uses()?
            .into_iter()
            .map(|u| u.manifest_digest)
            .collect();
        let recorded: HashSet<&Digest> = images.iter().map(|i| &i.manifest_digest).collect();
        let mut tagged: HashSet<Digest> = HashSet::new();
        for r in self.refs()? {
            let unused = !in_use.contains(&r.manifest_digest);
            if !recorded.contains(&r.manifest_digest) || (opts.all && unused) {
                self.remove_ref_str(&r.reference)?;
                out.untagged.push(r.reference);
            } else {
                tagged.insert(r.manifest_digest);
            }
        }
        let mut keep = Vec::new();
        for img in images {
            if tagged.contains(&img.manifest_digest) || in_use.contains(&img.manifest_digest) {
                keep.push(img);
                continue;
            }
            let p = self.image_path(&img.manifest_digest);
            fs::remove_file(&p).map_err(io_err(&p, "remove image record"))?;
            out.images.push(img.config_digest);
        }
        let live = self.live(&keep)?;
        let blobs = list_digests(&self.root().join("blobs/sha256"))?;
        let layers = list_digests(&self.root().join("layers/sha256"))?;
        self.collect(blobs, layers, &live, &mut out)?;
        Ok(out)
    }

    fn remove_ref_str(&self, reference: &str) -> Result<(), StoreError> {
        let p = self.ref_path(reference);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io_err(&p, "remove reference")(e))
            }
            _ => Ok(()),
        }
    }
}

/// The names of the entries of `dir`.
pub(crate) fn entry_names(dir: &Path) -> Result<Vec<String>, StoreError> {
    Ok(fs::read_dir(dir)
        .map_err(io_err(dir, "list"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// The digests named by the entries of a `sha256` directory; other names are skipped
/// (the consistency check reports them).
pub(crate) fn list_digests(dir: &Path) -> Result<Vec<Digest>, StoreError> {
    let mut out: Vec<Digest> = entry_names(dir)?
        .into_iter()
        .filter_map(|n| Digest::parse(&format!("sha256:{n}")).ok())
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ImageRef;
    use crate::store::LayerRecord;

    /// An image with one real blob per layer and an unpacked layer dir each.
    fn image(s: &Store, name: &str, layers: &[&str]) -> ImageRecord {
        let mut recs = Vec::new();
        for l in layers {
            let blob = s.put_blob_bytes(l.as_bytes()).unwrap();
            let diff_id = Digest::of_bytes(format!("{l}-tar").as_bytes());
            let dir = s.layer_path(&diff_id);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("f"), l).unwrap();
            recs.push(LayerRecord {
                digest: blob,
                diff_id,
                size: l.len() as u64,
                media_type: "x".into(),
            });
        }
        let rec = ImageRecord {
            manifest_digest: s.put_blob_bytes(format!("{name}-m").as_bytes()).unwrap(),
            index_digest: None,
            media_type: crate::manifest::OCI_MANIFEST.into(),
            config_digest: s.put_blob_bytes(format!("{name}-c").as_bytes()).unwrap(),
            platform: "linux/amd64".into(),
            layers: recs,
            pulled_at: 0,
        };
        s.put_image(&rec).unwrap();
        rec
    }

    fn tag(s: &Store, r: &str, img: &ImageRecord) {
        s.set_ref(&ImageRef::parse(r).unwrap(), &img.manifest_digest)
            .unwrap();
    }

    #[test]
    fn prune_removes_dangling_and_garbage_only() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let kept = image(&s, "kept", &["base", "top"]);
        tag(&s, "x/kept", &kept);
        let dangling = image(&s, "dangling", &["base", "only-dangling"]);
        let orphan = s.put_blob_bytes(b"orphan").unwrap();
        let r = s.prune(PruneOptions::default()).unwrap();
        assert_eq!(r.images, std::slice::from_ref(&dangling.config_digest));
        assert!(r.blobs.contains(&orphan));
        assert_eq!(r.layers, [dangling.layers[1].diff_id.clone()]);
        assert!(s.has_layer(&kept.layers[0].diff_id), "shared base kept");
        assert!(r.reclaimed > 0);
        assert!(s.check().unwrap().is_empty());
        let again = s.prune(PruneOptions::default()).unwrap();
        assert!(again.images.is_empty() && again.blobs.is_empty() && again.layers.is_empty());
    }

    #[test]
    fn prune_all_spares_images_in_use() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let used = image(&s, "used", &["a"]);
        tag(&s, "x/used", &used);
        let unused = image(&s, "unused", &["b"]);
        tag(&s, "x/unused", &unused);
        s.register_use("c1", &used, Path::new("/nowhere")).unwrap();
        let r = s.prune(PruneOptions { all: true }).unwrap();
        assert_eq!(r.untagged, ["docker.io/x/unused:latest"]);
        assert_eq!(r.images, [unused.config_digest]);
        assert!(s.image(&used.manifest_digest).unwrap().is_some());
        assert_eq!(s.refs().unwrap().len(), 1);
    }

    #[test]
    fn remove_refuses_while_used_and_dangling_used_image_survives_prune() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let img = image(&s, "img", &["a"]);
        s.register_use("c1", &img, Path::new("/nowhere")).unwrap();
        let e = s.remove_image(&img.manifest_digest).unwrap_err();
        assert!(e.to_string().contains("in use by container c1"), "{e}");
        // Untagged but used (after `rm -f`): prune keeps it and its layer.
        s.prune(PruneOptions::default()).unwrap();
        assert!(s.has_layer(&img.layers[0].diff_id));
        s.release_use("c1").unwrap();
        let r = s.prune(PruneOptions::default()).unwrap();
        assert_eq!(r.images, [img.config_digest]);
        assert!(!s.has_layer(&img.layers[0].diff_id));
    }

    #[test]
    fn remove_keeps_shared_parts() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let one = image(&s, "one", &["base"]);
        let two = image(&s, "two", &["base", "top"]);
        let r = s.remove_image(&two.manifest_digest).unwrap();
        assert!(s.has_layer(&one.layers[0].diff_id), "shared layer kept");
        assert!(s.has_blob(&one.layers[0].digest), "shared blob kept");
        assert_eq!(r.layers, [two.layers[1].diff_id.clone()]);
        assert!(!s.has_blob(&two.manifest_digest));
    }

    #[test]
    fn prune_waits_for_a_running_pull() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let pull_lock = s.lock_shared().unwrap();
        // What a pull has committed but not yet recorded: garbage in the store's eyes.
        let blob = s.put_blob_bytes(b"in flight").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let s2 = s.clone();
        let h = std::thread::spawn(move || {
            let r = s2.prune(PruneOptions::default()).unwrap();
            tx.send(()).unwrap();
            r
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "prune ran while a pull held the shared lock"
        );
        assert!(s.has_blob(&blob));
        drop(pull_lock);
        let r = h.join().unwrap();
        assert_eq!(r.blobs, [blob]);
    }

    #[test]
    fn sizes_count_files_and_links() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("d")).unwrap();
        fs::write(t.path().join("d/f"), b"12345").unwrap();
        std::os::unix::fs::symlink("f", t.path().join("d/l")).unwrap();
        assert_eq!(tree_size(t.path()), 6);
    }
}
