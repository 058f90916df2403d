//! The engine facade: paths, state store, run/exec/stop for the docker-like CLI.

pub mod paths;

pub use paths::Paths;
