//! The runc command line, parsed from a table of commands and options.
//!
//! A short-lived OCI runtime's peak RSS is mostly its own code, so this is a small table
//! walker over `lexopt` instead of a derive-based parser. Callers differ in small ways that
//! must all work: global options before or after the command, command options before or
//! after the id, `--opt value` and `--opt=value`, and Go-style single-dash long options
//! (`-bundle`), which runc's flag parser accepts.

use std::ffi::OsString;
use std::fmt::Write as _;

/// One option: `--long`, optional `-s`, and the value's name when it takes one.
pub struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: Option<&'static str>,
    pub help: &'static str,
    pub default: Option<&'static str>,
    pub hidden: bool,
}

const fn flag(long: &'static str, short: Option<char>, help: &'static str) -> Opt {
    Opt {
        long,
        short,
        value: None,
        help,
        default: None,
        hidden: false,
    }
}

const fn val(
    long: &'static str,
    short: Option<char>,
    value: &'static str,
    help: &'static str,
    default: Option<&'static str>,
) -> Opt {
    Opt {
        long,
        short,
        value: Some(value),
        help,
        default,
        hidden: false,
    }
}

const fn hidden(mut o: Opt) -> Opt {
    o.hidden = true;
    o
}

/// A positional argument; `rest` takes every remaining argument verbatim (`exec ID CMD...`).
pub struct Pos {
    pub name: &'static str,
    pub help: &'static str,
    pub required: bool,
    pub rest: bool,
}

const fn pos(name: &'static str, help: &'static str) -> Pos {
    Pos {
        name,
        help,
        required: true,
        rest: false,
    }
}

/// One subcommand.
pub struct Cmd {
    pub name: &'static str,
    pub about: &'static str,
    pub opts: &'static [Opt],
    pub args: &'static [Pos],
}

pub const GLOBAL: &[Opt] = &[
    val(
        "root",
        None,
        "DIR",
        "Directory for container state (use tmpfs)",
        Some("/run/pelagos-runtime"),
    ),
    val(
        "log",
        None,
        "FILE",
        "Write log messages to this file instead of stderr",
        None,
    ),
    val("log-format", None, "text|json", "Log format", Some("text")),
    flag("debug", None, "Log debug messages too"),
    flag(
        "systemd-cgroup",
        None,
        "Accepted for compatibility; cgroups are managed through cgroupfs",
    ),
    hidden(val(
        "cgroup-root",
        None,
        "DIR",
        "Root of the host's cgroup file systems",
        Some("/sys/fs/cgroup"),
    )),
    hidden(val(
        "criu",
        None,
        "PATH",
        "Accepted for compatibility (checkpointing is not supported)",
        None,
    )),
    hidden(val(
        "rootless",
        None,
        "BOOL",
        "Accepted for compatibility",
        None,
    )),
    flag("help", Some('h'), "Print help"),
    flag("version", Some('v'), "Print version"),
];

const ID: Pos = pos("ID", "Container id");

const CREATE_OPTS: &[Opt] = &[
    val(
        "bundle",
        Some('b'),
        "DIR",
        "Path to the bundle directory (holding config.json)",
        Some("."),
    ),
    val(
        "console-socket",
        None,
        "PATH",
        "Unix socket that receives the PTY master when process.terminal is true",
        None,
    ),
    val(
        "pid-file",
        None,
        "FILE",
        "File to write the container's init pid to",
        None,
    ),
    flag(
        "no-pivot",
        None,
        "Use MS_MOVE + chroot instead of pivot_root (for ramdisk roots)",
    ),
    flag(
        "no-new-keyring",
        None,
        "Do not create a session keyring (accepted; pelagos never creates one)",
    ),
    val(
        "preserve-fds",
        None,
        "N",
        "Pass this many extra fds (3, 4, ...) to the container process",
        Some("0"),
    ),
    flag(
        "detach",
        Some('d'),
        "run: return after the container has started",
    ),
];

const FORMAT: Opt = val(
    "format",
    Some('f'),
    "table|json",
    "Output format",
    Some("table"),
);

pub const COMMANDS: &[Cmd] = &[
    Cmd {
        name: "create",
        about: "Create a container from a bundle; its process waits for `start`",
        opts: CREATE_OPTS,
        args: &[ID],
    },
    Cmd {
        name: "start",
        about: "Start the process of a created container",
        opts: &[],
        args: &[ID],
    },
    Cmd {
        name: "state",
        about: "Print the state of a container as JSON",
        opts: &[],
        args: &[ID],
    },
    Cmd {
        name: "kill",
        about: "Send a signal (default SIGTERM) to the container's init",
        opts: &[flag(
            "all",
            Some('a'),
            "Send the signal to every process of the container",
        )],
        args: &[
            ID,
            Pos {
                name: "SIGNAL",
                help: "Signal name (KILL, SIGKILL) or number [default: SIGTERM]",
                required: false,
                rest: false,
            },
        ],
    },
    Cmd {
        name: "delete",
        about: "Delete a container and its state",
        opts: &[flag("force", Some('f'), "Kill a running container first")],
        args: &[ID],
    },
    Cmd {
        name: "run",
        about: "Create and start a container; wait for it unless --detach",
        opts: CREATE_OPTS,
        args: &[ID],
    },
    Cmd {
        name: "list",
        about: "List containers",
        opts: &[FORMAT, flag("quiet", Some('q'), "Print only ids")],
        args: &[],
    },
    Cmd {
        name: "spec",
        about: "Write a default config.json into the bundle directory",
        opts: &[val("bundle", Some('b'), "DIR", "Bundle directory", Some("."))],
        args: &[],
    },
    Cmd {
        name: "features",
        about: "Print what this runtime supports, as JSON",
        opts: &[],
        args: &[],
    },
    Cmd {
        name: "exec",
        about: "Run another process in a running container",
        opts: &[
            val(
                "process",
                Some('p'),
                "FILE",
                "JSON file with the process to run (OCI `process` object); replaces the options below",
                None,
            ),
            flag("tty", Some('t'), "Allocate a pseudo-TTY"),
            val(
                "console-socket",
                None,
                "PATH",
                "Unix socket that receives the PTY master",
                None,
            ),
            val("cwd", None, "DIR", "Working directory inside the container", None),
            val(
                "env",
                Some('e'),
                "NAME=VALUE",
                "Set an environment variable; repeatable",
                None,
            ),
            val("user", Some('u'), "UID[:GID]", "Run as this user", None),
            val(
                "additional-gids",
                Some('g'),
                "GID",
                "Additional gids; repeatable",
                None,
            ),
            val(
                "cap",
                Some('c'),
                "CAP",
                "Add a capability (CAP_NET_ADMIN); repeatable",
                None,
            ),
            flag("no-new-privs", None, "Set no_new_privs for the process"),
            flag("detach", Some('d'), "Return once the process has started"),
            val("pid-file", None, "FILE", "File to write the process' pid to", None),
            val(
                "preserve-fds",
                None,
                "N",
                "Pass this many extra fds (3, 4, ...) to the process",
                Some("0"),
            ),
            val(
                "process-label",
                None,
                "LABEL",
                "Accepted for compatibility (SELinux label)",
                None,
            ),
            val("apparmor", None, "PROFILE", "AppArmor profile for the process", None),
        ],
        args: &[
            ID,
            Pos {
                name: "COMMAND",
                help: "Command and arguments",
                required: false,
                rest: true,
            },
        ],
    },
    Cmd {
        name: "pause",
        about: "Freeze every process of a container",
        opts: &[],
        args: &[ID],
    },
    Cmd {
        name: "resume",
        about: "Thaw a paused container",
        opts: &[],
        args: &[ID],
    },
    Cmd {
        name: "update",
        about: "Change the resource limits of a running container",
        opts: &[
            val(
                "resources",
                Some('r'),
                "FILE",
                "JSON file with an OCI linux.resources object (- for stdin)",
                None,
            ),
            val(
                "memory",
                None,
                "BYTES",
                "Memory limit (k, m, g suffixes; -1 unlimited)",
                None,
            ),
            val("memory-reservation", None, "BYTES", "Memory soft limit", None),
            val("memory-swap", None, "BYTES", "Memory plus swap limit", None),
            val("cpu-shares", None, "N", "CPU shares (relative weight)", None),
            val("cpu-quota", None, "USEC", "CPU CFS quota in microseconds", None),
            val("cpu-period", None, "USEC", "CPU CFS period in microseconds", None),
            val("cpuset-cpus", None, "LIST", "CPUs allowed (0-3, 0,1)", None),
            val("cpuset-mems", None, "LIST", "Memory nodes allowed", None),
            val(
                "pids-limit",
                None,
                "N",
                "Maximum number of processes (-1 unlimited)",
                None,
            ),
            val("blkio-weight", None, "N", "Block IO weight (10-1000)", None),
        ],
        args: &[ID],
    },
    Cmd {
        name: "events",
        about: "Print resource statistics and OOM events as JSON lines",
        opts: &[
            flag("stats", None, "Print one statistics record and exit"),
            val(
                "interval",
                None,
                "DURATION",
                "Time between statistics records (5s, 500ms)",
                Some("5s"),
            ),
        ],
        args: &[ID],
    },
    Cmd {
        name: "ps",
        about: "List the processes of a container",
        opts: &[val(
            "format",
            Some('f'),
            "table|json",
            "Output format (json: pids only)",
            Some("table"),
        )],
        args: &[
            ID,
            Pos {
                name: "PS_ARGS",
                help: "Options for ps(1) [default: -ef]",
                required: false,
                rest: true,
            },
        ],
    },
];

/// What the command line asked for.
pub enum Parsed {
    Run(Matches),
    /// Print this (help or version) and exit 0.
    Print(String),
}

/// A usage error: the message, exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Parsed options (global and the command's) and positionals.
#[derive(Debug, Default)]
pub struct Matches {
    pub command: &'static str,
    opts: Vec<(&'static str, Option<String>)>,
    pub args: Vec<String>,
}

impl Matches {
    pub fn flag(&self, long: &str) -> bool {
        self.opts.iter().any(|(l, _)| *l == long)
    }

    /// The last value given, else the option's default.
    pub fn value(&self, long: &str) -> Option<String> {
        self.opts
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .and_then(|(_, v)| v.clone())
            .or_else(|| find(self.command, long).and_then(|o| o.default.map(String::from)))
    }

    /// Every value given, in order.
    pub fn values(&self, long: &str) -> Vec<String> {
        self.opts
            .iter()
            .filter(|(l, _)| *l == long)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    /// The value parsed as `T`, naming the option on error.
    pub fn parse<T: std::str::FromStr>(&self, long: &str) -> Result<Option<T>, UsageError>
    where
        T::Err: std::fmt::Display,
    {
        self.value(long)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| UsageError(format!("invalid value {v:?} for --{long}: {e}")))
            })
            .transpose()
    }

    /// Every value parsed as `T`.
    pub fn parse_all<T: std::str::FromStr>(&self, long: &str) -> Result<Vec<T>, UsageError>
    where
        T::Err: std::fmt::Display,
    {
        self.values(long)
            .into_iter()
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| UsageError(format!("invalid value {v:?} for --{long}: {e}")))
            })
            .collect()
    }
}

fn command(name: &str) -> Option<&'static Cmd> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The option `long` of `command` or a global one.
fn find(command: &str, long: &str) -> Option<&'static Opt> {
    command
        .is_empty()
        .then_some(&[][..])
        .or_else(|| self::command(command).map(|c| c.opts))
        .unwrap_or(&[])
        .iter()
        .chain(GLOBAL)
        .find(|o| o.long == long)
}

fn find_short(cmd: Option<&'static Cmd>, short: char) -> Option<&'static Opt> {
    cmd.map(|c| c.opts)
        .unwrap_or(&[])
        .iter()
        .chain(GLOBAL)
        .find(|o| o.short == Some(short))
}

/// Go-style `-bundle` / `-bundle=x` -> `--bundle`: runc's flag parser takes both.
fn go_style(arg: OsString, cmd: Option<&'static Cmd>) -> OsString {
    let Some(s) = arg.to_str() else { return arg };
    let Some(rest) = s.strip_prefix('-') else {
        return arg;
    };
    if rest.starts_with('-') || rest.chars().count() < 2 {
        return arg;
    }
    let name = rest.split('=').next().unwrap_or(rest);
    let known = cmd
        .map(|c| c.opts)
        .unwrap_or(&[])
        .iter()
        .chain(GLOBAL)
        .any(|o| o.long == name);
    if known {
        format!("-{s}").into()
    } else {
        arg
    }
}

/// Parse `argv` (without the program name).
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Parsed, UsageError> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let mut m = Matches::default();
    let mut cmd: Option<&'static Cmd> = None;
    // Rewrite Go-style long options; the command is known once its name went by.
    let mut fixed = Vec::with_capacity(argv.len());
    for a in argv {
        if cmd.is_none() {
            if let Some(c) = a.to_str().and_then(command) {
                cmd = Some(c);
                fixed.push(a);
                continue;
            }
        }
        fixed.push(go_style(a, cmd));
    }
    cmd = None;
    let mut p = lexopt::Parser::from_args(fixed);
    let err = |e: lexopt::Error| UsageError(e.to_string());
    let mut help = false;
    while let Some(arg) = p.next().map_err(err)? {
        let opt = match arg {
            lexopt::Arg::Long(l) => find(m.command, l)
                .filter(|o| cmd.is_some() || GLOBAL.iter().any(|g| g.long == o.long))
                .ok_or_else(|| unknown(&format!("--{l}"), cmd))?,
            lexopt::Arg::Short(s) => {
                find_short(cmd, s).ok_or_else(|| unknown(&format!("-{s}"), cmd))?
            }
            lexopt::Arg::Value(v) => {
                let v = v
                    .into_string()
                    .map_err(|v| UsageError(format!("argument {v:?} is not valid UTF-8")))?;
                match cmd {
                    None => {
                        let c = command(&v).ok_or_else(|| {
                            UsageError(format!(
                                "unknown command {v:?}; commands: {}",
                                COMMANDS
                                    .iter()
                                    .map(|c| c.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })?;
                        cmd = Some(c);
                        m.command = c.name;
                    }
                    Some(c) => {
                        m.args.push(v);
                        let takes_rest = c.args.get(m.args.len()).is_some_and(|a| a.rest);
                        if takes_rest {
                            for raw in p.raw_args().map_err(err)? {
                                m.args.push(raw.into_string().map_err(|v| {
                                    UsageError(format!("argument {v:?} is not valid UTF-8"))
                                })?);
                            }
                        }
                    }
                }
                continue;
            }
        };
        match opt.long {
            "help" => help = true,
            "version" if cmd.is_none() => {
                return Ok(Parsed::Print(format!(
                    "pelagos-runtime {}\nspec: 1.2.0\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            _ => {}
        }
        let value = option_value(&mut p, opt)?;
        m.opts.push((opt.long, value));
    }
    if help {
        return Ok(Parsed::Print(help_text(cmd)));
    }
    let Some(c) = cmd else {
        return Err(UsageError(format!(
            "no command given\n\n{}",
            help_text(None)
        )));
    };
    check(&m, c)?;
    Ok(Parsed::Run(m))
}

/// The value of `opt` (`--opt v`, `--opt=v`), or `None` for a flag, which must not have one.
fn option_value(p: &mut lexopt::Parser, opt: &Opt) -> Result<Option<String>, UsageError> {
    if opt.value.is_some() {
        let v = p
            .value()
            .map_err(|_| UsageError(format!("option --{} needs a value", opt.long)))?;
        return v
            .into_string()
            .map(Some)
            .map_err(|v| UsageError(format!("value {v:?} of --{} is not valid UTF-8", opt.long)));
    }
    match p.optional_value() {
        Some(v) => Err(UsageError(format!(
            "option --{} takes no value (got {v:?})",
            opt.long
        ))),
        None => Ok(None),
    }
}

fn check(m: &Matches, c: &Cmd) -> Result<(), UsageError> {
    let max = if c.args.last().is_some_and(|a| a.rest) {
        usize::MAX
    } else {
        c.args.len()
    };
    if let Some(missing) = c.args.iter().filter(|a| a.required).nth(m.args.len()) {
        return Err(UsageError(format!(
            "'{}' needs <{}> (see 'pelagos-runtime {} --help')",
            c.name, missing.name, c.name
        )));
    }
    if m.args.len() > max {
        return Err(UsageError(format!(
            "unexpected argument {:?} for '{}' (see 'pelagos-runtime {} --help')",
            m.args[max], c.name, c.name
        )));
    }
    for (long, allowed) in [
        ("log-format", &["text", "json"][..]),
        ("format", &["table", "json"][..]),
    ] {
        if let Some(v) = m.value(long).filter(|v| !allowed.contains(&v.as_str())) {
            return Err(UsageError(format!(
                "invalid value {v:?} for --{long}: use one of {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn unknown(what: &str, cmd: Option<&Cmd>) -> UsageError {
    let see = match cmd {
        Some(c) => format!("pelagos-runtime {} --help", c.name),
        None => "pelagos-runtime --help".into(),
    };
    UsageError(format!("unknown option '{what}' (see '{see}')"))
}

fn opt_lines(out: &mut String, opts: &[Opt]) {
    for o in opts.iter().filter(|o| !o.hidden) {
        let mut left = match o.short {
            Some(s) => format!("-{s}, --{}", o.long),
            None => format!("    --{}", o.long),
        };
        if let Some(v) = o.value {
            let _ = write!(left, " <{v}>");
        }
        let default = o
            .default
            .map(|d| format!(" [default: {d}]"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {left:<34} {}{default}", o.help);
    }
}

/// `--help` of the program or of one command.
pub fn help_text(cmd: Option<&Cmd>) -> String {
    let mut out = String::new();
    match cmd {
        None => {
            out.push_str(
                "The runc-compatible OCI runtime of pelagos\n\n\
                 Usage: pelagos-runtime [GLOBAL OPTIONS] <COMMAND> [OPTIONS] [ARGS]\n\nCommands:\n",
            );
            for c in COMMANDS {
                let _ = writeln!(out, "  {:<10} {}", c.name, c.about);
            }
        }
        Some(c) => {
            let _ = write!(
                out,
                "{}\n\nUsage: pelagos-runtime [GLOBAL OPTIONS] {}",
                c.about, c.name
            );
            if !c.opts.is_empty() {
                out.push_str(" [OPTIONS]");
            }
            for a in c.args {
                let dots = if a.rest { "..." } else { "" };
                if a.required {
                    let _ = write!(out, " <{}>{dots}", a.name);
                } else {
                    let _ = write!(out, " [{}]{dots}", a.name);
                }
            }
            out.push('\n');
            if !c.args.is_empty() {
                out.push_str("\nArguments:\n");
                for a in c.args {
                    let _ = writeln!(out, "  {:<34} {}", format!("<{}>", a.name), a.help);
                }
            }
            if !c.opts.is_empty() {
                out.push_str("\nOptions:\n");
                opt_lines(&mut out, c.opts);
            }
        }
    }
    out.push_str("\nGlobal options (before or after the command):\n");
    opt_lines(&mut out, GLOBAL);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Matches {
        match parse(args.iter().map(OsString::from)) {
            Ok(Parsed::Run(m)) => m,
            Ok(Parsed::Print(s)) => panic!("printed {s}"),
            Err(e) => panic!("{args:?}: {}", e.0),
        }
    }

    fn fails(args: &[&str]) -> String {
        match parse(args.iter().map(OsString::from)) {
            Err(e) => e.0,
            Ok(_) => panic!("{args:?} parsed"),
        }
    }

    #[test]
    fn options_before_or_after_the_id() {
        let m = run(&["create", "x", "--bundle", "/b"]);
        assert_eq!((m.command, m.args[0].as_str()), ("create", "x"));
        assert_eq!(m.value("bundle").as_deref(), Some("/b"));
        let m = run(&["--root", "/r", "create", "--bundle=/b", "x", "--log", "/l"]);
        assert_eq!(m.value("root").as_deref(), Some("/r"));
        assert_eq!(m.value("log").as_deref(), Some("/l"));
        assert_eq!(m.value("bundle").as_deref(), Some("/b"));
        let m = run(&["start", "x", "--root", "/r2"]);
        assert_eq!(m.value("root").as_deref(), Some("/r2"));
    }

    #[test]
    fn go_style_long_options() {
        let m = run(&[
            "-root",
            "/r",
            "create",
            "-bundle",
            "/b",
            "x",
            "-pid-file=/p",
        ]);
        assert_eq!(m.value("root").as_deref(), Some("/r"));
        assert_eq!(m.value("bundle").as_deref(), Some("/b"));
        assert_eq!(m.value("pid-file").as_deref(), Some("/p"));
    }

    #[test]
    fn defaults_and_repeats() {
        let m = run(&["kill", "x", "9"]);
        assert_eq!(m.value("root").as_deref(), Some("/run/pelagos-runtime"));
        assert_eq!(m.args, ["x", "9"]);
        let m = run(&[
            "exec",
            "-e",
            "A=1",
            "--env",
            "B=2",
            "x",
            "sh",
            "-c",
            "echo --root",
        ]);
        assert_eq!(m.values("env"), ["A=1", "B=2"]);
        assert_eq!(m.args, ["x", "sh", "-c", "echo --root"]);
        assert_eq!(m.value("root").as_deref(), Some("/run/pelagos-runtime"));
        let m = run(&["ps", "x", "-eo", "pid"]);
        assert_eq!(m.args, ["x", "-eo", "pid"]);
        let m = run(&["run", "-d", "--preserve-fds", "2", "x"]);
        assert!(m.flag("detach"));
        assert_eq!(m.parse::<u32>("preserve-fds").unwrap(), Some(2));
    }

    #[test]
    fn usage_errors_name_the_problem() {
        assert!(fails(&["create"]).contains("<ID>"));
        assert!(fails(&["create", "x", "--bogus"]).contains("--bogus"));
        assert!(fails(&["frobnicate"]).contains("frobnicate"));
        assert!(fails(&["start", "x", "y"]).contains("\"y\""));
        assert!(fails(&["list", "--format", "xml"]).contains("xml"));
        assert!(fails(&["--log-format", "yaml", "list"]).contains("yaml"));
        assert!(fails(&["create", "x", "--bundle"]).contains("--bundle"));
        assert!(fails(&["delete", "--force=yes", "x"]).contains("--force"));
        let m = run(&["run", "--preserve-fds", "many", "x"]);
        assert!(m
            .parse::<u32>("preserve-fds")
            .unwrap_err()
            .0
            .contains("many"));
    }

    #[test]
    fn help_and_version() {
        for args in [&["--help"][..], &["create", "--help"], &["exec", "-h"]] {
            match parse(args.iter().map(OsString::from)) {
                Ok(Parsed::Print(s)) => assert!(s.contains("Usage:"), "{s}"),
                _ => panic!("{args:?}"),
            }
        }
        match parse(["--version"].iter().map(OsString::from)) {
            Ok(Parsed::Print(s)) => assert!(s.starts_with("pelagos-runtime ")),
            _ => panic!("--version"),
        }
    }
}
