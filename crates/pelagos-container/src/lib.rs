//! Build, spawn and manage one container from a validated [`pelagos_spec::ContainerConfig`].
//!
//! The spawn pipeline prepares everything in the parent ([`plan`]), clones the container
//! init with its namespaces, and lets the child run a fixed list of named steps
//! ([`init::STEPS`]) that only make async-signal-safe kernel calls. Parent and child talk
//! over a typed protocol ([`protocol`]). The OCI lifecycle (create, start, state, kill,
//! delete) lives in [`container`], one operation per file, over an atomic [`state`] store.

pub mod container;
pub mod error;
pub mod exec_plan;
pub mod hooks;
pub mod init;
pub mod plan;
pub mod protocol;
pub mod spawn;
pub mod state;

pub use container::{Container, CreateOptions, ExecOptions};
pub use error::{ContainerError, Result};
pub use state::StateStore;
