//! Committing verified content into the store: everything a pull verified is flushed
//! ([`crate::flush`]: an fsync per file from a few threads, or one `syncfs` for very
//! large trees), then renamed into place, then each parent directory fsync'd once.

use crate::digest::Digest;
use crate::store::{io_err, sync_dir, Store, StoreError, TempDir, TempFile};
use std::fs;
use std::io::Write;
use std::path::PathBuf;

impl Store {
    /// Commit a temp file whose content the caller verified hashes to `d`.
    pub fn commit_blob(&self, tmp: TempFile, d: &Digest) -> Result<PathBuf, StoreError> {
        self.commit(vec![(tmp, d.clone())], Vec::new())?;
        Ok(self.blob_path(d))
    }

    /// A temp file holding `data`, and its digest, for [`Store::commit`].
    pub fn temp_blob(&self, data: &[u8]) -> Result<(TempFile, Digest), StoreError> {
        let mut t = self.temp_file("blob")?;
        t.file().write_all(data).map_err(io_err(&t.path, "write"))?;
        Ok((t, Digest::of_bytes(data)))
    }

    /// Commit verified blobs and unpacked layers together: their content is flushed
    /// (see [`crate::flush`]), then each is renamed into place and each parent
    /// directory fsync'd once. A layer
    /// another pull committed first is kept and ours discarded.
    pub fn commit(
        &self,
        blobs: Vec<(TempFile, Digest)>,
        layers: Vec<(TempDir, Digest)>,
    ) -> Result<(), StoreError> {
        let mut blobs = blobs;
        let mut layers = layers;
        let roots: Vec<&std::path::Path> = layers.iter().map(|(t, _)| t.path.as_path()).collect();
        let each = crate::flush::entries(&roots, crate::flush::FSYNC_EACH_UP_TO)
            .map_err(io_err(&self.root().join("tmp"), "list the unpacked layers"))?;
        // Blobs alone are always fsync'd one by one.
        let each = each.filter(|p| {
            layers.is_empty()
                || crate::flush::each_is_cheaper(p.len() + blobs.len(), crate::flush::dirty_bytes())
        });
        let tmp = self.root().join("tmp");
        let flushed = match each {
            Some(mut paths) => {
                paths.extend(blobs.iter().map(|(t, _)| t.path.clone()));
                crate::flush::fsync_each_or_syncfs(&paths, &tmp)
            }
            // One flush of the filesystem is the cheaper way.
            None => crate::flush::syncfs(&tmp).map_err(|e| (tmp.clone(), e)),
        };
        flushed.map_err(|(p, e)| io_err(&p, "flush")(e))?;
        for (t, d) in &mut blobs {
            let dest = self.blob_path(d);
            drop(t.file.take());
            fs::rename(&t.path, &dest).map_err(io_err(&dest, "rename blob into place"))?;
        }
        for (t, diff_id) in &mut layers {
            let dest = self.layer_path(diff_id);
            match fs::rename(&t.path, &dest) {
                Ok(()) => t.live = false,
                Err(e) if dest.is_dir() => {
                    tracing::debug!(
                        "layer {diff_id} committed concurrently ({e}); discarding ours"
                    );
                }
                Err(e) => return Err(io_err(&dest, "rename layer into place")(e)),
            }
        }
        if !blobs.is_empty() {
            sync_dir(&self.root().join("blobs/sha256"))?;
        }
        if !layers.is_empty() {
            sync_dir(&self.root().join("layers/sha256"))?;
        }
        Ok(())
    }

    /// Commit an unpacked layer whose diff_id the caller verified. If another pull
    /// committed the same layer first, ours is discarded.
    pub fn commit_layer(&self, tmp: TempDir, diff_id: &Digest) -> Result<PathBuf, StoreError> {
        self.commit(Vec::new(), vec![(tmp, diff_id.clone())])?;
        Ok(self.layer_path(diff_id))
    }
}
