//! `delete`: remove a stopped (or, with force, a running) container and its state.

use super::Container;
use crate::error::{ContainerError, Result};
use crate::hooks::run_hooks_warn;
use pelagos_spec::Status;
use pelagos_sys::process as p;
use std::os::fd::AsFd;

impl Container {
    /// Delete the container. A created container's init is killed; a running one only
    /// with `force`. poststop hooks run; the state directory is removed.
    pub fn delete(self, force: bool, warn: &dyn Fn(&str)) -> Result<()> {
        let status = self.status();
        match status {
            Status::Stopped => {}
            Status::Created => self.kill_and_wait(true)?,
            _ if force => self.kill_and_wait(true)?,
            _ => return Err(ContainerError::BadState {
                id: self.id.clone(),
                status: status.to_string(),
                what: "cannot delete a container that is not stopped: stop it first or use --force"
                    .into(),
            }),
        }
        let mut stopped = self.oci_state();
        stopped.status = Status::Stopped;
        let json = serde_json::to_vec(&stopped).unwrap_or_default();
        if let Some(cg) = &self.state.cgroup {
            use pelagos_cgroups::CgroupManager;
            let _ = cg.kill_all(libc::SIGKILL);
            cg.destroy()?;
            remove_empty_default_parents(&cg.dirs());
        }
        run_hooks_warn("poststop", &self.state.poststop, &json, warn);
        self.store.remove(&self.id)
    }

    /// SIGKILL every process and wait until the init is gone.
    pub(crate) fn kill_and_wait(&self, all: bool) -> Result<()> {
        let pid = self.state.oci.pid;
        let Ok(fd) = p::pidfd_open(pid) else {
            return Ok(());
        };
        if !crate::state::init_alive(&self.state) {
            return Ok(());
        }
        if all {
            for q in self.processes() {
                let _ = p::kill(q, libc::SIGKILL);
            }
        }
        let _ = p::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
        let mut ready = [false];
        for _ in 0..100 {
            if p::poll_readable(&[fd.as_fd()], &mut ready, 100)
                .map_err(|e| ContainerError::sys("wait for the init", e))?
                > 0
            {
                let _ = p::try_waitpid(pid);
                return Ok(());
            }
        }
        Err(ContainerError::Other(format!(
            "container {:?}: process {pid} did not die after SIGKILL within 10s",
            self.id
        )))
    }
}

/// Remove the shared default parent (`.../pelagos`) of each hierarchy once its last
/// container is gone; a parent still in use is left alone (rmdir fails), and a create racing
/// this recreates it.
pub(crate) fn remove_empty_default_parents(dirs: &[std::path::PathBuf]) {
    for d in dirs {
        if let Some(parent) = d
            .parent()
            .filter(|p| p.file_name().is_some_and(|n| n == "pelagos"))
        {
            let _ = std::fs::remove_dir(parent);
        }
    }
}
