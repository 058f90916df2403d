//! Cgroup management for pelagos: detect the host's layout (v2, v1 or hybrid) from a
//! mountinfo text and a cgroup root that the caller passes in, resolve the OCI
//! `cgroupsPath`, and drive one container's cgroup through the [`CgroupManager`] trait:
//! create, apply `linux.resources`, place processes, freeze, kill, stats, OOM counts and
//! OOM events, destroy. See README.md for the v1/v2 mapping.

mod common;
pub mod convert;
pub mod detect;
pub mod devices;
pub mod devices_bpf;
pub mod error;
mod fsio;
pub mod manager;
pub mod oom;
pub mod path;
pub mod stats;
pub mod v1;
pub mod v2;

pub use detect::{CgroupRoot, CgroupVersion, Hierarchy, Layout};
pub use error::{CgroupError, Result};
pub use manager::{Cgroup, CgroupManager, Warning};
pub use oom::OomWatch;
pub use path::{resolve as resolve_cgroups_path, CgroupPath};
pub use stats::Stats;
pub use v1::{V1Dir, V1Manager};
pub use v2::V2Manager;
