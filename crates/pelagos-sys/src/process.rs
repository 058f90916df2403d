//! Process identity, capabilities, prctl, rlimits, exec, signals, waiting and polling.

use crate::cstr::CStringArray;
use crate::errno::{check, retry, Errno, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `setresuid(uid, uid, uid)`.
pub fn setresuid(uid: u32) -> Result<()> {
    // SAFETY: plain syscall; the raw syscall changes only this thread, which is the whole
    // process for the single-threaded callers of this crate.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// `setresgid(gid, gid, gid)`.
pub fn setresgid(gid: u32) -> Result<()> {
    // SAFETY: see `setresuid`.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// `setgroups(groups)`.
pub fn setgroups(groups: &[u32]) -> Result<()> {
    // SAFETY: pointer and length describe the slice.
    check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) }).map(drop)
}

fn prctl(op: i32, a: u64, b: u64) -> Result<i32> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(op, a, b, 0u64, 0u64) as libc::c_long }).map(|v| v as i32)
}

/// `PR_SET_KEEPCAPS`.
pub fn set_keepcaps(on: bool) -> Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, on as u64, 0).map(drop)
}

/// `PR_SET_NO_NEW_PRIVS`.
pub fn set_no_new_privs() -> Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).map(drop)
}

/// `PR_SET_PDEATHSIG` (0 clears it).
pub fn set_pdeathsig(sig: i32) -> Result<()> {
    prctl(libc::PR_SET_PDEATHSIG, sig as u64, 0).map(drop)
}

/// `PR_SET_CHILD_SUBREAPER`.
pub fn set_child_subreaper(on: bool) -> Result<()> {
    prctl(libc::PR_SET_CHILD_SUBREAPER, on as u64, 0).map(drop)
}

/// `PR_SET_DUMPABLE`.
pub fn set_dumpable(on: bool) -> Result<()> {
    prctl(libc::PR_SET_DUMPABLE, on as u64, 0).map(drop)
}

/// `PR_CAPBSET_DROP` for one capability number.
pub fn capbset_drop(cap: u32) -> Result<()> {
    prctl(libc::PR_CAPBSET_DROP, cap as u64, 0).map(drop)
}

/// `PR_CAP_AMBIENT_RAISE` for one capability number.
pub fn ambient_raise(cap: u32) -> Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_RAISE as u64,
        cap as u64,
    )
    .map(drop)
}

/// `PR_CAP_AMBIENT_CLEAR_ALL`.
pub fn ambient_clear() -> Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as u64,
        0,
    )
    .map(drop)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Set this process' effective, permitted and inheritable capability masks (bit n = cap n).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and two data structs as the v3 ABI requires.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) })
        .map(drop)
}

/// `prlimit(0, resource, soft, hard)` on this process.
pub fn setrlimit(resource: i32, soft: u64, hard: u64) -> Result<()> {
    let new = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: valid pointer, NULL old-limit.
    check(unsafe {
        libc::prlimit64(
            0,
            resource as libc::__rlimit_resource_t,
            &new,
            std::ptr::null_mut(),
        ) as libc::c_long
    })
    .map(drop)
}

/// `execve(path, argv, envp)`: only returns on failure.
pub fn execve(path: &CStr, argv: &CStringArray, envp: &CStringArray) -> Errno {
    // SAFETY: NULL-terminated arrays of valid C strings, owned by the caller.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// `setsid`.
pub fn setsid() -> Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::setsid() as libc::c_long }).map(drop)
}

/// This process' pid.
pub fn getpid() -> i32 {
    // SAFETY: cannot fail.
    unsafe { libc::getpid() }
}

/// `kill(pid, sig)`.
pub fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::kill(pid, sig) as libc::c_long }).map(drop)
}

/// `pidfd_open(pid)`.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: plain syscall.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `pidfd_send_signal(pidfd, sig)`: no race with pid reuse.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> Result<()> {
    // SAFETY: NULL siginfo is allowed.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// Wait for child `pid` (retrying on `EINTR`).
pub fn waitpid(pid: i32) -> Result<ExitStatus> {
    let mut status = 0;
    // SAFETY: valid out pointer.
    retry(|| unsafe { libc::waitpid(pid, &mut status, 0) as libc::c_long })?;
    Ok(decode(status))
}

/// Reap child `pid` if it has ended; `None` while it runs.
pub fn try_waitpid(pid: i32) -> Result<Option<ExitStatus>> {
    let mut status = 0;
    // SAFETY: valid out pointer.
    let r = retry(|| unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) as libc::c_long })?;
    Ok(if r == 0 { None } else { Some(decode(status)) })
}

/// Reap any ended child without blocking; `None` when none is ready.
pub fn reap_any() -> Result<Option<(i32, ExitStatus)>> {
    let mut status = 0;
    // SAFETY: valid out pointer.
    let r = retry(|| unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) as libc::c_long })?;
    Ok(if r == 0 {
        None
    } else {
        Some((r as i32, decode(status)))
    })
}

fn decode(status: i32) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    }
}

/// `poll` on a set of fds for readability; returns which are ready (POLLIN or hang-up).
/// `timeout_ms` < 0 waits forever. Returns `Ok(0)` on timeout.
pub fn poll_readable(fds: &[BorrowedFd<'_>], ready: &mut [bool], timeout_ms: i32) -> Result<usize> {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 8];
    let n = fds.len().min(pfds.len());
    for (p, fd) in pfds.iter_mut().zip(fds.iter()) {
        p.fd = fd.as_raw_fd();
        p.events = libc::POLLIN;
    }
    // SAFETY: `n` valid pollfd entries.
    let r = retry(|| unsafe {
        libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, timeout_ms) as libc::c_long
    })?;
    for (i, p) in pfds.iter().take(n).enumerate() {
        if let Some(slot) = ready.get_mut(i) {
            *slot = p.revents != 0;
        }
    }
    Ok(r as usize)
}

/// Block `sig` in this thread's signal mask (so it can be read with a signalfd).
pub fn block_signals(sigs: &[i32]) -> Result<()> {
    // SAFETY: sigset manipulation on a local value.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in sigs {
            libc::sigaddset(&mut set, *s);
        }
        check(libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) as libc::c_long)
            .map(drop)
    }
}

/// Restore the default signal mask and dispositions a fresh process expects.
pub fn reset_signals() -> Result<()> {
    // SAFETY: resetting dispositions and the mask of this process.
    unsafe {
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        check(libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) as libc::c_long)
            .map(drop)
    }
}

/// Ignore `sig` in this process (`SIG_IGN`).
pub fn ignore_signal(sig: i32) {
    // SAFETY: setting a disposition.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

/// A signalfd for `sigs` (which the caller has blocked with [`block_signals`]).
pub fn signalfd(sigs: &[i32]) -> Result<OwnedFd> {
    // SAFETY: sigset manipulation on a local value, then a plain syscall.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in sigs {
            libc::sigaddset(&mut set, *s);
        }
        let fd = check(libc::signalfd(-1, &set, libc::SFD_CLOEXEC) as libc::c_long)?;
        Ok(OwnedFd::from_raw_fd(fd as i32))
    }
}

/// Read one signal number from a signalfd.
pub fn read_signal(fd: BorrowedFd<'_>) -> Result<i32> {
    // SAFETY: zeroed siginfo is a valid buffer.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    // SAFETY: buffer of the right size.
    let n = retry(|| unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            std::mem::size_of_val(&info),
        ) as libc::c_long
    })?;
    if (n as usize) < std::mem::size_of_val(&info) {
        return Err(Errno(libc::EIO));
    }
    Ok(info.ssi_signo as i32)
}

/// Unblock signals previously blocked with [`block_signals`].
pub fn unblock_signals(sigs: &[i32]) -> Result<()> {
    // SAFETY: sigset manipulation on a local value.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in sigs {
            libc::sigaddset(&mut set, *s);
        }
        check(libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) as libc::c_long)
            .map(drop)
    }
}
