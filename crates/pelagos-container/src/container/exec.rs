//! `exec`: run another process in a running container: join its namespaces through a
//! pidfd of its init, take the same identity, capabilities and LSM label, exec.

use super::run::wait_foreground;
use super::Container;
use crate::error::{ContainerError, Result};
use crate::exec_plan::{build_exec, ExecPlanOptions};
use crate::init::{self, Step};
use crate::plan::TerminalPlan;
use crate::protocol::{Kind, Msg};
use crate::spawn::{exec_error, last_cap, Spawned};
use crate::state::write_atomic;
use pelagos_spec::{ProcessConfig, Status};
use pelagos_sys::clone::{clone3, Forked};
use pelagos_sys::{fs, ns, process as p, socket, Errno};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// What to run and how.
pub struct ExecOptions<'a> {
    pub process: ProcessConfig,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: u32,
    /// Where compiled seccomp programs are cached.
    pub seccomp_cache: PathBuf,
    pub warn: &'a dyn Fn(&str),
}

impl Container {
    /// Run a process in the container; returns its exit code (0 right away with `detach`).
    pub fn exec(&self, opts: &ExecOptions<'_>) -> Result<i32> {
        match self.status() {
            Status::Running | Status::Created => {}
            _ => return Err(self.bad_state("cannot exec in a container that is not running")),
        }
        if opts.process.args.is_empty() {
            return Err(ContainerError::Other(
                "exec: no command given: pass the program and its arguments".into(),
            ));
        }
        let pid = self.state.oci.pid;
        let pidfd = p::pidfd_open(pid)
            .map_err(|e| ContainerError::sys(format!("open process {pid} of {:?}", self.id), e))?;
        if !crate::state::init_alive(&self.state) {
            return Err(self.bad_state("cannot exec in a container that is not running"));
        }
        let pid_ns = libc::CLONE_NEWPID as u64;
        if self.state.ns_flags & pid_ns != 0 {
            // Children of this process are born in the container's pid namespace.
            ns::setns(pidfd.as_fd(), pid_ns as i32).map_err(|e| {
                ContainerError::sys(format!("join the pid namespace of {:?}", self.id), e)
            })?;
        }
        let terminal = exec_terminal(opts)?;
        let (parent_end, child_end) =
            socket::seqpacket_pair().map_err(|e| ContainerError::sys("socketpair", e))?;
        use pelagos_cgroups::CgroupManager;
        let cg = self.state.cgroup.as_ref();
        let (clone_into, cgroup_join) = match cg {
            Some(c) => (c.clone_into_fd()?, c.self_join_fds()?),
            None => (None, Vec::new()),
        };
        let sp = crate::plan::seccomp_plan(
            self.state.seccomp.as_ref(),
            opts.process.no_new_privileges,
            &opts.seccomp_cache,
            opts.warn,
        )?;
        let popts = ExecPlanOptions {
            seccomp: sp.program,
            seccomp_early: sp.early,
            cgroup_join,
            pidfd: fs::dup(pidfd.as_fd()).map_err(|e| ContainerError::sys("dup pidfd", e))?,
            ns_flags: self.state.ns_flags & !pid_ns,
            preserve_fds: opts.preserve_fds,
            terminal,
        };
        let mut plan = build_exec(
            std::path::Path::new(&format!("/proc/{pid}/root")),
            &opts.process,
            child_end,
            popts,
            last_cap(),
        )?;
        let (cpid, cpidfd) = match clone3(0, clone_into.as_ref().map(|f| f.as_fd()))
            .map_err(|e| ContainerError::sys("clone the exec process", e))?
        {
            Forked::Child => {
                drop(parent_end);
                init::run_exec(&mut plan)
            }
            Forked::Parent { pid, pidfd } => (pid, pidfd),
        };
        drop(plan);
        let mut spawned = Spawned {
            pid: cpid,
            pidfd: cpidfd,
            sync: parent_end,
            pty: None,
            seccomp_fd: None,
        };
        if let Err(e) = self.wait_exec_ready(&opts.process, &mut spawned) {
            let _ = p::pidfd_send_signal(spawned.pidfd.as_fd(), libc::SIGKILL);
            let _ = p::waitpid(cpid);
            return Err(e);
        }
        let mut st = self.state.clone();
        st.oci.pid = cpid;
        super::create::forward_seccomp_fd(sp.filter.as_ref(), spawned.seccomp_fd.take(), &st)?;
        if let Some(pf) = &opts.pid_file {
            write_atomic(pf, cpid.to_string().as_bytes())?;
        }
        if opts.detach {
            return Ok(0);
        }
        wait_foreground(&spawned)
    }

    /// Read `Pty`/`Ready` and then EOF (exec done) or `Error` from the exec process.
    fn wait_exec_ready(&self, process: &ProcessConfig, s: &mut Spawned) -> Result<()> {
        let mut buf = [0u8; 64];
        loop {
            let (n, fd) = socket::recv(s.sync.as_fd(), &mut buf)
                .map_err(|e| ContainerError::sys("read from exec process", e))?;
            if n == 0 {
                return Ok(());
            }
            let m = Msg::decode(&buf[..n]).ok_or_else(|| {
                ContainerError::Other("malformed message from exec process".into())
            })?;
            match m.kind {
                Kind::Pty => s.pty = fd,
                Kind::SeccompFd => s.seccomp_fd = fd,
                Kind::Ready | Kind::Continue | Kind::Hooks => {}
                Kind::Error => return Err(self.describe_exec(process, &m)),
            }
        }
    }

    fn describe_exec(&self, process: &ProcessConfig, m: &Msg) -> ContainerError {
        let errno = Errno(m.errno);
        let what = match Step::from_u32(m.step) {
            Some(Step::FindExecutable) | Some(Step::Exec) => {
                return exec_error(&process.args[0], errno, m.detail)
            }
            Some(Step::JoinNamespaces) => format!("join the namespaces of container {:?}", self.id),
            Some(Step::Cwd) => format!("enter working directory {}", process.cwd),
            Some(Step::Identity) => format!(
                "switch to uid {} gid {} groups {:?}",
                process.uid, process.gid, process.additional_gids
            ),
            Some(Step::Rlimits) => format!("set process.rlimits[{}]", m.index),
            Some(Step::Terminal) => "set up the exec terminal".into(),
            Some(s) => format!("exec: {s:?}"),
            None => format!("exec step {}", m.step),
        };
        ContainerError::Init { what, errno }
    }
}

/// Where the exec's PTY master goes, if it has a terminal.
fn exec_terminal(opts: &ExecOptions<'_>) -> Result<TerminalPlan> {
    Ok(match (&opts.console_socket, opts.process.terminal) {
        (_, false) => TerminalPlan::None,
        (Some(path), true) => {
            TerminalPlan::ConsoleSocket(OwnedFd::from(UnixStream::connect(path).map_err(|e| {
                ContainerError::io(format!("connect to console socket {}", path.display()), e)
            })?))
        }
        (None, true) if opts.detach => {
            return Err(ContainerError::Other(
                "exec --tty --detach needs --console-socket".into(),
            ))
        }
        (None, true) => TerminalPlan::Parent,
    })
}
