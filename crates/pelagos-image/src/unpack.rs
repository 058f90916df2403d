//! Unpacking one layer tar into one layer directory, never writing outside it.
//!
//! The `tar` crate only parses; every file, directory, link, device and fifo is made
//! here through [`crate::fsops`], which opens parents without following symlinks and
//! rejects `..`. Docker whiteouts become overlayfs whiteouts: `.wh.NAME` turns into a
//! char 0:0 device `NAME`, `.wh..wh..opq` into `trusted.overlay.opaque=y` on its
//! directory. Owner, mode (setuid/setgid/sticky), xattrs and mtimes are kept.

use crate::fsops::{self, PathError};
use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use tar::EntryType;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const XATTR_PAX_PREFIX: &str = "SCHILY.xattr.";

/// Errors from unpacking a layer.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The archive cannot be read.
    #[error("reading layer archive: {0}")]
    Archive(std::io::Error),
    /// An entry's name or target could escape the layer or is unusable.
    #[error("rejected layer entry: {0}")]
    Path(PathError),
    /// A whiteout names nothing valid.
    #[error("invalid whiteout entry {0:?}")]
    Whiteout(PathBuf),
    /// A hard link points at something not in this layer.
    #[error("hard link {path:?} -> {target:?}: target is not a file in this layer")]
    HardLink {
        /// The link entry.
        path: PathBuf,
        /// Its target.
        target: PathBuf,
    },
    /// An entry type we do not handle.
    #[error("{path:?}: unsupported tar entry type {kind:?}")]
    Unsupported {
        /// The entry.
        path: PathBuf,
        /// Its raw type byte.
        kind: u8,
    },
    /// A filesystem operation failed.
    #[error("{path:?}: {op}: {error}")]
    Io {
        /// The entry.
        path: PathBuf,
        /// The operation.
        op: &'static str,
        /// The error.
        error: std::io::Error,
    },
}

impl From<PathError> for UnpackError {
    fn from(e: PathError) -> Self {
        Self::Path(e)
    }
}

/// Options for [`unpack_layer`].
#[derive(Clone, Debug)]
pub struct UnpackOptions {
    /// Apply uid/gid from the archive (needs root).
    pub preserve_owner: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            preserve_owner: rustix::process::geteuid().is_root(),
        }
    }
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(Errno) -> UnpackError + 'a {
    move |e| UnpackError::Io {
        path: path.to_path_buf(),
        op,
        error: e.into(),
    }
}

/// Unpack the (already decompressed) tar stream `reader` into the existing, empty
/// directory `root`.
pub fn unpack_layer<R: Read>(
    reader: R,
    root: &Path,
    opts: &UnpackOptions,
) -> Result<(), UnpackError> {
    let root_fd = fsops::open_root(root)?;
    let mut archive = tar::Archive::new(reader);
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    for entry in archive.entries().map_err(UnpackError::Archive)? {
        let mut entry = entry.map_err(UnpackError::Archive)?;
        let name = entry.path().map_err(UnpackError::Archive)?.into_owned();
        if let Some(mtime) = unpack_entry(&root_fd, &mut entry, &name, opts)? {
            dir_times.push((name, mtime));
        }
    }
    // Directory mtimes last: creating children would bump them again.
    for (name, mtime) in dir_times.iter().rev() {
        let comps = fsops::clean(name)?;
        if comps.is_empty() {
            continue;
        }
        // A later entry may have replaced the directory or a parent (by a symlink, a
        // file, a whiteout); its mtime then no longer matters.
        let Ok(parent) = fsops::open_parent(&root_fd, name, &comps, false) else {
            continue;
        };
        let leaf = comps[comps.len() - 1];
        if fsops::kind_of(&parent, leaf).ok().flatten() == Some(FileType::Directory) {
            rfs::utimensat(&parent, leaf, &times(*mtime), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(io_err(name, "set directory mtime"))?;
        }
    }
    Ok(())
}

/// Make one entry. Returns the mtime for directories, applied at the end.
fn unpack_entry<R: Read>(
    root: &OwnedFd,
    entry: &mut tar::Entry<'_, R>,
    name: &Path,
    opts: &UnpackOptions,
) -> Result<Option<u64>, UnpackError> {
    let kind = entry.header().entry_type();
    if matches!(
        kind,
        EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink
    ) {
        return Ok(None);
    }
    let comps = fsops::clean(name)?;
    let Some(&leaf) = comps.last() else {
        // The root entry (`./`): the layer dir itself keeps the store's metadata.
        return Ok(None);
    };
    let parent = fsops::open_parent(root, name, &comps, true)?;
    let leaf_bytes = leaf.as_bytes();
    if leaf_bytes == OPAQUE_MARKER {
        rfs::fsetxattr(&parent, "trusted.overlay.opaque", b"y", XattrFlags::empty())
            .map_err(io_err(name, "set opaque xattr"))?;
        return Ok(None);
    }
    if let Some(hidden) = leaf_bytes.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
            return Err(UnpackError::Whiteout(name.to_path_buf()));
        }
        let hidden = OsStr::from_bytes(hidden);
        fsops::remove_any(&parent, hidden).map_err(io_err(name, "remove before whiteout"))?;
        rfs::mknodat(
            &parent,
            hidden,
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )
        .map_err(io_err(name, "create whiteout device"))?;
        return Ok(None);
    }
    let h = entry.header();
    let mode = Mode::from_raw_mode(h.mode().map_err(UnpackError::Archive)? & 0o7777);
    let mtime = h.mtime().unwrap_or(0);
    let owner = if opts.preserve_owner {
        let uid = h.uid().map_err(UnpackError::Archive)?;
        let gid = h.gid().map_err(UnpackError::Archive)?;
        Some((
            u32::try_from(uid).unwrap_or(u32::MAX - 1),
            u32::try_from(gid).unwrap_or(u32::MAX - 1),
        ))
    } else {
        None
    };
    match kind {
        EntryType::Directory => {
            make_dir(&parent, leaf, name, mode, owner)?;
            set_xattrs(entry, &parent, leaf, name, true)?;
            return Ok(Some(mtime));
        }
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            make_file(entry, &parent, leaf, name, mode, owner)?;
            set_xattrs(entry, &parent, leaf, name, false)?;
        }
        EntryType::Symlink => {
            let target = entry
                .link_name()
                .map_err(UnpackError::Archive)?
                .unwrap_or_default()
                .into_owned();
            fsops::remove_any(&parent, leaf).map_err(io_err(name, "replace"))?;
            rfs::symlinkat(&target, &parent, leaf).map_err(io_err(name, "symlink"))?;
            chown_at(&parent, leaf, name, owner)?;
        }
        EntryType::Link => {
            let target = entry
                .link_name()
                .map_err(UnpackError::Archive)?
                .unwrap_or_default()
                .into_owned();
            make_hardlink(root, &parent, leaf, name, &target)?;
            return Ok(None);
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            let (ft, dev) = match kind {
                EntryType::Char => (FileType::CharacterDevice, device(entry)?),
                EntryType::Block => (FileType::BlockDevice, device(entry)?),
                _ => (FileType::Fifo, 0),
            };
            fsops::remove_any(&parent, leaf).map_err(io_err(name, "replace"))?;
            rfs::mknodat(&parent, leaf, ft, mode, dev).map_err(io_err(name, "mknod"))?;
            chown_at(&parent, leaf, name, owner)?;
            // mknod applies the umask; set the exact mode on the node itself.
            rfs::chmodat(&parent, leaf, mode, AtFlags::empty()).map_err(io_err(name, "chmod"))?;
        }
        other => {
            return Err(UnpackError::Unsupported {
                path: name.to_path_buf(),
                kind: other.as_byte(),
            });
        }
    }
    rfs::utimensat(&parent, leaf, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(io_err(name, "set mtime"))?;
    Ok(None)
}

fn device<R: Read>(entry: &tar::Entry<'_, R>) -> Result<rfs::Dev, UnpackError> {
    let h = entry.header();
    let maj = h.device_major().map_err(UnpackError::Archive)?.unwrap_or(0);
    let min = h.device_minor().map_err(UnpackError::Archive)?.unwrap_or(0);
    Ok(rfs::makedev(maj, min))
}

fn times(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn make_dir(
    parent: &OwnedFd,
    leaf: &OsStr,
    name: &Path,
    mode: Mode,
    owner: Option<(u32, u32)>,
) -> Result<(), UnpackError> {
    match fsops::kind_of(parent, leaf).map_err(io_err(name, "stat"))? {
        Some(FileType::Directory) => {}
        Some(_) => {
            fsops::remove_any(parent, leaf).map_err(io_err(name, "replace"))?;
            rfs::mkdirat(parent, leaf, Mode::from_raw_mode(0o700))
                .map_err(io_err(name, "mkdir"))?;
        }
        None => {
            rfs::mkdirat(parent, leaf, Mode::from_raw_mode(0o700)).map_err(io_err(name, "mkdir"))?
        }
    }
    let fd = fsops::open_dir_nofollow(parent, leaf).map_err(io_err(name, "open directory"))?;
    if let Some((u, g)) = owner {
        rfs::fchown(&fd, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)))
            .map_err(io_err(name, "chown"))?;
    }
    rfs::fchmod(&fd, mode).map_err(io_err(name, "chmod"))
}

fn make_file<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    parent: &OwnedFd,
    leaf: &OsStr,
    name: &Path,
    mode: Mode,
    owner: Option<(u32, u32)>,
) -> Result<(), UnpackError> {
    fsops::remove_any(parent, leaf).map_err(io_err(name, "replace"))?;
    let fd = rfs::openat(
        parent,
        leaf,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(io_err(name, "create file"))?;
    let mut file = std::fs::File::from(fd);
    copy_content(entry, &mut file).map_err(|error| UnpackError::Io {
        path: name.to_path_buf(),
        op: "write file",
        error,
    })?;
    // chown before chmod: chown clears setuid/setgid bits.
    if let Some((u, g)) = owner {
        rfs::fchown(&file, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)))
            .map_err(io_err(name, "chown"))?;
    }
    rfs::fchmod(&file, mode).map_err(io_err(name, "chmod"))
}

/// How often writeback of a file being unpacked is started.
const WRITEBACK_STEP: u64 = 8 << 20;

/// Copy an entry's content with writes of up to 1 MiB (`io::copy` writes 8 KiB at a
/// time: thousands of syscalls for a large file).
fn copy_content<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    file: &mut std::fs::File,
) -> std::io::Result<()> {
    use std::io::Write;
    let cap = entry.size().clamp(4096, 1 << 20) as usize;
    let mut buf = vec![0u8; cap];
    let mut wb = fsops::Writeback::new(WRITEBACK_STEP);
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match entry.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            wb.flush(&*file);
            return Ok(());
        }
        file.write_all(&buf[..filled])?;
        wb.wrote(&*file, filled as u64);
    }
}

fn chown_at(
    parent: &OwnedFd,
    leaf: &OsStr,
    name: &Path,
    owner: Option<(u32, u32)>,
) -> Result<(), UnpackError> {
    if let Some((u, g)) = owner {
        rfs::chownat(
            parent,
            leaf,
            Some(Uid::from_raw(u)),
            Some(Gid::from_raw(g)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_err(name, "chown"))?;
    }
    Ok(())
}

/// Hard links may only point at a non-directory already unpacked in this layer; the
/// target's parents are walked without following symlinks, so it cannot name a host file.
fn make_hardlink(
    root: &OwnedFd,
    parent: &OwnedFd,
    leaf: &OsStr,
    name: &Path,
    target: &Path,
) -> Result<(), UnpackError> {
    let bad = || UnpackError::HardLink {
        path: name.to_path_buf(),
        target: target.to_path_buf(),
    };
    let tcomps = fsops::clean(target)?;
    let Some(&tleaf) = tcomps.last() else {
        return Err(bad());
    };
    let tparent = fsops::open_parent(root, target, &tcomps, false).map_err(|_| bad())?;
    match fsops::kind_of(&tparent, tleaf).map_err(io_err(name, "stat link target"))? {
        None | Some(FileType::Directory) => return Err(bad()),
        Some(_) => {}
    }
    fsops::remove_any(parent, leaf).map_err(io_err(name, "replace"))?;
    rfs::linkat(&tparent, tleaf, parent, leaf, AtFlags::empty()).map_err(io_err(name, "link"))
}

/// Apply `SCHILY.xattr.*` PAX records. `trusted.overlay.*` from an archive is dropped:
/// it would let a layer forge overlayfs redirects or whiteouts.
fn set_xattrs<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    parent: &OwnedFd,
    leaf: &OsStr,
    name: &Path,
    is_dir: bool,
) -> Result<(), UnpackError> {
    let Some(exts) = entry.pax_extensions().map_err(UnpackError::Archive)? else {
        return Ok(());
    };
    let mut attrs: Vec<(String, Vec<u8>)> = Vec::new();
    for ext in exts {
        let ext = ext.map_err(UnpackError::Archive)?;
        let Ok(key) = ext.key() else { continue };
        if let Some(attr) = key.strip_prefix(XATTR_PAX_PREFIX) {
            let allowed = (attr.starts_with("user.")
                || attr.starts_with("security.")
                || attr.starts_with("trusted."))
                && !attr.starts_with("trusted.overlay.");
            if allowed {
                attrs.push((attr.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    if attrs.is_empty() {
        return Ok(());
    }
    let fd = if is_dir {
        fsops::open_dir_nofollow(parent, leaf)
    } else {
        rfs::openat(
            parent,
            leaf,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }
    .map_err(io_err(name, "open for xattr"))?;
    for (k, v) in attrs {
        rfs::fsetxattr(&fd, k.as_str(), &v, XattrFlags::empty())
            .map_err(io_err(name, "set xattr"))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;
