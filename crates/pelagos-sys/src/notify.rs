//! Kernel event sources for waiting without polling: `eventfd` (cgroup v1 memory
//! notifications) and `inotify` (cgroup v2 `*.events` files change on every event).

use crate::errno::{check, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A new close-on-exec, non-blocking `eventfd` with counter 0.
pub fn eventfd() -> Result<OwnedFd> {
    // SAFETY: plain syscall.
    let fd =
        check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) } as libc::c_long)?;
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A new close-on-exec, non-blocking inotify instance.
pub fn inotify() -> Result<OwnedFd> {
    // SAFETY: plain syscall.
    let fd = check(
        unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) } as libc::c_long,
    )?;
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Takes the counter of a non-blocking eventfd (how many events were signalled since the
/// last read); 0 when none were.
pub fn eventfd_take(fd: BorrowedFd<'_>) -> Result<u64> {
    let mut buf = [0u8; 8];
    match crate::fs::read(fd, &mut buf) {
        Ok(8) => Ok(u64::from_ne_bytes(buf)),
        Ok(_) => Err(crate::Errno(libc::EIO)),
        Err(crate::Errno(libc::EAGAIN)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Watches `path` for the events in `mask` (`libc::IN_MODIFY`...); returns the watch id.
pub fn inotify_watch(fd: BorrowedFd<'_>, path: &CStr, mask: u32) -> Result<i32> {
    // SAFETY: path is a valid C string for the duration of the call.
    check(unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) } as libc::c_long)
        .map(|w| w as i32)
}

/// Reads and discards what is queued on a non-blocking fd (inotify records); returns how
/// many bytes there were.
pub fn drain(fd: BorrowedFd<'_>) -> Result<usize> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match crate::fs::read(fd, &mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(crate::Errno(libc::EAGAIN)) => return Ok(total),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn inotify_sees_a_write() {
        let t = std::env::temp_dir().join(format!("pelagos-sys-notify-{}", std::process::id()));
        std::fs::write(&t, "a").unwrap();
        let fd = inotify().unwrap();
        let path = std::ffi::CString::new(t.to_str().unwrap()).unwrap();
        inotify_watch(fd.as_fd(), &path, libc::IN_MODIFY).unwrap();
        assert_eq!(drain(fd.as_fd()).unwrap(), 0);
        std::fs::write(&t, "b").unwrap();
        let mut ready = [false];
        crate::process::poll_readable(&[fd.as_fd()], &mut ready, 1000).unwrap();
        assert!(ready[0]);
        assert!(drain(fd.as_fd()).unwrap() > 0);
        std::fs::remove_file(&t).unwrap();
        let e = eventfd().unwrap();
        assert_eq!(eventfd_take(e.as_fd()).unwrap(), 0);
        crate::fs::write_all(e.as_fd(), &2u64.to_ne_bytes()).unwrap();
        assert_eq!(eventfd_take(e.as_fd()).unwrap(), 2);
        assert_eq!(eventfd_take(e.as_fd()).unwrap(), 0);
    }
}
