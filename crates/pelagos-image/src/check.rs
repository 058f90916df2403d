//! The store consistency check behind `pelagos image check`.
//!
//! Problems are states a correct store never reaches (a blob that does not hash to its
//! name, an image without its layers, a reference to a missing image, temp entries of
//! dead processes, a use of a missing image). Notes are garbage a correct store may hold
//! after a failed pull, `rm -f` or a crash, which `image prune` removes: blobs and
//! layers no image needs, uses whose bundle is gone.

use crate::digest::{Digest, HashingReader};
use crate::gc::{entry_names, list_digests};
use crate::store::{io_err, temp_owner_alive, Store, StoreError};
use std::collections::HashSet;
use std::fs::File;
use std::io;

/// The outcome of [`Store::check_report`].
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckReport {
    /// Inconsistencies, each naming the object; the store is consistent when empty.
    pub problems: Vec<String>,
    /// Reclaimable leftovers that do not make the store inconsistent.
    pub notes: Vec<String>,
    /// Blobs whose digest was verified.
    pub blobs_verified: usize,
}

impl Store {
    /// The problems of [`Store::check_report`] (empty when the store is consistent).
    pub fn check(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.check_report()?.problems)
    }

    /// Verify every blob against its digest, every image's blobs and unpacked layers,
    /// every reference and use, and that `tmp/` holds only work of live processes.
    pub fn check_report(&self) -> Result<CheckReport, StoreError> {
        let mut r = CheckReport::default();
        self.check_blobs(&mut r)?;
        let images = self.images()?;
        let mut blobs_needed: HashSet<Digest> = HashSet::new();
        let mut layers_needed: HashSet<Digest> = HashSet::new();
        for img in &images {
            let m = &img.manifest_digest;
            for d in [m, &img.config_digest] {
                if !self.has_blob(d) {
                    r.problems.push(format!("image {m} lacks blob {d}"));
                }
            }
            for l in &img.layers {
                if !self.has_layer(&l.diff_id) {
                    r.problems
                        .push(format!("image {m} lacks unpacked layer {}", l.diff_id));
                }
                if !self.has_blob(&l.digest) {
                    // A layer unpacked from another image's identical content is
                    // reused without its own blob; only save and push need it.
                    r.notes.push(format!(
                        "image {m}: layer blob {} is not stored (unpacked layer {} is)",
                        l.digest, l.diff_id
                    ));
                }
                layers_needed.insert(l.diff_id.clone());
                blobs_needed.insert(l.digest.clone());
            }
            blobs_needed.extend([m.clone(), img.config_digest.clone()]);
            blobs_needed.extend(img.index_digest.iter().cloned());
        }
        let recorded: HashSet<&Digest> = images.iter().map(|i| &i.manifest_digest).collect();
        for rf in self.refs()? {
            if !recorded.contains(&rf.manifest_digest) {
                r.problems.push(format!(
                    "reference {} points at missing image {}",
                    rf.reference, rf.manifest_digest
                ));
            }
        }
        for u in self.uses()? {
            if !recorded.contains(&u.manifest_digest) {
                r.problems.push(format!(
                    "container {} uses missing image {}",
                    u.holder, u.manifest_digest
                ));
            }
            if !u.bundle.exists() {
                r.notes.push(format!(
                    "container {} holds image {} but its bundle {} is gone; release the use",
                    u.holder,
                    u.config_digest,
                    u.bundle.display()
                ));
            }
            layers_needed.extend(u.layers);
        }
        for d in list_digests(&self.root().join("layers/sha256"))? {
            if !layers_needed.contains(&d) {
                r.notes.push(format!(
                    "unpacked layer {d} is used by no image (prune removes it)"
                ));
            }
        }
        for d in list_digests(&self.root().join("blobs/sha256"))? {
            if !blobs_needed.contains(&d) {
                r.notes
                    .push(format!("blob {d} is used by no image (prune removes it)"));
            }
        }
        self.check_dirs(&mut r)?;
        Ok(r)
    }

    fn check_blobs(&self, r: &mut CheckReport) -> Result<(), StoreError> {
        for name in entry_names(&self.root().join("blobs/sha256"))? {
            match Digest::parse(&format!("sha256:{name}")) {
                Ok(d) => match self.verify_blob_file(&d) {
                    Ok(()) => r.blobs_verified += 1,
                    Err(err) => r.problems.push(err.to_string()),
                },
                Err(_) => r.problems.push(format!("stray file in blobs: {name}")),
            }
        }
        Ok(())
    }

    /// Names in `layers/` that are no digest, and temp entries of dead processes.
    fn check_dirs(&self, r: &mut CheckReport) -> Result<(), StoreError> {
        for name in entry_names(&self.root().join("layers/sha256"))? {
            if Digest::parse(&format!("sha256:{name}")).is_err() {
                r.problems.push(format!("stray entry in layers: {name}"));
            }
        }
        for name in entry_names(&self.root().join("tmp"))? {
            if !temp_owner_alive(&name) {
                r.problems.push(format!("stale temp entry {name}"));
            }
        }
        Ok(())
    }

    /// Stream-hash a stored blob against its name.
    pub fn verify_blob_file(&self, d: &Digest) -> Result<(), StoreError> {
        let p = self.blob_path(d);
        let f = File::open(&p).map_err(io_err(&p, "open blob"))?;
        let mut r = HashingReader::new(io::BufReader::new(f));
        io::copy(&mut r, &mut io::sink()).map_err(io_err(&p, "read blob"))?;
        let (actual, _) = r.finish();
        if &actual != d {
            return Err(StoreError::BlobMismatch { path: p, actual });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn finds_problems_and_notes() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let good = s.put_blob_bytes(b"good").unwrap();
        let bad = s.put_blob_bytes(b"bad").unwrap();
        fs::write(s.blob_path(&bad), b"tampered").unwrap();
        fs::write(t.path().join("blobs/sha256/junk"), b"").unwrap();
        fs::create_dir(t.path().join("tmp/999999999-1-1-layer")).unwrap();
        let missing = Digest::of_bytes(b"missing");
        s.set_ref(&crate::reference::ImageRef::parse("x/y").unwrap(), &missing)
            .unwrap();
        let r = s.check_report().unwrap();
        let all = r.problems.join("\n");
        assert!(all.contains(bad.hex()), "{all}");
        assert!(all.contains("stray file in blobs: junk"), "{all}");
        assert!(
            all.contains("stale temp entry 999999999-1-1-layer"),
            "{all}"
        );
        assert!(all.contains("reference docker.io/x/y:latest points at missing image"));
        assert!(!all.contains(good.hex()), "{all}");
        assert_eq!(r.problems.len(), 4, "{all}");
        assert!(r.notes.iter().any(|n| n.contains(good.hex())));
        assert_eq!(r.blobs_verified, 1);
    }
}
