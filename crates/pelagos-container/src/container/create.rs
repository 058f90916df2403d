//! `create`: validate the bundle, reserve the id, spawn the init up to the start barrier.

use super::{Container, CreateOptions};
use crate::error::{ContainerError, Result};
use crate::hooks::run_hooks;
use crate::plan::{PlanOptions, StartPlan, TerminalPlan};
use crate::spawn::{self, Spawned};
use crate::state::{proc_stat, write_atomic, ContainerState, StateStore};
use pelagos_spec::{ContainerConfig, NamespaceKind, OciState, Status};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Removes a half-made container (state dir; init process) unless disarmed.
pub(crate) struct CreateGuard<'a> {
    pub store: &'a StateStore,
    pub id: &'a str,
    pub pidfd: Option<OwnedFd>,
    pub pid: i32,
    pub cgroup: Option<pelagos_cgroups::Cgroup>,
    pub armed: bool,
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(fd) = &self.pidfd {
            use std::os::fd::AsFd;
            let _ = pelagos_sys::process::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
            let _ = pelagos_sys::process::waitpid(self.pid);
        }
        if let Some(cg) = &self.cgroup {
            use pelagos_cgroups::CgroupManager;
            let _ = cg.kill_all(libc::SIGKILL);
            if cg.destroy().is_ok() {
                super::delete::remove_empty_default_parents(&cg.dirs());
            }
        }
        let _ = self.store.remove(self.id);
    }
}

/// Load and check the bundle; print warnings for what is not applied.
pub(crate) fn load_config(bundle: &Path, warn: &dyn Fn(&str)) -> Result<ContainerConfig> {
    let cfg = pelagos_spec::load_bundle(bundle, spawn::last_cap())?;
    for w in &cfg.warnings {
        warn(w);
    }
    Ok(cfg)
}

pub(crate) fn initial_state(id: &str, cfg: &ContainerConfig, pid: i32) -> ContainerState {
    ContainerState {
        oci: OciState {
            oci_version: cfg.oci_version.clone(),
            id: id.to_string(),
            pid,
            status: Status::Creating,
            bundle: cfg.bundle.display().to_string(),
            rootfs: cfg.rootfs.display().to_string(),
            created: pelagos_spec::rfc3339_utc(std::time::SystemTime::now()),
            owner: String::new(),
            annotations: cfg.annotations.clone(),
        },
        pid_start_time: proc_stat(pid).map(|(_, t)| t).unwrap_or(0),
        own_pid_ns: cfg
            .namespace(NamespaceKind::Pid)
            .is_some_and(|n| n.path.is_none()),
        poststart: cfg.hooks.poststart.clone(),
        poststop: cfg.hooks.poststop.clone(),
        arg0: cfg.process.args[0].clone(),
        exec_candidates: Vec::new(),
        start_hooks: cfg.hooks.start_container.clone(),
        process: cfg.process.clone(),
        cgroup: None,
        implicit_devices: super::cgroup::implicit_device_rules(cfg),
        seccomp: cfg.seccomp.clone(),
        ns_flags: cfg
            .namespaces
            .iter()
            .fold(0, |f, n| f | n.kind.clone_flag()),
    }
}

/// Path of the start socket, short enough for `sun_path` even under a deep `--root`.
pub(crate) fn socket_path(dir: &Path, dirfd: &std::fs::File) -> PathBuf {
    let direct = dir.join("start.sock");
    if direct.as_os_str().len() < 100 {
        direct
    } else {
        PathBuf::from(format!("/proc/self/fd/{}/start.sock", dirfd.as_raw_fd()))
    }
}

impl Container {
    /// `create ID --bundle B`: everything up to the user process, which waits for `start`.
    pub fn create(store: &StateStore, id: &str, opts: &CreateOptions<'_>) -> Result<Container> {
        crate::state::validate_id(id)?;
        let cfg = load_config(&opts.bundle, opts.warn)?;
        if cfg.process.terminal && opts.console_socket.is_none() {
            return Err(ContainerError::Other(
                "process.terminal is true: pass --console-socket, or set terminal to false".into(),
            ));
        }
        let dir = store.reserve(id)?;
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
        let dirfd = std::fs::File::open(&dir)
            .map_err(|e| ContainerError::io(format!("open {}", dir.display()), e))?;
        let listener = UnixListener::bind(socket_path(&dir, &dirfd)).map_err(|e| {
            ContainerError::io(format!("create start socket in {}", dir.display()), e)
        })?;
        let terminal = match &opts.console_socket {
            Some(p) => {
                TerminalPlan::ConsoleSocket(OwnedFd::from(UnixStream::connect(p).map_err(|e| {
                    ContainerError::io(format!("connect to console socket {}", p.display()), e)
                })?))
            }
            None => TerminalPlan::None,
        };
        let start = StartPlan::WaitFor(OwnedFd::from(listener));
        let (spawned, mut state) = spawn_in(id, &cfg, &cg, opts, terminal, start)?;
        guard.pid = spawned.pid;
        guard.pidfd = Some(spawned.pidfd);
        state.oci.status = Status::Created;
        state.exec_candidates = crate::plan::exec_candidates(
            &cfg.process.args[0],
            cfg.process.env.iter().find_map(|e| e.strip_prefix("PATH=")),
        )
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
        store.save(id, &state)?;
        if let Some(pf) = &opts.pid_file {
            write_atomic(pf, spawned.pid.to_string().as_bytes())?;
        }
        guard.armed = false;
        Ok(Container {
            id: id.to_string(),
            store: store.clone(),
            state,
        })
    }
}

/// Spawn the init of `cfg` in cgroup `cg` with its seccomp filter, and hand a seccomp
/// notify fd to its listener; returns the init and its first state.
pub(crate) fn spawn_in(
    id: &str,
    cfg: &ContainerConfig,
    cg: &pelagos_cgroups::Cgroup,
    opts: &CreateOptions<'_>,
    terminal: TerminalPlan,
    start: StartPlan,
) -> Result<(Spawned, ContainerState)> {
    let sp = crate::plan::seccomp_plan(
        cfg.seccomp.as_ref(),
        cfg.process.no_new_privileges,
        &opts.seccomp_cache,
        opts.warn,
    )?;
    let popts = PlanOptions {
        cgroup_binds: Some(super::cgroup::binds(cg, &opts.cgroup_root)),
        seccomp: sp.program,
        seccomp_early: sp.early,
        cgroup_join: Vec::new(),
        no_pivot: opts.no_pivot,
        preserve_fds: opts.preserve_fds,
        terminal,
        start,
    };
    let placement = super::cgroup::placement(cg)?;
    let mut spawned = spawn_with_hooks(id, cfg, popts, placement)?;
    let mut state = initial_state(id, cfg, spawned.pid);
    state.cgroup = Some(cg.clone());
    if let Err(e) = forward_seccomp_fd(sp.filter.as_ref(), spawned.seccomp_fd.take(), &state) {
        use std::os::fd::AsFd;
        let _ = pelagos_sys::process::pidfd_send_signal(spawned.pidfd.as_fd(), libc::SIGKILL);
        let _ = pelagos_sys::process::waitpid(spawned.pid);
        return Err(e);
    }
    Ok((spawned, state))
}

/// Hand the seccomp notify fd to the agent at `listenerPath` with the container state.
pub(crate) fn forward_seccomp_fd(
    filter: Option<&pelagos_seccomp::CompiledFilter>,
    fd: Option<OwnedFd>,
    state: &ContainerState,
) -> Result<()> {
    let (Some(filter), Some(fd)) = (filter, fd) else {
        return Ok(());
    };
    let json = serde_json::to_vec(&state.oci).unwrap_or_default();
    let oci: oci_spec::runtime::State = pelagos_spec::json::decode(&json).map_err(|e| {
        ContainerError::Other(format!("container state for the seccomp listener: {e}"))
    })?;
    use std::os::fd::AsFd;
    pelagos_seccomp::send_to_listener(filter, fd.as_fd(), state.oci.pid, &oci)
        .map_err(|e| ContainerError::Other(format!("linux.seccomp.listenerPath: {e}")))
}

/// Spawn, running prestart + createRuntime hooks when the init asks.
pub(crate) fn spawn_with_hooks(
    id: &str,
    cfg: &ContainerConfig,
    popts: PlanOptions,
    placement: spawn::Placement,
) -> Result<Spawned> {
    let mut on_hooks = |pid: i32| -> Result<Vec<u8>> {
        let st = initial_state(id, cfg, pid);
        let json = serde_json::to_vec(&st.oci).unwrap_or_default();
        run_hooks("prestart", &cfg.hooks.prestart, &json)?;
        run_hooks("createRuntime", &cfg.hooks.create_runtime, &json)?;
        Ok(json)
    };
    spawn::spawn(cfg, popts, placement, &mut on_hooks)
}
