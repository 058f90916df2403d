//! What the `pelagos` command takes from its process environment, read in one place and
//! injected into the libraries.

/// The value of environment variable `name`, for `.reml` programs' `(env NAME)`.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Docker's client config directory, where `pelagos login` keeps credentials:
/// `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Some(d.into());
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| std::path::Path::new(&h).join(".docker"))
}

/// The registries config (plain HTTP, CAs, mirrors, retries, timeouts):
/// `$PELAGOS_REGISTRIES_CONFIG`, else `$XDG_CONFIG_HOME/pelagos/registries.json` (or
/// `~/.config/pelagos/registries.json`) when it exists, else
/// `/etc/pelagos/registries.json`. The second value says whether the file was named
/// explicitly (then it must exist).
pub fn registries_config_path() -> (std::path::PathBuf, bool) {
    if let Some(p) = std::env::var_os("PELAGOS_REGISTRIES_CONFIG").filter(|v| !v.is_empty()) {
        return (p.into(), true);
    }
    let user_dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| std::path::Path::new(&h).join(".config"))
        });
    if let Some(p) = user_dir.map(|d| d.join("pelagos/registries.json")) {
        if p.is_file() {
            return (p, false);
        }
    }
    ("/etc/pelagos/registries.json".into(), false)
}
