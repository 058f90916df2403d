//! What the `pelagos` command takes from its process environment, read in one place and
//! injected into the libraries.

/// The value of environment variable `name`, for `.reml` programs' `(env NAME)`.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
