//! Fuzz manifest/index/config parsing and platform selection: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pelagos_image::manifest::{self, Document, ImageConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = manifest::parse_document(data, None) {
        match doc {
            Document::Index(i) => {
                let _ = pelagos_image::platform::select(&i, &pelagos_image::Platform::host(), "fuzz");
            }
            Document::Manifest(m) => {
                for l in &m.layers {
                    let _ = manifest::layer_compression(l);
                    let _ = l.digest("fuzz");
                }
            }
        }
    }
    if let Ok(c) = ImageConfig::parse(data) {
        let _ = c.diff_ids(c.rootfs.diff_ids.len());
    }
});
