//! One module per `pelagos` verb: parse arguments into a library call and format the result.

pub mod bundle;
pub mod image;
pub mod lisp;
pub mod login;
pub mod push;
pub mod registry_args;
pub mod runtime;

#[cfg(test)]
mod error_tests;

use std::process::ExitCode;

/// An error as `pelagos` shows it: the message, then each cause (anyhow's `{:#}`,
/// `a: b: c`). The library errors spell out their own cause and do not expose it
/// again as a source, so no cause shows twice.
pub(crate) fn error_text(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// Report an error the docker way: message on stderr, exit code 125.
pub(crate) fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("pelagos: error: {}", error_text(e));
    ExitCode::from(125)
}
