//! Mounting: the fd-based mount API (`open_tree`, `fsopen`, `fsconfig`, `fsmount`,
//! `move_mount`, `mount_setattr`) plus legacy `mount(2)`/`umount2` for host-side paths.

use crate::errno::{check, retry, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `MOUNT_ATTR_*` bits for [`fsmount`] and [`mount_setattr`].
pub mod attr {
    pub const RDONLY: u64 = 0x0000_0001;
    pub const NOSUID: u64 = 0x0000_0002;
    pub const NODEV: u64 = 0x0000_0004;
    pub const NOEXEC: u64 = 0x0000_0008;
    pub const ATIME_MASK: u64 = 0x0000_0070;
    pub const RELATIME: u64 = 0x0000_0000;
    pub const NOATIME: u64 = 0x0000_0010;
    pub const STRICTATIME: u64 = 0x0000_0020;
    pub const NODIRATIME: u64 = 0x0000_0080;
    pub const IDMAP: u64 = 0x0010_0000;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// Legacy `MS_*` flags used with [`mount`].
pub mod ms {
    pub const RDONLY: u64 = libc::MS_RDONLY;
    pub const NOSUID: u64 = libc::MS_NOSUID;
    pub const NODEV: u64 = libc::MS_NODEV;
    pub const NOEXEC: u64 = libc::MS_NOEXEC;
    pub const REMOUNT: u64 = libc::MS_REMOUNT;
    pub const BIND: u64 = libc::MS_BIND;
    pub const MOVE: u64 = libc::MS_MOVE;
    pub const REC: u64 = libc::MS_REC;
    pub const PRIVATE: u64 = libc::MS_PRIVATE;
    pub const SLAVE: u64 = libc::MS_SLAVE;
    pub const SHARED: u64 = libc::MS_SHARED;
    pub const UNBINDABLE: u64 = libc::MS_UNBINDABLE;
}

const AT_RECURSIVE: u32 = 0x8000;
const OPEN_TREE_CLONE: u32 = 1;
const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Legacy `mount(2)`.
pub fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> Result<()> {
    // SAFETY: all pointers are valid C strings or NULL.
    retry(|| unsafe {
        libc::mount(
            opt_ptr(src),
            target.as_ptr(),
            opt_ptr(fstype),
            flags,
            opt_ptr(data).cast(),
        ) as libc::c_long
    })
    .map(drop)
}

/// `umount2(target, flags)`.
pub fn umount2(target: &CStr, flags: i32) -> Result<()> {
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(target.as_ptr(), flags) as libc::c_long }).map(drop)
}

/// `MNT_DETACH` for [`umount2`].
pub const MNT_DETACH: i32 = libc::MNT_DETACH;

/// Clone the mount tree at `dirfd`/`path` into a detached mount (a bind mount in waiting).
/// `recursive` also takes submounts (rbind). An empty `path` means `dirfd` itself.
pub fn open_tree_clone(
    dirfd: Option<BorrowedFd<'_>>,
    path: &CStr,
    recursive: bool,
) -> Result<OwnedFd> {
    let dfd = dirfd.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    // SAFETY: valid C string.
    let fd = check(unsafe { libc::syscall(libc::SYS_open_tree, dfd, path.as_ptr(), flags) })?;
    Ok(owned(fd))
}

/// `fsopen(fstype)`: a file-system context to configure with [`fsconfig_string`] etc.
pub fn fsopen(fstype: &CStr) -> Result<OwnedFd> {
    // SAFETY: valid C string.
    let fd = check(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
    Ok(owned(fd))
}

/// `fsconfig(FSCONFIG_SET_STRING, key, value)`.
pub fn fsconfig_string(fs: BorrowedFd<'_>, key: &CStr, value: &CStr) -> Result<()> {
    // SAFETY: valid C strings.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// `fsconfig(FSCONFIG_SET_FLAG, key)`.
pub fn fsconfig_flag(fs: BorrowedFd<'_>, key: &CStr) -> Result<()> {
    // SAFETY: valid C string; value must be NULL for flags.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_FLAG,
            key.as_ptr(),
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

/// `fsconfig(FSCONFIG_CMD_CREATE)` then `fsmount` with mount attributes `attrs`.
pub fn fsmount(fs: BorrowedFd<'_>, attrs: u64) -> Result<OwnedFd> {
    // SAFETY: plain syscalls on a valid fs-context fd.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    })?;
    // SAFETY: as above.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs as u32,
        )
    })?;
    Ok(owned(fd))
}

/// Attach the detached mount `from` on top of the object `to` refers to.
pub fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: empty C strings with the EMPTY_PATH flags act on the fds.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Change the attributes (and propagation, a `MS_*` propagation flag or 0) of the mount at
/// `fd`, and of all mounts below it when `recursive`.
pub fn mount_setattr(
    fd: BorrowedFd<'_>,
    recursive: bool,
    set: u64,
    clear: u64,
    propagation: u64,
) -> Result<()> {
    let mut a = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: valid struct of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &mut a as *mut MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}
