//! The container's cgroup: made at create (resources applied, the init placed before it
//! runs user code), used by pause/resume/update/events/ps/kill --all, removed at delete.

use super::Container;
use crate::error::{ContainerError, Result};
use crate::spawn::Placement;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use pelagos_cgroups::{Cgroup, CgroupManager, CgroupRoot, Stats};
use pelagos_spec::{ContainerConfig, Status};
use std::path::Path;

/// Detect the host layout, make the container's cgroup and apply `linux.resources`.
pub(crate) fn setup(
    cfg: &ContainerConfig,
    id: &str,
    cgroup_root: &Path,
    warn: &dyn Fn(&str),
) -> Result<Cgroup> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| ContainerError::io("read /proc/self/mountinfo", e))?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| ContainerError::io("read /proc/self/cgroup", e))?;
    let root = CgroupRoot::detect(cgroup_root, &mountinfo)?.with_own_cgroup(&own)?;
    let cg = root.manager(cfg.cgroups_path.as_deref(), id)?;
    cg.create()?;
    if let Some(res) = &cfg.resources {
        let res = with_implicit_devices(res, &implicit_device_rules(cfg));
        match cg.apply(&res) {
            Ok(warnings) => warnings.iter().for_each(|w| warn(&w.to_string())),
            Err(e) => {
                let _ = cg.destroy();
                return Err(e.into());
            }
        }
    }
    Ok(cg)
}

/// The allow rules every container gets after its own device rules, as runc adds them:
/// mknod of any device, null, zero, full, random, urandom, tty, console, ptmx, the pts,
/// and each `linux.devices` entry.
pub(crate) fn implicit_device_rules(cfg: &ContainerConfig) -> Vec<LinuxDeviceCgroup> {
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true)
            .set_typ(Some(typ))
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.to_string()));
        r
    };
    let mut all = vec![
        rule(LinuxDeviceType::C, None, None, "m"),
        rule(LinuxDeviceType::B, None, None, "m"),
    ];
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        all.push(rule(LinuxDeviceType::C, Some(major), Some(minor), "rwm"));
    }
    all.push(rule(LinuxDeviceType::C, Some(136), None, "rwm"));
    for d in &cfg.devices {
        let t = match d.kind {
            libc::S_IFBLK => LinuxDeviceType::B,
            libc::S_IFIFO => continue,
            _ => LinuxDeviceType::C,
        };
        all.push(rule(t, Some(d.major as i64), Some(d.minor as i64), "rwm"));
    }
    all
}

/// `res` with the implicit allow rules after its device rules (when it has any).
fn with_implicit_devices(res: &LinuxResources, implicit: &[LinuxDeviceCgroup]) -> LinuxResources {
    let mut out = res.clone();
    if let Some(rules) = res.devices() {
        out.set_devices(Some(rules.iter().chain(implicit).cloned().collect()));
    }
    out
}

/// What the container's `/sys/fs/cgroup` shows: its own cgroup dirs, each named after its
/// hierarchy below `cgroup_root` (one unnamed bind on a pure v2 host). On a hybrid host
/// only the v1 hierarchies, as runc shows them: the cgroup2 `unified` dir stays hidden.
pub(crate) fn binds(cg: &Cgroup, cgroup_root: &Path) -> Vec<(String, String)> {
    let v1 = match cg {
        Cgroup::V2(m) => return vec![(m.dir.display().to_string(), String::new())],
        Cgroup::V1(m) => &m.dirs,
    };
    v1.iter()
        .filter_map(|d| {
            let name = d
                .dir
                .strip_prefix(cgroup_root)
                .ok()?
                .components()
                .next()?
                .as_os_str()
                .to_str()?
                .to_string();
            Some((d.dir.display().to_string(), name))
        })
        .collect()
}

/// How the spawn puts the init into `cg`: cloned straight into its cgroup2 directory (v2,
/// and the cgroup2 part of a hybrid host), joining each v1 hierarchy itself as its first
/// step (see [`CgroupManager::self_join_fds`]).
pub(crate) fn placement(cg: &Cgroup) -> Result<Placement> {
    Ok(Placement {
        clone_into: cg.clone_into_fd()?,
        join: cg.self_join_fds()?,
    })
}

impl Container {
    fn cgroup(&self) -> Result<&Cgroup> {
        self.state
            .cgroup
            .as_ref()
            .ok_or_else(|| ContainerError::Other(format!("container {:?} has no cgroup", self.id)))
    }

    /// Freeze every process of the container.
    pub fn pause(&mut self) -> Result<()> {
        match self.status() {
            Status::Running => {}
            Status::Paused => return Err(self.bad_state("container is already paused")),
            _ => return Err(self.bad_state("cannot pause a container that is not running")),
        }
        self.cgroup()?.freeze()?;
        Ok(())
    }

    /// Thaw a paused container.
    pub fn resume(&mut self) -> Result<()> {
        if self.status() != Status::Paused {
            return Err(self.bad_state("container is not paused"));
        }
        self.cgroup()?.thaw()?;
        Ok(())
    }

    /// Apply new resource limits; returns the warnings of fields not enforced here. New
    /// device rules replace the old ones (on v2 the eBPF program is swapped), followed by
    /// the implicit ones as at create.
    pub fn update(&self, res: &LinuxResources) -> Result<Vec<String>> {
        if self.status() == Status::Stopped {
            return Err(self.bad_state("cannot update a stopped container"));
        }
        let res = with_implicit_devices(res, &self.state.implicit_devices);
        Ok(self
            .cgroup()?
            .apply(&res)?
            .iter()
            .map(|w| w.to_string())
            .collect())
    }

    /// Resource statistics.
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.cgroup()?.stats()?)
    }

    /// How many processes the OOM killer has killed in the container.
    pub fn oom_kills(&self) -> Result<u64> {
        Ok(self.cgroup()?.oom_kill_count()?)
    }

    /// Pids in the container's cgroup (empty when it has none).
    pub fn cgroup_pids(&self) -> Vec<i32> {
        self.state
            .cgroup
            .as_ref()
            .and_then(|c| c.pids().ok())
            .unwrap_or_default()
    }
}
