//! `run`: create and start in one go; in the foreground wait for the container's exit,
//! forwarding signals and (with a terminal) proxying the PTY.

use super::create::{load_config, CreateGuard};
use super::{Container, CreateOptions};
use crate::error::{ContainerError, Result};
use crate::hooks::run_hooks_warn;
use crate::plan::{StartPlan, TerminalPlan};
use crate::spawn::{wait_exec, Spawned};
use crate::state::write_atomic;
use pelagos_spec::Status;
use pelagos_sys::{fs, process as p, tty};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Signals a foreground `run` forwards to the container.
const FORWARDED: [i32; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// The runtime's own stdio as used by a foreground run.
pub struct RunIo;

impl Container {
    /// `run ID`: returns the container's exit code (128+n when killed by signal n).
    /// With `detach`, behaves as create + start and returns 0.
    pub fn run(
        store: &crate::StateStore,
        id: &str,
        opts: &CreateOptions<'_>,
        detach: bool,
    ) -> Result<i32> {
        if detach {
            let mut c = Container::create(store, id, opts)?;
            if let Err(e) = c.start(opts.warn) {
                let _ = c.delete(true, opts.warn);
                return Err(e);
            }
            return Ok(0);
        }
        crate::state::validate_id(id)?;
        let cfg = load_config(&opts.bundle, opts.warn)?;
        store.reserve(id)?;
        let mut guard = CreateGuard {
            store,
            id,
            pidfd: None,
            pid: 0,
            cgroup: None,
            armed: true,
        };
        let cg = super::cgroup::setup(&cfg, id, &opts.cgroup_root, opts.warn)?;
        guard.cgroup = Some(cg.clone());
        let terminal = match (&opts.console_socket, cfg.process.terminal) {
            (_, false) => TerminalPlan::None,
            (Some(p), true) => {
                TerminalPlan::ConsoleSocket(OwnedFd::from(UnixStream::connect(p).map_err(|e| {
                    ContainerError::io(format!("connect to console socket {}", p.display()), e)
                })?))
            }
            (None, true) => TerminalPlan::Parent,
        };
        let (spawned, mut state) =
            super::create::spawn_in(id, &cfg, &cg, opts, terminal, StartPlan::Immediate)?;
        guard.pid = spawned.pid;
        state.oci.status = Status::Running;
        store.save(id, &state)?;
        if let Some(pf) = &opts.pid_file {
            write_atomic(pf, spawned.pid.to_string().as_bytes())?;
        }
        if let Err(e) = wait_exec(&cfg, &spawned) {
            let _ = p::waitpid(spawned.pid);
            return Err(e);
        }
        let c = Container {
            id: id.to_string(),
            store: store.clone(),
            state,
        };
        run_hooks_warn("poststart", &c.state.poststart, &c.state_json(), opts.warn);
        let code = wait_foreground(&spawned)?;
        let mut stopped = c.oci_state();
        stopped.status = Status::Stopped;
        stopped.pid = 0;
        run_hooks_warn(
            "poststop",
            &c.state.poststop,
            &serde_json::to_vec(&stopped).unwrap_or_default(),
            opts.warn,
        );
        guard.pidfd = Some(spawned.pidfd);
        drop(guard);
        Ok(code)
    }
}

/// Wait for the init to exit, forwarding signals and proxying the PTY if there is one.
pub(crate) fn wait_foreground(s: &Spawned) -> Result<i32> {
    let sys = |what: &str| {
        let what = what.to_string();
        move |e| ContainerError::sys(what.clone(), e)
    };
    p::block_signals(&FORWARDED).map_err(sys("block signals"))?;
    let sfd = p::signalfd(&FORWARDED).map_err(sys("signalfd"))?;
    let stdin = std::io::stdin();
    let stdin = stdin.as_fd();
    let mut proxy = s.pty.as_ref().map(|m| Proxy::new(m.as_fd(), stdin));
    loop {
        let mut fds: Vec<BorrowedFd<'_>> = vec![s.pidfd.as_fd(), sfd.as_fd()];
        if let Some(px) = &proxy {
            if px.master_open {
                fds.push(px.master);
            }
            if px.stdin_open {
                fds.push(stdin);
            }
        }
        let mut ready = [false; 4];
        p::poll_readable(&fds, &mut ready, -1).map_err(sys("poll"))?;
        if ready[1] {
            let sig = p::read_signal(sfd.as_fd()).map_err(sys("read signal"))?;
            match (&proxy, sig) {
                (Some(px), libc::SIGWINCH) => px.copy_winsize(),
                (None, libc::SIGWINCH) => {}
                _ => {
                    let _ = p::pidfd_send_signal(s.pidfd.as_fd(), sig);
                }
            }
        }
        if let Some(px) = &mut proxy {
            for (i, fd) in fds.iter().enumerate().skip(2) {
                if ready[i] {
                    px.pump(*fd);
                }
            }
        }
        if ready[0] {
            if let Some(px) = &mut proxy {
                px.drain();
            }
            let st = p::waitpid(s.pid).map_err(sys("wait for the container"))?;
            let _ = p::unblock_signals(&FORWARDED);
            return Ok(st.code());
        }
    }
}

/// Copies between our terminal and the container's PTY master.
struct Proxy<'a> {
    master: BorrowedFd<'a>,
    stdin: BorrowedFd<'a>,
    master_open: bool,
    stdin_open: bool,
    saved: Option<tty::Termios>,
}

impl<'a> Proxy<'a> {
    fn new(master: BorrowedFd<'a>, stdin: BorrowedFd<'a>) -> Self {
        let saved = if tty::isatty(stdin) {
            tty::make_raw(stdin).ok()
        } else {
            None
        };
        let px = Proxy {
            master,
            stdin,
            master_open: true,
            stdin_open: true,
            saved,
        };
        px.copy_winsize();
        px
    }

    fn copy_winsize(&self) {
        if let Ok((r, c)) = tty::get_winsize(self.stdin) {
            let _ = tty::set_winsize(self.master, r, c);
        }
    }

    fn pump(&mut self, from: BorrowedFd<'_>) {
        let mut buf = [0u8; 8192];
        let is_master = from.as_raw_fd() == self.master.as_raw_fd();
        match fs::read(from, &mut buf) {
            Ok(n) if n > 0 => {
                let out = if is_master {
                    std::io::stdout()
                } else {
                    return self.write_master(&buf[..n]);
                };
                let _ = fs::write_all(out.as_fd(), &buf[..n]);
            }
            _ => {
                if is_master {
                    self.master_open = false;
                } else {
                    self.stdin_open = false;
                }
            }
        }
    }

    fn write_master(&mut self, data: &[u8]) {
        if fs::write_all(self.master, data).is_err() {
            self.master_open = false;
        }
    }

    fn drain(&mut self) {
        let mut ready = [false];
        while self.master_open && p::poll_readable(&[self.master], &mut ready, 0).unwrap_or(0) > 0 {
            let master = self.master;
            self.pump(master);
        }
    }
}

impl Drop for Proxy<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = tty::restore(self.stdin, saved);
        }
    }
}
