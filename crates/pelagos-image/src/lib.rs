//! Images: registry client, content-addressed store, safe layer unpacking, bundles.
//!
//! A pull goes [`reference`] (parse and normalise) -> [`registry`] (auth, manifest with
//! all four Accept types) -> [`platform`] (pick from an index) -> [`store`] (blobs
//! verified by digest, layers unpacked by [`unpack`] and verified by diff_id, then
//! committed by rename) -> image record. [`bundle`] turns a stored image into an OCI
//! bundle with an overlayfs rootfs and registers the container's use of the image
//! ([`usage`]). [`archive`] saves and loads image tars, [`history`] reads build
//! history, [`gc`] removes and prunes, [`check`] verifies the store. Directory
//! locations come from the caller.
//!
//! Errors: each message spells out its underlying error, which is therefore not also
//! returned by `source()` (the CLI prints the chain with `{:#}`, which would repeat it);
//! a wrapped error goes in a field named `error`, since thiserror exposes any field
//! named `source`. The error types of pull, push and the registry client do not follow
//! this yet.

pub mod archive;
pub mod auth;
pub mod backoff;
pub mod bundle;
pub mod check;
pub mod digest;
pub mod docker_config;
pub mod flatten;
mod flush;
pub mod fsops;
pub mod gc;
pub mod history;
pub mod hosts;
mod layer_fetch;
pub mod manifest;
pub mod platform;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
mod registry_error;
pub mod registry_push;
pub mod store;
mod store_commit;
mod transport;
pub mod unpack;
pub mod usage;
pub mod user;

pub use backoff::{RetryPolicy, Timeouts};
pub use digest::Digest;
pub use hosts::RegistriesConfig;
pub use platform::Platform;
pub use pull::{pull, Progress, PullError, PullEvent, PullOptions, Pulled};
pub use push::{push, PushError, Pushed};
pub use reference::ImageRef;
pub use registry::{Credentials, Registry, RegistryError, RegistryOptions};
pub use store::Store;
