//! Images: registry client, content-addressed store, safe layer unpacking, bundles.

pub mod digest;
pub mod fsops;
pub mod manifest;
pub mod platform;
pub mod reference;
pub mod store;
pub mod unpack;

pub use digest::Digest;
pub use platform::Platform;
pub use reference::ImageRef;
