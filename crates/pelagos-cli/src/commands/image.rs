//! `pelagos image ...`: pull, ls, inspect, rm, tag here; save, load, history, prune
//! and check in their own modules.

mod check;
mod history;
mod load;
pub(crate) mod progress;
mod prune;
mod save;
mod transfer;

use super::{error_text, fail};
use anyhow::{bail, Context, Result};
use pelagos::Paths;
use pelagos_image::store::{ImageRecord, Store, StoreError};
use pelagos_image::{ImageRef, Platform, PullOptions, Registry};
use std::io::IsTerminal;
use std::process::ExitCode;

/// Output format of listings.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// A table.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// Image subcommands.
#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry, keeping its digests.
    Push(super::push::PushArgs),
    /// List images.
    #[command(alias = "list")]
    Ls {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Print only image ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show image details as JSON.
    Inspect {
        /// Image references or ids.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Remove images (a reference, or an id with all its references).
    ///
    /// Removing the last reference removes the image and the layers no other image
    /// shares. An image a container uses is kept: without -f the command refuses; with
    /// -f it removes the references and leaves the image, dangling, until the container
    /// is gone (`pelagos image prune` removes it then).
    #[command(alias = "remove")]
    Rm {
        /// Image references or ids.
        #[arg(required = true)]
        images: Vec<String>,
        /// Remove all references of an id; untag images in use instead of refusing.
        #[arg(short, long)]
        force: bool,
    },
    /// Give an image another reference.
    Tag {
        /// Existing image reference or id.
        source: String,
        /// New reference.
        target: String,
    },
    /// Write images to a tar archive (OCI layout or docker-archive).
    Save(save::SaveArgs),
    /// Read images from a tar archive made by `image save`, docker or podman.
    Load(load::LoadArgs),
    /// Show how an image was built, one row per step, newest first.
    History(history::HistoryArgs),
    /// Remove dangling images, then every blob and layer no image needs.
    Prune(prune::PruneArgs),
    /// Verify the image store: blob digests, layers, references, leftovers.
    #[command(alias = "fsck")]
    Check(check::CheckArgs),
}

/// Arguments of `pelagos image pull`.
#[derive(clap::Args)]
#[command(after_help = super::registry_args::REGISTRY_HELP)]
pub struct PullArgs {
    /// Image reference, e.g. `alpine` or `localhost:5000/busybox:latest`.
    pub reference: String,
    /// Platform to select from a multi-platform image (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub registry: super::registry_args::RegistryArgs,
    /// Print only the image digest.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run an image subcommand against the store below `paths`.
pub fn run(cmd: ImageCommand, paths: &Paths) -> ExitCode {
    let res = match cmd {
        ImageCommand::Pull(a) => pull(paths, a),
        ImageCommand::Push(a) => super::push::run(paths, a),
        ImageCommand::Ls { format, quiet } => ls(paths, format, quiet),
        ImageCommand::Inspect { images } => inspect(paths, &images),
        ImageCommand::Rm { images, force } => rm(paths, &images, force),
        ImageCommand::Tag { source, target } => tag(paths, &source, &target),
        ImageCommand::Save(a) => save::run(paths, &a),
        ImageCommand::Load(a) => load::run(paths, &a),
        ImageCommand::History(a) => history::run(paths, &a),
        ImageCommand::Prune(a) => prune::run(paths, &a),
        ImageCommand::Check(a) => return check::run(paths, &a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Print a line on stdout; a closed pipe (`| head`) ends output quietly.
pub(crate) fn out(line: &str) -> Result<()> {
    use std::io::Write;
    let mut so = std::io::stdout().lock();
    match writeln!(so, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

pub(crate) fn open_store(paths: &Paths) -> Result<Store> {
    let dir = paths.image_store();
    Store::open(&dir).with_context(|| format!("opening image store {}", dir.display()))
}

fn pull(paths: &Paths, a: PullArgs) -> Result<()> {
    let image = ImageRef::parse(&a.reference)?;
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let (opts, warnings) = super::registry_args::options(&a.registry, &image.registry, true)?;
    let store = open_store(paths)?;
    let mut registry = Registry::new(&opts)?;
    let reporter = progress::Reporter::new(!a.quiet && std::io::stderr().is_terminal(), a.quiet);
    registry.on_retry(reporter.warner());
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if !a.quiet {
        eprintln!("pulling {image}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let pulled = rt.block_on(pelagos_image::pull(
        &registry,
        &store,
        &image,
        &PullOptions { platform },
        &reporter,
    ));
    reporter.finish();
    let pulled = pulled?;
    if a.quiet {
        out(pulled.image.manifest_digest.as_str())?;
    } else {
        eprintln!(
            "digest: {} ({}, {} layers downloaded, {} already present)",
            pulled.image.manifest_digest, pulled.image.platform, pulled.downloaded, pulled.reused
        );
        out(&pulled.reference.to_string())?;
    }
    Ok(())
}

/// One row of `image ls`.
#[derive(serde::Serialize)]
struct Row {
    reference: String,
    repository: String,
    tag: String,
    id: String,
    digest: String,
    platform: String,
    size: u64,
    layers: usize,
    pulled_at: u64,
}

fn rows(store: &Store) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for r in store.refs()? {
        let Some(img) = store.image(&r.manifest_digest)? else {
            continue;
        };
        let parsed = ImageRef::parse(&r.reference).ok();
        out.push(Row {
            repository: parsed
                .as_ref()
                .map_or_else(|| r.reference.clone(), ImageRef::name),
            tag: parsed
                .and_then(|p| p.tag)
                .unwrap_or_else(|| "<none>".into()),
            reference: r.reference,
            id: img.config_digest.to_string(),
            digest: img.manifest_digest.to_string(),
            platform: img.platform.clone(),
            size: img.size(),
            layers: img.layers.len(),
            pulled_at: img.pulled_at,
        });
    }
    Ok(out)
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

fn ls(paths: &Paths, format: Format, quiet: bool) -> Result<()> {
    let store = open_store(paths)?;
    let rows = rows(&store)?;
    if quiet {
        for r in &rows {
            out(&r.id[7..19])?;
        }
        return Ok(());
    }
    if format == Format::Json {
        out(&serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(["REPOSITORY", "TAG", "IMAGE ID", "PLATFORM", "SIZE"]);
    for r in &rows {
        t.add_row([
            r.repository.as_str(),
            r.tag.as_str(),
            &r.id[7..19],
            r.platform.as_str(),
            &human_size(r.size),
        ]);
    }
    out(&t.to_string())?;
    Ok(())
}

fn inspect_one(store: &Store, name: &str) -> Result<serde_json::Value> {
    let img: ImageRecord = store.lookup(name)?;
    let config_bytes = store.read_blob(&img.config_digest)?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .with_context(|| format!("parsing config {}", img.config_digest))?;
    let refs: Vec<String> = store
        .refs()?
        .into_iter()
        .filter(|r| r.manifest_digest == img.manifest_digest)
        .map(|r| r.reference)
        .collect();
    Ok(serde_json::json!({
        "Id": img.config_digest,
        "RepoTags": refs,
        "ManifestDigest": img.manifest_digest,
        "IndexDigest": img.index_digest,
        "MediaType": img.media_type,
        "Platform": img.platform,
        "Size": img.size(),
        "Layers": img.layers,
        "LayerDirs": img.layers.iter().map(|l| store.layer_path(&l.diff_id)).collect::<Vec<_>>(),
        "Config": config,
    }))
}

fn inspect(paths: &Paths, names: &[String]) -> Result<()> {
    let store = open_store(paths)?;
    let mut docs = Vec::new();
    let mut failed = Vec::new();
    for n in names {
        match inspect_one(&store, n) {
            Ok(v) => docs.push(v),
            Err(e) => failed.push(error_text(&e)),
        }
    }
    out(&serde_json::to_string_pretty(&docs)?)?;
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

fn rm_one(store: &Store, name: &str, force: bool) -> Result<()> {
    let img = store.lookup(name)?;
    let refs: Vec<String> = store
        .refs()?
        .into_iter()
        .filter(|r| r.manifest_digest == img.manifest_digest)
        .map(|r| r.reference)
        .collect();
    let as_ref = ImageRef::parse(name)
        .ok()
        .filter(|r| refs.contains(&r.to_string()));
    // Untagging one of several references never removes the image.
    if let (Some(r), true) = (&as_ref, refs.len() > 1) {
        store.remove_ref(r)?;
        return out(&format!("untagged: {r}"));
    }
    if as_ref.is_none() && refs.len() > 1 && !force {
        bail!(
            "image {name} is referenced by {} (use --force to remove them all)",
            refs.join(", ")
        );
    }
    let users = store.users_of(&img.manifest_digest)?;
    if !users.is_empty() && !force {
        return Err(StoreError::InUse {
            image: name.to_string(),
            containers: users,
        }
        .into());
    }
    for r in refs.iter().filter_map(|r| ImageRef::parse(r).ok()) {
        store.remove_ref(&r)?;
        out(&format!("untagged: {r}"))?;
    }
    if !users.is_empty() {
        eprintln!(
            "image {} stays, untagged, while container {} uses it; `pelagos image prune` removes it once released",
            img.config_digest,
            users.join(", ")
        );
        return Ok(());
    }
    store.remove_image(&img.manifest_digest)?;
    out(&format!("deleted: {}", img.config_digest))?;
    Ok(())
}

fn rm(paths: &Paths, names: &[String], force: bool) -> Result<()> {
    let store = open_store(paths)?;
    let failed: Vec<String> = names
        .iter()
        .filter_map(|n| rm_one(&store, n, force).err().map(|e| error_text(&e)))
        .collect();
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

fn tag(paths: &Paths, source: &str, target: &str) -> Result<()> {
    let store = open_store(paths)?;
    let img = store.lookup(source)?;
    let target = ImageRef::parse(target)?;
    store.set_ref(&target, &img.manifest_digest)?;
    Ok(())
}
