//! `pelagos lisp FILE` and `pelagos repl`.

use std::process::ExitCode;

/// Arguments of `pelagos lisp`.
#[derive(clap::Args)]
pub struct LispArgs {
    /// The .reml file to evaluate; without it an interactive REPL starts.
    pub file: Option<std::path::PathBuf>,
}

/// Evaluate a file, or start the REPL.
pub fn run(args: LispArgs) -> ExitCode {
    match args.file {
        Some(_) => {
            eprintln!("pelagos lisp: not implemented yet");
            ExitCode::from(2)
        }
        None => repl(),
    }
}

/// The interactive REPL.
pub fn repl() -> ExitCode {
    eprintln!("pelagos repl: not implemented yet");
    ExitCode::from(2)
}
