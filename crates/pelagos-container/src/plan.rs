//! The init plan: everything the container init needs, prepared in the parent before
//! clone (C strings, fds, masks, buffers), so the child never allocates.

use crate::error::{ContainerError, Result};
use pelagos_spec::{CapSets, ContainerConfig, MountKind, NamespaceKind};
use pelagos_sys::CStringArray;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A C string from Rust text; interior NULs were rejected by validation.
pub(crate) fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new(s.replace('\0', "")).unwrap_or_default())
}

/// How one mount entry is made.
pub enum MountOp {
    /// Clone the host tree at `source`.
    Bind { source: CString, recursive: bool },
    /// A new file system with `fsconfig` parameters.
    Fs {
        fstype: CString,
        source: Option<CString>,
        options: Vec<(CString, Option<CString>)>,
    },
    /// A tmpfs at the destination holding binds of the host cgroup dirs of this process
    /// (`(host dir, name below destination)`); a single bind on a pure v2 host (empty name).
    Cgroup { binds: Vec<(CString, CString)> },
}

/// One mount entry, ready for the child.
pub struct MountPlan {
    pub dest: CString,
    /// The target is a file (bind of a non-directory).
    pub file_target: bool,
    pub op: MountOp,
    pub attr_set: u64,
    pub attr_clear: u64,
    pub attr_recursive: bool,
    /// `MS_*` propagation (with `MS_REC` for recursive) or 0.
    pub propagation: u64,
}

/// A device node to create.
pub struct DevicePlan {
    pub path: CString,
    pub mode: u32,
    pub dev: u64,
    pub uid: u32,
    pub gid: u32,
}

/// A hook the child runs itself (createContainer, startContainer).
pub struct HookPlan {
    pub path: CString,
    pub argv: CStringArray,
    pub envp: CStringArray,
    pub timeout_ms: i32,
}

/// Where the PTY master goes when `process.terminal` is set.
pub enum TerminalPlan {
    None,
    /// Send it over this connected console socket (runc's `--console-socket`).
    ConsoleSocket(OwnedFd),
    /// Send it to the parent over the sync socket (foreground `run`).
    Parent,
}

/// When the init execs.
pub enum StartPlan {
    /// Right after setup (foreground `run`).
    Immediate,
    /// After `start` connects to this listening socket.
    WaitFor(OwnedFd),
}

/// Everything the init needs.
pub struct InitPlan {
    pub sync: OwnedFd,
    /// Namespaces to join with `setns`: (fd, CLONE_NEW* type, index in the config).
    pub join: Vec<(OwnedFd, i32, u32)>,
    /// Wait for the parent's `Continue` (it writes the id maps).
    pub wait_for_parent: bool,
    /// cgroup v1 `tasks` files to write "0" into (join the cgroup) before anything else.
    pub cgroup_join: Vec<OwnedFd>,
    /// In a new user namespace: become its root after the maps are written.
    pub become_ns_root: bool,
    /// Create the cgroup namespace by `unshare` once placed in the container's cgroup, so
    /// its root is that cgroup.
    pub unshare_cgroup: bool,
    /// The time namespace is created by `unshare` in the child (offsets need it).
    pub unshare_time: bool,
    pub time_offsets: Vec<CString>,
    pub hostname: Option<CString>,
    pub domainname: Option<CString>,
    pub rootfs: CString,
    pub mounts: Vec<MountPlan>,
    pub default_devices: bool,
    pub devices: Vec<DevicePlan>,
    pub hooks_sync: bool,
    pub create_container_hooks: Vec<HookPlan>,
    pub start_container_hooks: Vec<HookPlan>,
    pub no_pivot: bool,
    pub rootfs_propagation: u64,
    pub readonly_root: bool,
    pub masked: Vec<CString>,
    pub readonly: Vec<CString>,
    /// `(path below /proc/sys, value)`.
    pub sysctl: Vec<(CString, CString)>,
    pub oom_score_adj: Option<CString>,
    /// Host `/proc`, verified to be procfs (for `self/oom_score_adj` before pivot).
    pub host_proc: OwnedFd,
    pub preserve_fds: u32,
    pub terminal: TerminalPlan,
    pub start: StartPlan,
    /// The process to become: identity, capabilities, limits, what to exec.
    pub process: ProcessPlan,
    /// Buffer for the state JSON the parent or `start` sends (hook stdin).
    pub state_buf: Vec<u8>,
    /// The compiled seccomp program and its `SECCOMP_FILTER_FLAG_*`.
    pub seccomp: Option<(Vec<pelagos_sys::seccomp::SockFilter>, u32)>,
    /// Load the filter before dropping privileges (no no_new_privs, or a listener).
    pub seccomp_early: bool,
}

/// A compiled filter: what the init loads, and what the runtime needs for a listener.
pub struct SeccompPlan {
    pub program: Option<(Vec<pelagos_sys::seccomp::SockFilter>, u32)>,
    pub early: bool,
    pub filter: Option<pelagos_seccomp::CompiledFilter>,
}

/// Compile (or fetch from `cache_dir`) the filter of `profile`, decoded for the init.
pub fn seccomp_plan(
    profile: Option<&oci_spec::runtime::LinuxSeccomp>,
    no_new_privs: bool,
    cache_dir: &Path,
    warn: &dyn Fn(&str),
) -> Result<SeccompPlan> {
    let Some(profile) = profile else {
        return Ok(SeccompPlan {
            program: None,
            early: false,
            filter: None,
        });
    };
    let f = pelagos_seccomp::compile_cached(profile, cache_dir)
        .map_err(|e| ContainerError::Other(format!("linux.seccomp: {e}")))?;
    for w in f.warnings.iter().filter(|w| !w.quiet) {
        warn(&w.to_string());
    }
    let program =
        pelagos_sys::seccomp::SockFilter::program_from_bytes(&f.bpf).ok_or_else(|| {
            ContainerError::Other(
                "linux.seccomp: compiled program has a partial instruction".into(),
            )
        })?;
    let early = !no_new_privs || f.needs_listener();
    Ok(SeccompPlan {
        program: Some((program, f.flags)),
        early,
        filter: Some(f),
    })
}

/// The process the init (or an `exec`) becomes, shared by both plans.
pub struct ProcessPlan {
    pub rlimits: Vec<(i32, u64, u64)>,
    pub cwd: CString,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub set_groups: bool,
    pub caps: CapSets,
    pub last_cap: u32,
    pub no_new_privs: bool,
    pub umask: u32,
    pub apparmor: Option<CString>,
    pub console_size: Option<(u16, u16)>,
    /// `argv[0]` candidates (PATH search done here, tried in order in the child).
    pub exec_candidates: Vec<CString>,
    /// The candidates come from `$PATH` (`argv[0]` has no `/`).
    pub path_search: bool,
    pub argv: CStringArray,
    pub envp: CStringArray,
}

impl ProcessPlan {
    /// From a validated process and its final environment (`HOME` added).
    pub fn build(p: &pelagos_spec::ProcessConfig, env: &[String], last_cap: u32) -> ProcessPlan {
        let env_path = env.iter().find_map(|e| e.strip_prefix("PATH="));
        ProcessPlan {
            rlimits: p
                .rlimits
                .iter()
                .map(|r| (r.resource, r.soft, r.hard))
                .collect(),
            cwd: cstr(&p.cwd),
            uid: p.uid,
            gid: p.gid,
            groups: p.additional_gids.clone(),
            set_groups: true,
            caps: p.caps,
            last_cap,
            no_new_privs: p.no_new_privileges,
            umask: p.umask.unwrap_or(0o022),
            apparmor: if apparmor_enabled() {
                p.apparmor_profile
                    .as_deref()
                    .map(|s| cstr(&format!("exec {s}")))
            } else {
                None
            },
            console_size: p.console_size,
            exec_candidates: exec_candidates(&p.args[0], env_path),
            path_search: !p.args[0].contains('/'),
            argv: CStringArray::new(p.args.iter().map(|a| cstr(a)).collect()),
            envp: CStringArray::new(env.iter().map(|e| cstr(e)).collect()),
        }
    }
}

/// Options of the spawn that are not in `config.json`.
pub struct PlanOptions {
    /// The container's own cgroup dirs as `(host dir, name below the cgroup mount)`; the
    /// runtime's cgroups when `None`.
    pub cgroup_binds: Option<Vec<(String, String)>>,
    /// The compiled seccomp filter (see [`seccomp_plan`]) and whether it loads early.
    pub seccomp: Option<(Vec<pelagos_sys::seccomp::SockFilter>, u32)>,
    pub seccomp_early: bool,
    /// cgroup v1 `tasks` files the init writes "0" into to join its cgroup.
    pub cgroup_join: Vec<OwnedFd>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub terminal: TerminalPlan,
    pub start: StartPlan,
}

/// Build the init plan. Opens namespace paths and host `/proc` now, so a bad path fails
/// here with its name, before anything is cloned.
pub fn build(
    cfg: &ContainerConfig,
    sync: OwnedFd,
    opts: PlanOptions,
    last_cap: u32,
) -> Result<InitPlan> {
    let join = open_joined_namespaces(cfg)?;
    let host_proc = open_host_proc()?;
    let user_ns = cfg
        .namespace(NamespaceKind::User)
        .is_some_and(|n| n.path.is_none());
    let mut mounts = Vec::with_capacity(cfg.mounts.len());
    for m in &cfg.mounts {
        mounts.push(mount_plan(m, opts.cgroup_binds.as_deref())?);
    }
    let p = &cfg.process;
    let env = with_home(&p.env, &cfg.rootfs, p.uid);
    let hooks_child =
        |list: &[pelagos_spec::Hook]| -> Vec<HookPlan> { list.iter().map(hook_plan).collect() };
    let create_container_hooks = hooks_child(&cfg.hooks.create_container);
    let hooks_sync = !cfg.hooks.prestart.is_empty()
        || !cfg.hooks.create_runtime.is_empty()
        || !create_container_hooks.is_empty();
    Ok(InitPlan {
        sync,
        join,
        wait_for_parent: user_ns,
        cgroup_join: opts.cgroup_join,
        become_ns_root: user_ns,
        unshare_cgroup: cfg
            .namespace(NamespaceKind::Cgroup)
            .is_some_and(|n| n.path.is_none()),
        unshare_time: !cfg.time_offsets.is_empty(),
        time_offsets: cfg
            .time_offsets
            .iter()
            .map(|(c, s, n)| cstr(&format!("{c} {s} {n}")))
            .collect(),
        hostname: cfg.hostname.as_deref().map(cstr),
        domainname: cfg.domainname.as_deref().map(cstr),
        rootfs: cstr(&cfg.rootfs.to_string_lossy()),
        mounts,
        default_devices: true,
        devices: device_plans(cfg),
        hooks_sync,
        create_container_hooks,
        start_container_hooks: hooks_child(&cfg.hooks.start_container),
        no_pivot: opts.no_pivot,
        rootfs_propagation: cfg.rootfs_propagation,
        readonly_root: cfg.root_readonly,
        masked: cfg.masked_paths.iter().map(|s| cstr(s)).collect(),
        readonly: cfg.readonly_paths.iter().map(|s| cstr(s)).collect(),
        sysctl: cfg
            .sysctl
            .iter()
            .map(|(k, v)| (cstr(&format!("sys/{}", k.replace('.', "/"))), cstr(v)))
            .collect(),
        oom_score_adj: p.oom_score_adj.map(|v| cstr(&v.to_string())),
        host_proc,
        preserve_fds: opts.preserve_fds,
        terminal: if p.terminal {
            opts.terminal
        } else {
            TerminalPlan::None
        },
        start: opts.start,
        process: ProcessPlan::build(p, &env, last_cap),
        state_buf: vec![0u8; 64 * 1024],
        seccomp: opts.seccomp,
        seccomp_early: opts.seccomp_early,
    })
}

/// `env` plus `HOME` from the container's `/etc/passwd` (read inside the root through
/// fds) when the config does not set it, as runc does; `/` for unknown users.
pub fn with_home(env: &[String], rootfs: &Path, uid: u32) -> Vec<String> {
    let mut env = env.to_vec();
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return env;
    }
    env.push(format!(
        "HOME={}",
        home_of(rootfs, uid).unwrap_or_else(|| "/".into())
    ));
    env
}

fn home_of(rootfs: &Path, uid: u32) -> Option<String> {
    use std::io::Read;
    let root = std::fs::File::open(rootfs).ok()?;
    use std::os::fd::AsFd;
    let fd = pelagos_sys::fs::open_in_root(root.as_fd(), c"/etc/passwd", libc::O_RDONLY).ok()?;
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    home_in_passwd(&text, uid)
}

/// The home directory of `uid` in passwd-format text.
pub fn home_in_passwd(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid) && !f[5].is_empty())
            .then(|| f[5].to_string())
    })
}

/// Open the `path` of every namespace to join, so a bad path fails before clone.
fn open_joined_namespaces(cfg: &ContainerConfig) -> Result<Vec<(OwnedFd, i32, u32)>> {
    let mut join = Vec::new();
    for (i, ns) in cfg.namespaces.iter().enumerate() {
        // A pid namespace is joined by the parent before clone (setns only moves children).
        if ns.kind == NamespaceKind::Pid {
            continue;
        }
        if let Some(p) = &ns.path {
            let fd = std::fs::File::open(p).map_err(|e| {
                ContainerError::io(
                    format!("linux.namespaces[{i}].path: open {}", p.display()),
                    e,
                )
            })?;
            join.push((OwnedFd::from(fd), ns.kind.clone_flag() as i32, i as u32));
        }
    }
    Ok(join)
}

fn device_plans(cfg: &ContainerConfig) -> Vec<DevicePlan> {
    cfg.devices
        .iter()
        .map(|d| DevicePlan {
            path: cstr(&d.path),
            mode: d.kind | d.mode,
            dev: libc::makedev(d.major as u32, d.minor as u32),
            uid: d.uid,
            gid: d.gid,
        })
        .collect()
}

pub(crate) fn open_host_proc() -> Result<OwnedFd> {
    let fd = pelagos_sys::fs::openat(None, c"/proc", libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| ContainerError::sys("open /proc", e))?;
    use std::os::fd::AsFd;
    match pelagos_sys::fs::fstatfs_type(fd.as_fd()) {
        Ok(pelagos_sys::fs::PROC_SUPER_MAGIC) => Ok(fd),
        Ok(_) => Err(ContainerError::Other(
            "/proc on the host is not procfs: refusing to use it".into(),
        )),
        Err(e) => Err(ContainerError::sys("statfs /proc", e)),
    }
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

/// The paths to try for `argv[0]`, as runc's Go `exec.LookPath` finds them: `argv[0]`
/// itself if it has a `/`, else each `$PATH` entry in order (an empty entry is the
/// working directory). Without `PATH` (or with an empty one) there is nothing to try:
/// runc does not fall back to a default search path either.
pub fn exec_candidates(arg0: &str, path: Option<&str>) -> Vec<CString> {
    if arg0.contains('/') {
        return vec![cstr(arg0)];
    }
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    path.split(':')
        .map(|d| if d.is_empty() { "." } else { d })
        .map(|d| cstr(&format!("{}/{arg0}", d.trim_end_matches('/'))))
        .collect()
}

fn hook_plan(h: &pelagos_spec::Hook) -> HookPlan {
    let mut args: Vec<CString> = h.args.iter().map(|a| cstr(a)).collect();
    if args.is_empty() {
        args.push(cstr(&h.path));
    }
    HookPlan {
        path: cstr(&h.path),
        argv: CStringArray::new(args),
        envp: CStringArray::new(h.env.iter().map(|e| cstr(e)).collect()),
        timeout_ms: h
            .timeout
            .map_or(-1, |t| t.saturating_mul(1000).min(i32::MAX as u32) as i32),
    }
}

fn mount_plan(
    m: &pelagos_spec::MountSpec,
    cgroup: Option<&[(String, String)]>,
) -> Result<MountPlan> {
    let (op, file_target) = match &m.kind {
        MountKind::Bind { recursive } => {
            let src = m.source.clone().unwrap_or_default();
            let is_dir = std::fs::metadata(&src)
                .map_err(|e| {
                    ContainerError::io(format!("bind mount source {src} for {}", m.destination), e)
                })?
                .is_dir();
            (
                MountOp::Bind {
                    source: cstr(&src),
                    recursive: *recursive,
                },
                !is_dir,
            )
        }
        MountKind::Fs { fstype } => {
            let mut options: Vec<(CString, Option<CString>)> = m
                .data
                .iter()
                .map(|o| (cstr(&o.key), o.value.as_deref().map(cstr)))
                .collect();
            if m.attr_set & pelagos_sys::mount::attr::RDONLY != 0 {
                // As mount(2) with MS_RDONLY: the superblock is read-only too.
                options.push((cstr("ro"), None));
            }
            let source = m.source.as_deref().filter(|s| !s.is_empty()).map(cstr);
            (
                MountOp::Fs {
                    fstype: cstr(fstype),
                    source,
                    options,
                },
                false,
            )
        }
        MountKind::Cgroup => (
            MountOp::Cgroup {
                binds: match cgroup {
                    Some(b) => b.iter().map(|(h, n)| (cstr(h), cstr(n))).collect(),
                    None => cgroup_binds(Path::new("/proc/self")),
                },
            },
            false,
        ),
    };
    Ok(MountPlan {
        dest: cstr(&m.destination),
        file_target,
        op,
        attr_set: m.attr_set,
        attr_clear: m.attr_clear,
        attr_recursive: m.attr_recursive,
        propagation: m.propagation,
    })
}

/// The host cgroup directories of this process, one per mounted hierarchy, with the name
/// each gets below the container's cgroup mount point.
fn cgroup_binds(proc_self: &Path) -> Vec<(CString, CString)> {
    let mountinfo = std::fs::read_to_string(proc_self.join("mountinfo")).unwrap_or_default();
    let cgroups = std::fs::read_to_string(proc_self.join("cgroup")).unwrap_or_default();
    cgroup_binds_from(&mountinfo, &cgroups)
        .into_iter()
        .map(|(h, n)| (cstr(&h), cstr(&n)))
        .collect()
}

/// Pure part of [`cgroup_binds`], testable with fixture text. On a hybrid host the
/// cgroup2 mount is left out, as runc leaves it out.
pub fn cgroup_binds_from(mountinfo: &str, cgroups: &str) -> Vec<(String, String)> {
    let hybrid = mountinfo.lines().any(|l| l.contains(" - cgroup "));
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (root, mount_point, fstype, super_opts) = (pre[3], pre[4], post[0], post[2]);
        let own = match fstype {
            "cgroup2" if hybrid => None,
            "cgroup2" => cgroups.lines().find_map(|l| l.strip_prefix("0::")),
            "cgroup" => {
                let ctrls: Vec<&str> = super_opts
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
                    .collect();
                cgroups.lines().find_map(|l| {
                    let mut parts = l.splitn(3, ':');
                    let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
                    let names: Vec<&str> = list.split(',').collect();
                    let matches = ctrls.iter().all(|c| {
                        names.contains(c) || names.contains(&c.trim_start_matches("name="))
                    }) && names.iter().all(|n| ctrls.contains(n));
                    matches.then_some(path)
                })
            }
            _ => None,
        };
        let Some(own) = own else { continue };
        let rel = own
            .strip_prefix(root)
            .unwrap_or(own)
            .trim_start_matches('/');
        let host = if rel.is_empty() {
            mount_point.to_string()
        } else {
            format!("{mount_point}/{rel}")
        };
        let name = mount_point.rsplit('/').next().unwrap_or("").to_string();
        let name = if mount_point == "/sys/fs/cgroup" {
            String::new()
        } else {
            name
        };
        out.push((host, name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_lookup() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nbad line\nu:x:1000:1000::/home/u:/bin/sh\n";
        assert_eq!(home_in_passwd(pw, 0).as_deref(), Some("/root"));
        assert_eq!(home_in_passwd(pw, 1000).as_deref(), Some("/home/u"));
        assert_eq!(home_in_passwd(pw, 5), None);
        let env = with_home(&["HOME=/x".into()], Path::new("/nonexistent"), 0);
        assert_eq!(env, vec!["HOME=/x".to_string()]);
        assert_eq!(
            with_home(&[], Path::new("/nonexistent"), 0),
            vec!["HOME=/".to_string()]
        );
    }

    #[test]
    fn path_search() {
        let c = exec_candidates("sh", Some("/usr/bin:/bin/"));
        assert_eq!(c, vec![cstr("/usr/bin/sh"), cstr("/bin/sh")]);
        assert_eq!(exec_candidates("/x/y", None), vec![cstr("/x/y")]);
        assert_eq!(exec_candidates("./y", None), vec![cstr("./y")]);
        assert!(exec_candidates("sh", None).is_empty(), "no PATH: no search");
        assert!(exec_candidates("sh", Some("")).is_empty());
        assert_eq!(
            exec_candidates("sh", Some(":/bin")),
            vec![cstr("./sh"), cstr("/bin/sh")]
        );
    }

    #[test]
    fn cgroup_hybrid_and_v2() {
        let mi = "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
                  31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                  32 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
        let cg = "5:memory:/a/b\n1:name=systemd:/\n0::/u\n";
        let b = cgroup_binds_from(mi, cg);
        assert_eq!(
            b,
            vec![
                (
                    "/sys/fs/cgroup/memory/a/b".to_string(),
                    "memory".to_string()
                ),
                ("/sys/fs/cgroup/systemd".to_string(), "systemd".to_string()),
            ]
        );
        let v2 = cgroup_binds_from(
            "40 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            "0::/x\n",
        );
        assert_eq!(v2, vec![("/sys/fs/cgroup/x".to_string(), String::new())]);
    }
}
