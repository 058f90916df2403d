//! The cgroup v2 manager: one directory in the unified hierarchy. Also used for the
//! cgroup2 mount of a hybrid host by the v1 manager.

mod apply;
mod devices;
mod stats;

pub use devices::attached_device_programs;

pub(crate) use apply::rdma_line as apply_rdma_line;

use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::common::{self, FREEZE_TIMEOUT, KILL_TIMEOUT};
use crate::error::{CgroupError, Result};
use crate::fsio;
use crate::manager::under;
use crate::oom::OomWatch;

/// A cgroup v2 directory below a cgroup2 mount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V2Manager {
    /// The cgroup2 mount point.
    pub mount: PathBuf,
    /// The container's cgroup directory (below `mount`).
    pub dir: PathBuf,
}

impl V2Manager {
    /// A manager for cgroup path `cg` (starting with `/`) below `mount`.
    pub fn new(mount: PathBuf, cg: &str) -> V2Manager {
        let dir = under(&mount, cg);
        V2Manager { mount, dir }
    }

    /// Creates the directory and enables every available controller on its ancestors, so
    /// that the controllers' files appear in it.
    pub fn create(&self) -> Result<()> {
        common::create_dir(&self.dir)?;
        let available = fsio::read_opt(&self.mount, "cgroup.controllers")?.unwrap_or_default();
        let wanted: Vec<&str> = available.split_whitespace().collect();
        self.enable_controllers(&wanted)
    }

    /// Creates the directory without touching controllers (hybrid hosts).
    pub(crate) fn create_dir_only(&self) -> Result<()> {
        common::create_dir(&self.dir)
    }

    /// Enables `controllers` in `cgroup.subtree_control` of every ancestor of the directory,
    /// from the mount down. All at once first; if the kernel refuses one, each on its own,
    /// so that one unavailable controller (e.g. `cpu` with realtime tasks present) does not
    /// cost the others. A missing controller shows up later as a missing file.
    pub(crate) fn enable_controllers(&self, controllers: &[&str]) -> Result<()> {
        let Ok(rel) = self.dir.strip_prefix(&self.mount) else {
            return Ok(());
        };
        let mut level = self.mount.clone();
        for comp in rel.components() {
            let current = fsio::read_opt(&level, "cgroup.subtree_control")?.unwrap_or_default();
            let missing: Vec<&str> = controllers
                .iter()
                .copied()
                .filter(|c| !current.split_whitespace().any(|x| x == *c))
                .collect();
            if !missing.is_empty() {
                let all: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
                if fsio::write(&level, "cgroup.subtree_control", &all.join(" ")).is_err() {
                    for c in &all {
                        // Best effort per controller; see the doc comment.
                        let _ = fsio::write(&level, "cgroup.subtree_control", c);
                    }
                }
            }
            level.push(comp);
        }
        Ok(())
    }

    /// Writes `pid` to `cgroup.procs`.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        fsio::write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    /// Nothing: a v2 process is cloned straight into its cgroup.
    pub fn self_join_fds(&self) -> Result<Vec<OwnedFd>> {
        Ok(Vec::new())
    }

    /// An `O_DIRECTORY` fd of the cgroup for `clone3(CLONE_INTO_CGROUP)`.
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&self.dir)
            .map(|f| Some(OwnedFd::from(f)))
            .map_err(|error| CgroupError::Read {
                file: self.dir.clone(),
                error,
            })
    }

    /// Writes `cgroup.freeze` and waits for `frozen 1` in `cgroup.events`.
    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    /// Writes `cgroup.freeze` 0 and waits for `frozen 0`.
    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, on: bool) -> Result<()> {
        fsio::write(&self.dir, "cgroup.freeze", if on { "1" } else { "0" })?;
        let settled = common::poll_until(FREEZE_TIMEOUT, || Ok(self.is_frozen()? == on))?;
        if settled {
            return Ok(());
        }
        if on {
            // Leave it running rather than half-frozen.
            let _ = fsio::write(&self.dir, "cgroup.freeze", "0");
        }
        Err(CgroupError::Timeout {
            what: if on { "freeze" } else { "thaw" },
            dir: self.dir.clone(),
            millis: FREEZE_TIMEOUT.as_millis() as u64,
            detail: fsio::read(&self.dir, "cgroup.events")
                .unwrap_or_default()
                .replace('\n', " "),
        })
    }

    /// `frozen` from `cgroup.events`.
    pub fn is_frozen(&self) -> Result<bool> {
        let ev = fsio::read(&self.dir, "cgroup.events")?;
        Ok(fsio::keyed(&ev, "frozen") == Some(1))
    }

    /// Pids in the cgroup and below.
    pub fn pids(&self) -> Result<Vec<i32>> {
        common::pids_recursive(&self.dir)
    }

    /// `cgroup.kill` for SIGKILL when the kernel has it (5.14+), else signal each process.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if signal == libc::SIGKILL && fsio::exists(&self.dir, "cgroup.kill") {
            fsio::write(&self.dir, "cgroup.kill", "1")?;
            let empty = common::poll_until(KILL_TIMEOUT, || self.is_empty())?;
            return if empty {
                Ok(())
            } else {
                Err(CgroupError::Timeout {
                    what: "cgroup.kill",
                    dir: self.dir.clone(),
                    millis: KILL_TIMEOUT.as_millis() as u64,
                    detail: format!("pids still present: {:?}", self.pids().unwrap_or_default()),
                })
            };
        }
        if signal != libc::SIGKILL {
            return common::signal_pids(&self.pids()?, signal);
        }
        common::kill_until_empty(&self.dir, signal, &|| self.freeze(), &|| self.thaw())
    }

    /// Empty when `cgroup.events` says `populated 0` (or, without it, no pids remain).
    fn is_empty(&self) -> Result<bool> {
        match fsio::read_opt(&self.dir, "cgroup.events")? {
            Some(ev) if fsio::keyed(&ev, "populated").is_some() => {
                Ok(fsio::keyed(&ev, "populated") == Some(0))
            }
            _ => Ok(self.pids()?.is_empty()),
        }
    }

    /// `oom_kill` from `memory.events` (0 when the memory controller is off).
    pub fn oom_kill_count(&self) -> Result<u64> {
        Ok(crate::oom::oom_kills_v2(&self.dir)?.unwrap_or(0))
    }

    /// An inotify watch on `memory.events`; `None` when the memory controller is off.
    pub fn oom_watch(&self) -> Result<Option<OomWatch>> {
        if !fsio::exists(&self.dir, "memory.events") {
            return Ok(None);
        }
        OomWatch::v2(&self.dir).map(Some)
    }

    /// Removes the directory and its descendants, leaf first.
    pub fn destroy(&self) -> Result<()> {
        let failed = common::remove_tree(&self.dir);
        if failed.is_empty() {
            Ok(())
        } else {
            Err(CgroupError::Remove { failed })
        }
    }

    /// The one directory.
    pub fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }

    /// The directory (for callers that join it, e.g. `exec`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tempdir shaped like a cgroup2 mount with the container dir `/pelagos/c1` and the
    /// files the kernel would show in it.
    pub(crate) fn fixture() -> (tempfile::TempDir, V2Manager) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma\n",
        )
        .unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        let m = V2Manager::new(root.to_path_buf(), "/pelagos/c1");
        std::fs::create_dir_all(&m.dir).unwrap();
        std::fs::write(root.join("pelagos/cgroup.subtree_control"), "").unwrap();
        for f in [
            "cgroup.procs",
            "cgroup.freeze",
            "cgroup.kill",
            "cgroup.subtree_control",
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "memory.high",
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpu.idle",
            "cpuset.cpus",
            "cpuset.mems",
            "pids.max",
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "rdma.max",
        ] {
            std::fs::write(m.dir.join(f), "").unwrap();
        }
        std::fs::write(m.dir.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        (t, m)
    }

    pub(crate) fn read(m: &V2Manager, f: &str) -> String {
        std::fs::read_to_string(m.dir.join(f)).unwrap()
    }

    #[test]
    fn create_enables_controllers_down_the_path() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        std::fs::write(t.path().join("cgroup.subtree_control"), "memory\n").unwrap();
        let m = V2Manager::new(t.path().to_path_buf(), "/pelagos/c1");
        // The intermediate level's control file appears with the directory on cgroupfs;
        // the fixture has to pre-create it.
        std::fs::create_dir_all(t.path().join("pelagos")).unwrap();
        std::fs::write(t.path().join("pelagos/cgroup.subtree_control"), "").unwrap();
        m.create().unwrap();
        assert!(m.dir.is_dir());
        assert_eq!(
            std::fs::read_to_string(t.path().join("cgroup.subtree_control")).unwrap(),
            "+cpu +pids"
        );
        assert_eq!(
            std::fs::read_to_string(t.path().join("pelagos/cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );
    }

    #[test]
    fn place_freeze_kill_oom_destroy() {
        let (_t, m) = fixture();
        m.add_pid(42).unwrap();
        assert_eq!(read(&m, "cgroup.procs"), "42");
        assert!(m.clone_into_fd().unwrap().is_some());

        std::fs::write(m.dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        m.freeze().unwrap();
        assert_eq!(read(&m, "cgroup.freeze"), "1");
        assert!(m.is_frozen().unwrap());
        std::fs::write(m.dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        m.thaw().unwrap();
        assert_eq!(read(&m, "cgroup.freeze"), "0");
        assert!(!m.is_frozen().unwrap());

        std::fs::write(m.dir.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        m.kill_all(libc::SIGKILL).unwrap();
        assert_eq!(read(&m, "cgroup.kill"), "1");

        assert_eq!(m.oom_kill_count().unwrap(), 0);
        std::fs::write(
            m.dir.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(m.oom_kill_count().unwrap(), 2);

        let err = m.destroy().unwrap_err().to_string();
        assert!(
            err.contains("pelagos/c1"),
            "a tmpfs dir with files cannot go: {err}"
        );
    }

    #[test]
    fn missing_cgroup_is_empty_and_killable() {
        let t = tempfile::tempdir().unwrap();
        let m = V2Manager::new(t.path().to_path_buf(), "/never/created");
        assert!(m.pids().unwrap().is_empty());
        m.kill_all(libc::SIGKILL).unwrap();
        m.destroy().unwrap();
    }

    #[test]
    fn destroy_removes_empty_tree() {
        let t = tempfile::tempdir().unwrap();
        let m = V2Manager::new(t.path().to_path_buf(), "/pelagos/c1");
        std::fs::create_dir_all(m.dir.join("sub/leaf")).unwrap();
        m.destroy().unwrap();
        assert!(!m.dir.exists());
        assert!(t.path().join("pelagos").exists(), "the shared parent stays");
    }
}
