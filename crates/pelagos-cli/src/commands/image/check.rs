//! `pelagos image check`: the store consistency check; exit 1 when it finds problems.

use super::{fail, open_store, out, Format, Paths};
use anyhow::Result;
use std::process::ExitCode;

/// Arguments of `pelagos image check`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Hashes every blob against its digest and checks that every image has its manifest, \
config and unpacked layers, every reference and container use points at a stored image, \
and no temp entries of dead processes remain. Each problem is printed on its own line and \
the exit status is 1; leftovers that `pelagos image prune` reclaims (blobs and layers no \
image needs) are printed as notes and do not fail the check. Exit status 125: the check \
could not run.")]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Print only problems.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `image check`.
pub fn run(paths: &Paths, a: &CheckArgs) -> ExitCode {
    match check(paths, a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(&e),
    }
}

/// Whether the store is consistent.
fn check(paths: &Paths, a: &CheckArgs) -> Result<bool> {
    let store = open_store(paths)?;
    let r = store.check_report()?;
    if a.format == Format::Json {
        out(&serde_json::to_string_pretty(&r)?)?;
        return Ok(r.problems.is_empty());
    }
    for p in &r.problems {
        out(&format!("problem: {p}"))?;
    }
    if !a.quiet {
        for n in &r.notes {
            out(&format!("note: {n}"))?;
        }
        out(&format!(
            "{}: {} blobs verified, {} problem(s), {} note(s)",
            store.root().display(),
            r.blobs_verified,
            r.problems.len(),
            r.notes.len()
        ))?;
    }
    Ok(r.problems.is_empty())
}
