//! `pelagos login` and `pelagos logout`: check credentials against a registry and keep
//! them where docker keeps them (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`,
//! or the credential helper that file names), or forget them.

use super::registry_args::{self, RegistryArgs};
use anyhow::{bail, Context, Result};
use pelagos_image::docker_config::{normalize_server, DockerConfig, Saved};
use pelagos_image::reference::valid_registry;
use pelagos_image::{Credentials, Registry};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pelagos login`.
#[derive(clap::Args)]
#[command(after_help = "\
The credentials are checked against the registry first, then saved in Docker's client \
config ($DOCKER_CONFIG/config.json, else ~/.docker/config.json; created 0600), or handed \
to the credential helper it names (credHelpers, credsStore). pull and push use them.

Examples:
  echo \"$PASSWORD\" | pelagos login -u alice --password-stdin registry.example.com
  pelagos login -u alice --password-stdin --ca-file ca.pem 10.0.0.5:5000 < pw.txt
  pelagos login -u bob --password-stdin --insecure localhost:5000 < pw.txt")]
pub struct LoginArgs {
    /// Registry `host[:port]` (default: docker.io).
    pub registry: Option<String>,
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (visible to other users in the process list: prefer --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Reach the registry over plain HTTP.
    #[arg(long)]
    pub insecure: bool,
    /// Extra CA certificate (PEM) to trust; repeatable.
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Registries config (JSON); see `pelagos image pull --help`.
    #[arg(long, value_name = "FILE")]
    pub registries_config: Option<PathBuf>,
}

/// Arguments of `pelagos logout`.
#[derive(clap::Args)]
pub struct LogoutArgs {
    /// Registry `host[:port]` (default: docker.io).
    pub registry: Option<String>,
}

fn finish(r: Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&e),
    }
}

/// The registry named on the command line, normalised (`https://index.docker.io/v1/`
/// and friends become `docker.io`).
fn registry_name(arg: Option<&str>) -> Result<String> {
    let raw = arg.unwrap_or(pelagos_image::reference::DEFAULT_REGISTRY);
    let name = normalize_server(raw);
    if !valid_registry(&name) {
        bail!("invalid registry {raw:?}: expected host[:port], e.g. registry.example.com or localhost:5000");
    }
    Ok(name)
}

fn docker_config() -> Result<DockerConfig> {
    let Some(dir) = crate::config::docker_config_dir() else {
        bail!("cannot locate the docker config directory: set DOCKER_CONFIG or HOME");
    };
    Ok(DockerConfig::load(&dir)?)
}

/// `pelagos login`.
pub fn login(a: LoginArgs) -> ExitCode {
    finish(login_inner(a))
}

fn login_inner(a: LoginArgs) -> Result<()> {
    let registry = registry_name(a.registry.as_deref())?;
    let Some(username) = a.username.clone().filter(|u| !u.is_empty()) else {
        bail!("pass the user name with --username (-u)");
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(p), _) => {
            eprintln!("warning: a password on the command line is visible to other users; use --password-stdin");
            p.clone()
        }
        (None, true) => registry_args::password_from_stdin()?,
        (None, false) => bail!("pass the password with --password-stdin (or --password)"),
    };
    let creds = Credentials { username, password };
    let flags = RegistryArgs {
        insecure: a.insecure,
        ca_files: a.ca_files.clone(),
        registries_config: a.registries_config.clone(),
        ..Default::default()
    };
    let (mut opts, _) = registry_args::options(&flags, &registry, false)?;
    opts.credentials.insert(registry.clone(), creds.clone());
    let mut client = Registry::new(&opts)?;
    client.on_retry(|w| eprintln!("warning: {w}"));
    registry_args::runtime()?
        .block_on(client.check_login(&registry))
        .with_context(|| format!("login to {registry} failed"))?;
    let mut cfg = docker_config()?;
    match cfg.save(&registry, &creds)? {
        Saved::File(p) => eprintln!("login succeeded; credentials saved in {}", p.display()),
        Saved::Helper(h) => {
            eprintln!("login succeeded; credentials saved by docker-credential-{h}")
        }
    }
    Ok(())
}

/// `pelagos logout`.
pub fn logout(a: LogoutArgs) -> ExitCode {
    finish((|| {
        let registry = registry_name(a.registry.as_deref())?;
        if docker_config()?.erase(&registry)? {
            eprintln!("removed login credentials for {registry}");
        } else {
            eprintln!("not logged in to {registry}");
        }
        Ok(())
    })())
}
