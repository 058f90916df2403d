//! Fuzz the layer walker with arbitrary tar bytes: never panics, and nothing is
//! created outside the layer directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pelagos_image::unpack::{unpack_layer, UnpackOptions};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer = dir.path().join("layer");
    std::fs::create_dir(&layer).expect("layer dir");
    let _ = unpack_layer(data, &layer, &UnpackOptions { preserve_owner: false });
    let outside: Vec<_> = std::fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.file_name()).collect();
    assert_eq!(outside, [std::ffi::OsString::from("layer")], "wrote outside the layer");
});
