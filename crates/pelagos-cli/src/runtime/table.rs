//! The runc command line as data: every command with its options and arguments, and the
//! global options. [`super::args`] parses against it and generates `--help` from it.

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
