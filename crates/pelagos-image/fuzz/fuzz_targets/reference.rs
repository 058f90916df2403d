//! Fuzz the image reference parser: never panics, and what it accepts re-parses to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pelagos_image::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = ImageRef::parse(s) {
        let again = ImageRef::parse(&r.to_string()).expect("normalised form re-parses");
        assert_eq!(again, r);
    }
    let _ = pelagos_image::Platform::parse(s);
    let _ = pelagos_image::Digest::parse(s);
});
