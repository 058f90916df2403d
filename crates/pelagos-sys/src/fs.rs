//! File-system calls on descriptors: `openat2` with `RESOLVE_IN_ROOT`, in-root directory
//! creation, device nodes, symlinks, ownership, and raw read/write with `EINTR` retries.

use crate::errno::{check, retry, Errno, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `RESOLVE_*` flags for [`openat2`].
pub mod resolve {
    pub const NO_XDEV: u64 = 0x01;
    pub const NO_MAGICLINKS: u64 = 0x02;
    pub const NO_SYMLINKS: u64 = 0x04;
    pub const BENEATH: u64 = 0x08;
    pub const IN_ROOT: u64 = 0x10;
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: callers pass a descriptor the kernel just returned to us.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// `openat2(dirfd, path, how)`; `O_CLOEXEC` is always added.
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
    res: u64,
) -> Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve: res,
    };
    // SAFETY: valid C string and open_how of the size passed.
    let fd = retry(|| unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    Ok(owned(fd))
}

/// Open `path` inside the tree rooted at `root`: symlinks and `..` cannot leave it and
/// magic links are refused.
pub fn open_in_root(root: BorrowedFd<'_>, path: &CStr, flags: i32) -> Result<OwnedFd> {
    openat2(
        root,
        path,
        flags,
        0,
        resolve::IN_ROOT | resolve::NO_MAGICLINKS,
    )
}

/// `openat(dirfd, path, flags, mode)` with `O_CLOEXEC`; `dirfd` `None` means the cwd.
pub fn openat(
    dirfd: Option<BorrowedFd<'_>>,
    path: &CStr,
    flags: i32,
    mode: u32,
) -> Result<OwnedFd> {
    let dfd = dirfd.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: valid C string.
    let fd = retry(|| unsafe {
        libc::openat(dfd, path.as_ptr(), flags | libc::O_CLOEXEC, mode) as libc::c_long
    })?;
    Ok(owned(fd))
}

/// `mkdirat`.
pub fn mkdirat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<()> {
    // SAFETY: valid C string.
    check(unsafe { libc::mkdirat(dirfd.as_raw_fd(), name.as_ptr(), mode) as libc::c_long })
        .map(drop)
}

/// `mknodat`.
pub fn mknodat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32, dev: u64) -> Result<()> {
    // SAFETY: valid C string.
    check(unsafe { libc::mknodat(dirfd.as_raw_fd(), name.as_ptr(), mode, dev) as libc::c_long })
        .map(drop)
}

/// `symlinkat(target, dirfd, name)`.
pub fn symlinkat(target: &CStr, dirfd: BorrowedFd<'_>, name: &CStr) -> Result<()> {
    // SAFETY: valid C strings.
    check(unsafe {
        libc::symlinkat(target.as_ptr(), dirfd.as_raw_fd(), name.as_ptr()) as libc::c_long
    })
    .map(drop)
}

/// `fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW)`; an empty name acts on `dirfd`.
pub fn fchownat(dirfd: BorrowedFd<'_>, name: &CStr, uid: u32, gid: u32) -> Result<()> {
    let mut flags = libc::AT_SYMLINK_NOFOLLOW;
    if name.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    // SAFETY: valid C string.
    check(unsafe {
        libc::fchownat(dirfd.as_raw_fd(), name.as_ptr(), uid, gid, flags) as libc::c_long
    })
    .map(drop)
}

/// `fchmod`.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> Result<()> {
    // SAFETY: plain syscall on a valid fd.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) as libc::c_long }).map(drop)
}

/// `flock(fd, LOCK_EX)`: waits for an exclusive lock on the open file (any file or
/// directory), retrying on `EINTR`. Closing the fd releases it.
pub fn flock_exclusive(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: plain syscall on a valid fd.
    retry(|| unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) as libc::c_long }).map(drop)
}

/// `fchmodat` relative to a directory fd (no symlink following for the last component
/// is not supported by Linux for chmod; callers pass names they just created).
pub fn fchmodat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<()> {
    // SAFETY: valid C string.
    check(unsafe { libc::fchmodat(dirfd.as_raw_fd(), name.as_ptr(), mode, 0) as libc::c_long })
        .map(drop)
}

/// The fields of `fstat` that pelagos looks at.
#[derive(Clone, Copy, Debug)]
pub struct FileStat {
    pub mode: u32,
    pub rdev: u64,
    pub dev: u64,
    pub ino: u64,
    pub uid: u32,
    pub gid: u32,
}

impl FileStat {
    /// Is this a directory?
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    /// Is this a character device?
    pub fn is_char_device(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFCHR
    }
}

/// `fstat` on an fd (also works on `O_PATH` fds).
pub fn fstat(fd: BorrowedFd<'_>) -> Result<FileStat> {
    // SAFETY: zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, valid out pointer.
    check(unsafe {
        libc::fstatat(fd.as_raw_fd(), c"".as_ptr(), &mut st, libc::AT_EMPTY_PATH) as libc::c_long
    })?;
    Ok(FileStat {
        mode: st.st_mode,
        rdev: st.st_rdev,
        dev: st.st_dev,
        ino: st.st_ino,
        uid: st.st_uid,
        gid: st.st_gid,
    })
}

/// The `f_type` magic of the file system holding `fd`.
pub fn fstatfs_type(fd: BorrowedFd<'_>) -> Result<i64> {
    // SAFETY: zeroed statfs is a valid out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out pointer.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) as libc::c_long })?;
    Ok(st.f_type as i64)
}

/// `PROC_SUPER_MAGIC`.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// `faccessat(dirfd, path, mode, AT_EACCESS)`.
pub fn faccessat(dirfd: Option<BorrowedFd<'_>>, path: &CStr, mode: i32) -> Result<()> {
    let dfd = dirfd.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: valid C string.
    check(unsafe { libc::faccessat(dfd, path.as_ptr(), mode, libc::AT_EACCESS) as libc::c_long })
        .map(drop)
}

/// `fchdir`.
pub fn fchdir(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fchdir(fd.as_raw_fd()) as libc::c_long }).map(drop)
}

/// `chdir`.
pub fn chdir(path: &CStr) -> Result<()> {
    // SAFETY: valid C string.
    check(unsafe { libc::chdir(path.as_ptr()) as libc::c_long }).map(drop)
}

/// `chroot`.
pub fn chroot(path: &CStr) -> Result<()> {
    // SAFETY: valid C string.
    check(unsafe { libc::chroot(path.as_ptr()) as libc::c_long }).map(drop)
}

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<()> {
    // SAFETY: valid C strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
        .map(drop)
}

/// `umask`; returns the previous mask.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask) }
}

/// `unlinkat(dirfd, name, flags)`.
pub fn unlinkat(dirfd: BorrowedFd<'_>, name: &CStr, flags: i32) -> Result<()> {
    // SAFETY: valid C string.
    check(unsafe { libc::unlinkat(dirfd.as_raw_fd(), name.as_ptr(), flags) as libc::c_long })
        .map(drop)
}

/// `read` once, retrying on `EINTR`; returns the byte count (0 at end of file).
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the buffer is valid for `buf.len()` bytes.
    retry(|| unsafe {
        libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) as libc::c_long
    })
    .map(|n| n as usize)
}

/// Write all of `buf`, retrying on `EINTR` and short writes.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        // SAFETY: the buffer is valid for `buf.len()` bytes.
        let n = retry(|| unsafe {
            libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) as libc::c_long
        })?;
        if n == 0 {
            return Err(Errno(libc::EIO));
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// `dup3(old, new, 0)`: make `new` a copy of `old` that survives exec.
pub fn dup2(old: BorrowedFd<'_>, new: RawFd) -> Result<()> {
    if old.as_raw_fd() == new {
        return set_cloexec(new, false);
    }
    // SAFETY: plain syscall.
    retry(|| unsafe { libc::dup3(old.as_raw_fd(), new, 0) as libc::c_long }).map(drop)
}

/// Duplicate an fd (close-on-exec).
pub fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    // SAFETY: plain syscall.
    let n =
        check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) as libc::c_long })?;
    Ok(owned(n))
}

/// Set or clear `FD_CLOEXEC` on a raw descriptor number.
pub fn set_cloexec(fd: RawFd, on: bool) -> Result<()> {
    // SAFETY: fcntl on an arbitrary number is harmless; EBADF is reported.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) as libc::c_long })? as i32;
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, new) as libc::c_long }).map(drop)
}

/// Mark every descriptor from `first` upward close-on-exec (`close_range` with CLOEXEC).
pub fn cloexec_from(first: u32) -> Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: plain syscall.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) })
        .map(drop)
}

/// Clear `O_NONBLOCK` on an fd.
pub fn set_blocking(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: plain fcntl calls on a valid fd.
    let fl = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) as libc::c_long })? as i32;
    // SAFETY: as above.
    check(unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) as libc::c_long
    })
    .map(drop)
}

/// Create every missing directory of `path` inside `root` (resolved with `RESOLVE_IN_ROOT`
/// at each step, so a symlink cannot lead out) and return an `O_PATH` fd of the last one.
/// `path` must be absolute-or-relative to `root`, without `..` components. Allocation-free.
pub fn mkdir_all_in_root(root: BorrowedFd<'_>, path: &CStr, mode: u32) -> Result<OwnedFd> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    match open_in_root(root, path, flags) {
        Err(Errno(libc::ENOENT)) => {}
        other => return other,
    }
    let bytes = path.to_bytes();
    let mut buf = [0u8; 4096];
    if bytes.len() >= buf.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    let mut cur = dup(root)?;
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i] == b'/' {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'/' {
            i += 1;
        }
        if start == i {
            break;
        }
        let comp = &bytes[start..i];
        if comp == b"." {
            continue;
        }
        if comp == b".." {
            return Err(Errno(libc::EINVAL));
        }
        buf[..i].copy_from_slice(&bytes[..i]);
        buf[i] = 0;
        let prefix = CStr::from_bytes_until_nul(&buf[..=i]).map_err(|_| Errno(libc::EINVAL))?;
        cur = match open_in_root(root, prefix, flags) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => {
                let mut name = [0u8; 256];
                if comp.len() >= name.len() {
                    return Err(Errno(libc::ENAMETOOLONG));
                }
                name[..comp.len()].copy_from_slice(comp);
                let cname = CStr::from_bytes_until_nul(&name[..=comp.len()])
                    .map_err(|_| Errno(libc::EINVAL))?;
                match mkdirat(cur.as_fd_borrow(), cname, mode) {
                    Ok(()) | Err(Errno(libc::EEXIST)) => {}
                    Err(e) => return Err(e),
                }
                open_in_root(root, prefix, flags)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(cur)
}

/// Split `path` at its last `/` into a parent-prefix length and the final name;
/// used by callers that need to create the last component themselves.
pub fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    let trimmed = {
        let mut end = path.len();
        while end > 1 && path[end - 1] == b'/' {
            end -= 1;
        }
        &path[..end]
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(pos) => (&trimmed[..pos], &trimmed[pos + 1..]),
        None => (&[], trimmed),
    }
}

/// Copy `bytes` plus a NUL into `buf` and view it as a C string (allocation-free).
pub fn cstr_in<'a>(buf: &'a mut [u8], bytes: &[u8]) -> Result<&'a CStr> {
    if bytes.len() >= buf.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[bytes.len()] = 0;
    CStr::from_bytes_until_nul(&buf[..=bytes.len()]).map_err(|_| Errno(libc::EINVAL))
}

trait AsFdBorrow {
    fn as_fd_borrow(&self) -> BorrowedFd<'_>;
}

impl AsFdBorrow for OwnedFd {
    fn as_fd_borrow(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.as_fd()
    }
}

/// A close-on-exec pipe `(read, write)`.
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: valid out array.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) as libc::c_long })?;
    // SAFETY: fresh descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn mkdir_all_stays_in_root() {
        let dir = std::env::temp_dir().join(format!("pelagos-sys-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::os::unix::fs::symlink("/", dir.join("root/escape")).unwrap();
        let root = std::fs::File::open(dir.join("root")).unwrap();
        let fd = mkdir_all_in_root(root.as_fd(), c"/escape/a/b", 0o755).unwrap();
        drop(fd);
        assert!(
            dir.join("root/a/b").is_dir(),
            "symlink to / must resolve inside the root"
        );
        assert!(mkdir_all_in_root(root.as_fd(), c"x/../y", 0o755).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn split() {
        assert_eq!(split_last(b"/a/b/c"), (&b"/a/b"[..], &b"c"[..]));
        assert_eq!(split_last(b"/c/"), (&b""[..], &b"c"[..]));
        assert_eq!(split_last(b"c"), (&b""[..], &b"c"[..]));
    }
}
