//! containerd through its runc v2 shim with `ctr run --runc-binary <each runtime>`: a private
//! daemon per test (own config, root, state and socket, no CRI plugin), the busybox rootfs of
//! the e2e bundle passed with `--rootfs`, and ctr's FIFOs and the shim's runtime root kept in
//! the test's tempdir. Covers run --rm, task exec, -t, pause/resume + metrics, limits, and
//! exit codes of signalled tasks.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::host::{self, wait_until};
use super::{expect_limits, shell_line, Engine, EngineCase, LIMITS_SCRIPT};
use crate::support::container::unique_id;
use crate::support::runtime::{run_captured, wait_timeout, Outcome, CMD_TIMEOUT};
use crate::support::{cleanup, expect_contains, expect_eq, Bundle, Runtime, SETTLE};

/// The PATH containers get: ctr's default spec has no environment at all.
const PATH_ENV: &str = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

/// This engine's tests.
pub fn cases() -> Vec<EngineCase> {
    let c = |name, run| EngineCase {
        name,
        engine: Engine::Containerd,
        run,
    };
    vec![
        c("ctr_run_rm", run_rm),
        c("ctr_task_exec", task_exec),
        c("ctr_tty", tty),
        c("ctr_pause_resume", pause_resume),
        c("ctr_limits", limits),
        c("ctr_signals", signals),
        c("ctr_shared_pid_ns", shared_pid_ns),
    ]
}

/// A private containerd daemon and a busybox rootfs; on drop every task and container is
/// removed, the daemon stopped by PID, leftover shims killed, mounts and cgroups undone.
struct Containerd<'r> {
    rt: &'r Runtime,
    dir: tempfile::TempDir,
    daemon: Option<Child>,
    /// The containerd namespace, also the parent cgroup of every container (`/<ns>/<id>`).
    ns: String,
    bundle: Bundle,
}

impl<'r> Containerd<'r> {
    fn new(rt: &'r Runtime) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("pel-e2e-ctrd-")
            .tempdir()
            .context("create containerd tempdir")?;
        let mut c = Containerd {
            rt,
            dir,
            daemon: None,
            ns: unique_id().replace("pel-e2e", "pel-e2e-ctrd"),
            bundle: Bundle::busybox()?,
        };
        let p = |r: &str| c.path(r).display().to_string();
        let config = format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\", \
             \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
             \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.aufs\"]\n\
             [grpc]\n  address = \"{}\"\n[ttrpc]\n  address = \"{}.ttrpc\"\n\
             [debug]\n  address = \"\"\n  level = \"info\"\n",
            p("root"),
            p("state"),
            p("containerd.sock"),
            p("containerd.sock"),
        );
        std::fs::write(c.path("config.toml"), config)?;
        c.start_daemon()?;
        Ok(c)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn start_daemon(&mut self) -> Result<()> {
        let log = File::create(self.path("containerd.log"))?;
        let child = Command::new("containerd")
            .current_dir(self.dir.path())
            .arg("--config")
            .arg(self.path("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawn containerd")?;
        self.daemon = Some(child);
        let ready = wait_until("containerd answering on its socket", SETTLE, || {
            if let Some(st) = self
                .daemon
                .as_mut()
                .and_then(|d| d.try_wait().ok().flatten())
            {
                bail!("containerd exited: {st}");
            }
            Ok(self.ctr(&["version"])?.success())
        });
        ready.with_context(|| {
            let log = std::fs::read_to_string(self.path("containerd.log")).unwrap_or_default();
            format!("containerd log:\n{log}")
        })
    }

    /// `ctr --address SOCK --namespace NS`.
    fn command(&self) -> Command {
        let mut c = Command::new("ctr");
        c.current_dir(self.dir.path());
        c.arg("--address")
            .arg(self.path("containerd.sock"))
            .args(["--namespace", &self.ns]);
        c
    }

    fn ctr(&self, args: &[&str]) -> Result<Outcome> {
        let mut c = self.command();
        c.args(args);
        run_captured(c)
    }

    /// `run` arguments up to the command: the runtime, the shim's runtime root and ctr's
    /// FIFO dir in our tempdir, a PATH, then `opts`, the rootfs and the id.
    fn run_args(&self, opts: &[&str], id: &str, cmd: &[&str]) -> Vec<String> {
        let p = |r: &str| self.path(r).display().to_string();
        let mut v: Vec<String> = vec![
            "run".into(),
            "--runc-binary".into(),
            self.rt.bin.display().to_string(),
            "--runc-root".into(),
            p("runc-root"),
            "--fifo-dir".into(),
            p("fifo"),
            "--env".into(),
            PATH_ENV.into(),
        ];
        v.extend(opts.iter().map(|s| (*s).to_string()));
        v.push("--rootfs".into());
        v.push(self.bundle.rootfs().display().to_string());
        v.push(id.into());
        v.extend(cmd.iter().map(|s| (*s).to_string()));
        v
    }

    /// `task exec` arguments with ctr's FIFO dir in our tempdir (ctr leaves a detached
    /// exec's FIFOs behind).
    fn exec_args(&self, opts: &[&str], id: &str, cmd: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec!["task".into(), "exec".into(), "--fifo-dir".into()];
        v.push(self.path("fifo").display().to_string());
        v.extend(opts.iter().map(|s| (*s).to_string()));
        v.push(id.into());
        v.extend(cmd.iter().map(|s| (*s).to_string()));
        v
    }

    /// `ctr task exec opts... ID cmd...` to completion.
    fn exec(&self, opts: &[&str], id: &str, cmd: &[&str]) -> Result<Outcome> {
        let mut c = self.command();
        c.args(self.exec_args(opts, id, cmd));
        run_captured(c)
    }

    /// `ctr run opts... --rootfs ROOTFS ID cmd...` to completion.
    fn run(&self, opts: &[&str], id: &str, cmd: &[&str]) -> Result<Outcome> {
        let mut c = self.command();
        c.args(self.run_args(opts, id, cmd));
        run_captured(c)
    }

    /// A foreground `ctr run` left running in the background, output in `<id>.out/.err`.
    fn spawn_run(&self, id: &str, cmd: &[&str]) -> Result<Child> {
        let mut c = self.command();
        c.args(self.run_args(&[], id, cmd))
            .stdin(Stdio::null())
            .stdout(File::create(self.path(&format!("{id}.out")))?)
            .stderr(File::create(self.path(&format!("{id}.err")))?);
        c.spawn().context("spawn ctr run")
    }

    /// A detached task running `cmd`, waited for until RUNNING.
    fn detached(&self, id: &str, opts: &[&str], cmd: &[&str]) -> Result<()> {
        let mut o = vec!["-d"];
        o.extend(opts);
        self.run(&o, id, cmd)?.ok()?;
        self.wait_task(id, "RUNNING")
    }

    /// The STATUS column of `ctr task ls` for `id`.
    fn task_status(&self, id: &str) -> Result<Option<String>> {
        let o = self.ctr(&["task", "ls"])?.ok()?;
        Ok(o.stdout.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| f.get(2).copied().unwrap_or("").to_string())
        }))
    }

    fn wait_task(&self, id: &str, want: &str) -> Result<()> {
        let mut last = None;
        let r = wait_until(&format!("task {id} {want}"), SETTLE, || {
            last = self.task_status(id)?;
            Ok(last.as_deref() == Some(want))
        });
        r.with_context(|| format!("last status {last:?}"))
    }

    /// The host PID of a task's init (from `ctr task ls`).
    fn task_pid(&self, id: &str) -> Result<i32> {
        let o = self.ctr(&["task", "ls"])?.ok()?;
        let pid = o.stdout.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| f.get(1).and_then(|p| p.parse().ok()))?
        });
        pid.with_context(|| format!("no pid for task {id} in:\n{}", o.stdout))
    }

    /// Kills (SIGKILL) and deletes the task, then removes the container.
    fn remove(&self, id: &str) -> Result<()> {
        let _ = self.ctr(&["task", "kill", "--signal", "SIGKILL", id]);
        let _ = wait_until(&format!("task {id} stopped"), SETTLE, || {
            Ok(self.task_status(id)?.as_deref() != Some("RUNNING"))
        });
        let _ = self.ctr(&["task", "delete", "--force", id]);
        self.ctr(&["container", "rm", id])?.ok()?;
        Ok(())
    }

    /// Fails if a container's cgroup is left below the namespace's cgroup.
    fn expect_no_container_cgroups(&self) -> Result<()> {
        expect_eq(
            &format!("container cgroups left below /{}", self.ns),
            host::cgroup_children(&self.ns),
            Vec::new(),
        )
    }

    /// `script -qec "ctr ... args..."` so that ctr sees a terminal.
    fn under_tty(&self, args: &[String]) -> Result<Outcome> {
        let mut all = vec![
            "--address".to_string(),
            self.path("containerd.sock").display().to_string(),
            "--namespace".into(),
            self.ns.clone(),
        ];
        all.extend(args.iter().cloned());
        let line = shell_line(std::path::Path::new("ctr"), &all);
        let mut c = Command::new("script");
        c.current_dir(self.dir.path());
        c.args(["-q", "-e", "-c", &line, "/dev/null"]);
        run_captured(c)
    }

    fn stop_daemon(&mut self) {
        let Some(mut d) = self.daemon.take() else {
            return;
        };
        let pid = Pid::from_raw(d.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        if wait_timeout(&mut d, Duration::from_secs(10)).is_err() {
            eprintln!("e2e: containerd {pid} ignored SIGTERM; killed");
        }
    }
}

impl Drop for Containerd<'_> {
    fn drop(&mut self) {
        if let Ok(o) = self.ctr(&["container", "ls", "--quiet"]) {
            for id in o.stdout.split_whitespace() {
                let _ = self.remove(id);
            }
        }
        self.stop_daemon();
        let dir = self.dir.path().display().to_string();
        host::kill_procs_with_arg(&dir, "containerd shim");
        if cleanup::kill_procs_rooted_under(&self.bundle.rootfs()) > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        cleanup::detach_mounts_under(self.dir.path());
        host::remove_cgroup_tree(&self.ns);
    }
}

fn run_rm(rt: &Runtime) -> Result<()> {
    let c = Containerd::new(rt)?;
    let id = unique_id();
    let o = c.run(
        &["--rm"],
        &id,
        &["sh", "-c", "echo out; echo err >&2; exit 7"],
    )?;
    expect_eq(&format!("exit code: {}", o.describe()), o.code, Some(7))?;
    expect_contains("stdout", &o.stdout, "out")?;
    expect_contains("stderr", &o.stderr, "err")?;
    let ls = c.ctr(&["container", "ls", "--quiet"])?.ok()?;
    expect_eq("containers after --rm", ls.stdout.trim(), "")?;
    c.expect_no_container_cgroups()
}

fn task_exec(rt: &Runtime) -> Result<()> {
    let c = Containerd::new(rt)?;
    let id = unique_id();
    c.detached(&id, &[], &["sleep", "1000"])?;
    let script = "[ \"$(readlink /proc/self/ns/pid)\" = \"$(readlink /proc/1/ns/pid)\" ] \
                  && echo same-pidns; pwd; echo in-exec; exit 5";
    let o = c.exec(
        &["--exec-id", "e1", "--cwd", "/tmp"],
        &id,
        &["sh", "-c", script],
    )?;
    expect_eq(
        &format!("exec exit code: {}", o.describe()),
        o.code,
        Some(5),
    )?;
    expect_eq(
        "exec output",
        o.stdout.as_str(),
        "same-pidns\n/tmp\nin-exec\n",
    )?;
    c.exec(&["--detach", "--exec-id", "bg"], &id, &["sleep", "999"])?
        .ok()?;
    let mut ps = String::new();
    wait_until("the detached exec in task ps", SETTLE, || {
        ps = c.ctr(&["task", "ps", &id])?.ok()?.stdout;
        Ok(ps.contains("ExecID:bg"))
    })
    .with_context(|| format!("task ps:\n{ps}"))?;
    expect_eq("task status", c.task_status(&id)?, Some("RUNNING".into()))?;
    c.remove(&id)?;
    c.expect_no_container_cgroups()
}

fn tty(rt: &Runtime) -> Result<()> {
    let c = Containerd::new(rt)?;
    let id = unique_id();
    let args = c.run_args(&["--rm", "--tty"], &id, &["sh", "-c", "tty; exit 8"]);
    let o = c.under_tty(&args)?;
    expect_eq(
        &format!("run -t exit code: {}", o.describe()),
        o.code,
        Some(8),
    )?;
    expect_contains("run -t output", &o.stdout, "/dev/pts/")?;
    let id = unique_id();
    c.detached(&id, &[], &["sleep", "1000"])?;
    let exec = c.exec_args(
        &["--tty", "--exec-id", "t1"],
        &id,
        &["sh", "-c", "sleep 0.2; tty; exit 9"],
    );
    let o = c.under_tty(&exec)?;
    expect_eq(
        &format!("exec -t exit code: {}", o.describe()),
        o.code,
        Some(9),
    )?;
    expect_contains("exec -t output", &o.stdout, "/dev/pts/")?;
    c.remove(&id)
}

fn pause_resume(rt: &Runtime) -> Result<()> {
    let c = Containerd::new(rt)?;
    let id = unique_id();
    c.detached(&id, &[], &["sleep", "1000"])?;
    let pid = c.task_pid(&id)?;
    c.ctr(&["task", "pause", &id])?.ok()?;
    expect_eq(
        "status after pause",
        c.task_status(&id)?,
        Some("PAUSED".into()),
    )?;
    if host::is_v1("freezer") {
        expect_eq(
            "host freezer.state",
            host::cgroup_file(pid, "freezer", "freezer.state")?,
            "FROZEN".into(),
        )?;
    }
    c.ctr(&["task", "resume", &id])?.ok()?;
    expect_eq(
        "status after resume",
        c.task_status(&id)?,
        Some("RUNNING".into()),
    )?;
    let m = c.ctr(&["task", "metrics", &id])?.ok()?;
    expect_contains("task metrics", &m.stdout, "pids.current")?;
    c.remove(&id)?;
    c.expect_no_container_cgroups()
}

/// `--memory-limit` and `--cpus` (ctr has no pids flag), inside (ctr's default spec mounts no
/// cgroupfs, so the test asks for one) and on the host.
fn limits(rt: &Runtime) -> Result<()> {
    let c = Containerd::new(rt)?;
    let id = unique_id();
    let opts = ["--memory-limit", "67108864", "--cpus", "1.5"];
    let cgroupfs = "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev";
    let mut with_mount = vec!["--rm", "--mount", cgroupfs];
    with_mount.extend(opts);
    let o = c
        .run(&with_mount, &id, &["sh", "-c", LIMITS_SCRIPT])?
        .ok()?;
    expect_limits("inside the container", &o.stdout, false)?;
    let id = unique_id();
    c.detached(&id, &opts, &["sleep", "1000"])?;
    let pid = c.task_pid(&id)?;
    let mem = if host::is_v1("memory") {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    expect_eq(
        "host memory limit",
        host::cgroup_file(pid, "memory", mem)?,
        "67108864".into(),
    )?;
    let cg = host::cgroup_dir(pid, "memory")?;
    expect_contains(
        "task cgroup /<namespace>/<id>",
        &cg.display().to_string(),
        &format!("{}/{id}", c.ns),
    )?;
    c.remove(&id)?;
    c.expect_no_container_cgroups()
}

/// `ctr task kill` with SIGTERM (trapped: exit 0) and SIGKILL (137), as `ctr run` reports.
fn signals(rt: &Runtime) -> Result<()> {
    let c = Containerd::new(rt)?;
    let script = "trap 'echo got-term; exit 0' TERM; echo started; while :; do sleep 0.1; done";
    for (sig, want) in [("SIGTERM", 0), ("SIGKILL", 137)] {
        let id = unique_id();
        let mut child = c.spawn_run(&id, &["sh", "-c", script])?;
        let out = c.path(&format!("{id}.out"));
        let started = wait_until("`started` from the task", SETTLE, || {
            Ok(std::fs::read_to_string(&out)?.contains("started"))
        });
        if let Err(e) = started {
            let _ = c.remove(&id);
            let _ = wait_timeout(&mut child, CMD_TIMEOUT);
            return Err(e);
        }
        c.ctr(&["task", "kill", "--signal", sig, &id])?.ok()?;
        let st = wait_timeout(&mut child, CMD_TIMEOUT)?;
        let stdout = std::fs::read_to_string(&out)?;
        let stderr = std::fs::read_to_string(c.path(&format!("{id}.err")))?;
        expect_eq(
            &format!("ctr run exit code after {sig}\n{stdout}\n{stderr}"),
            st.code(),
            Some(want),
        )?;
        if sig == "SIGTERM" {
            expect_contains("trap output", &stdout, "got-term")?;
        }
        let _ = c.ctr(&["task", "delete", &id]);
        c.ctr(&["container", "rm", &id])?.ok()?;
    }
    c.expect_no_container_cgroups()
}

/// `ctr run --with-ns pid:/proc/P/ns/pid`: the new task's init lives in the running task's
/// pid namespace (the OCI `path` form), so that task's init is its PID 1.
fn shared_pid_ns(rt: &Runtime) -> Result<()> {
    let c = Containerd::new(rt)?;
    let first = unique_id();
    c.detached(&first, &[], &["sleep", "1000"])?;
    let pid = c.task_pid(&first)?;
    let want = std::fs::read_link(format!("/proc/{pid}/ns/pid"))?;
    let with_ns = format!("pid:/proc/{pid}/ns/pid");
    let script =
        "echo pid=$(readlink /proc/$$/ns/pid); echo init=$(tr '\\0' ' ' < /proc/1/cmdline)";
    let o = c
        .run(
            &["--rm", "--with-ns", &with_ns],
            &unique_id(),
            &["sh", "-c", script],
        )?
        .ok()?;
    expect_contains(
        "pid namespace of the joining task's init",
        &o.stdout,
        &format!("pid={}\n", want.display()),
    )?;
    expect_contains(
        "PID 1 seen by the joining task",
        &o.stdout,
        "init=sleep 1000",
    )?;
    c.remove(&first)
}
