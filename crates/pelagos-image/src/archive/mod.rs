//! Image archives: `image save` writes stored images to a tar, `image load` reads one
//! back, in either of the two formats the container world exchanges.
//!
//! ```text
//! oci-archive     oci-layout, index.json, blobs/sha256/<hex>        (OCI image layout)
//! docker-archive  the same, plus manifest.json and repositories     (what docker save
//!                 writes since Docker 25; docker and podman load it)
//! ```
//!
//! Saving streams the stored blobs unchanged (original compression, digests and manifest),
//! checking each against its digest on the way. Loading stages every entry in the
//! store's `tmp/` while hashing it, then verifies blobs, sizes and diff_ids, unpacks the
//! new layers, and only then commits blobs, layers, image records and references.

mod docker;
mod load;
mod plan;
mod save;
mod stage;
#[cfg(test)]
mod tests;

pub use load::{load, LoadError, LoadEvent, Loaded, LoadedImage};
pub use save::{save, ArchiveFormat, SaveError, SaveItem, Saved};

/// The `oci-layout` file of an OCI image layout.
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// Annotation naming an index entry (the full reference, as podman writes it).
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation containerd and docker use for the full image name.
const CONTAINERD_NAME: &str = "io.containerd.image.name";
