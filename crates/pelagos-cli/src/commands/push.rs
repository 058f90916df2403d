//! `pelagos image push IMAGE [DEST]`: upload a stored image to a registry with its
//! original blobs and manifest bytes, so it keeps its digests.

use super::image::{open_store, out, progress::Reporter};
use super::registry_args::{self, RegistryArgs};
use anyhow::{bail, Result};
use pelagos_image::{ImageRef, Registry};
use std::io::IsTerminal;

/// Arguments of `pelagos image push`.
#[derive(clap::Args)]
#[command(after_help = "\
Blobs the repository has are skipped; blobs of another repository of the same registry \
(one you pulled from) are mounted instead of uploaded; the rest stream from the local \
store. Then the manifest goes up byte for byte, so the image keeps its digest and id. \
Credentials and the registries config work as for `pelagos image pull` (see its --help).

Examples:
  pelagos image push localhost:5000/app:1
  pelagos image tag app:1 registry.example.com/team/app:1
  pelagos image push registry.example.com/team/app:1
  pelagos image push --creds user:secret app:1 registry.example.com/team/app:1
  echo \"$TOKEN\" | pelagos image push -u ci --password-stdin app:1 registry.example.com/app:1")]
pub struct PushArgs {
    /// Stored image to push: a reference, or an image id when DEST is given.
    pub image: String,
    /// Destination `registry/repository[:tag]` (default: IMAGE itself).
    pub dest: Option<String>,
    /// Print only the pushed manifest digest.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Push an image.
pub fn run(paths: &pelagos::Paths, a: PushArgs) -> Result<()> {
    let store = open_store(paths)?;
    let image = store.lookup(&a.image)?;
    let dest = match &a.dest {
        Some(d) => ImageRef::parse(d)?,
        None => {
            // An id prefix would parse as a Docker Hub name; only a stored reference
            // may stand for its own destination.
            let refs = store.refs()?;
            match ImageRef::parse(&a.image)
                .ok()
                .filter(|r| refs.iter().any(|x| x.reference == r.to_string()))
            {
                Some(r) => r,
                None => bail!(
                    "{} is not a stored reference; name the destination: pelagos image push {} REGISTRY/REPOSITORY[:TAG]",
                    a.image,
                    a.image
                ),
            }
        }
    };
    let (opts, warnings) = registry_args::options(&a.registry, &dest.registry, false)?;
    let mut registry = Registry::new(&opts)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let reporter = Reporter::uploading(!a.quiet && std::io::stderr().is_terminal(), a.quiet);
    registry.on_retry(reporter.warner());
    if !a.quiet {
        eprintln!("pushing {} to {dest}", image.config_digest.short());
    }
    let rt = registry_args::runtime()?;
    let pushed = rt.block_on(pelagos_image::push(
        &registry, &store, &image, &dest, &reporter,
    ));
    reporter.finish();
    let pushed = pushed?;
    if a.quiet {
        return out(pushed.digest.as_str());
    }
    eprintln!(
        "digest: {} ({} blobs uploaded, {} mounted, {} already present{})",
        pushed.digest,
        pushed.uploaded,
        pushed.mounted,
        pushed.existing,
        if pushed.index { ", with its index" } else { "" }
    );
    out(&format!("{}@{}", dest.name(), pushed.digest))
}
