//! Seccomp for pelagos: compiles an OCI `linux.seccomp` profile into the raw BPF program
//! that `seccomp(SECCOMP_SET_MODE_FILTER)` loads, ships a built-in default profile
//! equivalent to the docker/podman one, and caches compiled programs on disk.
//!
//! This crate only *produces* the program; loading it (the last init step before exec)
//! belongs to `pelagos-sys`.

mod cache;
mod compile;
mod convert;
mod enosys;
mod error;
mod listener;
mod parse;
mod profile;

pub use cache::{cache_key, compile_cached};
pub use compile::{
    compile, CompiledFilter, Warning, FIELD_ROOT, MAX_INSTRUCTIONS, SOCK_FILTER_SIZE,
};
pub use convert::{
    FLAG_LOG, FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW, FLAG_TSYNC, FLAG_TSYNC_ESRCH,
    FLAG_WAIT_KILLABLE_RECV,
};
pub use error::{Result, SeccompError};
pub use listener::{listener_state, send_to_listener};
pub use parse::parse_profile;
pub use profile::default_profile;
