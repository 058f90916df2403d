//! The cgroup v1 manager: one directory per mounted hierarchy, plus the cgroup2 directory
//! on hybrid hosts (for hugetlb there, and for `cgroup.kill`).

mod apply;
mod stats;

use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::common::{self, FREEZE_TIMEOUT};
use crate::error::{CgroupError, Result};
use crate::fsio;
use crate::oom::OomWatch;
use crate::v2::V2Manager;

/// The container's directory in one v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Dir {
    /// Controllers (or `name=...`) of the hierarchy.
    pub controllers: Vec<String>,
    /// The hierarchy's mount point.
    pub mount: PathBuf,
    /// The container's cgroup directory below it.
    pub dir: PathBuf,
}

/// A container cgroup on a v1 (or hybrid) host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Manager {
    /// One entry per mounted hierarchy.
    pub dirs: Vec<V1Dir>,
    /// The directory in the cgroup2 mount of a hybrid host.
    pub unified: Option<V2Manager>,
}

impl V1Manager {
    /// A manager over the given per-hierarchy directories.
    pub fn new(dirs: Vec<V1Dir>, unified: Option<V2Manager>) -> V1Manager {
        V1Manager { dirs, unified }
    }

    /// The container's directory in the hierarchy of `controller`.
    pub fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| d.dir.as_path())
    }

    /// Like [`dir_of`](Self::dir_of) but an error naming the OCI field when missing.
    pub(crate) fn need(&self, controller: &str, field: &str) -> Result<&Path> {
        self.dir_of(controller).ok_or_else(|| CgroupError::Unsupported {
            what: format!("linux.resources.{field}"),
            reason: format!("the {controller} controller is not mounted on this cgroup v1 host: mount it or drop the field"),
        })
    }

    /// Creates the directory in every hierarchy. A new cpuset cgroup starts with empty
    /// `cpuset.cpus`/`cpuset.mems`, which would refuse every process, so they are copied
    /// from the parent at each level that is still empty.
    pub fn create(&self) -> Result<()> {
        for d in &self.dirs {
            common::create_dir(&d.dir)?;
            if d.controllers.iter().any(|c| c == "cpuset") {
                inherit_cpuset(&d.mount, &d.dir)?;
            }
        }
        if let Some(u) = &self.unified {
            // The cgroup2 directory of a hybrid host is an extra (cgroup.kill, hugetlb);
            // a read-only or foreign-owned cgroup2 mount must not stop a v1 container.
            if let Err(e) = u.create_dir_only() {
                let optional = matches!(&e, CgroupError::Create { error, .. }
                    if matches!(error.raw_os_error(), Some(libc::EROFS | libc::EACCES | libc::EPERM)));
                if !optional {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Writes `pid` to `cgroup.procs` in every hierarchy (and the hybrid cgroup2 dir).
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for d in &self.dirs {
            fsio::write(&d.dir, "cgroup.procs", &pid.to_string())?;
        }
        if let Some(u) = self.unified.as_ref().filter(|u| u.dir.is_dir()) {
            u.add_pid(pid)?;
        }
        Ok(())
    }

    /// v1 has no `CLONE_INTO_CGROUP`; a hybrid host's cgroup2 directory has.
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>> {
        match self.unified.as_ref().filter(|u| u.dir.is_dir()) {
            Some(u) => u.clone_into_fd(),
            None => Ok(None),
        }
    }

    /// The `tasks` file of every hierarchy, opened for writing.
    pub fn self_join_fds(&self) -> Result<Vec<OwnedFd>> {
        self.dirs
            .iter()
            .map(|d| {
                let file = d.dir.join("tasks");
                OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&file)
                    .map(OwnedFd::from)
                    .map_err(|error| CgroupError::Write {
                        file,
                        value: "0".into(),
                        error,
                        hint: "cannot open it for the container's init to join the cgroup".into(),
                    })
            })
            .collect()
    }

    fn freezer(&self) -> Result<&Path> {
        self.dir_of("freezer")
            .ok_or_else(|| CgroupError::Unsupported {
                what: "pause/resume".into(),
                reason: "the freezer controller is not mounted on this cgroup v1 host".into(),
            })
    }

    /// `freezer.state` FROZEN, repeated until the kernel reports FROZEN (not FREEZING).
    pub fn freeze(&self) -> Result<()> {
        self.set_state("FROZEN")
    }

    /// `freezer.state` THAWED, waiting until it reads back THAWED.
    pub fn thaw(&self) -> Result<()> {
        self.set_state("THAWED")
    }

    fn set_state(&self, want: &'static str) -> Result<()> {
        let dir = self.freezer()?;
        let settled = common::poll_until(FREEZE_TIMEOUT, || {
            // Re-writing catches tasks that forked while the group was FREEZING.
            fsio::write(dir, "freezer.state", want)?;
            Ok(fsio::read(dir, "freezer.state")?.trim() == want)
        })?;
        if settled {
            return Ok(());
        }
        if want == "FROZEN" {
            let _ = fsio::write(dir, "freezer.state", "THAWED");
        }
        Err(CgroupError::Timeout {
            what: if want == "FROZEN" { "freeze" } else { "thaw" },
            dir: dir.to_path_buf(),
            millis: FREEZE_TIMEOUT.as_millis() as u64,
            detail: format!(
                "freezer.state={}",
                fsio::read(dir, "freezer.state").unwrap_or_default().trim()
            ),
        })
    }

    /// Whether `freezer.state` reads FROZEN.
    pub fn is_frozen(&self) -> Result<bool> {
        Ok(fsio::read(self.freezer()?, "freezer.state")?.trim() == "FROZEN")
    }

    /// The hierarchy whose `cgroup.procs` is read for the process list.
    fn procs_dir(&self) -> Result<&Path> {
        ["pids", "freezer", "memory", "devices"]
            .iter()
            .find_map(|c| self.dir_of(c))
            .or_else(|| self.dirs.first().map(|d| d.dir.as_path()))
            .ok_or_else(|| CgroupError::Unsupported {
                what: "list processes".into(),
                reason: "no cgroup v1 hierarchy is mounted".into(),
            })
    }

    /// Pids in the cgroup and below.
    pub fn pids(&self) -> Result<Vec<i32>> {
        common::pids_recursive(self.procs_dir()?)
    }

    /// Signals every process. SIGKILL uses the hybrid `cgroup.kill` when present, then
    /// (or otherwise) freezes, signals and thaws until the group is empty.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if signal != libc::SIGKILL {
            return common::signal_pids(&self.pids()?, signal);
        }
        if let Some(u) = self
            .unified
            .as_ref()
            .filter(|u| fsio::exists(&u.dir, "cgroup.kill"))
        {
            u.kill_all(signal)?;
        }
        // Without a freezer `freeze` fails and the loop runs unfrozen.
        common::kill_until_empty(self.procs_dir()?, signal, &|| self.freeze(), &|| {
            self.thaw()
        })
    }

    /// `oom_kill` from `memory.oom_control` (kernel 4.13+; 0 without the memory controller).
    pub fn oom_kill_count(&self) -> Result<u64> {
        let Some(d) = self.dir_of("memory") else {
            return Ok(0);
        };
        Ok(fsio::read_opt(d, "memory.oom_control")?
            .and_then(|t| fsio::keyed(&t, "oom_kill"))
            .unwrap_or(0))
    }

    /// An eventfd registered for `memory.oom_control`; `None` without the memory controller.
    pub fn oom_watch(&self) -> Result<Option<OomWatch>> {
        self.dir_of("memory").map(OomWatch::v1).transpose()
    }

    /// Whether the group is now stopped at its memory limit with the OOM killer disabled.
    pub fn under_oom(&self) -> Result<bool> {
        let Some(d) = self.dir_of("memory") else {
            return Ok(false);
        };
        Ok(
            fsio::read_opt(d, "memory.oom_control")?.and_then(|t| fsio::keyed(&t, "under_oom"))
                == Some(1),
        )
    }

    /// Removes the directory tree in every hierarchy; lists every directory left behind.
    pub fn destroy(&self) -> Result<()> {
        let mut failed = Vec::new();
        for d in &self.dirs {
            failed.extend(common::remove_tree(&d.dir));
        }
        if let Some(u) = &self.unified {
            failed.extend(common::remove_tree(&u.dir));
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(CgroupError::Remove { failed })
        }
    }

    /// Every directory this manager owns.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.dirs.iter().map(|d| d.dir.clone()).collect();
        v.extend(self.unified.iter().map(|u| u.dir.clone()));
        v
    }
}

/// Copies `cpuset.cpus` and `cpuset.mems` from parent to child at each level from the
/// mount down to `dir` where the child's value is empty.
fn inherit_cpuset(mount: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mount) else {
        return Ok(());
    };
    let mut parent = mount.to_path_buf();
    for comp in rel.components() {
        let child = parent.join(comp);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let Some(cur) = fsio::read_opt(&child, f)? else {
                continue;
            };
            if cur.trim().is_empty() {
                if let Some(p) = fsio::read_opt(&parent, f)? {
                    fsio::write(&child, f, p.trim())?;
                }
            }
        }
        parent = child;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::tests::hybrid_mountinfo;
    use crate::detect::CgroupRoot;
    use crate::manager::Cgroup;

    /// A tempdir laid out like this host's v1 hierarchies with container dir `/pelagos/c1`,
    /// each holding the files the kernel shows for its controller.
    pub(crate) fn fixture() -> (tempfile::TempDir, V1Manager) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_str().unwrap().to_owned();
        let r = CgroupRoot::detect(&root, &hybrid_mountinfo(&root)).unwrap();
        let Cgroup::V1(m) = r.manager(None, "c1").unwrap() else {
            panic!("v1 expected")
        };
        let files: &[(&str, &[&str])] = &[
            (
                "memory",
                &[
                    "memory.limit_in_bytes",
                    "memory.memsw.limit_in_bytes",
                    "memory.soft_limit_in_bytes",
                    "memory.swappiness",
                    "memory.oom_control",
                    "memory.kmem.limit_in_bytes",
                    "memory.usage_in_bytes",
                ],
            ),
            (
                "cpu",
                &[
                    "cpu.shares",
                    "cpu.cfs_period_us",
                    "cpu.cfs_quota_us",
                    "cpu.rt_period_us",
                    "cpu.rt_runtime_us",
                    "cpu.idle",
                ],
            ),
            ("cpuset", &["cpuset.cpus", "cpuset.mems"]),
            ("pids", &["pids.max"]),
            (
                "blkio",
                &[
                    "blkio.weight",
                    "blkio.weight_device",
                    "blkio.throttle.read_bps_device",
                    "blkio.throttle.write_iops_device",
                ],
            ),
            ("devices", &["devices.allow", "devices.deny"]),
            ("freezer", &["freezer.state"]),
        ];
        for d in &m.dirs {
            std::fs::create_dir_all(&d.dir).unwrap();
            std::fs::write(d.dir.join("cgroup.procs"), "").unwrap();
            for (ctrl, fs) in files {
                if d.controllers.iter().any(|c| c == ctrl) {
                    for f in *fs {
                        std::fs::write(d.dir.join(f), "").unwrap();
                    }
                }
            }
        }
        std::fs::write(
            m.dir_of("memory").unwrap().join("memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        let u = m.unified.as_ref().unwrap();
        std::fs::create_dir_all(&u.dir).unwrap();
        std::fs::write(u.dir.join("cgroup.procs"), "").unwrap();
        (t, m)
    }

    pub(crate) fn read(m: &V1Manager, ctrl: &str, f: &str) -> String {
        std::fs::read_to_string(m.dir_of(ctrl).unwrap().join(f)).unwrap()
    }

    #[test]
    fn create_copies_cpuset_from_parent() {
        let t = tempfile::tempdir().unwrap();
        let mount = t.path().join("cpuset");
        std::fs::create_dir_all(mount.join("pelagos/c1")).unwrap();
        std::fs::write(mount.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(mount.join("cpuset.mems"), "0\n").unwrap();
        for f in [
            "pelagos/cpuset.cpus",
            "pelagos/cpuset.mems",
            "pelagos/c1/cpuset.cpus",
            "pelagos/c1/cpuset.mems",
        ] {
            std::fs::write(mount.join(f), "\n").unwrap();
        }
        let m = V1Manager::new(
            vec![V1Dir {
                controllers: vec!["cpuset".into()],
                mount: mount.clone(),
                dir: mount.join("pelagos/c1"),
            }],
            None,
        );
        m.create().unwrap();
        assert_eq!(
            std::fs::read_to_string(mount.join("pelagos/c1/cpuset.cpus")).unwrap(),
            "0-1"
        );
        assert_eq!(
            std::fs::read_to_string(mount.join("pelagos/cpuset.mems")).unwrap(),
            "0"
        );
    }

    #[test]
    fn place_freeze_oom() {
        let (_t, m) = fixture();
        m.add_pid(77).unwrap();
        for d in m.dirs() {
            assert_eq!(
                std::fs::read_to_string(d.join("cgroup.procs")).unwrap(),
                "77",
                "{d:?}"
            );
        }
        // A hybrid host's cgroup2 directory is cloned into; v1 hierarchies are joined by
        // the process itself through their `tasks` files.
        assert_eq!(m.clone_into_fd().unwrap().is_some(), m.unified.is_some());
        for d in &m.dirs {
            std::fs::write(d.dir.join("tasks"), "").unwrap();
        }
        assert_eq!(m.self_join_fds().unwrap().len(), m.dirs.len());
        m.freeze().unwrap();
        assert!(m.is_frozen().unwrap());
        m.thaw().unwrap();
        assert_eq!(read(&m, "freezer", "freezer.state"), "THAWED");
        assert_eq!(m.oom_kill_count().unwrap(), 0);
        std::fs::write(
            m.dir_of("memory").unwrap().join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n",
        )
        .unwrap();
        assert_eq!(m.oom_kill_count().unwrap(), 4);
        assert!(!m.under_oom().unwrap());
        assert_eq!(m.pids().unwrap(), [77]);
    }

    #[test]
    fn destroy_lists_what_stays() {
        let (_t, m) = fixture();
        let e = m.destroy().unwrap_err().to_string();
        assert!(
            e.contains("memory/pelagos/c1") && e.contains("pids/pelagos/c1"),
            "{e}"
        );
    }
}
