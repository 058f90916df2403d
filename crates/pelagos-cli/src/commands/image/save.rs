//! `pelagos image save`: stored images to an OCI layout or docker-archive tar.

use super::transfer::Meter;
use super::{open_store, Paths};
use anyhow::{bail, Context, Result};
use pelagos_image::archive::{self, ArchiveFormat, SaveItem};
use pelagos_image::store::Store;
use pelagos_image::ImageRef;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Archive formats, as docker and podman name them.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SaveFormat {
    /// OCI image layout: oci-layout, index.json, blobs/sha256/*.
    #[default]
    OciArchive,
    /// The OCI layout plus manifest.json and repositories, as `docker save` writes.
    DockerArchive,
}

/// Arguments of `pelagos image save`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Blobs are written exactly as stored (original compression and digests), so loading the \
archive gives the same image id and manifest digest. An image named by reference is saved \
under that name; one named by id under all its references.

Examples:
  pelagos image save -o busybox.tar busybox:latest
  pelagos image save --format docker-archive busybox | docker load
  pelagos image save app:1 app:2 | gzip > apps.tar.gz")]
pub struct SaveArgs {
    /// Images to save (references or ids).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Write to FILE (replaced only once complete) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Archive format.
    #[arg(long, value_enum, default_value_t)]
    pub format: SaveFormat,
    /// No progress or summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `image save`.
pub fn run(paths: &Paths, a: &SaveArgs) -> Result<()> {
    let to_stdout = a.output.as_deref().is_none_or(|p| p == Path::new("-"));
    if to_stdout && std::io::stdout().is_terminal() {
        bail!("refusing to write an image archive to a terminal; use -o FILE or redirect standard output");
    }
    let store = open_store(paths)?;
    let items = items(&store, &a.images)?;
    let total: u64 = items
        .iter()
        .flat_map(|i| {
            let img = &i.image;
            [&img.config_digest, &img.manifest_digest]
                .into_iter()
                .chain(img.layers.iter().map(|l| &l.digest))
        })
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .filter_map(|d| fs::metadata(store.blob_path(d)).ok())
        .map(|m| m.len())
        .sum();
    let meter = Meter::new(
        !a.quiet && std::io::stderr().is_terminal(),
        Some(total),
        "saving",
    );
    let format = match a.format {
        SaveFormat::OciArchive => ArchiveFormat::Oci,
        SaveFormat::DockerArchive => ArchiveFormat::Docker,
    };
    let (saved, dest) = match a.output.as_deref().filter(|_| !to_stdout) {
        Some(path) => (
            to_file(&store, &items, format, path, &meter)?,
            path.display().to_string(),
        ),
        None => {
            let so = std::io::stdout().lock();
            let w = meter.writer(std::io::BufWriter::with_capacity(1 << 20, so));
            let r = archive::save(&store, &items, format, w);
            meter.finish();
            (
                r.context("saving to standard output")?,
                "standard output".into(),
            )
        }
    };
    if !a.quiet {
        eprintln!(
            "saved {} image(s), {} blobs, {} to {dest}",
            saved.images,
            saved.blobs,
            super::human_size(saved.bytes)
        );
    }
    Ok(())
}

/// Resolve the names; several names of one image become one item with all those names.
fn items(store: &Store, names: &[String]) -> Result<Vec<SaveItem>> {
    let refs = store.refs()?;
    let mut items: Vec<SaveItem> = Vec::new();
    for name in names {
        let image = store.lookup(name)?;
        let of_image = || {
            refs.iter()
                .filter(|r| r.manifest_digest == image.manifest_digest)
                .filter_map(|r| ImageRef::parse(&r.reference).ok())
        };
        let named: Vec<ImageRef> = match ImageRef::parse(name) {
            Ok(r) if of_image().any(|o| o == r) => vec![r],
            _ => of_image().collect(),
        };
        match items
            .iter_mut()
            .find(|i| i.image.manifest_digest == image.manifest_digest)
        {
            Some(i) => {
                for n in named {
                    if !i.references.contains(&n) {
                        i.references.push(n);
                    }
                }
            }
            None => items.push(SaveItem {
                image,
                references: named,
            }),
        }
    }
    Ok(items)
}

/// Save into a temp file beside `path`, then rename it over `path`; a failed save
/// leaves `path` as it was.
fn to_file(
    store: &Store,
    items: &[SaveItem],
    format: ArchiveFormat,
    path: &Path,
    meter: &Meter,
) -> Result<archive::Saved> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("output {} names no file", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = (|| {
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        let w = meter.writer(std::io::BufWriter::with_capacity(1 << 20, f));
        let saved = archive::save(store, items, format, w)
            .with_context(|| format!("saving to {}", path.display()))?;
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("fsync {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
        Ok(saved)
    })();
    meter.finish();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_like_podman() {
        use clap::ValueEnum;
        let names: Vec<String> = SaveFormat::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        assert_eq!(names, ["oci-archive", "docker-archive"]);
    }
}
