//! Copying unpacked layers into one plain directory tree, applying overlay whiteouts
//! and opaque directories: the rootfs for hosts where overlayfs cannot be mounted.
//!
//! All work goes through directory fds opened without following symlinks, on both
//! the layer side and the destination side.

use crate::fsops;
use rustix::fs::{
    self as rfs, AtFlags, FileType, Mode, OFlags, Stat, Timespec, Timestamps, XattrFlags,
};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Errors from flattening.
#[derive(Debug, thiserror::Error)]
#[error("flatten {path}: {op}: {error}")]
pub struct FlattenError {
    /// The path (layer side or destination side).
    pub path: PathBuf,
    /// The operation.
    pub op: &'static str,
    /// The error.
    pub error: std::io::Error,
}

fn err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(Errno) -> FlattenError + 'a {
    move |e| FlattenError {
        path: path.to_path_buf(),
        op,
        error: e.into(),
    }
}

/// Hard links inside one layer: (layer index, inode) -> first destination path.
type LinkMap = HashMap<(usize, u64), PathBuf>;

/// Copy `layers` (base first) into the existing directory `dest`.
pub fn flatten(layers: &[PathBuf], dest: &Path) -> Result<(), FlattenError> {
    let droot = fsops::open_root(dest).map_err(|e| FlattenError {
        path: dest.to_path_buf(),
        op: "open",
        error: std::io::Error::other(e),
    })?;
    let mut links = LinkMap::new();
    for (i, layer) in layers.iter().enumerate() {
        let sroot = fsops::open_root(layer).map_err(|e| FlattenError {
            path: layer.clone(),
            op: "open",
            error: std::io::Error::other(e),
        })?;
        let mut w = Walk {
            droot: &droot,
            layer,
            idx: i,
            links: &mut links,
        };
        w.copy_dir(&sroot, &droot, Path::new(""))?;
    }
    Ok(())
}

fn children(dir: &OwnedFd, path: &Path) -> Result<Vec<OsString>, FlattenError> {
    let mut out = Vec::new();
    let mut it = rfs::Dir::read_from(dir).map_err(err(path, "read dir"))?;
    while let Some(ent) = it.read() {
        let ent = ent.map_err(err(path, "read dir"))?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

fn is_opaque(dir: &OwnedFd) -> bool {
    let mut buf = [0u8; 4];
    matches!(rfs::fgetxattr(dir, "trusted.overlay.opaque", &mut buf[..]), Ok(1) if buf[0] == b'y')
}

/// One layer being copied.
struct Walk<'a> {
    droot: &'a OwnedFd,
    layer: &'a Path,
    idx: usize,
    links: &'a mut LinkMap,
}

impl Walk<'_> {
    fn copy_dir(&mut self, src: &OwnedFd, dst: &OwnedFd, rel: &Path) -> Result<(), FlattenError> {
        for name in children(src, &self.layer.join(rel))? {
            let r = rel.join(&name);
            let sp = self.layer.join(&r);
            let st = rfs::statat(src, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(err(&sp, "stat"))?;
            let ft = FileType::from_raw_mode(st.st_mode);
            if ft == FileType::CharacterDevice && st.st_rdev == 0 {
                fsops::remove_any(dst, &name).map_err(err(&r, "apply whiteout"))?;
                continue;
            }
            match ft {
                FileType::Directory => {
                    let s = fsops::open_dir_nofollow(src, &name).map_err(err(&sp, "open"))?;
                    let existing = fsops::kind_of(dst, &name).map_err(err(&r, "stat"))?;
                    if existing.is_some()
                        && (existing != Some(FileType::Directory) || is_opaque(&s))
                    {
                        fsops::remove_any(dst, &name).map_err(err(&r, "replace"))?;
                    }
                    match rfs::mkdirat(dst, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(err(&r, "mkdir")(e)),
                    }
                    let d = fsops::open_dir_nofollow(dst, &name).map_err(err(&r, "open"))?;
                    self.copy_dir(&s, &d, &r)?;
                    copy_meta(&d, &st, &r)?;
                    copy_xattrs(&s, &d, &r)?;
                    rfs::futimens(&d, &times(&st)).map_err(err(&r, "set mtime"))?;
                }
                _ => self.copy_leaf(src, dst, &name, &st, &r)?,
            }
        }
        Ok(())
    }

    fn copy_leaf(
        &mut self,
        src: &OwnedFd,
        dst: &OwnedFd,
        name: &OsStr,
        st: &Stat,
        r: &Path,
    ) -> Result<(), FlattenError> {
        let ft = FileType::from_raw_mode(st.st_mode);
        let sp = &self.layer.join(r);
        let idx = self.idx;
        fsops::remove_any(dst, name).map_err(err(r, "replace"))?;
        if ft == FileType::RegularFile && st.st_nlink > 1 {
            if let Some(first) = self.links.get(&(idx, st.st_ino)) {
                let comps = fsops::clean(first).map_err(|e| FlattenError {
                    path: first.clone(),
                    op: "link",
                    error: std::io::Error::other(e),
                })?;
                let fp = fsops::open_parent(self.droot, first, &comps, false).map_err(|e| {
                    FlattenError {
                        path: first.clone(),
                        op: "link",
                        error: std::io::Error::other(e),
                    }
                })?;
                let leaf = comps.last().copied().unwrap_or_default();
                return rfs::linkat(&fp, leaf, dst, name, AtFlags::empty()).map_err(err(r, "link"));
            }
            self.links.insert((idx, st.st_ino), r.to_path_buf());
        }
        match ft {
            FileType::RegularFile => {
                let s = rfs::openat(
                    src,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(err(sp, "open"))?;
                let d = rfs::openat(
                    dst,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(err(r, "create"))?;
                let (mut sf, mut df) = (std::fs::File::from(s), std::fs::File::from(d));
                std::io::copy(&mut sf, &mut df).map_err(|error| FlattenError {
                    path: r.to_path_buf(),
                    op: "copy",
                    error,
                })?;
                copy_meta(&df, st, r)?;
                copy_xattrs(&sf, &df, r)?;
                rfs::futimens(&df, &times(st)).map_err(err(r, "set mtime"))
            }
            FileType::Symlink => {
                let target = rfs::readlinkat(src, name, Vec::new()).map_err(err(sp, "readlink"))?;
                rfs::symlinkat(target.as_c_str(), dst, name).map_err(err(r, "symlink"))?;
                rfs::chownat(
                    dst,
                    name,
                    Some(rfs::Uid::from_raw(st.st_uid)),
                    Some(rfs::Gid::from_raw(st.st_gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(err(r, "chown"))?;
                rfs::utimensat(dst, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(err(r, "set mtime"))
            }
            _ => {
                let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
                rfs::mknodat(dst, name, ft, mode, st.st_rdev).map_err(err(r, "mknod"))?;
                rfs::chownat(
                    dst,
                    name,
                    Some(rfs::Uid::from_raw(st.st_uid)),
                    Some(rfs::Gid::from_raw(st.st_gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(err(r, "chown"))?;
                rfs::chmodat(dst, name, mode, AtFlags::empty()).map_err(err(r, "chmod"))?;
                rfs::utimensat(dst, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(err(r, "set mtime"))
            }
        }
    }
}

fn times(st: &Stat) -> Timestamps {
    let t = Timespec {
        tv_sec: st.st_mtime,
        tv_nsec: st.st_mtime_nsec as _,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Owner then mode (chown clears setuid bits).
fn copy_meta<Fd: std::os::fd::AsFd>(fd: Fd, st: &Stat, r: &Path) -> Result<(), FlattenError> {
    if rustix::process::geteuid().is_root() {
        rfs::fchown(
            &fd,
            Some(rfs::Uid::from_raw(st.st_uid)),
            Some(rfs::Gid::from_raw(st.st_gid)),
        )
        .map_err(err(r, "chown"))?;
    }
    rfs::fchmod(&fd, Mode::from_raw_mode(st.st_mode & 0o7777)).map_err(err(r, "chmod"))
}

/// Copy xattrs except the overlay ones, which would change the merged view's meaning.
fn copy_xattrs<S: std::os::fd::AsFd, D: std::os::fd::AsFd>(
    src: S,
    dst: D,
    r: &Path,
) -> Result<(), FlattenError> {
    let mut names = [0u8; 4096];
    let n = match rfs::flistxattr(&src, &mut names[..]) {
        Ok(n) => n,
        Err(Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(err(r, "list xattrs")(e)),
    };
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.overlay.") {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let mut value = [0u8; 4096];
        let len = rfs::fgetxattr(&src, name, &mut value[..]).map_err(err(r, "get xattr"))?;
        rfs::fsetxattr(&dst, name, &value[..len], XattrFlags::empty())
            .map_err(err(r, "set xattr"))?;
    }
    Ok(())
}
