//! Images: registry client, content-addressed store, safe layer unpacking, bundles.

pub mod bundle;
pub mod digest;
pub mod fsops;
pub mod manifest;
pub mod platform;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;
pub mod user;

pub use digest::Digest;
pub use platform::Platform;
pub use pull::{pull, Progress, PullError, PullEvent, PullOptions, Pulled};
pub use reference::ImageRef;
pub use registry::{Credentials, Registry, RegistryError, RegistryOptions};
pub use store::Store;
