//! Namespaces: `setns`, `unshare`, host and domain names.

use crate::errno::{check, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Join the namespace `fd` refers to (`nstype` 0 accepts any kind).
pub fn setns(fd: BorrowedFd<'_>, nstype: i32) -> Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::setns(fd.as_raw_fd(), nstype) as libc::c_long }).map(drop)
}

/// `unshare(flags)`.
pub fn unshare(flags: u64) -> Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::unshare(flags as i32) as libc::c_long }).map(drop)
}

/// `sethostname`.
pub fn sethostname(name: &CStr) -> Result<()> {
    // SAFETY: pointer and length describe the string.
    check(unsafe { libc::sethostname(name.as_ptr(), name.to_bytes().len()) as libc::c_long })
        .map(drop)
}

/// `setdomainname`.
pub fn setdomainname(name: &CStr) -> Result<()> {
    // SAFETY: pointer and length describe the string.
    check(unsafe { libc::setdomainname(name.as_ptr(), name.to_bytes().len()) as libc::c_long })
        .map(drop)
}
