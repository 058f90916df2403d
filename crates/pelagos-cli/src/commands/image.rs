//! `pelagos image ...`: pull, ls, inspect, rm, tag.

pub(crate) mod progress;

use anyhow::{bail, Context, Result};
use pelagos::Paths;
use pelagos_image::store::{ImageRecord, Store};
use pelagos_image::{ImageRef, Platform, PullOptions, Registry};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options every image subcommand takes.
#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data root (default: $PELAGOS_ROOT, else /var/lib/pelagos as root).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

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
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show image details as JSON.
    Inspect {
        /// Image references or ids.
        #[arg(required = true)]
        images: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove images.
    #[command(alias = "remove")]
    Rm {
        /// Image references or ids.
        #[arg(required = true)]
        images: Vec<String>,
        /// Remove an image id even when several references point at it.
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an image another reference.
    Tag {
        /// Existing image reference or id.
        source: String,
        /// New reference.
        target: String,
        #[command(flatten)]
        store: StoreArgs,
    },
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
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Run an image subcommand.
pub fn run(cmd: ImageCommand) -> ExitCode {
    let res = match cmd {
        ImageCommand::Pull(a) => pull(a),
        ImageCommand::Push(a) => super::push::run(a),
        ImageCommand::Ls {
            format,
            quiet,
            store,
        } => ls(&store, format, quiet),
        ImageCommand::Inspect { images, store } => inspect(&store, &images),
        ImageCommand::Rm {
            images,
            force,
            store,
        } => rm(&store, &images, force),
        ImageCommand::Tag {
            source,
            target,
            store,
        } => tag(&store, &source, &target),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pelagos: error: {e:#}");
            ExitCode::from(125)
        }
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

pub(crate) fn open_store(a: &StoreArgs) -> Result<Store> {
    let paths = Paths::resolve(a.root.as_deref());
    let dir = paths.image_store();
    Store::open(&dir).with_context(|| format!("opening image store {}", dir.display()))
}

fn pull(a: PullArgs) -> Result<()> {
    let image = ImageRef::parse(&a.reference)?;
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let (opts, warnings) = super::registry_args::options(&a.registry, &image.registry, true)?;
    let store = open_store(&a.store)?;
    let registry = Registry::new(&opts)?;
    let reporter = progress::Reporter::new(!a.quiet && std::io::stderr().is_terminal(), a.quiet);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if !a.quiet {
        eprintln!("pulling {image}");
    }
    let rt = super::registry_args::runtime()?;
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

fn ls(a: &StoreArgs, format: Format, quiet: bool) -> Result<()> {
    let store = open_store(a)?;
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

fn inspect(a: &StoreArgs, names: &[String]) -> Result<()> {
    let store = open_store(a)?;
    let mut docs = Vec::new();
    let mut failed = Vec::new();
    for n in names {
        match inspect_one(&store, n) {
            Ok(v) => docs.push(v),
            Err(e) => failed.push(format!("{e:#}")),
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
    match as_ref {
        Some(r) => {
            store.remove_ref(&r)?;
            out(&format!("untagged: {r}"))?;
            if refs.len() > 1 {
                return Ok(());
            }
        }
        None => {
            if refs.len() > 1 && !force {
                bail!(
                    "image {name} is referenced by {} (use --force to remove them all)",
                    refs.join(", ")
                );
            }
            for r in refs.iter().filter_map(|r| ImageRef::parse(r).ok()) {
                store.remove_ref(&r)?;
                out(&format!("untagged: {r}"))?;
            }
        }
    }
    store.remove_image(&img.manifest_digest)?;
    out(&format!("deleted: {}", img.config_digest))?;
    Ok(())
}

fn rm(a: &StoreArgs, names: &[String], force: bool) -> Result<()> {
    let store = open_store(a)?;
    let failed: Vec<String> = names
        .iter()
        .filter_map(|n| rm_one(&store, n, force).err().map(|e| format!("{e:#}")))
        .collect();
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

fn tag(a: &StoreArgs, source: &str, target: &str) -> Result<()> {
    let store = open_store(a)?;
    let img = store.lookup(source)?;
    let target = ImageRef::parse(target)?;
    store.set_ref(&target, &img.manifest_digest)?;
    Ok(())
}
