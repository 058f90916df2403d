//! The `CgroupManager` trait, the `Cgroup` dispatch enum, and how a manager is built from a
//! detected [`CgroupRoot`] and a `cgroupsPath`.

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::detect::{CgroupRoot, Layout};
use crate::error::Result;
use crate::oom::OomWatch;
use crate::path::{self, CgroupPath, DEFAULT_PARENT};
use crate::stats::Stats;
use crate::v1::{V1Dir, V1Manager};
use crate::v2::V2Manager;

/// A resource that was accepted but could not be enforced as asked on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The OCI field, e.g. `memory.swappiness`.
    pub field: String,
    /// What happened and why.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux.resources.{}: {}", self.field, self.message)
    }
}

/// What a runtime does with a container's cgroup, for either cgroup version.
pub trait CgroupManager {
    /// Creates the cgroup directories (and, on v2, enables controllers on the ancestors).
    fn create(&self) -> Result<()>;
    /// Writes every set field of `resources`; used for `create` and `update`. Fields that
    /// this host cannot enforce but that are safe to skip come back as warnings.
    fn apply(&self, resources: &LinuxResources) -> Result<Vec<Warning>>;
    /// Moves process `pid` into the cgroup (every hierarchy on v1).
    fn add_pid(&self, pid: i32) -> Result<()>;
    /// An fd of the cgroup2 directory for `clone3(CLONE_INTO_CGROUP)`: the cgroup on v2,
    /// the cgroup2 directory of a hybrid host on v1, `None` on a pure v1 host.
    fn clone_into_fd(&self) -> Result<Option<OwnedFd>>;
    /// Files a new single-threaded process writes `"0"` into to join the cgroup itself
    /// (the v1 `tasks` files; empty on v2, which clones straight into the cgroup).
    /// Moving only the calling thread skips the kernel's global threadgroup lock, whose
    /// write side (taken for a pid written to `cgroup.procs`) waits an RCU grace period.
    /// The files are opened here, by the runtime: the kernel checks the opener's
    /// credentials, so a process already in a new user namespace can still use them.
    fn self_join_fds(&self) -> Result<Vec<OwnedFd>>;
    /// Freezes every process and waits until the kernel reports the group frozen.
    fn freeze(&self) -> Result<()>;
    /// Thaws the group and waits until it runs again.
    fn thaw(&self) -> Result<()>;
    /// Whether the group is frozen (paused).
    fn is_frozen(&self) -> Result<bool>;
    /// The processes in the cgroup and its descendants.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Signals every process; with `SIGKILL` waits until the cgroup is empty.
    fn kill_all(&self, signal: i32) -> Result<()>;
    /// Resource statistics.
    fn stats(&self) -> Result<Stats>;
    /// How many processes the OOM killer killed in this cgroup so far.
    fn oom_kill_count(&self) -> Result<u64>;
    /// A waitable source of OOM events; `None` without a memory controller.
    fn oom_watch(&self) -> Result<Option<OomWatch>>;
    /// Removes the cgroup directories, leaf first; the error lists what could not go.
    fn destroy(&self) -> Result<()>;
    /// The cgroup directories this manager owns.
    fn dirs(&self) -> Vec<PathBuf>;
}

/// A container's cgroup on either version; serializable so that a later process (`delete`,
/// `pause`, `events`) can rebuild it from saved state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version", rename_all = "lowercase")]
pub enum Cgroup {
    /// cgroup v1 (also hybrid hosts).
    V1(V1Manager),
    /// cgroup v2.
    V2(V2Manager),
}

impl CgroupRoot {
    /// The manager for `cgroups_path` (OCI `linux.cgroupsPath`) of container `id`.
    ///
    /// Relative paths go under the caller's own cgroup when it was recorded with
    /// [`CgroupRoot::with_own_cgroup`], else under `/pelagos`.
    pub fn manager(&self, cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let p = path::resolve(cgroups_path, id)?;
        let place = |key: &str, mount_root: &str| -> String {
            let rel = match &p {
                CgroupPath::Absolute(a) => return strip_mount_root(a, mount_root),
                CgroupPath::Relative(r) => r,
            };
            let base = self
                .own
                .as_ref()
                .and_then(|o| o.get(key))
                .map(|b| strip_mount_root(b, mount_root))
                .unwrap_or_else(|| format!("/{DEFAULT_PARENT}"));
            path::join_under(&base, rel)
        };
        Ok(match &self.layout {
            Layout::V2 { mount } => Cgroup::V2(V2Manager::new(mount.clone(), &place("", "/"))),
            Layout::V1 {
                hierarchies,
                unified,
            } => {
                let dirs = hierarchies
                    .iter()
                    .map(|h| V1Dir {
                        controllers: h.controllers.clone(),
                        mount: h.mount.clone(),
                        dir: under(&h.mount, &place(&h.controllers[0], &h.mount_root)),
                    })
                    .collect();
                let unified = unified
                    .as_ref()
                    .map(|m| V2Manager::new(m.clone(), &place("", "/")));
                Cgroup::V1(V1Manager::new(dirs, unified))
            }
        })
    }
}

/// A cgroup path as seen below a mount whose root is `mount_root` (cgroup namespaces and
/// bind mounts show only part of the hierarchy).
fn strip_mount_root(p: &str, mount_root: &str) -> String {
    if mount_root == "/" {
        return p.to_owned();
    }
    match p.strip_prefix(mount_root) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("/{}", rest.trim_start_matches('/'))
        }
        _ => p.to_owned(),
    }
}

/// `mount` joined with a cgroup path that starts with `/`.
pub(crate) fn under(mount: &Path, cg: &str) -> PathBuf {
    let rel = cg.trim_start_matches('/');
    if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    }
}

impl Cgroup {
    /// The cgroup version this manager drives.
    pub fn version(&self) -> crate::detect::CgroupVersion {
        match self {
            Cgroup::V1(_) => crate::detect::CgroupVersion::V1,
            Cgroup::V2(_) => crate::detect::CgroupVersion::V2,
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            Cgroup::V1($m) => $e,
            Cgroup::V2($m) => $e,
        }
    };
}

impl CgroupManager for Cgroup {
    fn create(&self) -> Result<()> {
        dispatch!(self, m => m.create())
    }
    fn apply(&self, r: &LinuxResources) -> Result<Vec<Warning>> {
        dispatch!(self, m => m.apply(r))
    }
    fn add_pid(&self, pid: i32) -> Result<()> {
        dispatch!(self, m => m.add_pid(pid))
    }
    fn clone_into_fd(&self) -> Result<Option<OwnedFd>> {
        dispatch!(self, m => m.clone_into_fd())
    }
    fn self_join_fds(&self) -> Result<Vec<OwnedFd>> {
        dispatch!(self, m => m.self_join_fds())
    }
    fn freeze(&self) -> Result<()> {
        dispatch!(self, m => m.freeze())
    }
    fn thaw(&self) -> Result<()> {
        dispatch!(self, m => m.thaw())
    }
    fn is_frozen(&self) -> Result<bool> {
        dispatch!(self, m => m.is_frozen())
    }
    fn pids(&self) -> Result<Vec<i32>> {
        dispatch!(self, m => m.pids())
    }
    fn kill_all(&self, signal: i32) -> Result<()> {
        dispatch!(self, m => m.kill_all(signal))
    }
    fn stats(&self) -> Result<Stats> {
        dispatch!(self, m => m.stats())
    }
    fn oom_kill_count(&self) -> Result<u64> {
        dispatch!(self, m => m.oom_kill_count())
    }
    fn oom_watch(&self) -> Result<Option<OomWatch>> {
        dispatch!(self, m => m.oom_watch())
    }
    fn destroy(&self) -> Result<()> {
        dispatch!(self, m => m.destroy())
    }
    fn dirs(&self) -> Vec<PathBuf> {
        dispatch!(self, m => m.dirs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{hybrid_mountinfo, v2_mountinfo};

    #[test]
    fn v2_manager_paths() {
        let r = CgroupRoot::detect("/cg", &v2_mountinfo("/cg")).unwrap();
        let m = r.manager(None, "abc").unwrap();
        assert_eq!(m.dirs(), [PathBuf::from("/cg/pelagos/abc")]);
        let m = r.manager(Some("rel/x"), "abc").unwrap();
        assert_eq!(m.dirs(), [PathBuf::from("/cg/pelagos/rel/x")]);
        let r = r.with_own_cgroup("0::/user.slice/me\n").unwrap();
        let m = r.manager(Some("rel"), "abc").unwrap();
        assert_eq!(m.dirs(), [PathBuf::from("/cg/user.slice/me/rel")]);
    }

    #[test]
    fn v1_manager_paths_per_hierarchy_and_roundtrip() {
        let r = CgroupRoot::detect("/cg", &hybrid_mountinfo("/cg"))
            .unwrap()
            .with_own_cgroup("4:memory:/api/x\n1:cpu:/\n0::/\n")
            .unwrap();
        let m = r.manager(Some("c1"), "id").unwrap();
        let dirs = m.dirs();
        assert!(
            dirs.contains(&PathBuf::from("/cg/memory/api/x/c1")),
            "{dirs:?}"
        );
        assert!(dirs.contains(&PathBuf::from("/cg/cpu/c1")));
        assert!(
            dirs.contains(&PathBuf::from("/cg/pids/pelagos/c1")),
            "{dirs:?}"
        );
        assert!(dirs.contains(&PathBuf::from("/cg/unified/c1")));
        let json = serde_json::to_string(&m).unwrap();
        let back: Cgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn mount_root_is_stripped() {
        assert_eq!(strip_mount_root("/docker/abc/x", "/docker/abc"), "/x");
        assert_eq!(
            strip_mount_root("/docker/abcd", "/docker/abc"),
            "/docker/abcd"
        );
        assert_eq!(strip_mount_root("/a", "/"), "/a");
    }
}
