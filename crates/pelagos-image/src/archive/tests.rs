//! Save/load round trips over hand-made images, and mangled archives that must fail
//! cleanly: no panic, nothing committed, the store consistent.

use super::*;
use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::store::Store;

/// An in-memory tar of `(name, data)` files.
fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// A docker-archive with one two-layer image tagged `test/img:1`.
fn docker_archive() -> Vec<u8> {
    let l1 = tar_of(&[("etc/hello", b"hello\n".to_vec())]);
    let l2 = tar_of(&[("etc/world", b"world\n".to_vec())]);
    let (d1, d2) = (Digest::of_bytes(&l1), Digest::of_bytes(&l2));
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{d1}","{d2}"]}},"history":[{{"created_by":"one"}},{{"created_by":"two"}}]}}"#
    );
    let manifest =
        r#"[{"Config":"cfg.json","RepoTags":["test/img:1"],"Layers":["l1/layer.tar","l2.tar"]}]"#;
    tar_of(&[
        ("cfg.json", config.into_bytes()),
        ("l1/layer.tar", l1),
        ("l2.tar", l2),
        ("manifest.json", manifest.as_bytes().to_vec()),
    ])
}

fn store() -> (tempfile::TempDir, Store) {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(&t.path().join("s")).unwrap();
    (t, s)
}

fn load_bytes(s: &Store, data: &[u8]) -> Result<Loaded, LoadError> {
    load(s, data, "test.tar", &mut |_| {})
}

fn save_bytes(s: &Store, format: ArchiveFormat) -> Vec<u8> {
    let img = s.lookup("test/img:1").unwrap();
    let items = [SaveItem {
        image: img,
        references: vec![ImageRef::parse("test/img:1").unwrap()],
    }];
    let mut out = Vec::new();
    save(s, &items, format, &mut out).unwrap();
    out
}

#[test]
fn docker_archive_loads_and_round_trips_in_both_formats() {
    let (_t, a) = store();
    let loaded = load_bytes(&a, &docker_archive()).unwrap();
    assert_eq!(loaded.images.len(), 1);
    assert_eq!(loaded.unpacked, 2);
    let img = &loaded.images[0].image;
    assert!(a
        .layer_path(&img.layers[1].diff_id)
        .join("etc/world")
        .is_file());
    assert_eq!(
        loaded.images[0].references,
        [ImageRef::parse("test/img:1").unwrap()]
    );
    assert!(a.check().unwrap().is_empty());
    for format in [ArchiveFormat::Oci, ArchiveFormat::Docker] {
        let bytes = save_bytes(&a, format);
        assert_eq!(bytes, save_bytes(&a, format), "saves are reproducible");
        let (_u, b) = store();
        let again = load_bytes(&b, &bytes).unwrap();
        let got = &again.images[0].image;
        assert_eq!(got.config_digest, img.config_digest);
        assert_eq!(got.manifest_digest, img.manifest_digest);
        assert_eq!(got.layers, img.layers);
        assert!(b.check().unwrap().is_empty());
        // Loading into a store that has everything unpacks nothing.
        let third = load_bytes(&b, &bytes).unwrap();
        assert_eq!((third.unpacked, third.reused), (0, 2));
    }
}

#[test]
fn save_refuses_a_corrupt_blob() {
    let (_t, a) = store();
    let img = load_bytes(&a, &docker_archive()).unwrap().images[0]
        .image
        .clone();
    std::fs::write(a.blob_path(&img.layers[0].digest), b"tampered").unwrap();
    let items = [SaveItem {
        image: img,
        references: Vec::new(),
    }];
    let e = save(&a, &items, ArchiveFormat::Oci, Vec::new()).unwrap_err();
    assert!(matches!(e, SaveError::Corrupt { .. }), "{e}");
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mangled_archives_fail_cleanly() {
    let (_t, a) = store();
    load_bytes(&a, &docker_archive()).unwrap();
    let oci = save_bytes(&a, ArchiveFormat::Docker);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let mut data = oci.clone();
        match round % 3 {
            0 => data.truncate(rng.below(data.len())),
            1 => {
                for _ in 0..=rng.below(4) {
                    let i = rng.below(data.len());
                    data[i] ^= 1 << rng.below(8);
                }
            }
            _ => {
                let i = rng.below(data.len());
                let n = rng.below(1024).min(data.len() - i);
                data.drain(i..i + n);
            }
        }
        let (_u, b) = store();
        match load_bytes(&b, &data) {
            Ok(l) => assert!(!l.images.is_empty(), "round {round}: loaded nothing"),
            Err(e) => {
                assert!(e.to_string().contains("test.tar"), "round {round}: {e}");
                assert!(b.images().unwrap().is_empty(), "round {round}: {e}");
                assert!(b.refs().unwrap().is_empty(), "round {round}: {e}");
            }
        }
        assert!(b.check().unwrap().is_empty(), "round {round}");
        let tmp = std::fs::read_dir(b.root().join("tmp")).unwrap().count();
        assert_eq!(tmp, 0, "round {round}: temp entries left");
    }
}
