//! The parent side of the spawn pipeline: clone the init with its namespaces, write id
//! maps, serve its hook requests, and wait until it is ready or has failed.

use crate::error::{ContainerError, Result};
use crate::init::{self, Step};
use crate::plan::{self, PlanOptions};
use crate::protocol::{Kind, Msg, MSG_LEN};
use pelagos_spec::{ContainerConfig, IdMap, NamespaceKind};
use pelagos_sys::clone::{clone3, Forked};
use pelagos_sys::{process as p, socket, Errno};
use std::os::fd::{AsFd, OwnedFd};

/// A cloned, set-up container init.
pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// Parent end of the sync socket: EOF once the init execs (in `Immediate` mode).
    pub sync: OwnedFd,
    /// PTY master, when the init sent it to us.
    pub pty: Option<OwnedFd>,
    /// The seccomp notify fd, for the agent at `linux.seccomp.listenerPath`.
    pub seccomp_fd: Option<OwnedFd>,
}

/// The highest capability number of the running kernel.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Clone and set up the init for `cfg`. `on_hooks(pid)` runs the runtime-side create
/// hooks and returns the state JSON handed to createContainer hooks.
/// Where the init goes in the cgroup tree.
#[derive(Default)]
pub struct Placement {
    /// A cgroup2 directory to clone straight into (`CLONE_INTO_CGROUP`).
    pub clone_into: Option<OwnedFd>,
    /// cgroup v1 `tasks` files the init writes "0" into as its first step.
    pub join: Vec<OwnedFd>,
}

pub fn spawn(
    cfg: &ContainerConfig,
    mut opts: PlanOptions,
    mut placement: Placement,
    on_hooks: &mut dyn FnMut(i32) -> Result<Vec<u8>>,
) -> Result<Spawned> {
    opts.cgroup_join = std::mem::take(&mut placement.join);
    let (parent_end, child_end) =
        socket::seqpacket_pair().map_err(|e| ContainerError::sys("socketpair", e))?;
    let mut plan = plan::build(cfg, child_end, opts, last_cap())?;
    let flags = cfg
        .namespaces
        .iter()
        .filter(|n| {
            n.path.is_none() && !matches!(n.kind, NamespaceKind::Time | NamespaceKind::Cgroup)
        })
        .fold(0u64, |f, n| f | n.kind.clone_flag());
    let into = placement.clone_into.as_ref().map(|f| f.as_fd());
    let pid_ns = PidNsJoin::enter(cfg)?;
    let cloned = clone3(flags, into).map_err(|e| clone_error(flags, e));
    let (pid, pidfd) = match cloned {
        Ok(Forked::Child) => {
            drop(parent_end);
            init::run(&mut plan)
        }
        Ok(Forked::Parent { pid, pidfd }) => (pid, pidfd),
        Err(e) => {
            pid_ns.leave()?;
            return Err(e);
        }
    };
    pid_ns.leave()?;
    drop(plan);
    let mut spawned = Spawned {
        pid,
        pidfd,
        sync: parent_end,
        pty: None,
        seccomp_fd: None,
    };
    match serve(cfg, &mut spawned, on_hooks) {
        Ok(()) => Ok(spawned),
        Err(e) => {
            let _ = p::pidfd_send_signal(spawned.pidfd.as_fd(), libc::SIGKILL);
            let _ = p::waitpid(pid);
            Err(e)
        }
    }
}

/// Joining a pid namespace by path: only children of the caller enter it, so the parent
/// switches its `pid_for_children` for the clone and back right after (hooks it runs later
/// must stay in the runtime's namespace).
struct PidNsJoin {
    own: Option<OwnedFd>,
}

impl PidNsJoin {
    fn enter(cfg: &ContainerConfig) -> Result<PidNsJoin> {
        let Some(path) = cfg
            .namespace(NamespaceKind::Pid)
            .and_then(|n| n.path.as_ref())
        else {
            return Ok(PidNsJoin { own: None });
        };
        let own = std::fs::File::open("/proc/self/ns/pid")
            .map_err(|e| ContainerError::io("open /proc/self/ns/pid", e))?;
        let target = std::fs::File::open(path).map_err(|e| {
            ContainerError::io(
                format!("linux.namespaces: open pid namespace {}", path.display()),
                e,
            )
        })?;
        pelagos_sys::ns::setns(target.as_fd(), libc::CLONE_NEWPID).map_err(|e| {
            ContainerError::sys(format!("join pid namespace {}", path.display()), e)
        })?;
        Ok(PidNsJoin {
            own: Some(OwnedFd::from(own)),
        })
    }

    fn leave(self) -> Result<()> {
        match &self.own {
            Some(own) => pelagos_sys::ns::setns(own.as_fd(), libc::CLONE_NEWPID)
                .map_err(|e| ContainerError::sys("return to the runtime's pid namespace", e)),
            None => Ok(()),
        }
    }
}

fn clone_error(flags: u64, e: Errno) -> ContainerError {
    let hint = match e.0 {
        libc::EPERM => " (creating namespaces needs root, or a user namespace in linux.namespaces)",
        libc::EINVAL if flags & libc::CLONE_NEWUSER as u64 != 0 => {
            " (the kernel refused this namespace combination)"
        }
        libc::ENOSPC | libc::EUSERS => " (a namespace limit in /proc/sys/user was reached)",
        _ => "",
    };
    ContainerError::sys(format!("clone the container init{hint}"), e)
}

fn serve(
    cfg: &ContainerConfig,
    s: &mut Spawned,
    on_hooks: &mut dyn FnMut(i32) -> Result<Vec<u8>>,
) -> Result<()> {
    let user_ns = cfg
        .namespace(NamespaceKind::User)
        .is_some_and(|n| n.path.is_none());
    if user_ns {
        write_id_maps(s.pid, &cfg.uid_mappings, &cfg.gid_mappings)?;
    }
    if user_ns {
        send(s, Kind::Continue, &[])?;
    }
    let mut buf = [0u8; 256];
    loop {
        let (n, fd) = socket::recv(s.sync.as_fd(), &mut buf)
            .map_err(|e| ContainerError::sys("read from container init", e))?;
        if n == 0 {
            let st =
                p::waitpid(s.pid).map_err(|e| ContainerError::sys("wait for container init", e))?;
            return Err(ContainerError::Other(format!(
                "container init exited during setup without reporting why (exit status {})",
                st.code()
            )));
        }
        let msg = Msg::decode(&buf[..n])
            .ok_or_else(|| ContainerError::Other("malformed message from container init".into()))?;
        match msg.kind {
            Kind::Hooks => {
                let state = on_hooks(s.pid)?;
                send(s, Kind::Continue, &state)?;
            }
            Kind::Pty => s.pty = fd,
            Kind::SeccompFd => s.seccomp_fd = fd,
            Kind::Ready => return Ok(()),
            Kind::Error => {
                let _ = p::waitpid(s.pid);
                return Err(describe(cfg, &msg));
            }
            Kind::Continue => {
                return Err(ContainerError::Other(
                    "unexpected message from container init".into(),
                ))
            }
        }
    }
}

fn send(s: &Spawned, kind: Kind, payload: &[u8]) -> Result<()> {
    let mut data = Vec::with_capacity(MSG_LEN + payload.len());
    data.extend_from_slice(&Msg::simple(kind).encode());
    data.extend_from_slice(payload);
    socket::send(s.sync.as_fd(), &data, None)
        .map_err(|e| ContainerError::sys("write to container init", e))
}

fn write_id_maps(pid: i32, uids: &[IdMap], gids: &[IdMap]) -> Result<()> {
    let text = |maps: &[IdMap]| -> String {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect()
    };
    for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text(maps)).map_err(|e| {
            ContainerError::io(format!("write {path} (linux.{}Mappings)", &file[..3]), e)
        })?;
    }
    Ok(())
}

/// Wait for the init to exec (EOF on the sync socket) or report an exec failure.
pub fn wait_exec(cfg: &ContainerConfig, s: &Spawned) -> Result<()> {
    let mut buf = [0u8; 64];
    let (n, _) = socket::recv(s.sync.as_fd(), &mut buf)
        .map_err(|e| ContainerError::sys("read from container init", e))?;
    if n == 0 {
        return Ok(());
    }
    match Msg::decode(&buf[..n]) {
        Some(m) if m.kind == Kind::Error => Err(describe(cfg, &m)),
        _ => Err(ContainerError::Other(
            "malformed message from container init".into(),
        )),
    }
}

/// Turn an init failure into an error naming the step's object.
pub fn describe(cfg: &ContainerConfig, m: &Msg) -> ContainerError {
    let errno = Errno(m.errno);
    let i = m.index as usize;
    let step = Step::from_u32(m.step);
    let what = match step {
        Some(Step::JoinNamespaces) => cfg
            .namespaces
            .get(i)
            .map(|n| {
                format!(
                    "join {} namespace {}",
                    n.kind.oci_name(),
                    n.path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "join namespace".into()),
        Some(Step::JoinCgroup) => format!("join the container's cgroup (v1 hierarchy {i}, tasks)"),
        Some(Step::Hostname) if i == 0 => format!(
            "set hostname {:?}",
            cfg.hostname.clone().unwrap_or_default()
        ),
        Some(Step::Hostname) => format!(
            "set domainname {:?}",
            cfg.domainname.clone().unwrap_or_default()
        ),
        Some(Step::OomScoreAdj) => {
            format!(
                "set oom_score_adj to {} (lowering it needs CAP_SYS_RESOURCE)",
                cfg.process.oom_score_adj.unwrap_or(0)
            )
        }
        Some(Step::PrepareRoot) if i == 0 => "make / a slave mount".into(),
        Some(Step::PrepareRoot) => format!("bind mount rootfs {}", cfg.rootfs.display()),
        Some(Step::Mounts) => describe_mount(cfg, i),
        Some(Step::Devices) if i >= 1100 => "create /dev link".into(),
        Some(Step::Devices) if i >= 1000 => "create default device in /dev".into(),
        Some(Step::Devices) => {
            format!(
                "linux.devices[{i}]: create {}",
                cfg.devices.get(i).map(|d| d.path.as_str()).unwrap_or("")
            )
        }
        Some(Step::CreateHooks) | Some(Step::StartHooks) => {
            let (kind, list) = if step == Some(Step::CreateHooks) {
                ("createContainer", &cfg.hooks.create_container)
            } else {
                ("startContainer", &cfg.hooks.start_container)
            };
            return hook_error(
                kind,
                i,
                list.get(i).map(|h| h.path.as_str()).unwrap_or(""),
                errno,
                m.detail,
            );
        }
        Some(Step::PivotRoot) => format!("pivot_root into {}", cfg.rootfs.display()),
        Some(Step::RootPropagation) => "set linux.rootfsPropagation on /".into(),
        Some(Step::Sysctl) => cfg.sysctl.get(i).map_or_else(
            || "open /proc in the container for linux.sysctl".into(),
            |(k, v)| format!("sysctl {k}={v}"),
        ),
        Some(Step::MaskPaths) => cfg.masked_paths.get(i).map_or_else(
            || "check /dev/null in the container".into(),
            |p| format!("mask path {p}"),
        ),
        Some(Step::ReadonlyPaths) => format!(
            "make {} read-only",
            cfg.readonly_paths.get(i).map(String::as_str).unwrap_or("")
        ),
        Some(Step::ReadonlyRoot) => "make the root file system read-only".into(),
        Some(Step::Rlimits) => return rlimit_error(cfg, i, errno),
        Some(Step::Terminal) => "set up the container terminal (is /dev/pts mounted?)".into(),
        Some(Step::Cwd) | Some(Step::CreateCwd) => {
            format!("create or enter working directory {}", cfg.process.cwd)
        }
        Some(Step::Apparmor) => "apply the AppArmor profile".into(),
        Some(Step::Identity) => match i {
            0 => format!("setgroups {:?}", cfg.process.additional_gids),
            1 => format!("setgid {}", cfg.process.gid),
            2 => format!("setuid {}", cfg.process.uid),
            n => format!("drop capability {n} from the bounding set"),
        },
        Some(Step::Capabilities) => {
            "set process capabilities (inheritable must be within bounding)".into()
        }
        Some(Step::NoNewPrivs) => "set no_new_privs".into(),
        Some(Step::FindExecutable) | Some(Step::Exec) => {
            return exec_error(&cfg.process.args[0], errno, m.detail)
        }
        Some(Step::Seccomp) => "load the seccomp filter".into(),
        Some(s) => format!("{s:?}"),
        None => format!("container init step {}", m.step),
    };
    ContainerError::Init { what, errno }
}

fn describe_mount(cfg: &ContainerConfig, i: usize) -> String {
    let Some(mt) = cfg.mounts.get(i) else {
        return "mount".into();
    };
    let kind = match &mt.kind {
        pelagos_spec::MountKind::Bind { .. } => "bind",
        pelagos_spec::MountKind::Fs { fstype } => fstype.as_str(),
        pelagos_spec::MountKind::Cgroup => "cgroup",
    };
    format!(
        "mounts[{i}]: mount {kind} {} on {}{}",
        mt.source.clone().unwrap_or_default(),
        cfg.rootfs.display(),
        mt.destination
    )
}

/// `exec: "foo": executable file not found in $PATH` in runc's words (`detail` is the
/// failure's detail from the init).
pub fn exec_error(arg0: &str, errno: Errno, detail: i32) -> ContainerError {
    if detail == crate::init::FOUND_RELATIVE {
        ContainerError::Other(format!(
            "exec: {arg0:?}: cannot run executable found relative to current directory"
        ))
    } else if errno.0 == libc::ENOENT {
        ContainerError::Other(format!(
            "exec: {arg0:?}: executable file not found in $PATH"
        ))
    } else {
        ContainerError::Init {
            what: format!("exec {arg0:?}"),
            errno,
        }
    }
}

/// A hook run by the init failed (exit status in `detail`, or an errno such as ETIMEDOUT).
pub fn hook_error(
    kind: &'static str,
    index: usize,
    path: &str,
    errno: Errno,
    detail: i32,
) -> ContainerError {
    let message = if errno.0 == libc::ETIMEDOUT {
        "timed out".to_string()
    } else if errno.0 != 0 {
        format!("{errno} ({})", errno.description())
    } else {
        format!("exited with status {detail}")
    };
    ContainerError::Hook {
        kind,
        index,
        path: path.to_string(),
        message,
    }
}

fn rlimit_error(cfg: &ContainerConfig, i: usize, errno: Errno) -> ContainerError {
    let Some(r) = cfg.process.rlimits.get(i) else {
        return ContainerError::Init {
            what: "setrlimit".into(),
            errno,
        };
    };
    let mut what = format!(
        "process.rlimits[{i}]: set {} to soft={} hard={}",
        r.name, r.soft, r.hard
    );
    if errno.0 == libc::EPERM {
        what.push_str(&format!(
            " (raising a hard limit above the runtime's own needs CAP_SYS_RESOURCE, which this process lacks: lower \"hard\" to at most the host's current hard limit{})",
            current_hard(r.resource).map(|h| format!(" {h}")).unwrap_or_default()
        ));
    }
    ContainerError::Init { what, errno }
}

fn current_hard(resource: i32) -> Option<u64> {
    let names = [
        "Max cpu time",
        "Max file size",
        "Max data size",
        "Max stack size",
        "Max core file size",
        "Max resident set",
        "Max processes",
        "Max open files",
        "Max locked memory",
        "Max address space",
        "Max file locks",
        "Max pending signals",
        "Max msgqueue size",
        "Max nice priority",
        "Max realtime priority",
        "Max realtime timeout",
    ];
    let want = names.get(resource as usize)?;
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with(want))?;
    let hard = line[want.len()..].split_whitespace().nth(1)?;
    hard.parse().ok()
}
