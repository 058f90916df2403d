//! `pelagos image ...`: pull, ls, inspect, rm, tag, history, load, save, push, prune.

use std::process::ExitCode;

/// Image subcommands.
#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Download an image from a registry.
    Pull {
        /// Image reference, e.g. `alpine` or `localhost:5000/busybox:latest`.
        reference: String,
    },
}

/// Run an image subcommand.
pub fn run(cmd: ImageCommand) -> ExitCode {
    match cmd {
        ImageCommand::Pull { reference } => {
            eprintln!("pelagos image pull {reference}: not implemented yet");
            ExitCode::from(2)
        }
    }
}
