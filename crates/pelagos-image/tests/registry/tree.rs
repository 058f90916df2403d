//! Overlay semantics in user space: merge unpacked layer dirs (whiteout devices and
//! opaque xattrs included) into the path list a container would see.

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn is_opaque(p: &Path) -> bool {
    let Ok(fd) = rustix::fs::open(
        p,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    ) else {
        return false;
    };
    let mut buf = [0u8; 4];
    matches!(rustix::fs::fgetxattr(&fd, "trusted.overlay.opaque", &mut buf), Ok(1) if buf[0] == b'y')
}

fn drop_below(set: &mut BTreeSet<String>, path: &str) {
    let prefix = format!("{path}/");
    set.retain(|p| !p.starts_with(&prefix));
}

fn walk(layer: &Path, rel: &str, set: &mut BTreeSet<String>) {
    let dir = if rel.is_empty() {
        layer.to_path_buf()
    } else {
        layer.join(&rel[1..])
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("read layer dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = format!("{rel}/{}", e.file_name().to_string_lossy());
        let md = std::fs::symlink_metadata(e.path()).expect("lstat");
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            set.remove(&path);
            drop_below(set, &path);
        } else if ft.is_dir() {
            if is_opaque(&e.path()) {
                drop_below(set, &path);
            }
            set.insert(path.clone());
            walk(layer, &path, set);
        } else {
            drop_below(set, &path);
            set.insert(path);
        }
    }
}

/// Every path of the merged tree, `/`-rooted, sorted.
pub fn merged(layers: &[std::path::PathBuf]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for l in layers {
        walk(l, "", &mut set);
    }
    set
}
