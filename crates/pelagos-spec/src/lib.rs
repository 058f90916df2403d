//! Pure data and validation for pelagos: the container configuration that the spawn
//! pipeline consumes, and its conversion from an OCI runtime bundle (`config.json`).
//!
//! No I/O happens here apart from reading `config.json` in [`load_bundle`] and checking
//! that the rootfs exists; everything else is plain data in, data or error out.

mod caps;
mod config;
mod convert;
mod defaults;
mod doc;
mod error;
pub mod json;
mod mounts;
mod path;
mod state;
mod time;

pub use caps::{cap_number, CapSets};
pub use config::*;
pub use convert::{from_oci_bytes, from_oci_value, load_bundle, process_from_json};
pub use defaults::default_spec;
pub use error::SpecError;
pub use mounts::parse_mount_options;
pub use path::clean_absolute;
pub use state::{OciState, Status};
pub use time::rfc3339_utc;
