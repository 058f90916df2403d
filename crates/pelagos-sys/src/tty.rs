//! Terminals: PTY pairs, controlling terminal, window size, raw mode.

use crate::errno::{check, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Open a PTY master at `ptmx` (a path, normally `/dev/ptmx` inside the container), unlock
/// it and open its peer; returns `(master, slave)`.
pub fn open_pty(ptmx: &CStr) -> Result<(OwnedFd, OwnedFd)> {
    let master = crate::fs::openat(None, ptmx, libc::O_RDWR | libc::O_NOCTTY, 0)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to int.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) as libc::c_long })?;
    // SAFETY: TIOCGPTPEER returns a new fd for the slave.
    let slave = check(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ) as libc::c_long
    })?;
    // SAFETY: fresh descriptor.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave as i32) }))
}

/// Make `fd` the controlling terminal of this (session leader) process.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: TIOCSCTTY with argument 0.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) as libc::c_long }).map(drop)
}

/// Is `fd` a terminal?
pub fn isatty(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: plain call.
    unsafe { libc::isatty(fd.as_raw_fd()) == 1 }
}

/// Window size `(rows, cols)` of a terminal.
pub fn get_winsize(fd: BorrowedFd<'_>) -> Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid out struct.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) as libc::c_long })?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Set the window size of a terminal.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid struct.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) as libc::c_long }).map(drop)
}

/// Saved terminal settings; restore them with [`restore`].
pub struct Termios(libc::termios);

/// Put a terminal into raw mode, returning the previous settings.
pub fn make_raw(fd: BorrowedFd<'_>) -> Result<Termios> {
    // SAFETY: zeroed termios is a valid out value.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and struct.
    check(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) as libc::c_long })?;
    let saved = Termios(t);
    // SAFETY: cfmakeraw edits the struct in place.
    unsafe { libc::cfmakeraw(&mut t) };
    // SAFETY: valid fd and struct.
    check(unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t) as libc::c_long })?;
    Ok(saved)
}

/// Restore settings saved by [`make_raw`].
pub fn restore(fd: BorrowedFd<'_>, saved: &Termios) -> Result<()> {
    // SAFETY: valid fd and struct.
    check(unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &saved.0) as libc::c_long })
        .map(drop)
}
