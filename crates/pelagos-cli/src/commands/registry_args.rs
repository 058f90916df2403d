//! The registry flags that `image pull` and `image push` share, and how they combine
//! with the registries config and the saved logins (Docker's `config.json`, credential
//! helpers) into the library's `RegistryOptions`.

use anyhow::{bail, Context, Result};
use pelagos_image::docker_config::DockerConfig;
use pelagos_image::{Credentials, RegistriesConfig, RegistryOptions};
use std::io::Read;
use std::path::PathBuf;

/// What `image pull --help` says about credentials and the registries config.
pub const REGISTRY_HELP: &str = "\
Credentials: --creds or --username/--password-stdin, else the saved login \
(`pelagos login`; Docker's config.json: credHelpers, credsStore, auths; $DOCKER_CONFIG).

Registries config (JSON; --registries-config, $PELAGOS_REGISTRIES_CONFIG, \
~/.config/pelagos/registries.json or /etc/pelagos/registries.json):
  {\"registries\": {\"docker.io\": {\"mirrors\": [\"mirror.internal:5000\", \"http://10.0.0.5:5000\"]},
                  \"registry.internal\": {\"ca\": \"/etc/pelagos/internal-ca.pem\"},
                  \"localhost:5000\": {\"insecure\": true}},
   \"retry\": {\"attempts\": 5, \"initialDelayMs\": 500, \"maxDelaySeconds\": 60},
   \"timeouts\": {\"connectSeconds\": 30, \"readSeconds\": 120}}
Mirrors are tried in order for pulls; one that is down or lacks the image is skipped \
with a warning and the registry itself comes last. 429/502/503/504 and network errors \
are retried with exponential backoff (initialDelayMs, doubling, at most \
maxDelaySeconds per wait).";

/// How to reach and log in to a registry.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RegistryArgs {
    /// Reach the image's registry over plain HTTP.
    #[arg(long)]
    pub insecure: bool,
    /// Extra CA certificate (PEM) to trust; repeatable.
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Credentials for the image's registry, instead of a saved login.
    #[arg(long, value_name = "USER:PASSWORD", conflicts_with = "username")]
    pub creds: Option<String>,
    /// User name for the image's registry (the password comes from --password-stdin).
    #[arg(long, short)]
    pub username: Option<String>,
    /// Read the password from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Registries config (JSON: plain HTTP, CAs, mirrors, retries, timeouts).
    /// Default: $PELAGOS_REGISTRIES_CONFIG, ~/.config/pelagos/registries.json,
    /// /etc/pelagos/registries.json.
    #[arg(long, value_name = "FILE")]
    pub registries_config: Option<PathBuf>,
}

/// Read a password from standard input, without its final newline.
pub fn password_from_stdin() -> Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("the password read from standard input is empty");
    }
    Ok(password)
}

/// Credentials given on the command line, if any.
fn flag_credentials(a: &RegistryArgs) -> Result<Option<Credentials>> {
    if let Some(c) = &a.creds {
        let Some((user, pass)) = c
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty())
        else {
            bail!(
                "--creds takes USER:PASSWORD, got {:?}",
                c.split(':').next().unwrap_or("")
            );
        };
        return Ok(Some(Credentials {
            username: user.to_string(),
            password: pass.to_string(),
        }));
    }
    match (&a.username, a.password_stdin) {
        (Some(u), true) => Ok(Some(Credentials {
            username: u.clone(),
            password: password_from_stdin()?,
        })),
        (Some(_), false) => {
            bail!("--username needs --password-stdin (or use --creds USER:PASSWORD)")
        }
        (None, _) => Ok(None),
    }
}

/// Load the registries config from `flag`, else its default place (absent is fine
/// there, not when named).
pub fn registries_config(flag: Option<&PathBuf>) -> Result<Option<RegistriesConfig>> {
    let (path, named) = match flag {
        Some(p) => (p.clone(), true),
        None => crate::config::registries_config_path(),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("reading registries config {}", path.display()))
        }
    };
    Ok(Some(RegistriesConfig::parse(&path, &text)?))
}

/// The options for talking to `registry` (and, for a pull, its mirrors), plus
/// warnings about saved logins that could not be read.
pub fn options(
    a: &RegistryArgs,
    registry: &str,
    pull: bool,
) -> Result<(RegistryOptions, Vec<String>)> {
    let mut opts = RegistryOptions::default();
    if let Some(c) = registries_config(a.registries_config.as_ref())? {
        opts.apply_config(c);
    }
    if a.insecure {
        opts.insecure.push(registry.to_string());
    }
    opts.ca_files.extend(a.ca_files.iter().cloned());
    if let Some(c) = flag_credentials(a)? {
        opts.credentials.insert(registry.to_string(), c);
    }
    let sources = if pull {
        opts.pull_sources(registry)
    } else {
        vec![registry.to_string()]
    };
    let mut warnings = Vec::new();
    let saved = crate::config::docker_config_dir().map(|d| DockerConfig::load(&d));
    match saved {
        Some(Ok(cfg)) => {
            for s in sources {
                if opts.credentials.contains_key(&s) {
                    continue;
                }
                match cfg.credentials(&s) {
                    Ok(Some(c)) => {
                        opts.credentials.insert(s, c);
                    }
                    Ok(None) => {}
                    Err(e) => warnings.push(format!("{e}; continuing without credentials for {s}")),
                }
            }
        }
        Some(Err(e)) => warnings.push(format!("{e}; continuing without saved logins")),
        None => {}
    }
    Ok((opts, warnings))
}

/// The async runtime registry commands run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
