//! The plan of a process joining a running container (`exec`).

use crate::error::Result;
use crate::plan::{open_host_proc, InitPlan, ProcessPlan, StartPlan, TerminalPlan};
use std::ffi::CString;
use std::os::fd::OwnedFd;

/// Options of an `exec` plan.
pub struct ExecPlanOptions {
    /// The compiled seccomp filter and whether it loads early.
    pub seccomp: Option<(Vec<pelagos_sys::seccomp::SockFilter>, u32)>,
    pub seccomp_early: bool,
    /// cgroup v1 `tasks` files the process writes "0" into to join the container's cgroup.
    pub cgroup_join: Vec<OwnedFd>,
    /// A pidfd of the container's init (dup'd) and the namespaces to join through it.
    pub pidfd: OwnedFd,
    pub ns_flags: u64,
    pub preserve_fds: u32,
    pub terminal: TerminalPlan,
}

/// The plan of a process joining a running container: the same identity, capability and
/// exec steps as the init, none of the root file-system work.
pub fn build_exec(
    container_root: &std::path::Path,
    p: &pelagos_spec::ProcessConfig,
    sync: OwnedFd,
    opts: ExecPlanOptions,
    last_cap: u32,
) -> Result<InitPlan> {
    let env = crate::plan::with_home(&p.env, container_root, p.uid);
    Ok(InitPlan {
        sync,
        join: vec![(opts.pidfd, opts.ns_flags as i32, 0)],
        wait_for_parent: false,
        cgroup_join: opts.cgroup_join,
        become_ns_root: false,
        unshare_cgroup: false,
        unshare_time: false,
        time_offsets: Vec::new(),
        hostname: None,
        domainname: None,
        rootfs: CString::default(),
        mounts: Vec::new(),
        default_devices: false,
        devices: Vec::new(),
        hooks_sync: false,
        create_container_hooks: Vec::new(),
        start_container_hooks: Vec::new(),
        no_pivot: false,
        rootfs_propagation: 0,
        readonly_root: false,
        masked: Vec::new(),
        readonly: Vec::new(),
        sysctl: Vec::new(),
        oom_score_adj: None,
        host_proc: open_host_proc()?,
        preserve_fds: opts.preserve_fds,
        terminal: if p.terminal {
            opts.terminal
        } else {
            TerminalPlan::None
        },
        start: StartPlan::Immediate,
        process: ProcessPlan::build(p, &env, last_cap),
        state_buf: vec![0u8; 256],
        seccomp: opts.seccomp,
        seccomp_early: opts.seccomp_early,
    })
}
