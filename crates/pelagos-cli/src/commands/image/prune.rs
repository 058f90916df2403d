//! `pelagos image prune`: remove dangling (or, with -a, all unused) images and every
//! blob and unpacked layer no remaining image needs.

use super::{human_size, open_store, out, Format, Paths};
use anyhow::{Context, Result};
use pelagos_image::gc::PruneOptions;
use std::io::{BufRead, Write};

/// Arguments of `pelagos image prune`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Images a container uses are never removed, nor their layers. Prune waits for running \
pulls and loads to finish (they hold the store's shared lock), so it never removes a \
layer one of them has just stored.

Examples:
  pelagos image prune -f
  pelagos image prune -a -f --format json")]
pub struct PruneArgs {
    /// Also remove tagged images no container uses.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Run `image prune`.
pub fn run(paths: &Paths, a: &PruneArgs) -> Result<()> {
    let store = open_store(paths)?;
    if !a.force && !confirm(a.all)? {
        eprintln!("prune cancelled; nothing removed");
        return Ok(());
    }
    let removed = store.prune(PruneOptions { all: a.all })?;
    if a.format == Format::Json {
        return out(&serde_json::to_string_pretty(&removed)?);
    }
    for r in &removed.untagged {
        out(&format!("untagged: {r}"))?;
    }
    for d in &removed.images {
        out(&format!("deleted: {d}"))?;
    }
    out(&format!(
        "removed {} image(s), {} layer(s), {} blob(s); total reclaimed space: {}",
        removed.images.len(),
        removed.layers.len(),
        removed.blobs.len(),
        human_size(removed.reclaimed)
    ))
}

/// Ask on stderr, read the answer from stdin; anything but y/yes is a no.
fn confirm(all: bool) -> Result<bool> {
    let what = if all {
        "all images without a container using them"
    } else {
        "all dangling images"
    };
    eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    std::io::stderr().flush().context("writing to stderr")?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer from stdin")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
