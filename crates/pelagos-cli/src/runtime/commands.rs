//! One function per runtime verb: turn parsed args into a library call, print the result.

use super::log::Logger;
use super::{signal, Cli, Command, CreateArgs, ExecArgs};
use anyhow::{bail, Context, Result};
use pelagos_container::{Container, CreateOptions, StateStore};
use serde_json::json;
use std::io::Write;

/// Run the parsed command; `Ok(code)` is the process exit status.
pub fn dispatch(cli: &Cli, log: &Logger) -> Result<u8> {
    let store = StateStore::new(&cli.root);
    let warn = |m: &str| log.warn(m);
    match &cli.command {
        Command::Create(a) => {
            log.debug(&format!("create {} from {}", a.id, a.bundle.display()));
            Container::create(&store, &a.id, &options(cli, a, &warn))?;
            Ok(0)
        }
        Command::Start { id } => {
            Container::load(&store, id)?.start(&warn)?;
            Ok(0)
        }
        Command::State { id } => {
            let c = Container::load(&store, id)?;
            println!("{}", serde_json::to_string_pretty(&c.oci_state())?);
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            let sig = signal::parse(signal).map_err(anyhow::Error::msg)?;
            Container::load(&store, id)?.kill(sig, *all)?;
            Ok(0)
        }
        Command::Delete { force, id } => {
            match Container::load(&store, id) {
                Ok(c) => c.delete(*force, &warn)?,
                Err(pelagos_container::ContainerError::NotFound(_)) if *force => {}
                Err(e) => return Err(e.into()),
            }
            Ok(0)
        }
        Command::Run { detach, create } => {
            let code = Container::run(&store, &create.id, &options(cli, create, &warn), *detach)?;
            Ok(u8::try_from(code).unwrap_or(255))
        }
        Command::List { format, quiet } => list(&store, format, *quiet),
        Command::Spec { bundle, .. } => spec(bundle),
        Command::Exec(a) => {
            let c = Container::load(&store, &a.id)?;
            let process = exec_process(a, &c.state.process)?;
            let abs =
                |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            let code = c.exec(&pelagos_container::ExecOptions {
                process,
                console_socket: a.console_socket.as_deref().map(abs),
                pid_file: a.pid_file.as_deref().map(abs),
                detach: a.detach,
                preserve_fds: a.preserve_fds,
                seccomp_cache: cli.root.join(".seccomp-cache"),
                warn: &warn,
            })?;
            Ok(u8::try_from(code).unwrap_or(255))
        }
        Command::Pause { id } => {
            Container::load(&store, id)?.pause()?;
            Ok(0)
        }
        Command::Resume { id } => {
            Container::load(&store, id)?.resume()?;
            Ok(0)
        }
        Command::Update(a) => super::cgroup_cmds::update(&store, a, log),
        Command::Events {
            stats,
            interval,
            id,
        } => super::cgroup_cmds::events(&store, id, *stats, interval, log),
        Command::Ps {
            format,
            id,
            ps_args,
        } => super::cgroup_cmds::ps(&store, id, format, ps_args),
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
    }
}

fn options<'a>(cli: &Cli, a: &CreateArgs, warn: &'a dyn Fn(&str)) -> CreateOptions<'a> {
    let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    CreateOptions {
        bundle: abs(&a.bundle),
        console_socket: a.console_socket.as_deref().map(abs),
        pid_file: a.pid_file.as_deref().map(abs),
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
        cgroup_root: cli.cgroup_root.clone(),
        seccomp_cache: cli.root.join(".seccomp-cache"),
        warn,
    }
}

fn list(store: &StateStore, format: &str, quiet: bool) -> Result<u8> {
    let mut states = Vec::new();
    for id in store.list()? {
        if let Ok(c) = Container::load(store, &id) {
            states.push(c.oci_state());
        }
    }
    let mut out = std::io::stdout().lock();
    if quiet {
        for s in &states {
            writeln!(out, "{}", s.id)?;
        }
    } else if format == "json" {
        writeln!(out, "{}", serde_json::to_string(&states)?)?;
    } else {
        let rows: Vec<[String; 6]> = std::iter::once(
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from),
        )
        .chain(states.iter().map(|s| {
            [
                s.id.clone(),
                s.pid.to_string(),
                s.status.to_string(),
                s.bundle.clone(),
                s.created.clone(),
                s.owner.clone(),
            ]
        }))
        .collect();
        let mut widths = [0usize; 6];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.len());
            }
        }
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(widths.iter())
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            writeln!(out, "{}", line.join("   ").trim_end())?;
        }
    }
    Ok(0)
}

fn spec(bundle: &std::path::Path) -> Result<u8> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!(
            "{} already exists: remove it or choose another --bundle",
            path.display()
        );
    }
    let text = serde_json::to_string_pretty(&pelagos_spec::default_spec())?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}

fn features() -> serde_json::Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand",
            "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid",
            "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
            "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid",
            "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime",
            "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
            "symfollow", "sync", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": (0..=40).filter_map(cap_name).collect::<Vec<_>>(),
            "cgroup": {"v1": false, "v2": false, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": std::path::Path::new("/sys/module/apparmor").exists()},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"io.github.pelagos.version": env!("CARGO_PKG_VERSION")}
    })
}

fn cap_name(n: u32) -> Option<String> {
    const NAMES: [&str; 41] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    NAMES.get(n as usize).map(|s| format!("CAP_{s}"))
}

/// The process `exec` runs: `--process FILE`, or the container's process with overrides.
fn exec_process(
    a: &ExecArgs,
    base: &pelagos_spec::ProcessConfig,
) -> Result<pelagos_spec::ProcessConfig> {
    if let Some(path) = &a.process {
        let bytes =
            std::fs::read(path).with_context(|| format!("read --process {}", path.display()))?;
        let (p, _warnings) =
            pelagos_spec::process_from_json(&bytes, pelagos_container::spawn::last_cap())?;
        return Ok(p);
    }
    if a.command.is_empty() {
        bail!("exec: no command given: pass the program and its arguments after the container id");
    }
    let mut p = base.clone();
    p.args = a.command.clone();
    p.terminal = a.tty;
    for e in &a.env {
        let Some((name, _)) = e.split_once('=') else {
            bail!("--env {e:?}: use NAME=value");
        };
        p.env
            .retain(|x| x.split_once('=').map(|(n, _)| n) != Some(name));
        p.env.push(e.clone());
    }
    if let Some(cwd) = &a.cwd {
        p.cwd = pelagos_spec::clean_absolute(cwd)
            .with_context(|| format!("--cwd {cwd:?}: must be an absolute path"))?;
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        p.uid = uid
            .parse()
            .with_context(|| format!("--user {u:?}: uid must be a number"))?;
        if let Some(g) = gid {
            p.gid = g
                .parse()
                .with_context(|| format!("--user {u:?}: gid must be a number"))?;
        }
    }
    if !a.additional_gids.is_empty() {
        p.additional_gids = a.additional_gids.clone();
    }
    for c in &a.cap {
        let bit = pelagos_spec::cap_number(c)
            .with_context(|| format!("--cap {c:?}: unknown capability"))?;
        let m = 1u64 << bit;
        p.caps.bounding |= m;
        p.caps.effective |= m;
        p.caps.permitted |= m;
        p.caps.ambient |= m;
    }
    if a.no_new_privs {
        p.no_new_privileges = true;
    }
    if let Some(profile) = &a.apparmor {
        p.apparmor_profile = Some(profile.clone());
    }
    Ok(p)
}
