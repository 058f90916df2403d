//! Hostile and ordinary layers built in memory; every test checks that nothing
//! appears outside the layer directory.

use super::*;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Print a visible skip line for tests that need root.
fn skip(test: &str) -> bool {
    if is_root() {
        return false;
    }
    // Written to the stderr handle, not through eprintln!, so libtest's output capture
    // does not hide the skip.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: needs root (mknod/chown/trusted xattrs)"
    );
    true
}

enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Fifo(&'a str),
    Owned(&'a str, u64, u64),
    Xattr(&'a str, &'a str, &'a [u8]),
}

/// Build a tar with raw names (no validation, so `..` and absolute names get in).
fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        let (name, data): (&str, &[u8]) = match e {
            E::Dir(n, m) => {
                h.set_entry_type(EntryType::Directory);
                h.set_mode(*m);
                (n, b"")
            }
            E::File(n, d, m) => {
                h.set_entry_type(EntryType::Regular);
                h.set_mode(*m);
                (n, d)
            }
            E::Sym(n, t) | E::Hard(n, t) => {
                h.set_entry_type(if matches!(e, E::Sym(..)) {
                    EntryType::Symlink
                } else {
                    EntryType::Link
                });
                h.set_link_name_literal(t).unwrap();
                h.set_mode(0o777);
                (n, b"")
            }
            E::Fifo(n) => {
                h.set_entry_type(EntryType::Fifo);
                h.set_mode(0o640);
                (n, b"")
            }
            E::Owned(n, u, g) => {
                h.set_entry_type(EntryType::Regular);
                h.set_mode(0o644);
                h.set_uid(*u);
                h.set_gid(*g);
                (n, b"x")
            }
            E::Xattr(n, k, v) => {
                let key = format!("SCHILY.xattr.{k}");
                b.append_pax_extensions([(key.as_str(), *v)]).unwrap();
                h.set_entry_type(EntryType::Regular);
                h.set_mode(0o644);
                (n, b"")
            }
        };
        let raw = name.as_bytes();
        h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
        h.set_size(data.len() as u64);
        h.set_mtime(1_000_000_000);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

struct Sandbox {
    _dir: tempfile::TempDir,
    layer: PathBuf,
    outside: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Deep enough that `../../x` from the layer stays inside the tempdir.
        let layer = dir.path().join("a/b/layer");
        let outside = dir.path().join("a/b/outside");
        fs::create_dir_all(&layer).unwrap();
        fs::create_dir_all(&outside).unwrap();
        Self {
            _dir: dir,
            layer,
            outside,
        }
    }

    fn unpack(&self, entries: &[E<'_>]) -> Result<(), UnpackError> {
        unpack_layer(&layer(entries)[..], &self.layer, &UnpackOptions::default())
    }

    /// Nothing but `layer` and `outside` (still empty) may exist under the tempdir.
    fn assert_contained(&self) {
        let top = self
            .layer
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap();
        let mut names: Vec<String> = walk(top)
            .into_iter()
            .filter(|p| !p.starts_with(&self.layer))
            .map(|p| p.display().to_string())
            .collect();
        names.sort();
        let expect: Vec<String> = ["a", "a/b", "a/b/outside"]
            .iter()
            .map(|s| top.join(s).display().to_string())
            .collect();
        assert_eq!(names, expect, "something was written outside the layer");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

#[test]
fn ordinary_layer_keeps_metadata() {
    let s = Sandbox::new();
    s.unpack(&[
        E::Dir("./", 0o755),
        E::Dir("./bin/", 0o755),
        E::File("./bin/su", b"#!", 0o4755),
        E::File("usr/deep/file", b"hello", 0o640),
        E::Sym("bin/sh", "/bin/busybox"),
        E::Hard("bin/su-link", "bin/su"),
        E::Dir("tmp", 0o1777),
        E::Fifo("run/fifo"),
        E::File("/abs/name", b"a", 0o644),
    ])
    .unwrap();
    let l = &s.layer;
    assert_eq!(fs::read(l.join("usr/deep/file")).unwrap(), b"hello");
    assert_eq!(
        fs::metadata(l.join("bin/su")).unwrap().permissions().mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        fs::metadata(l.join("tmp")).unwrap().permissions().mode() & 0o7777,
        0o1777
    );
    assert_eq!(
        fs::read_link(l.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(
        fs::metadata(l.join("bin/su")).unwrap().ino(),
        fs::metadata(l.join("bin/su-link")).unwrap().ino()
    );
    assert!(fs::symlink_metadata(l.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(fs::metadata(l.join("bin")).unwrap().mtime(), 1_000_000_000);
    assert_eq!(
        fs::metadata(l.join("usr/deep/file")).unwrap().mtime(),
        1_000_000_000
    );
    assert!(l.join("abs/name").exists());
    s.assert_contained();
}

#[test]
fn ownership_is_kept() {
    if skip("ownership_is_kept") {
        return;
    }
    let s = Sandbox::new();
    s.unpack(&[E::Owned("o", 1000, 65534)]).unwrap();
    let m = fs::metadata(s.layer.join("o")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 65534));
}

#[test]
fn dotdot_is_rejected() {
    let s = Sandbox::new();
    for name in [
        "../outside/pwned",
        "a/../../outside/pwned",
        "../../../../pwned",
    ] {
        let err = s.unpack(&[E::File(name, b"x", 0o644)]).unwrap_err();
        assert!(err.to_string().contains("'..'"), "{err}");
    }
    s.assert_contained();
}

#[test]
fn writes_through_symlinks_are_refused() {
    let s = Sandbox::new();
    let out = s.outside.to_str().unwrap().to_string();
    for (link, target) in [
        ("evil", out.as_str()),
        ("evil", "../outside"),
        ("evil", "../../../.."),
    ] {
        let err = s
            .unpack(&[E::Sym(link, target), E::File("evil/pwned", b"x", 0o644)])
            .unwrap_err();
        assert!(
            matches!(err, UnpackError::Path(PathError::NotDir { .. })),
            "{err}"
        );
        let err = s
            .unpack(&[E::Sym(link, target), E::Dir("evil/sub/", 0o755)])
            .unwrap_err();
        assert!(
            matches!(err, UnpackError::Path(PathError::NotDir { .. })),
            "{err}"
        );
    }
    s.assert_contained();
}

#[test]
fn file_over_symlink_replaces_the_link() {
    let s = Sandbox::new();
    let target = s.outside.join("target");
    s.unpack(&[
        E::Sym("x", target.to_str().unwrap()),
        E::File("x", b"inside", 0o644),
    ])
    .unwrap();
    assert_eq!(fs::read(s.layer.join("x")).unwrap(), b"inside");
    assert!(!target.exists());
    s.assert_contained();
}

#[test]
fn hardlinks_cannot_escape() {
    let s = Sandbox::new();
    fs::write(s.outside.join("secret"), b"s").unwrap();
    let secret = s.outside.join("secret");
    for (i, target) in [
        "../outside/secret",
        secret.to_str().unwrap(),
        "evil/secret",
        "/etc/passwd",
        "missing",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("hl{i}");
        let err = s
            .unpack(&[E::Sym("evil", "../outside"), E::Hard(&name, target)])
            .unwrap_err();
        assert!(
            matches!(err, UnpackError::HardLink { .. } | UnpackError::Path(_)),
            "{target}: {err}"
        );
    }
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
    fs::remove_file(secret).unwrap();
    s.assert_contained();
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    if skip("whiteouts_become_overlay_whiteouts") {
        return;
    }
    let s = Sandbox::new();
    s.unpack(&[
        E::File("dir/.wh.gone", b"", 0o644),
        E::File("opq/.wh..wh..opq", b"", 0o644),
        E::File("opq/new", b"n", 0o644),
    ])
    .unwrap();
    let m = fs::symlink_metadata(s.layer.join("dir/gone")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), 0);
    assert!(!s.layer.join("dir/.wh.gone").exists());
    assert!(!s.layer.join("opq/.wh..wh..opq").exists());
    let fd = fsops::open_root(&s.layer.join("opq")).unwrap();
    let mut buf = [0u8; 8];
    let n = rfs::fgetxattr(&fd, "trusted.overlay.opaque", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"y");
    s.assert_contained();
}

#[test]
fn whiteout_abuse_is_rejected() {
    let s = Sandbox::new();
    for name in [
        ".wh..",
        ".wh...",
        "d/.wh.",
        "../.wh.outside",
        "evil/.wh.secret",
    ] {
        fs::write(s.outside.join("secret"), b"s").unwrap();
        let r = s.unpack(&[E::Sym("evil", "../outside"), E::File(name, b"", 0o644)]);
        assert!(r.is_err(), "{name} accepted");
        assert!(
            s.outside.join("secret").exists(),
            "{name} removed a file outside"
        );
        fs::remove_file(s.outside.join("secret")).unwrap();
    }
    s.assert_contained();
}

#[test]
fn forged_overlay_xattrs_are_dropped() {
    if skip("forged_overlay_xattrs_are_dropped") {
        return;
    }
    let s = Sandbox::new();
    s.unpack(&[
        E::Xattr("f", "trusted.overlay.redirect", b"/etc"),
        E::Xattr("g", "user.note", b"ok"),
    ])
    .unwrap();
    let mut buf = [0u8; 16];
    let f = fsops::open_root(&s.layer).unwrap();
    let ff = rfs::openat(&f, "f", OFlags::RDONLY, Mode::empty()).unwrap();
    assert!(rfs::fgetxattr(&ff, "trusted.overlay.redirect", &mut buf).is_err());
    let g = rfs::openat(&f, "g", OFlags::RDONLY, Mode::empty()).unwrap();
    let n = rfs::fgetxattr(&g, "user.note", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok");
}

#[test]
fn replacing_dir_with_file_and_back() {
    let s = Sandbox::new();
    s.unpack(&[
        E::File("x/child", b"c", 0o644),
        E::File("x", b"now a file", 0o644),
        E::Dir("y", 0o755),
        E::File("y/z", b"", 0o644),
    ])
    .unwrap();
    assert_eq!(fs::read(s.layer.join("x")).unwrap(), b"now a file");
    s.assert_contained();
}

/// Deterministic pseudo-random hostile layers: whatever mix of traversal names,
/// absolute names, symlinks out, hard links out and whiteouts, nothing may appear
/// outside the layer (errors are fine).
#[test]
fn random_hostile_layers_stay_contained() {
    const NAMES: [&str; 14] = [
        "a",
        "a/b",
        "evil",
        "evil/x",
        "../x",
        "../../outside/x",
        "/abs",
        "/../x",
        "./a/../../x",
        ".wh.a",
        "a/.wh..wh..opq",
        ".wh...",
        "evil/.wh.x",
        "a/b/c",
    ];
    const TARGETS: [&str; 8] = [
        "..",
        "../..",
        "../outside",
        "/",
        "/etc/passwd",
        "a",
        "evil/x",
        "a/b",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..200 {
        let s = Sandbox::new();
        let mut entries = Vec::new();
        for _ in 0..(1 + next(8)) {
            let name = NAMES[next(NAMES.len())];
            let target = TARGETS[next(TARGETS.len())];
            entries.push(match next(5) {
                0 => E::Dir(name, 0o755),
                1 => E::File(name, b"x", 0o644),
                2 => E::Sym(name, target),
                3 => E::Hard(name, target),
                _ => E::Fifo(name),
            });
        }
        let _ = s.unpack(&entries);
        s.assert_contained();
    }
}

#[test]
fn directory_replaced_by_symlink_later_is_fine() {
    let s = Sandbox::new();
    s.unpack(&[
        E::Dir("a/", 0o755),
        E::Dir("a/b/", 0o755),
        E::Sym("a", "../outside"),
    ])
    .unwrap();
    assert!(fs::symlink_metadata(s.layer.join("a"))
        .unwrap()
        .file_type()
        .is_symlink());
    s.assert_contained();
}
