//! Fuzz what registries and token servers send back that is parsed by hand or by a
//! small crate: `Retry-After`, `WWW-Authenticate`, and (from local files, cheap to
//! cover) the registries config and Docker config keys. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let _ = pelagos_image::backoff::parse_retry_after(text, now);
    let _ = pelagos_image::auth::parse_challenge(text);
    let _ = pelagos_image::RegistriesConfig::parse(std::path::Path::new("fuzz.json"), text);
    let _ = pelagos_image::docker_config::normalize_server(text);
    let _ = pelagos_image::hosts::parse_mirror(text);
});
