//! Process steps of the init: signals, namespaces, names, sysctl, rlimits, terminal, cwd,
//! hooks it runs itself, the start handshake and the final exec.

use super::{Ctx, Fail, StepResult};
use crate::plan::{HookPlan, InitPlan, StartPlan, TerminalPlan};
use crate::protocol::{Kind, Msg, MSG_LEN};
use pelagos_sys::clone::{clone3, exit_now, Forked};
use pelagos_sys::fs::{self, mkdir_all_in_root, open_in_root};
use pelagos_sys::process as p;
use pelagos_sys::{ns, socket, tty, Errno};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// Default signal state, die with the runtime while setting up, exact file modes.
pub fn prepare(_plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    p::reset_signals()?;
    p::set_pdeathsig(libc::SIGKILL)?;
    fs::umask(0);
    Ok(())
}

/// Join the container's cgroup: write "0" (this thread) into each v1 hierarchy's `tasks`
/// file the parent opened. The init is single-threaded, so this moves the whole process;
/// moving just the caller skips the kernel's global threadgroup lock, whose write side
/// waits for an RCU grace period (~5 ms) when the parent writes our pid to cgroup.procs.
pub fn join_cgroup(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    for (i, fd) in plan.cgroup_join.iter().enumerate() {
        fs::write_all(fd.as_fd(), b"0").map_err(Fail::at(i))?;
    }
    plan.cgroup_join.clear();
    Ok(())
}

fn recv_continue(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let (n, _) = socket::recv(plan.sync.as_fd(), &mut plan.state_buf)?;
    match Msg::decode(&plan.state_buf[..n]) {
        Some(m) if m.kind == Kind::Continue => {
            plan.state_buf.copy_within(MSG_LEN..n, 0);
            ctx.state_len = n - MSG_LEN;
            Ok(())
        }
        _ => Err(Errno(libc::EPROTO).into()),
    }
}

/// Wait until the parent has written the id maps and placed us in our cgroup; in a new
/// user namespace then become its root.
pub fn wait_for_parent(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    if plan.wait_for_parent {
        recv_continue(plan, ctx)?;
    }
    if plan.become_ns_root {
        p::setresgid(0)?;
        p::setresuid(0)?;
    }
    Ok(())
}

/// A new cgroup namespace rooted at the cgroup the parent placed us in.
pub fn cgroup_namespace(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if plan.unshare_cgroup {
        ns::unshare(libc::CLONE_NEWCGROUP as u64)?;
    }
    Ok(())
}

/// `setns` into each namespace given by path.
pub fn join_namespaces(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    for (fd, nstype, index) in &plan.join {
        ns::setns(fd.as_fd(), *nstype).map_err(Fail::at(*index as usize))?;
    }
    Ok(())
}

/// `exec`: the root of the joined mount namespace.
pub fn open_root(_plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    ctx.root = Some(fs::openat(None, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)?);
    Ok(())
}

/// A new time namespace with `linux.timeOffsets`; the process enters it at exec.
pub fn time_namespace(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if !plan.unshare_time {
        return Ok(());
    }
    ns::unshare(pelagos_sys::clone::flags::NEWTIME)?;
    for (i, line) in plan.time_offsets.iter().enumerate() {
        let f = fs::openat(
            Some(plan.host_proc.as_fd()),
            c"self/timens_offsets",
            libc::O_WRONLY,
            0,
        )
        .map_err(Fail::at(i))?;
        fs::write_all(f.as_fd(), line.to_bytes()).map_err(Fail::at(i))?;
    }
    Ok(())
}

/// `hostname` and `domainname`.
pub fn hostname(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if let Some(h) = &plan.hostname {
        ns::sethostname(h).map_err(Fail::at(0))?;
    }
    if let Some(d) = &plan.domainname {
        ns::setdomainname(d).map_err(Fail::at(1))?;
    }
    Ok(())
}

/// `process.oomScoreAdj`, through the verified host procfs.
pub fn oom_score_adj(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if let Some(v) = &plan.oom_score_adj {
        let f = fs::openat(
            Some(plan.host_proc.as_fd()),
            c"self/oom_score_adj",
            libc::O_WRONLY,
            0,
        )?;
        fs::write_all(f.as_fd(), v.to_bytes())?;
    }
    Ok(())
}

/// Run one hook as a child of the init with the state JSON on stdin.
pub(super) fn run_hook(h: &HookPlan, state: &[u8]) -> Result<(), Fail> {
    let (r, w) = fs::pipe()?;
    match clone3(0, None)? {
        Forked::Child => {
            let _ = p::reset_signals();
            let _ = p::set_pdeathsig(libc::SIGKILL);
            if fs::dup2(r.as_fd(), 0).is_ok() {
                let _ = p::execve(&h.path, &h.argv, &h.envp);
            }
            exit_now(127)
        }
        Forked::Parent { pid, pidfd } => {
            drop(r);
            let _ = fs::write_all(w.as_fd(), state);
            drop(w);
            let mut ready = [false];
            if p::poll_readable(&[pidfd.as_fd()], &mut ready, h.timeout_ms)? == 0 {
                let _ = p::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
                let _ = p::waitpid(pid);
                return Err(Errno(libc::ETIMEDOUT).into());
            }
            match p::waitpid(pid)? {
                p::ExitStatus::Exited(0) => Ok(()),
                st => Err(Fail {
                    errno: Errno(0),
                    index: 0,
                    detail: st.code(),
                }),
            }
        }
    }
}

fn run_hooks(hooks: &[HookPlan], state: &[u8]) -> StepResult {
    for (i, h) in hooks.iter().enumerate() {
        run_hook(h, state).map_err(|f| Fail {
            index: i as u32,
            ..f
        })?;
    }
    Ok(())
}

/// Let the parent run prestart/createRuntime hooks, then run createContainer hooks here
/// (in the container's namespaces, before pivot_root).
pub fn create_hooks(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    if !plan.hooks_sync {
        return Ok(());
    }
    socket::send(plan.sync.as_fd(), &Msg::simple(Kind::Hooks).encode(), None)?;
    recv_continue(plan, ctx)?;
    run_hooks(
        &plan.create_container_hooks,
        &plan.state_buf[..ctx.state_len],
    )
}

/// `linux.sysctl`, written through the container's own (verified) procfs.
pub fn sysctl(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    if plan.sysctl.is_empty() {
        return Ok(());
    }
    let root = ctx
        .root
        .as_ref()
        .map(|r| r.as_fd())
        .ok_or(Errno(libc::EBADF))?;
    let proc_ = open_in_root(root, c"/proc", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(Fail::at(usize::MAX))?;
    if fs::fstatfs_type(proc_.as_fd())? != fs::PROC_SUPER_MAGIC {
        return Err(Fail {
            errno: Errno(libc::EXDEV),
            index: u32::MAX,
            detail: 0,
        });
    }
    for (i, (path, value)) in plan.sysctl.iter().enumerate() {
        let f = fs::openat2(
            proc_.as_fd(),
            path,
            libc::O_WRONLY,
            0,
            fs::resolve::BENEATH | fs::resolve::NO_SYMLINKS,
        )
        .map_err(Fail::at(i))?;
        fs::write_all(f.as_fd(), value.to_bytes()).map_err(Fail::at(i))?;
    }
    Ok(())
}

/// `process.rlimits`.
pub fn rlimits(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    for (i, (res, soft, hard)) in plan.process.rlimits.iter().enumerate() {
        p::setrlimit(*res, *soft, *hard).map_err(Fail::at(i))?;
    }
    Ok(())
}

/// `process.terminal`: a PTY from the container's devpts becomes the controlling terminal
/// and stdio; the master goes to the console socket or the parent.
pub fn terminal(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    let sock: BorrowedFd<'_> = match &plan.terminal {
        TerminalPlan::None => return Ok(()),
        TerminalPlan::ConsoleSocket(s) => s.as_fd(),
        TerminalPlan::Parent => plan.sync.as_fd(),
    };
    let (master, slave) = tty::open_pty(c"/dev/ptmx")?;
    if let Some((rows, cols)) = plan.process.console_size {
        tty::set_winsize(master.as_fd(), rows, cols)?;
    }
    p::setsid()?;
    tty::set_controlling_tty(slave.as_fd())?;
    let _ = fs::fchownat(slave.as_fd(), c"", plan.process.uid, u32::MAX);
    for n in 0..3 {
        fs::dup2(slave.as_fd(), n)?;
    }
    socket::send(sock, &Msg::simple(Kind::Pty).encode(), Some(master.as_fd()))?;
    Ok(())
}

/// Create `process.cwd` inside the root if missing (before the root may turn read-only).
pub fn create_cwd(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let root = ctx
        .root
        .as_ref()
        .map(|r| r.as_fd())
        .ok_or(Errno(libc::EBADF))?;
    mkdir_all_in_root(root, &plan.process.cwd, 0o755)?;
    Ok(())
}

/// Enter `process.cwd`.
pub fn cwd(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let root = ctx
        .root
        .as_ref()
        .map(|r| r.as_fd())
        .ok_or(Errno(libc::EBADF))?;
    let dir = mkdir_all_in_root(root, &plan.process.cwd, 0o755)?;
    fs::fchdir(dir.as_fd())?;
    Ok(())
}

/// `Fail::detail` of [`find_executable`]: the executable was found through a relative
/// `$PATH` entry, which runc refuses ("cannot run executable found relative to current
/// directory").
pub const FOUND_RELATIVE: i32 = 1;

/// Find the first `argv[0]` candidate that is an executable regular file, so `create`
/// fails when there is nothing to run. One found through a relative `$PATH` entry is
/// refused, as runc refuses it.
pub fn find_executable(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let mut last = Errno(libc::ENOENT);
    for (i, c) in plan.process.exec_candidates.iter().enumerate() {
        match fs::openat(None, c, libc::O_PATH, 0).and_then(|f| fs::fstat(f.as_fd())) {
            Ok(st) if st.mode & libc::S_IFMT == libc::S_IFREG => {
                match fs::faccessat(None, c, libc::X_OK) {
                    Ok(()) if plan.process.path_search && c.to_bytes().first() != Some(&b'/') => {
                        return Err(Fail {
                            errno: Errno(libc::EACCES),
                            index: i as u32,
                            detail: FOUND_RELATIVE,
                        });
                    }
                    Ok(()) => {
                        ctx.exec_index = i;
                        return Ok(());
                    }
                    Err(e) => last = e,
                }
            }
            Ok(_) => last = Errno(libc::EACCES),
            Err(Errno(libc::ENOENT)) | Err(Errno(libc::ENOTDIR)) => {}
            Err(e) => last = e,
        }
    }
    Err(last.into())
}

/// Setup is done: tell the parent. The init now outlives it.
pub fn ready(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    p::set_pdeathsig(0)?;
    socket::send(plan.sync.as_fd(), &Msg::simple(Kind::Ready).encode(), None)?;
    Ok(())
}

/// Wait for `start` to connect (create/start), reading the state JSON it sends.
pub fn wait_start(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let StartPlan::WaitFor(listener) = &plan.start else {
        return Ok(());
    };
    let conn = socket::accept(listener.as_fd())?;
    let (n, _) = socket::recv(conn.as_fd(), &mut plan.state_buf)?;
    ctx.state_len = n;
    ctx.start_conn = Some(conn);
    Ok(())
}

/// startContainer hooks, in the container, before the user process.
pub fn start_hooks(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    run_hooks(
        &plan.start_container_hooks,
        &plan.state_buf[..ctx.state_len],
    )
}

/// Set the umask, close every fd but stdio and `--preserve-fds`, exec.
pub fn exec(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    fs::umask(plan.process.umask);
    fs::cloexec_from(3 + plan.preserve_fds)?;
    for fd in 3..3 + plan.preserve_fds {
        let _ = fs::set_cloexec(fd as i32, false);
    }
    let _ = plan.sync.as_raw_fd();
    let cand = &plan.process.exec_candidates[ctx.exec_index];
    Err(Fail {
        errno: p::execve(cand, &plan.process.argv, &plan.process.envp),
        index: ctx.exec_index as u32,
        detail: 0,
    })
}
