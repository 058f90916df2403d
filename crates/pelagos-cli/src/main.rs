//! `pelagos`: the docker-like command line. Dispatch only; each verb lives in `commands/`.

mod commands;
mod config;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A daemonless container runtime.
#[derive(Parser)]
#[command(name = "pelagos", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a .reml file (or start a REPL when no file is given).
    Lisp(commands::lisp::LispArgs),
    /// Interactive .reml REPL.
    Repl,
    /// Manage images: pull, push, ls, inspect, rm, tag, ...
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Log in to a registry (checks the credentials, then saves them as docker does).
    Login(commands::login::LoginArgs),
    /// Forget the saved login for a registry.
    Logout(commands::login::LogoutArgs),
    /// Run the runc-compatible OCI runtime (same arguments as `pelagos-runtime`).
    Runtime {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lisp(args) => commands::lisp::run(args),
        Command::Repl => commands::lisp::repl(),
        Command::Image(cmd) => commands::image::run(cmd),
        Command::Login(a) => commands::login::login(a),
        Command::Logout(a) => commands::login::logout(a),
        Command::Runtime { args } => commands::runtime::forward(args),
    }
}
