//! The runc command line over `pelagos-container`: argument parsing, output, exit codes.

mod cgroup_cmds;
mod commands;
mod log;
mod signal;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The runc-compatible OCI runtime of pelagos.
#[derive(Parser)]
#[command(name = "pelagos-runtime", version, about, long_about = None)]
pub struct Cli {
    /// Directory for container state (use tmpfs).
    #[arg(long, global = true, default_value = "/run/pelagos-runtime")]
    pub root: PathBuf,
    /// Write log messages to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Log debug messages too.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility; cgroups are managed through cgroupfs.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Root of the host's cgroup file systems.
    #[arg(
        long = "cgroup-root",
        global = true,
        default_value = "/sys/fs/cgroup",
        hide = true
    )]
    pub cgroup_root: PathBuf,
    /// Accepted for compatibility (checkpointing is not supported).
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    /// Accepted for compatibility.
    #[arg(long, global = true, hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by `create` and `run`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Container id.
    pub id: String,
    /// Path to the bundle directory (holding config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the PTY master when process.terminal is true.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's init pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a session keyring (accepted; pelagos never creates one).
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// Options of `exec`.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// JSON file with the process to run (OCI `process` object); replaces the options below.
    #[arg(short, long)]
    pub process: Option<std::path::PathBuf>,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the PTY master.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (NAME=value); repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Run as uid[:gid].
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids; repeatable.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NET_ADMIN); repeatable.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Return once the process has started.
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process' pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Pass this many extra fds (3, 4, ...) to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for compatibility (SELinux label).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile for the process.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Container id.
    pub id: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Options of `update`.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// JSON file with an OCI `linux.resources` object (`-` for stdin).
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (k, m, g suffixes; -1 unlimited).
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit.
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs allowed (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 unlimited).
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Container id.
    pub id: String,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Start the process of a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print the state of a container as JSON.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal (default SIGTERM) to the container's init.
    Kill {
        /// Send the signal to every process of the container.
        #[arg(short, long)]
        all: bool,
        /// Container id.
        id: String,
        /// Signal name (KILL, SIGKILL) or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and its state.
    Delete {
        /// Kill a running container first.
        #[arg(short, long)]
        force: bool,
        /// Container id.
        id: String,
    },
    /// Create and start a container; wait for it unless --detach.
    Run {
        /// Return after the container has started.
        #[arg(short, long)]
        detach: bool,
        #[command(flatten)]
        create: CreateArgs,
    },
    /// List containers.
    List {
        /// Output format: table or json.
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Print only ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json into the bundle directory.
    Spec {
        /// Bundle directory.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print what this runtime supports, as JSON.
    Features,
    /// Run another process in a running container.
    Exec(ExecArgs),
    /// Freeze every process of a container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// Container id.
        id: String,
    },
    /// Change the resource limits of a running container.
    Update(UpdateArgs),
    /// Print resource statistics and OOM events as JSON lines.
    Events {
        /// Print one statistics record and exit.
        #[arg(long)]
        stats: bool,
        /// Time between statistics records (e.g. 5s, 500ms).
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Container id.
        id: String,
    },
    /// List the processes of a container.
    Ps {
        /// Output format: table or json (pids only).
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Container id.
        id: String,
        /// Options for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
}

/// Parse arguments, run the command, map errors to exit status 1 (255 for `exec`, as
/// runc: engines read 255 as "the runtime could not start the process").
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let logger = log::Logger::new(cli.log.as_deref(), cli.log_format == "json", cli.debug);
    match commands::dispatch(&cli, &logger) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            logger.error(&error_chain(&e));
            ExitCode::from(if matches!(cli.command, Command::Exec(_)) {
                255
            } else {
                1
            })
        }
    }
}

/// The error and its causes, leaving out causes the message already spells out.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_after_the_id() {
        let cli =
            Cli::try_parse_from(["pelagos-runtime", "create", "x", "--bundle", "/b"]).unwrap();
        assert!(
            matches!(cli.command, Command::Create(ref a) if a.id == "x" && a.bundle == std::path::Path::new("/b"))
        );
        let cli =
            Cli::try_parse_from(["pelagos-runtime", "--root", "/r", "kill", "x", "9"]).unwrap();
        assert_eq!(cli.root, PathBuf::from("/r"));
    }
}
