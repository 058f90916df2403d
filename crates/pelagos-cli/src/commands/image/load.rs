//! `pelagos image load`: images from an OCI layout or docker-archive tar.

use super::transfer::Meter;
use super::{open_store, out, Paths};
use anyhow::{bail, Context, Result};
use pelagos_image::archive::{self, LoadEvent};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

/// Arguments of `pelagos image load`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The format is detected: an OCI image layout (index.json) or a docker-archive \
(manifest.json), as a plain, gzip- or zstd-compressed tar. Every blob is checked against \
its digest and every layer against the image config's diff_id before anything is stored; \
a corrupt or truncated archive stores nothing. Images are tagged with the names the \
archive records (RepoTags, or the index annotations); unnamed images are reported by id.

Examples:
  pelagos image load -i busybox.tar
  podman save --format oci-archive alpine | pelagos image load
  gunzip -c apps.tar.gz | pelagos image load")]
pub struct LoadArgs {
    /// Read the archive from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// No progress on stderr; print only what was loaded.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `image load`.
pub fn run(paths: &Paths, a: &LoadArgs) -> Result<()> {
    let (input, size, name): (Box<dyn Read>, Option<u64>, String) = match &a.input {
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            let size = f.metadata().ok().map(|m| m.len());
            (Box::new(f), size, p.display().to_string())
        }
        None if std::io::stdin().is_terminal() => {
            bail!("no archive to load: give -i FILE or pipe one to standard input")
        }
        None => (Box::new(std::io::stdin().lock()), None, "stdin".into()),
    };
    let store = open_store(paths)?;
    let tty = !a.quiet && std::io::stderr().is_terminal();
    let meter = Meter::new(tty, size, "loading");
    let mut on_event = |e: LoadEvent<'_>| {
        if let LoadEvent::Layer { digest, present } = e {
            let what = if present {
                "verifying (already unpacked in the store)"
            } else {
                "verifying and unpacking"
            };
            if tty {
                meter.message(format!("layer {}", digest.short()));
            } else if !a.quiet {
                eprintln!("layer {}: {what}", digest.short());
            }
        }
    };
    let loaded = archive::load(&store, meter.reader(input), &name, &mut on_event);
    meter.finish();
    let loaded = loaded?;
    for img in &loaded.images {
        if img.references.is_empty() {
            out(&format!("Loaded image ID: {}", img.image.config_digest))?;
        }
        for r in &img.references {
            out(&format!("Loaded image: {r}"))?;
        }
    }
    if !a.quiet {
        eprintln!(
            "{} image(s) loaded: {} layer(s) unpacked, {} already present",
            loaded.images.len(),
            loaded.unpacked,
            loaded.reused
        );
    }
    Ok(())
}
