//! The runc command line over `pelagos-container`: argument parsing, output, exit codes.

mod args;
mod cgroup_cmds;
mod commands;
mod log;
mod signal;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

/// The parsed command line.
pub struct Cli {
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_format: String,
    pub debug: bool,
    pub cgroup_root: PathBuf,
    pub command: Command,
}

/// Options shared by `create` and `run`.
#[derive(Debug)]
pub struct CreateArgs {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
}

/// Options of `exec`.
#[derive(Debug)]
pub struct ExecArgs {
    pub process: Option<PathBuf>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub cap: Vec<String>,
    pub no_new_privs: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub apparmor: Option<String>,
    pub id: String,
    pub command: Vec<String>,
}

/// Options of `update`.
#[derive(Debug)]
pub struct UpdateArgs {
    pub resources: Option<PathBuf>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub id: String,
}

/// The verbs (see [`table::COMMANDS`] for their help).
pub enum Command {
    Create(CreateArgs),
    Start {
        id: String,
    },
    State {
        id: String,
    },
    Kill {
        all: bool,
        id: String,
        signal: String,
    },
    Delete {
        force: bool,
        id: String,
    },
    Run {
        detach: bool,
        create: CreateArgs,
    },
    List {
        format: String,
        quiet: bool,
    },
    Spec {
        bundle: PathBuf,
    },
    Features,
    Exec(ExecArgs),
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Update(UpdateArgs),
    Events {
        stats: bool,
        interval: String,
        id: String,
    },
    Ps {
        format: String,
        id: String,
        ps_args: Vec<String>,
    },
}

impl Cli {
    /// Build the typed command line from parsed matches.
    pub fn from_matches(m: &args::Matches) -> Result<Cli, args::UsageError> {
        let s = |long: &str| m.value(long).unwrap_or_default();
        let path = |long: &str| m.value(long).map(PathBuf::from);
        let id = || m.args.first().cloned().unwrap_or_default();
        let create = || -> Result<CreateArgs, args::UsageError> {
            Ok(CreateArgs {
                id: id(),
                bundle: PathBuf::from(s("bundle")),
                console_socket: path("console-socket"),
                pid_file: path("pid-file"),
                no_pivot: m.flag("no-pivot"),
                preserve_fds: m.parse("preserve-fds")?.unwrap_or(0),
            })
        };
        let command = match m.command {
            "create" if m.flag("detach") => {
                return Err(args::UsageError(
                    "create has no --detach: the container waits for `start`".into(),
                ))
            }
            "create" => Command::Create(create()?),
            "run" => Command::Run {
                detach: m.flag("detach"),
                create: create()?,
            },
            "start" => Command::Start { id: id() },
            "state" => Command::State { id: id() },
            "kill" => Command::Kill {
                all: m.flag("all"),
                id: id(),
                signal: m.args.get(1).cloned().unwrap_or_else(|| "SIGTERM".into()),
            },
            "delete" => Command::Delete {
                force: m.flag("force"),
                id: id(),
            },
            "list" => Command::List {
                format: s("format"),
                quiet: m.flag("quiet"),
            },
            "spec" => Command::Spec {
                bundle: PathBuf::from(s("bundle")),
            },
            "features" => Command::Features,
            "exec" => Command::Exec(ExecArgs {
                process: path("process"),
                tty: m.flag("tty"),
                console_socket: path("console-socket"),
                cwd: m.value("cwd"),
                env: m.values("env"),
                user: m.value("user"),
                additional_gids: m.parse_all("additional-gids")?,
                cap: m.values("cap"),
                no_new_privs: m.flag("no-new-privs"),
                detach: m.flag("detach"),
                pid_file: path("pid-file"),
                preserve_fds: m.parse("preserve-fds")?.unwrap_or(0),
                apparmor: m.value("apparmor"),
                id: id(),
                command: m.args.iter().skip(1).cloned().collect(),
            }),
            "pause" => Command::Pause { id: id() },
            "resume" => Command::Resume { id: id() },
            "update" => Command::Update(UpdateArgs {
                resources: path("resources"),
                memory: m.value("memory"),
                memory_reservation: m.value("memory-reservation"),
                memory_swap: m.value("memory-swap"),
                cpu_shares: m.parse("cpu-shares")?,
                cpu_quota: m.parse("cpu-quota")?,
                cpu_period: m.parse("cpu-period")?,
                cpuset_cpus: m.value("cpuset-cpus"),
                cpuset_mems: m.value("cpuset-mems"),
                pids_limit: m.parse("pids-limit")?,
                blkio_weight: m.parse("blkio-weight")?,
                id: id(),
            }),
            "events" => Command::Events {
                stats: m.flag("stats"),
                interval: s("interval"),
                id: id(),
            },
            "ps" => Command::Ps {
                format: s("format"),
                id: id(),
                ps_args: m.args.iter().skip(1).cloned().collect(),
            },
            other => return Err(args::UsageError(format!("unknown command {other:?}"))),
        };
        Ok(Cli {
            root: PathBuf::from(s("root")),
            log: path("log"),
            log_format: s("log-format"),
            debug: m.flag("debug"),
            cgroup_root: PathBuf::from(s("cgroup-root")),
            command,
        })
    }
}

/// Parse arguments, run the command; usage errors exit 2, failures 1 (255 for `exec`, as
/// runc: engines read 255 as "the runtime could not start the process").
pub fn main() -> ExitCode {
    let parsed = args::parse(std::env::args_os().skip(1)).and_then(|p| match p {
        args::Parsed::Print(text) => {
            print!("{text}");
            Ok(None)
        }
        args::Parsed::Run(m) => Cli::from_matches(&m).map(Some),
    });
    let cli = match parsed {
        Ok(Some(cli)) => cli,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pelagos-runtime: {}", e.0);
            return ExitCode::from(2);
        }
    };
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
    use super::error_chain;
    use pelagos_cgroups::CgroupError;
    use pelagos_container::ContainerError;
    use std::io;

    /// Both ways an error may be printed (the runtime's chain, anyhow's `{:#}`) name
    /// `cause` once: no error exposes as its source a cause it already prints.
    fn assert_once(e: impl Into<anyhow::Error>, cause: &str) {
        let e = e.into().context("update");
        for text in [error_chain(&e), format!("{e:#}")] {
            assert_eq!(text.matches(cause).count(), 1, "{cause:?} in {text:?}");
        }
    }

    #[test]
    fn unreadable_config_names_its_cause_once() {
        let t = tempfile::tempdir().unwrap();
        let e = pelagos_spec::load_bundle(&t.path().join("none"), 40).unwrap_err();
        assert_once(ContainerError::from(e), "No such file or directory");
    }

    #[test]
    fn cgroup_write_names_its_errno_once() {
        // errno_text spells EACCES differently from io::Error's Display, so a source
        // exposed as well would not even be folded by error_chain.
        let e = CgroupError::Write {
            file: "/sys/fs/cgroup/x/memory.max".into(),
            value: "1".into(),
            error: io::Error::from_raw_os_error(libc::EACCES),
            hint: "run as root".into(),
        };
        assert_once(ContainerError::from(e), "Permission denied");
    }

    #[test]
    fn container_io_names_its_cause_once() {
        let e = ContainerError::Io {
            what: "open state".into(),
            error: io::Error::from_raw_os_error(libc::ENOSPC),
        };
        assert_once(e, "No space left on device");
    }
}
