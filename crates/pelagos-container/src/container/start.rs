//! `start`: release the waiting init; it runs startContainer hooks and execs.

use super::create::socket_path;
use super::Container;
use crate::error::{ContainerError, Result};
use crate::hooks::run_hooks_warn;
use crate::init::Step;
use crate::protocol::{Kind, Msg};
use crate::spawn::{exec_error, hook_error};
use pelagos_spec::Status;
use pelagos_sys::{socket, Errno};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

impl Container {
    /// Start a created container. Returns once the user process has been exec'd.
    pub fn start(&mut self, warn: &dyn Fn(&str)) -> Result<()> {
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(self.bad_state("cannot start a container that has stopped"))
            }
            _ => return Err(self.bad_state("cannot start an already running container")),
        }
        let dir = self.store.dir(&self.id);
        let dirfd = std::fs::File::open(&dir)
            .map_err(|e| ContainerError::io(format!("open {}", dir.display()), e))?;
        let conn = UnixStream::connect(socket_path(&dir, &dirfd)).map_err(|e| {
            ContainerError::io(format!("connect to the init of container {:?}", self.id), e)
        })?;
        let mut running = self.oci_state();
        running.status = Status::Running;
        let json = serde_json::to_vec(&running).unwrap_or_default();
        socket::send(conn.as_fd(), &json, None)
            .map_err(|e| ContainerError::sys("send start to the container init", e))?;
        let mut buf = [0u8; 64];
        let (n, _) = socket::recv(conn.as_fd(), &mut buf)
            .map_err(|e| ContainerError::sys("wait for the container to exec", e))?;
        let _ = std::fs::remove_file(dir.join("start.sock"));
        if n > 0 {
            return Err(match Msg::decode(&buf[..n]) {
                Some(m) if m.kind == Kind::Error => self.describe_start_error(&m),
                _ => ContainerError::Other("malformed message from container init".into()),
            });
        }
        self.state.oci.status = Status::Running;
        self.store.save(&self.id, &self.state)?;
        run_hooks_warn("poststart", &self.state.poststart, &self.state_json(), warn);
        Ok(())
    }

    fn describe_start_error(&self, m: &Msg) -> ContainerError {
        let errno = Errno(m.errno);
        match Step::from_u32(m.step) {
            Some(Step::StartHooks) => {
                let path = self
                    .state
                    .start_hooks
                    .get(m.index as usize)
                    .map(|h| h.path.as_str())
                    .unwrap_or("");
                hook_error("startContainer", m.index as usize, path, errno, m.detail)
            }
            Some(Step::Exec) => {
                let cand = self
                    .state
                    .exec_candidates
                    .get(m.index as usize)
                    .cloned()
                    .unwrap_or_else(|| self.state.arg0.clone());
                exec_error(&cand, errno, m.detail)
            }
            Some(s) => ContainerError::Init {
                what: format!("{s:?}"),
                errno,
            },
            None => ContainerError::Init {
                what: format!("container init step {}", m.step),
                errno,
            },
        }
    }
}
