//! Typed, safe wrappers over the Linux kernel calls pelagos needs.
//!
//! This is the only crate of the workspace that contains `unsafe`. Every wrapper returns
//! `Result<T, Errno>`, retries on `EINTR` where that is the right thing to do, and creates
//! file descriptors close-on-exec. Nothing here allocates on the paths used by a freshly
//! cloned child (see [`clone`]), so the container init can call them between `clone3` and
//! `execve`.

pub mod bpf;
pub mod clone;
pub mod cstr;
pub mod errno;
pub mod fs;
pub mod mount;
pub mod notify;
pub mod ns;
pub mod process;
pub mod seccomp;
pub mod socket;
pub mod tty;

pub use cstr::CStringArray;
pub use errno::{Errno, Result};
