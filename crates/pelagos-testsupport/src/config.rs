//! The environment the test binaries read, in one place: `CI` (skips become failures) and
//! `PATH` (which fixture tools exist).

/// `CI=true` or `CI=1`: every case must run.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `tool` is an executable file in a `PATH` directory.
pub fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}
