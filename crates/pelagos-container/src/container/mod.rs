//! The OCI lifecycle of one container, one operation per file.
//!
//! | status   | start | kill | delete            |
//! |----------|-------|------|-------------------|
//! | created  | yes   | yes  | yes (kills init)  |
//! | running  | no    | yes  | only with force   |
//! | stopped  | no    | no   | yes               |

mod cgroup;
mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod run;
mod start;
mod status;

use crate::state::{ContainerState, StateStore};
use pelagos_spec::Status;
use std::path::PathBuf;

pub use events::Event;
pub use exec::ExecOptions;
pub use run::RunIo;

/// A container known to a [`StateStore`].
pub struct Container {
    pub id: String,
    pub(crate) store: StateStore,
    pub state: ContainerState,
}

/// Options of `create`/`run` that are not in the bundle.
pub struct CreateOptions<'a> {
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// Root of the host's cgroup file systems (normally `/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
    /// Where compiled seccomp programs are cached.
    pub seccomp_cache: PathBuf,
    /// Where warnings go (the runtime's log).
    pub warn: &'a dyn Fn(&str),
}

impl Container {
    /// Load container `id` from `store`.
    pub fn load(store: &StateStore, id: &str) -> crate::Result<Container> {
        let state = store.load(id)?;
        Ok(Container {
            id: id.to_string(),
            store: store.clone(),
            state,
        })
    }

    /// The live status.
    pub fn status(&self) -> Status {
        crate::state::live_status(&self.state)
    }

    /// Can it be started?
    pub fn can_start(&self) -> bool {
        self.status() == Status::Created
    }

    /// Can it be signalled?
    pub fn can_kill(&self) -> bool {
        matches!(
            self.status(),
            Status::Created | Status::Running | Status::Paused
        )
    }

    /// Can it be deleted without force?
    pub fn can_delete(&self) -> bool {
        matches!(self.status(), Status::Created | Status::Stopped)
    }

    pub(crate) fn bad_state(&self, what: &str) -> crate::ContainerError {
        crate::ContainerError::BadState {
            id: self.id.clone(),
            status: self.status().to_string(),
            what: what.to_string(),
        }
    }
}
