//! Differential harness: the same bundles through runc (the oracle) and pelagos-runtime,
//! comparing exit codes, normalised state JSON at each lifecycle step, and what the
//! container prints for a set of probes. Any difference fails and prints both sides.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::support::{Bundle, Container, Runtime};

/// A differential test: oracle, pelagos.
pub type DiffFn = fn(&Runtime, &Runtime) -> Result<()>;

/// Builds a case's bundle; `shared` is a host directory the same for both runtimes.
type BundleFn = fn(&Path) -> Result<Bundle>;

/// What the container reports about itself, normalised so two runtimes can be compared.
/// Mount ids, device numbers and peer groups vary between runs; cgroup mounts are compared
/// by [`CGROUP_VIEW`] (their roots differ by design: each runtime names its cgroups).
const PROBE: &str = "grep -E '^(Cap|NoNewPrivs|Uid|Gid|Groups)' /proc/self/status; \
    echo host=$(hostname) pwd=$(pwd) umask=$(umask); env | sort; \
    echo fds:; ls /proc/$$/fd; \
    sed -E 's/^[0-9]+ [0-9]+ [0-9]+:[0-9]+ //; s/ (shared|master|propagate_from|unbindable)(:[0-9]+)?//g' /proc/self/mountinfo \
      | grep -v ' /sys/fs/cgroup' | sort; \
    stat -c '%n %F %a %t:%T %u:%g' /dev/* /dev/pts/* | sort; \
    grep -E '^Max' /proc/self/limits; \
    ls -A /proc/acpi /sys/firmware 2>&1; cat /proc/sys/net/ipv4/ip_forward";

/// The container's `/sys/fs/cgroup`: its entries, then each mount below it as mount
/// point, file system type, mount options and super options, without the cgroup path
/// (the runtimes place containers differently) and without the read-only flag of the
/// tmpfs itself (runc leaves it writable, pelagos honours the `ro` option).
const CGROUP_VIEW: &str = "ls -A /sys/fs/cgroup; ls /sys/fs/cgroup/memory | head -3;     awk '$5 ~ \"^/sys/fs/cgroup\" { for (i = 7; $i != \"-\"; i++);       o = $6; if ($5 == \"/sys/fs/cgroup\") sub(/^r[wo],/, \"\", o);       print $5, $(i+1), $(i+2), o, $(i+3) }' /proc/self/mountinfo | sort";

/// The table of bundles.
pub fn cases() -> Vec<(&'static str, DiffFn)> {
    vec![
        ("default", |o, p| {
            compare(o, p, |_| Ok(Bundle::busybox()?.sh(PROBE)))
        }),
        ("user_and_caps", |o, p| compare(o, p, user_and_caps)),
        ("writable_root_masks", |o, p| {
            compare(o, p, writable_root_masks)
        }),
        ("mounts", |o, p| compare(o, p, user_mounts)),
        ("sysctl_hostname_cwd", |o, p| {
            compare(o, p, sysctl_hostname_cwd)
        }),
        ("exit_code", |o, p| {
            compare(o, p, |_| Ok(Bundle::busybox()?.sh("echo before; exit 7")))
        }),
        ("missing_executable", |o, p| {
            compare(o, p, |_| Ok(Bundle::busybox()?.args(&["/no/such/binary"])))
        }),
        ("defaults_omitted", |o, p| {
            compare(o, p, |_| {
                Ok(Bundle::busybox()?
                    .unset("/process/rlimits")
                    .unset("/hostname")
                    .sh(PROBE))
            })
        }),
        ("cgroup_view", |o, p| {
            compare(o, p, |_| Ok(Bundle::busybox()?.sh(CGROUP_VIEW)))
        }),
        ("cgroup_view_cgroupns", |o, p| {
            compare(o, p, |_| {
                // In a cgroup namespace runc mounts named hierarchies afresh with the name as
                // source (`systemd`) where pelagos binds them (`cgroup`): not compared.
                let mut b = Bundle::busybox()?.sh(&format!(
                    "{{ {CGROUP_VIEW}; }} | sed 's/ cgroup systemd / cgroup cgroup /'; cat /proc/self/cgroup"
                ));
                if let Some(ns) = b.config["linux"]["namespaces"].as_array_mut() {
                    ns.push(json!({"type": "cgroup"}));
                }
                Ok(b)
            })
        }),
        ("path_lookup", |o, p| {
            report(path_lookup(o)?, path_lookup(p)?)
        }),
        ("transitions", |o, p| {
            report(observe_transitions(o)?, observe_transitions(p)?)
        }),
        ("no_new_privs_off", |o, p| {
            compare(o, p, |_| {
                Ok(Bundle::busybox()?.no_new_privs(false).sh(PROBE))
            })
        }),
    ]
}

fn user_and_caps(_: &Path) -> Result<Bundle> {
    let caps = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"];
    Ok(Bundle::busybox()?
        .user(1000, 1000, &[10, 65534])
        .caps("bounding", &caps)
        .caps("permitted", &caps)
        .caps("effective", &caps)
        .caps("inheritable", &["CAP_KILL"])
        .caps("ambient", &["CAP_KILL"])
        .sh(PROBE))
}

fn writable_root_masks(_: &Path) -> Result<Bundle> {
    Ok(Bundle::busybox()?
        .readonly_root(false)
        .file("/etc/secret", "s\n", 0o600)?
        .dir("/data")?
        .masked_paths(&[
            "/etc/secret",
            "/proc/kcore",
            "/proc/keys",
            "/sys/firmware",
            "/proc/acpi",
        ])
        .readonly_paths(&["/data", "/proc/sys"])
        .sh(&format!(
            "{PROBE}; stat -c '%t:%T' /etc/secret; touch /data/x 2>&1; touch /y && echo wrote"
        )))
}

fn user_mounts(shared: &Path) -> Result<Bundle> {
    std::fs::write(shared.join("file"), "shared\n")?;
    let s = shared.display().to_string();
    Ok(Bundle::busybox()?
        .mount("/ro", "bind", &s, &["rbind", "ro", "nosuid", "nodev"])
        .mount("/t", "tmpfs", "tmpfs", &["size=2m", "mode=0711", "noexec"])
        .sh(&format!(
            "{PROBE}; cat /ro/file; touch /ro/n 2>&1; stat -c '%a' /t"
        )))
}

fn sysctl_hostname_cwd(_: &Path) -> Result<Bundle> {
    Ok(Bundle::busybox()?
        .hostname("diffhost")
        .sysctl("net.ipv4.ip_forward", "1")
        .cwd("/not/in/image")
        .rlimits(&[("RLIMIT_NOFILE", 100, 200), ("RLIMIT_NPROC", 50, 60)])
        .env(&["PATH=/bin", "A=1", "B=two words"])
        .sh(PROBE))
}

/// Runs `make` through both runtimes and fails on any difference.
fn compare(oracle: &Runtime, pelagos: &Runtime, make: BundleFn) -> Result<()> {
    let shared = tempfile::Builder::new().prefix("pel-e2e-diff-").tempdir()?;
    let a = observe(oracle, make, shared.path())?;
    let b = observe(pelagos, make, shared.path())?;
    report(a, b)
}

/// Fails with both observations and the lines that differ, unless they are equal.
fn report(a: String, b: String) -> Result<()> {
    if a == b {
        return Ok(());
    }
    let mut msg = String::from("runtimes disagree\n--- lines only in runc ---\n");
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for l in la.iter().filter(|l| !lb.contains(l)) {
        let _ = writeln!(msg, "- {l}");
    }
    msg.push_str("--- lines only in pelagos ---\n");
    for l in lb.iter().filter(|l| !la.contains(l)) {
        let _ = writeln!(msg, "+ {l}");
    }
    let _ = write!(msg, "=== runc ===\n{a}\n=== pelagos ===\n{b}");
    bail!(msg)
}

/// How `process.args[0]` is found through `PATH` (absent, empty, with an empty or relative
/// entry, plain) by `run` and by `exec`: exit code, stdout and the `exec: ...` part of the
/// error, as one text.
fn path_lookup(rt: &Runtime) -> Result<String> {
    let cases: [(&[&str], &str, &[&str]); 6] = [
        (&["TERM=xterm"], "/", &["true"]),
        (&["PATH="], "/bin", &["echo", "x"]),
        (&["PATH=:"], "/bin", &["echo", "x"]),
        (&["PATH=/nonexistent:"], "/bin", &["echo", "x"]),
        (&["PATH=bin"], "/", &["echo", "x"]),
        (&["PATH=/nonexistent:/bin:"], "/bin", &["echo", "x"]),
    ];
    let mut log = String::new();
    for (env, cwd, args) in cases {
        let c = Container::new(rt, Bundle::busybox()?.env(env).cwd(cwd).args(args))?;
        let o = c.run()?;
        let _ = writeln!(
            log,
            "run {env:?} cwd={cwd} {args:?}: exit {:?} out {:?} err {:?}",
            o.code,
            o.stdout,
            exec_message(&o.stderr)
        );
    }
    // exec takes the container's env unless told otherwise.
    let c = Container::new(
        rt,
        Bundle::busybox()?
            .env(&["TERM=xterm"])
            .args(&["/bin/sleep", "1000"]),
    )?;
    c.create()?.ok()?;
    c.start()?.ok()?;
    for opts in [&[][..], &["--env", "PATH=/bin"][..]] {
        let mut a = vec!["exec"];
        a.extend(opts);
        a.extend([c.id.as_str(), "sh", "-c", "echo $PATH"]);
        let o = c.cmd(&a)?;
        let _ = writeln!(
            log,
            "exec {opts:?}: exit {:?} out {:?} err {:?}",
            o.code,
            o.stdout,
            exec_message(&o.stderr)
        );
    }
    Ok(log)
}

/// The `exec: "x": ...` part of a runtime's error output, unescaped.
fn exec_message(stderr: &str) -> String {
    let s = stderr.replace("\\\"", "\"");
    s.find("exec: \"").map_or(String::new(), |i| {
        s[i..].trim_end().trim_end_matches('"').to_string()
    })
}

/// Exit codes and states along valid and invalid transitions, as one normalised text.
fn observe_transitions(rt: &Runtime) -> Result<String> {
    let b = Bundle::busybox()?.sh("trap 'exit 42' TERM; sleep 1000 & wait");
    let c = Container::new(rt, b)?;
    let id = c.id.clone();
    let bundle = c.bundle.path_str();
    let mut log = String::new();
    let step = |log: &mut String, label: &str, args: &[&str]| -> Result<()> {
        let o = c.cmd(args)?;
        let _ = writeln!(
            log,
            "{label}: exit {:?} | state: {}",
            o.code,
            state_line(&c)
        );
        Ok(())
    };
    step(&mut log, "state (unknown id)", &["state", &id])?;
    let create = c.create()?;
    let _ = writeln!(
        log,
        "create: exit {:?} | state: {}",
        create.code,
        state_line(&c)
    );
    step(
        &mut log,
        "create again",
        &["create", "--bundle", &bundle, &id],
    )?;
    step(&mut log, "kill 0 (created)", &["kill", &id, "0"])?;
    step(&mut log, "start", &["start", &id])?;
    step(&mut log, "start again", &["start", &id])?;
    step(&mut log, "delete (running)", &["delete", &id])?;
    step(&mut log, "kill KILL", &["kill", &id, "KILL"])?;
    wait_not_running(&c);
    step(&mut log, "kill (stopped)", &["kill", &id, "KILL"])?;
    step(&mut log, "start (stopped)", &["start", &id])?;
    step(&mut log, "delete", &["delete", &id])?;
    step(&mut log, "delete again", &["delete", &id])?;
    step(&mut log, "kill (deleted)", &["kill", &id])?;
    step(
        &mut log,
        "delete --force (deleted)",
        &["delete", "--force", &id],
    )?;
    Ok(log)
}

/// The full lifecycle, then a foreground `run`, as one normalised text.
fn observe(rt: &Runtime, make: BundleFn, shared: &Path) -> Result<String> {
    let mut log = String::new();
    let c = Container::new(rt, make(shared)?)?;
    let norm = |s: &str| {
        s.replace(&c.bundle.path_str(), "<bundle>")
            .replace(&c.id, "<id>")
    };
    let create = c.create()?;
    let _ = writeln!(log, "create: exit {:?}", create.code);
    let _ = writeln!(log, "state after create: {}", state_line(&c));
    let start = c.start()?;
    let _ = writeln!(log, "start: exit {:?}", start.code);
    wait_not_running(&c);
    let _ = writeln!(log, "state after exit: {}", state_line(&c));
    let del = c.delete()?;
    let _ = writeln!(log, "delete: exit {:?}", del.code);
    let _ = writeln!(log, "state after delete: {}", state_line(&c));
    let (out, _) = c.output()?;
    let _ = writeln!(log, "--- container output ---\n{}", norm(&out));
    drop(c);

    let r = Container::new(rt, make(shared)?)?;
    let run = r.run()?;
    let normr = |s: &str| {
        s.replace(&r.bundle.path_str(), "<bundle>")
            .replace(&r.id, "<id>")
    };
    let _ = writeln!(
        log,
        "--- run: exit {:?} signal {:?} ---\n{}",
        run.code,
        run.signal,
        normr(&run.stdout)
    );
    Ok(log)
}

fn wait_not_running(c: &Container) {
    let start = Instant::now();
    while start.elapsed() < crate::support::SETTLE {
        match c.status() {
            Ok(s) if s == "running" || s == "created" => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => return,
        }
    }
}

/// `state` reduced to what must agree: exit status, status, id, bundle, whether a pid is set.
fn state_line(c: &Container) -> String {
    let o = match c.cmd(&["state", &c.id]) {
        Ok(o) => o,
        Err(e) => return format!("error running state: {e:#}"),
    };
    if !o.success() {
        return format!("exit {:?}", o.code);
    }
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or(Value::Null);
    let pid = v["pid"].as_i64().unwrap_or(0);
    let n = json!({
        "status": v["status"],
        "id": if v["id"] == c.id.as_str() { json!("<id>") } else { v["id"].clone() },
        "bundle": if v["bundle"] == c.bundle.path_str().as_str() { json!("<bundle>") } else { v["bundle"].clone() },
        "pid>0": pid > 0,
    });
    format!("exit 0 {n}")
}
