//! `clone3`: create the container init (or a hook runner) as a fork-like child.
//!
//! The child is a copy of the caller's address space. The caller must be single-threaded,
//! and the child must only make async-signal-safe calls until it execs or exits: everything
//! it needs (C strings, fds, buffers) is prepared by the parent before the call.

use crate::errno::{check, Result};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Namespace and behaviour flags accepted by [`clone3`].
pub mod flags {
    pub const NEWNS: u64 = libc::CLONE_NEWNS as u64;
    pub const NEWUTS: u64 = libc::CLONE_NEWUTS as u64;
    pub const NEWIPC: u64 = libc::CLONE_NEWIPC as u64;
    pub const NEWPID: u64 = libc::CLONE_NEWPID as u64;
    pub const NEWNET: u64 = libc::CLONE_NEWNET as u64;
    pub const NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
    pub const NEWCGROUP: u64 = libc::CLONE_NEWCGROUP as u64;
    /// `CLONE_NEWTIME`: only valid with `unshare`/`clone3`.
    pub const NEWTIME: u64 = 0x0000_0080;
    pub const PIDFD: u64 = libc::CLONE_PIDFD as u64;
    pub const INTO_CGROUP: u64 = 0x2_0000_0000;
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of a [`clone3`] we are on.
#[derive(Debug)]
pub enum Forked {
    /// In the new process.
    Child,
    /// In the caller: the child's pid (in our pid namespace) and a pidfd for it.
    Parent { pid: i32, pidfd: OwnedFd },
}

/// Create a child process in new namespaces (`flags` from [`flags`]), optionally placed
/// straight into the cgroup `cgroup` (a directory fd), with a pidfd returned to the parent.
///
/// Contract: the calling process is single-threaded; the child only makes
/// async-signal-safe calls before `execve` or `_exit`.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | flags::PIDFD,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(cg) = cgroup {
        args.flags |= flags::INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid clone_args of the size we pass; without CLONE_VM the kernel
    // gives the child its own copy of memory, so returning twice is sound (like fork).
    let ret = check(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    })?;
    if ret == 0 {
        Ok(Forked::Child)
    } else {
        // SAFETY: the kernel stored a fresh pidfd we now own.
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        Ok(Forked::Parent {
            pid: ret as i32,
            pidfd,
        })
    }
}

/// Leave the process at once with `code`, running no atexit handlers or destructors.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}
