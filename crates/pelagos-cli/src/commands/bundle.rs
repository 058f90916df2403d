//! `pelagos bundle create|rm`: OCI bundles from stored images, to run with
//! `pelagos-runtime` (or runc, crun): a rootfs over the image's layers and a
//! `config.json` made from the image config with the secure defaults.

use super::fail;
use super::image::{open_store, out};
use anyhow::{bail, Context, Result};
use pelagos::Paths;
use pelagos_image::bundle::{self, BundleOptions, RootfsMode};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Bundle subcommands.
#[derive(clap::Subcommand)]
pub enum BundleCommand {
    /// Make DIR an OCI bundle of IMAGE and print DIR.
    ///
    /// DIR/rootfs is an overlay mount over the image's layers with a writable upper in
    /// DIR (or, with --copy, a private copy of them), DIR/config.json runs the image's
    /// entrypoint and command (or CMD) as its user, in its working directory, with its
    /// environment, under the default capabilities, seccomp profile and masked paths.
    /// Run it with `pelagos-runtime run --bundle DIR ID`; remove it with `pelagos bundle
    /// rm DIR`. While it exists, `pelagos image rm` keeps the image.
    Create(CreateArgs),
    /// Unmount and remove a bundle made by `pelagos bundle create`, releasing the image.
    Rm {
        /// The bundle directory.
        dir: PathBuf,
    },
}

/// Arguments of `bundle create`.
#[derive(clap::Args)]
pub struct CreateArgs {
    /// Copy the layers into DIR/rootfs instead of mounting an overlay.
    #[arg(long)]
    pub copy: bool,
    /// Replace the image's entrypoint (the image's command is dropped too).
    #[arg(long, value_name = "PROGRAM")]
    pub entrypoint: Option<String>,
    /// Set an environment variable (KEY=VALUE); repeatable.
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The container's hostname.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Image reference or id.
    pub image: String,
    /// Bundle directory to create (absent or empty).
    pub dir: PathBuf,
    /// Command and arguments instead of the image's command.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

/// Run a bundle subcommand against the store below `paths`.
pub fn run(cmd: BundleCommand, paths: &Paths) -> ExitCode {
    let res = match cmd {
        BundleCommand::Create(a) => create(paths, a),
        BundleCommand::Rm { dir } => rm(paths, &dir),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn create(paths: &Paths, a: CreateArgs) -> Result<()> {
    for e in &a.env {
        if e.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
            bail!("--env takes KEY=VALUE, got {e:?}");
        }
    }
    let existed = match std::fs::read_dir(&a.dir).map(|mut e| e.next().is_some()) {
        Ok(true) => bail!("{} is not empty; name a new directory", a.dir.display()),
        Ok(false) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("reading {}", a.dir.display())),
    };
    let store = open_store(paths)?;
    let image = store.lookup(&a.image)?;
    let opts = BundleOptions {
        entrypoint: a.entrypoint.map(|e| vec![e]),
        cmd: (!a.cmd.is_empty()).then_some(a.cmd),
        env: a.env,
        hostname: a.hostname,
        rootfs: if a.copy {
            RootfsMode::Copy
        } else {
            RootfsMode::Overlay
        },
        container: None,
        seccomp: Some(default_seccomp()),
    };
    // What a failure removes: the directory (its real one, when it exists), or the
    // first of its ancestors that create makes.
    let made = match existed {
        true => std::fs::canonicalize(&a.dir)
            .with_context(|| format!("resolving {}", a.dir.display()))?,
        false => first_missing(&a.dir),
    };
    match bundle::create(&store, &image, &a.dir, &opts) {
        Ok(b) => out(&b.dir.display().to_string()),
        Err(e) => {
            // Nothing is left behind: the directories go if this made them, else the
            // content does.
            let _ = bundle::remove(&made);
            if existed {
                let _ = std::fs::create_dir(&made);
            }
            Err(e).with_context(|| format!("making a bundle of {} in {}", a.image, a.dir.display()))
        }
    }
}

/// The outermost of `dir` and its ancestors that does not exist.
fn first_missing(dir: &Path) -> PathBuf {
    let mut top = dir;
    while let Some(p) = top.parent() {
        if p.as_os_str().is_empty() || p.symlink_metadata().is_ok() {
            break;
        }
        top = p;
    }
    top.to_path_buf()
}

/// pelagos' default seccomp profile for the capability set the bundle's process gets.
fn default_seccomp() -> oci_spec::runtime::LinuxSeccomp {
    let caps = oci_spec::runtime::Spec::default()
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default();
    pelagos_seccomp::default_profile(&caps)
}

fn rm(paths: &Paths, dir: &Path) -> Result<()> {
    if !dir.join("config.json").is_file() || !dir.join("rootfs").is_dir() {
        bail!(
            "{} is not a bundle made by `pelagos bundle create` (no config.json and rootfs)",
            dir.display()
        );
    }
    let store = open_store(paths)?;
    bundle::destroy_dir(&store, dir)
        .with_context(|| format!("removing bundle {}", dir.display()))?;
    Ok(())
}
