//! Fuzz the small parsers of registry settings: the registries config, Docker config
//! keys and mirror entries. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = pelagos_image::RegistriesConfig::parse(std::path::Path::new("fuzz.json"), text);
    let _ = pelagos_image::docker_config::normalize_server(text);
    let _ = pelagos_image::hosts::parse_mirror(text);
});
