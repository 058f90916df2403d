//! Images: registry client, content store, layer unpacking.
