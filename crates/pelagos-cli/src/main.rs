//! `pelagos`: the docker-like command line. Dispatch only; each verb lives in `commands/`.

mod commands;
mod config;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A daemonless container runtime.
#[derive(Parser)]
#[command(name = "pelagos", version, about, long_about = None)]
struct Cli {
    /// Data root holding the image store [default: $PELAGOS_ROOT, else /var/lib/pelagos
    /// for root, else $XDG_DATA_HOME/pelagos]. May come before or after the subcommand.
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a .reml file (or start a REPL when no file is given).
    Lisp(commands::lisp::LispArgs),
    /// Interactive .reml REPL.
    Repl,
    /// Manage images: pull, push, ls, inspect, rm, tag, save, load, history, prune, check.
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Make or remove OCI bundles of stored images (run them with pelagos-runtime).
    #[command(subcommand)]
    Bundle(commands::bundle::BundleCommand),
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
    // `runtime` hands every later argument to pelagos-runtime as is: its own `--root`
    // (the state dir) must not be taken for ours, which clap's global option would do.
    if let Some(args) = runtime_args(std::env::args_os().skip(1)) {
        return commands::runtime::forward(args);
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Lisp(args) => commands::lisp::run(args),
        Command::Repl => commands::lisp::repl(),
        Command::Image(cmd) => {
            commands::image::run(cmd, &pelagos::Paths::resolve(cli.root.as_deref()))
        }
        Command::Bundle(cmd) => {
            commands::bundle::run(cmd, &pelagos::Paths::resolve(cli.root.as_deref()))
        }
        Command::Login(a) => commands::login::login(a),
        Command::Logout(a) => commands::login::logout(a),
        Command::Runtime { args } => commands::runtime::forward(args),
    }
}

/// The arguments after `runtime` when it is the subcommand (global options may come
/// before it).
fn runtime_args(
    mut args: impl Iterator<Item = std::ffi::OsString>,
) -> Option<Vec<std::ffi::OsString>> {
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("runtime") => return Some(args.collect()),
            Some("--root") => {
                args.next();
            }
            Some(s) if s.starts_with("--root=") => {}
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::runtime_args;

    fn ra(v: &[&str]) -> Option<Vec<String>> {
        runtime_args(v.iter().map(Into::into))
            .map(|a| a.into_iter().map(|s| s.into_string().unwrap()).collect())
    }

    #[test]
    fn runtime_gets_everything_after_it() {
        assert_eq!(
            ra(&["runtime", "--root", "/r", "list"]).unwrap(),
            ["--root", "/r", "list"]
        );
        assert_eq!(ra(&["--root", "/d", "runtime", "list"]).unwrap(), ["list"]);
        assert_eq!(ra(&["--root=/d", "runtime"]).unwrap(), Vec::<String>::new());
        assert_eq!(ra(&["image", "ls", "runtime"]), None);
        assert_eq!(ra(&[]), None);
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
