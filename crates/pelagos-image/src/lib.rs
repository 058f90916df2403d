//! Images: registry client, content-addressed store, safe layer unpacking, bundles.

pub mod digest;
pub mod manifest;
pub mod platform;
pub mod reference;

pub use digest::Digest;
pub use platform::Platform;
pub use reference::ImageRef;
