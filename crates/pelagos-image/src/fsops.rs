//! Symlink-free, fd-relative filesystem helpers for writing inside one directory tree.
//!
//! Every parent directory is opened component by component with `O_NOFOLLOW`, so no
//! symlink - whether planted by a hostile layer or already present - is ever followed,
//! and nothing can be created outside the root the walk starts from.

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Why a path from a layer cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// The name contains `..`.
    #[error("{0:?} contains a '..' component")]
    DotDot(PathBuf),
    /// The name resolves to the root itself where a child is needed.
    #[error("{0:?} names the root directory")]
    Root(PathBuf),
    /// A parent component is a symlink or not a directory.
    #[error("{path:?}: parent {component:?} is a symlink or not a directory")]
    NotDir {
        /// The full entry name.
        path: PathBuf,
        /// The offending component.
        component: String,
    },
    /// An I/O error on a component.
    #[error("{path:?}: {op}: {error}")]
    Io {
        /// The full entry name.
        path: PathBuf,
        /// The failing operation.
        op: &'static str,
        /// The errno.
        error: std::io::Error,
    },
}

/// Normalise an archive name: drop `.` and leading `/`, reject `..`. Returns the
/// components; empty means the root itself.
pub fn clean(name: &Path) -> Result<Vec<&OsStr>, PathError> {
    let mut out = Vec::new();
    for c in name.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => return Err(PathError::DotDot(name.to_path_buf())),
        }
    }
    Ok(out)
}

fn io(path: &Path, op: &'static str, e: Errno) -> PathError {
    PathError::Io {
        path: path.to_path_buf(),
        op,
        error: e.into(),
    }
}

/// Open `root` itself as a directory fd.
pub fn open_root(root: &Path) -> Result<OwnedFd, PathError> {
    rfs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(root, "open root", e))
}

/// Open a directory `name` inside `dir` without following a symlink.
pub fn open_dir_nofollow<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<OwnedFd, Errno> {
    rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Open the parent directory of `comps` below `root`, creating missing directories
/// (mode 0755) when `create` is set. Symlinks and non-directories in the chain are
/// errors.
pub fn open_parent(
    root: &OwnedFd,
    full: &Path,
    comps: &[&OsStr],
    create: bool,
) -> Result<OwnedFd, PathError> {
    let mut cur = rfs::openat(
        root,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(full, "open root", e))?;
    let Some((_, parents)) = comps.split_last() else {
        return Err(PathError::Root(full.to_path_buf()));
    };
    for c in parents {
        let next = match open_dir_nofollow(&cur, c) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match rfs::mkdirat(&cur, *c, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io(full, "mkdir parent", e)),
                }
                open_dir_nofollow(&cur, c).map_err(|e| not_dir(full, c, e))?
            }
            Err(e) => return Err(not_dir(full, c, e)),
        };
        cur = next;
    }
    Ok(cur)
}

fn not_dir(full: &Path, c: &OsStr, e: Errno) -> PathError {
    match e {
        Errno::LOOP | Errno::NOTDIR => PathError::NotDir {
            path: full.to_path_buf(),
            component: c.to_string_lossy().into_owned(),
        },
        e => io(full, "open parent", e),
    }
}

/// The type of `name` in `dir` without following symlinks, or `None` if absent.
pub fn kind_of<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<Option<FileType>, Errno> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Remove `name` in `dir` whatever it is (directories recursively, never following
/// symlinks). Absent is fine.
pub fn remove_any<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<(), Errno> {
    match kind_of(&dir, name)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            let sub = open_dir_nofollow(&dir, name)?;
            let mut children = Vec::new();
            let mut it = rfs::Dir::read_from(&sub)?;
            while let Some(ent) = it.read() {
                let ent = ent?;
                let n = ent.file_name().to_bytes();
                if n != b"." && n != b".." {
                    children.push(
                        <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n).to_os_string(),
                    );
                }
            }
            for c in &children {
                remove_any(&sub, c)?;
            }
            rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)
        }
        Some(_) => rfs::unlinkat(dir, name, AtFlags::empty()),
    }
}

/// Counts what is written to a file and, every `step` bytes, asks the kernel to start
/// writing that range back, so that the one flush before a commit has little left to
/// wait for (and dirty pages do not pile up behind a large layer).
pub struct Writeback {
    step: u64,
    written: u64,
    hinted: u64,
}

impl Writeback {
    /// Hint every `step` bytes.
    pub fn new(step: u64) -> Self {
        Self {
            step,
            written: 0,
            hinted: 0,
        }
    }

    /// Record `n` more bytes written to `fd`.
    pub fn wrote<Fd: AsFd>(&mut self, fd: Fd, n: u64) {
        self.written += n;
        if self.written - self.hinted >= self.step {
            self.flush(fd);
        }
    }

    /// Hint the rest (at the end of the file).
    pub fn flush<Fd: AsFd>(&mut self, fd: Fd) {
        let Some(len) = std::num::NonZeroU64::new(self.written - self.hinted) else {
            return;
        };
        // POSIX_FADV_DONTNEED starts asynchronous writeback of the dirty pages of the
        // range; pages still dirty or under writeback stay cached. Only a hint: a
        // failure changes nothing that matters.
        let _ = rfs::fadvise(fd, self.hinted, Some(len), rfs::Advice::DontNeed);
        self.hinted = self.written;
    }
}
