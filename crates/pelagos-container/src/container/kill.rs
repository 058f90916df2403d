//! `kill`: signal the init (or every process of the container with `all`).

use super::Container;
use crate::error::{ContainerError, Result};
use pelagos_sys::process as p;
use std::os::fd::AsFd;

impl Container {
    /// Send `sig` to the container's init, or to all its processes.
    pub fn kill(&self, sig: i32, all: bool) -> Result<()> {
        if !self.can_kill() {
            return Err(self.bad_state("container not running"));
        }
        if all {
            if let Some(cg) = &self.state.cgroup {
                use pelagos_cgroups::CgroupManager;
                cg.kill_all(sig)?;
                return Ok(());
            }
            for pid in self.processes() {
                if pid != self.state.oci.pid {
                    let _ = p::kill(pid, sig);
                }
            }
        }
        self.signal_init(sig)
    }

    /// Signal the init through a pidfd after checking it is still the same process.
    pub(crate) fn signal_init(&self, sig: i32) -> Result<()> {
        let pid = self.state.oci.pid;
        let fd = p::pidfd_open(pid)
            .map_err(|e| ContainerError::sys(format!("open process {pid} of {:?}", self.id), e))?;
        if !crate::state::init_alive(&self.state) {
            return Err(self.bad_state("container not running"));
        }
        p::pidfd_send_signal(fd.as_fd(), sig).map_err(|e| {
            ContainerError::sys(format!("send signal {sig} to {:?} (pid {pid})", self.id), e)
        })?;
        if sig == libc::SIGKILL {
            // SIGKILL cannot be caught: wait (bounded) until the init is gone so that a
            // `state` right after `kill` already says stopped.
            let mut ready = [false];
            let _ = p::poll_readable(&[fd.as_fd()], &mut ready, 5000);
        }
        Ok(())
    }

    /// Pids of the container's processes: those sharing the init's pid namespace (when it
    /// has its own), else just the init.
    pub fn processes(&self) -> Vec<i32> {
        let init = self.state.oci.pid;
        let in_cgroup = self.cgroup_pids();
        if !in_cgroup.is_empty() {
            return in_cgroup;
        }
        if !self.state.own_pid_ns {
            return vec![init];
        }
        let Ok(target) = std::fs::read_link(format!("/proc/{init}/ns/pid")) else {
            return vec![];
        };
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                if std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l == target) {
                    out.push(pid);
                }
            }
        }
        out
    }
}
