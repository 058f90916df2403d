//! podman (rootful, cgroupfs manager, file events, a private store and containers.conf)
//! running a busybox image imported from the e2e rootfs, through `--runtime <each runtime>`:
//! run --rm, exit codes, run -d + exec + stop + start + kill + rm, -it under `script`,
//! resource limits read back inside and on the host, pause/unpause, top, ulimits, seccomp.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::host::{self, wait_until};
use super::{expect_limits, shell_line, Engine, EngineCase, LIMITS_SCRIPT};
use crate::support::container::unique_id;
use crate::support::runtime::{run_captured, Outcome};
use crate::support::{cleanup, expect_contains, expect_eq, Bundle, Runtime, SETTLE};

/// The tag the imported busybox rootfs gets in each private store.
const IMAGE: &str = "localhost/pel-e2e-busybox:latest";

/// The nofile limit every container gets unless a test asks otherwise: podman's default
/// (1048576) is above this host's hard limit and root here lacks CAP_SYS_RESOURCE.
const NOFILE: &str = "nofile=1024:1024";
/// Same for nproc (podman asks for 1048576 too).
const NPROC: &str = "nproc=4096:4096";

/// This engine's tests.
pub fn cases() -> Vec<EngineCase> {
    let c = |name, run| EngineCase {
        name,
        engine: Engine::Podman,
        run,
    };
    vec![
        c("podman_run_rm", run_rm),
        c("podman_exit_codes", exit_codes),
        c("podman_detach_exec_stop_rm", detach_exec_stop_rm),
        c("podman_run_tty", run_tty),
        c("podman_limits", limits),
        c("podman_pause_unpause", pause_unpause),
        c("podman_top", top),
        c("podman_ulimit", ulimit),
        c("podman_seccomp", seccomp),
        c("podman_shared_namespaces", shared_namespaces),
        c("podman_run_options", run_options),
        c("podman_userns", userns),
        c("podman_oom", oom),
        c("podman_create_init_start", create_init_start),
    ]
}

/// A private podman installation driving one runtime; removed (containers, storage, mounts,
/// conmon processes, cgroups) on drop.
struct Podman<'r> {
    rt: &'r Runtime,
    dir: tempfile::TempDir,
    /// The cgroup parent of every container of this test (`--cgroup-parent`).
    cgroup_parent: String,
}

impl<'r> Podman<'r> {
    /// Private paths and config, with the busybox image imported.
    fn new(rt: &'r Runtime) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("pel-e2e-podman-")
            .tempdir()
            .context("create podman tempdir")?;
        let p = Podman {
            rt,
            cgroup_parent: format!("/{}", unique_id().replace("pel-e2e", "pel-e2e-podman")),
            dir,
        };
        for d in ["storage", "run", "tmp", "networks"] {
            std::fs::create_dir_all(p.path(d))?;
        }
        let conf = format!(
            "[containers]\nnetns = \"none\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\ntmp_dir = \"{}\"\n\n[network]\nnetwork_config_dir = \"{}\"\n",
            p.path("tmp").display(),
            p.path("networks").display()
        );
        std::fs::write(p.path("containers.conf"), conf)?;
        let storage = format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            p.path("storage").display(),
            p.path("run").display()
        );
        std::fs::write(p.path("storage.conf"), storage)?;
        p.import()?;
        Ok(p)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Tars the e2e busybox rootfs and imports it as [`IMAGE`].
    fn import(&self) -> Result<()> {
        let b = Bundle::busybox()?;
        let tar = self.path("rootfs.tar");
        let mut c = Command::new("tar");
        c.arg("-C").arg(b.rootfs()).arg("-cf").arg(&tar).arg(".");
        run_captured(c)?.ok()?;
        self.cmd(&["import", &tar.display().to_string(), IMAGE])?
            .ok()
            .context("podman import of the busybox rootfs")?;
        Ok(())
    }

    /// Global flags: private store, runroot and tmpdir, cgroupfs, file events, the runtime.
    fn global_args(&self) -> Vec<String> {
        let p = |r: &str| self.path(r).display().to_string();
        vec![
            "--root".into(),
            p("storage"),
            "--runroot".into(),
            p("run"),
            "--tmpdir".into(),
            p("tmp"),
            "--storage-driver".into(),
            "overlay".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
            "--runtime".into(),
            self.rt.bin.display().to_string(),
        ]
    }

    /// `podman <global flags>` with the private config files in its environment.
    fn command(&self) -> Command {
        let mut c = Command::new("podman");
        self.env(&mut c);
        c.args(self.global_args());
        c
    }

    /// The private config files in the environment, and the tempdir as the working
    /// directory: conmon drops files (an `oom` marker) into its working directory.
    fn env(&self, c: &mut Command) {
        c.current_dir(self.dir.path());
        c.env("CONTAINERS_CONF", self.path("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.path("storage.conf"))
            .env("TMPDIR", self.path("tmp"));
    }

    /// Runs `podman <global flags> args...`.
    fn cmd(&self, args: &[&str]) -> Result<Outcome> {
        let mut c = self.command();
        c.args(args);
        run_captured(c)
    }

    /// `run` flags every container gets: no network (unless the test joins another
    /// container's), never pull, our cgroup parent, limits the host allows (a test's own
    /// `nofile=` replaces the default one).
    fn run_flags(&self, opts: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        if !opts.contains(&"--network") {
            v.extend(["--network".into(), "none".into()]);
        }
        v.extend(["--pull", "never", "--cgroup-parent"].map(String::from));
        v.push(self.cgroup_parent.clone());
        if !opts.iter().any(|o| o.starts_with("nofile=")) {
            v.extend(["--ulimit".into(), NOFILE.into()]);
        }
        v.extend(["--ulimit".into(), NPROC.into()]);
        v.extend(opts.iter().map(|s| (*s).to_string()));
        v
    }

    /// `podman run <flags> opts... IMAGE cmd...`.
    fn run(&self, opts: &[&str], cmd: &[&str]) -> Result<Outcome> {
        let mut c = self.command();
        c.arg("run").args(self.run_flags(opts)).arg(IMAGE).args(cmd);
        run_captured(c)
    }

    /// A detached container named `name` running `cmd`; waits until podman says running.
    fn detached(&self, name: &str, opts: &[&str], cmd: &[&str]) -> Result<()> {
        let mut o = vec!["-d", "--name", name];
        o.extend(opts);
        self.run(&o, cmd)?.ok()?;
        self.wait_status(name, "running")
    }

    /// `inspect --format FMT NAME`, trimmed.
    fn inspect(&self, name: &str, fmt: &str) -> Result<String> {
        let o = self.cmd(&["inspect", "--format", fmt, name])?.ok()?;
        Ok(o.stdout.trim().to_string())
    }

    fn wait_status(&self, name: &str, want: &str) -> Result<()> {
        let mut last = String::new();
        let r = wait_until(&format!("{name} {want}"), SETTLE, || {
            last = self.inspect(name, "{{.State.Status}}")?;
            Ok(last == want)
        });
        r.with_context(|| format!("last status {last:?}"))
    }

    /// The host PID of the container's init.
    fn pid(&self, name: &str) -> Result<i32> {
        let s = self.inspect(name, "{{.State.Pid}}")?;
        s.parse().with_context(|| format!("pid of {name}: {s:?}"))
    }

    /// `script -qec "<podman ...> args..."` so that podman sees a terminal on stdin.
    fn under_tty(&self, args: &[String]) -> Result<Outcome> {
        let mut all = self.global_args();
        all.extend(args.iter().cloned());
        let line = shell_line(Path::new("podman"), &all);
        let mut c = Command::new("script");
        self.env(&mut c);
        c.args(["-q", "-e", "-c", &line, "/dev/null"]);
        run_captured(c)
    }

    /// Fails if a container's own cgroup (anything but conmon's) is left below our parent.
    fn expect_no_container_cgroups(&self) -> Result<()> {
        let left: Vec<String> = host::cgroup_children(&self.cgroup_parent)
            .into_iter()
            .filter(|n| n != "conmon")
            .collect();
        expect_eq(
            &format!("container cgroups left below {}", self.cgroup_parent),
            left,
            Vec::new(),
        )
    }
}

impl Drop for Podman<'_> {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.cmd(&["system", "reset", "--force"]);
        let dir = self.dir.path().display().to_string();
        host::kill_procs_with_arg(&dir, "podman/conmon");
        if cleanup::kill_procs_rooted_under(self.dir.path()) > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        cleanup::detach_mounts_under(self.dir.path());
        host::remove_cgroup_tree(&self.cgroup_parent);
    }
}

fn run_rm(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let name = unique_id();
    let o = p.run(
        &["--rm", "--name", &name],
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
    )?;
    expect_eq(&format!("exit code: {}", o.describe()), o.code, Some(3))?;
    expect_contains("stdout", &o.stdout, "out")?;
    expect_contains("stderr", &o.stderr, "err")?;
    let ps = p.cmd(&["ps", "--all", "--format", "{{.Names}}"])?.ok()?;
    if ps.stdout.contains(&name) {
        bail!("--rm container still listed:\n{}", ps.stdout);
    }
    p.expect_no_container_cgroups()
}

/// podman turns the runtime's error text into 127 (not found) and 126 (cannot exec).
fn exit_codes(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let o = p.run(&["--rm"], &["true"])?;
    expect_eq(&format!("true: {}", o.describe()), o.code, Some(0))?;
    let o = p.run(&["--rm"], &["/nonexistent"])?;
    expect_eq(
        &format!("missing binary: {}", o.describe()),
        o.code,
        Some(127),
    )?;
    let o = p.run(&["--rm"], &["/etc/passwd"])?;
    expect_eq(
        &format!("not executable: {}", o.describe()),
        o.code,
        Some(126),
    )?;
    p.expect_no_container_cgroups()
}

fn detach_exec_stop_rm(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let n = unique_id();
    let script = "trap 'echo got-term; exit 0' TERM; echo started; while :; do sleep 0.1; done";
    p.detached(&n, &[], &["sh", "-c", script])?;
    wait_until("`started` in podman logs", SETTLE, || {
        Ok(p.cmd(&["logs", &n])?.stdout.contains("started"))
    })?;
    let o = p.cmd(&[
        "exec",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        &n,
        "sh",
        "-c",
        "echo $FOO; pwd; exit 4",
    ])?;
    expect_eq(
        &format!("exec exit code: {}", o.describe()),
        o.code,
        Some(4),
    )?;
    expect_eq("exec output", o.stdout.as_str(), "bar\n/tmp\n")?;
    let o = p.cmd(&["exec", "--user", "1000", &n, "id", "-u"])?.ok()?;
    expect_eq("exec --user", o.stdout.trim(), "1000")?;
    p.cmd(&["stop", "--time", "10", &n])?.ok()?;
    expect_eq(
        "status after stop",
        p.inspect(&n, "{{.State.Status}}")?,
        "exited".into(),
    )?;
    expect_eq(
        "exit code after stop",
        p.inspect(&n, "{{.State.ExitCode}}")?,
        "0".into(),
    )?;
    expect_contains("logs", &p.cmd(&["logs", &n])?.stdout, "got-term")?;
    // A second life: podman deletes the old runtime container and creates a new one.
    p.cmd(&["start", &n])?.ok()?;
    p.wait_status(&n, "running")?;
    p.cmd(&["kill", &n])?.ok()?;
    p.wait_status(&n, "exited")?;
    expect_eq(
        "exit code after kill",
        p.inspect(&n, "{{.State.ExitCode}}")?,
        "137".into(),
    )?;
    p.cmd(&["rm", &n])?.ok()?;
    let o = p.cmd(&["container", "exists", &n])?;
    expect_eq("container exists after rm", o.code, Some(1))?;
    p.expect_no_container_cgroups()
}

fn run_tty(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let mut args = vec!["run".to_string()];
    args.extend(p.run_flags(&["--rm", "-it"]));
    // podman 4.3 starts the container and attaches to conmon concurrently: output written
    // before it has attached is not shown. A fast runtime wins that race now and then, so
    // the container gives the attach a moment before writing.
    args.extend([IMAGE, "sh", "-c", "sleep 0.5; tty; echo tty-ok; exit 6"].map(String::from));
    let o = p.under_tty(&args)?;
    expect_eq(
        &format!("run -it exit code: {}", o.describe()),
        o.code,
        Some(6),
    )?;
    expect_contains("run -it output", &o.stdout, "/dev/pts/")?;
    expect_contains("run -it output", &o.stdout, "tty-ok")?;
    let n = unique_id();
    p.detached(&n, &[], &["sleep", "1000"])?;
    let exec: Vec<String> = ["exec", "-it", &n, "sh", "-c", "tty; exit 7"]
        .map(String::from)
        .to_vec();
    let o = p.under_tty(&exec)?;
    expect_eq(
        &format!("exec -it exit code: {}", o.describe()),
        o.code,
        Some(7),
    )?;
    expect_contains("exec -it output", &o.stdout, "/dev/pts/")
}

/// `--memory`, `--pids-limit`, `--cpus`: seen inside the container and in the host cgroup.
fn limits(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let n = unique_id();
    let opts = ["--memory", "64m", "--pids-limit", "77", "--cpus", "1.5"];
    let script = format!("{LIMITS_SCRIPT}; echo limits-done; exec sleep 1000");
    p.detached(&n, &opts, &["sh", "-c", &script])?;
    let mut logs = String::new();
    wait_until("limits in podman logs", SETTLE, || {
        logs = p.cmd(&["logs", &n])?.stdout;
        Ok(logs.contains("limits-done"))
    })?;
    expect_limits("inside the container", &logs, true)?;
    let pid = p.pid(&n)?;
    let v1 = host::is_v1("memory");
    let (mem, pids) = if v1 {
        ("memory.limit_in_bytes", "pids.max")
    } else {
        ("memory.max", "pids.max")
    };
    expect_eq(
        "host memory limit",
        host::cgroup_file(pid, "memory", mem)?,
        "67108864".into(),
    )?;
    expect_eq(
        "host pids limit",
        host::cgroup_file(pid, "pids", pids)?,
        "77".into(),
    )?;
    if host::is_v1("cpu") {
        expect_eq(
            "host cpu quota",
            host::cgroup_file(pid, "cpu", "cpu.cfs_quota_us")?,
            "150000".into(),
        )?;
    } else {
        expect_eq(
            "host cpu.max",
            host::cgroup_file(pid, "cpu", "cpu.max")?,
            "150000 100000".into(),
        )?;
    }
    let cg = host::cgroup_dir(pid, "memory")?;
    expect_contains(
        "container cgroup below --cgroup-parent",
        &cg.display().to_string(),
        &p.cgroup_parent,
    )?;
    p.cmd(&["rm", "--force", "--time", "0", &n])?.ok()?;
    p.expect_no_container_cgroups()
}

fn pause_unpause(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let n = unique_id();
    p.detached(&n, &[], &["sleep", "1000"])?;
    let pid = p.pid(&n)?;
    p.cmd(&["pause", &n])?.ok()?;
    expect_eq(
        "status after pause",
        p.inspect(&n, "{{.State.Status}}")?,
        "paused".into(),
    )?;
    let frozen = if host::is_v1("freezer") {
        host::cgroup_file(pid, "freezer", "freezer.state")? == "FROZEN"
    } else {
        host::cgroup_file(pid, "freezer", "cgroup.freeze")? == "1"
    };
    expect_eq("host freezer frozen", frozen, true)?;
    p.cmd(&["unpause", &n])?.ok()?;
    expect_eq(
        "status after unpause",
        p.inspect(&n, "{{.State.Status}}")?,
        "running".into(),
    )?;
    let o = p.cmd(&["exec", &n, "echo", "alive"])?.ok()?;
    expect_eq("exec after unpause", o.stdout.trim(), "alive")?;
    p.cmd(&["rm", "--force", "--time", "0", &n])?.ok()?;
    p.expect_no_container_cgroups()
}

fn top(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let n = unique_id();
    p.detached(&n, &[], &["sh", "-c", "sleep 1000 & exec sleep 999"])?;
    let o = p.cmd(&["top", &n])?.ok()?;
    expect_contains("podman top", &o.stdout, "sleep 999")?;
    expect_contains("podman top", &o.stdout, "sleep 1000")?;
    let o = p.cmd(&["top", &n, "pid", "args"])?.ok()?;
    let first = o.stdout.lines().nth(1).unwrap_or_default().to_string();
    expect_contains("podman top pid args: pid 1 first", &first, "1 ")?;
    expect_contains("podman top pid args", &o.stdout, "sleep 999")
}

fn ulimit(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let script = "ulimit -Sn; ulimit -Hn";
    let o = p
        .run(&["--rm", "--ulimit", NOFILE], &["sh", "-c", script])?
        .ok()?;
    expect_eq("nofile 1024:1024", o.stdout.as_str(), "1024\n1024\n")?;
    let o = p
        .run(
            &["--rm", "--ulimit", "nofile=512:1000"],
            &["sh", "-c", script],
        )?
        .ok()?;
    expect_eq("nofile 512:1000", o.stdout.as_str(), "512\n1000\n")
}

/// podman's default seccomp profile is loaded (mode 2); `seccomp=unconfined` loads none.
fn seccomp(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let status = ["grep", "^Seccomp:", "/proc/self/status"];
    let o = p.run(&["--rm"], &status)?.ok()?;
    expect_eq(
        "default profile",
        o.stdout.split_whitespace().nth(1),
        Some("2"),
    )?;
    let o = p
        .run(&["--rm", "--security-opt", "seccomp=unconfined"], &status)?
        .ok()?;
    expect_eq("unconfined", o.stdout.split_whitespace().nth(1), Some("0"))
}

/// `--pid/--ipc/--uts/--network container:X`: the new container's init must live in X's
/// namespaces (the OCI `path` form), so X's init is its PID 1.
fn shared_namespaces(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let n = unique_id();
    p.detached(&n, &[], &["sleep", "1000"])?;
    let pid = p.pid(&n)?;
    let target = format!("container:{n}");
    let mut opts = vec!["--rm"];
    for k in ["--pid", "--ipc", "--uts", "--network"] {
        opts.extend([k, target.as_str()]);
    }
    let script = "for k in pid ipc uts net; do echo $k=$(readlink /proc/$$/ns/$k); done; \
                  echo init=$(tr '\\0' ' ' < /proc/1/cmdline); echo self=$$";
    let o = p.run(&opts, &["sh", "-c", script])?.ok()?;
    for k in ["pid", "ipc", "uts", "net"] {
        let want = std::fs::read_link(format!("/proc/{pid}/ns/{k}"))?;
        expect_contains(
            &format!("{k} namespace of the joining container's init"),
            &o.stdout,
            &format!("{k}={}\n", want.display()),
        )?;
    }
    expect_contains(
        "PID 1 seen by the joining container",
        &o.stdout,
        "init=sleep 1000",
    )
}

/// Common `run` options that become mounts, devices, identity and capabilities in the spec.
fn run_options(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let vol = p.path("vol");
    std::fs::create_dir_all(&vol)?;
    std::fs::write(vol.join("f"), "from-host\n")?;
    let v = format!("{}:/vol:ro", vol.display());
    let opts = [
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "-v",
        &v,
        "--hostname",
        "hn1",
        "--shm-size",
        "8m",
        "--cap-drop",
        "all",
        "--cap-add",
        "CAP_CHOWN",
        "--user",
        "1000:1000",
        "--group-add",
        "5",
        "--security-opt",
        "no-new-privileges",
        "--device",
        "/dev/null:/dev/mynull:rw",
        "-e",
        "FOO=bar",
        "--workdir",
        "/tmp",
    ];
    let script = "touch /x 2>/dev/null || echo root-ro; touch /scratch/ok && echo tmpfs-rw; \
        cat /vol/f; touch /vol/g 2>/dev/null || echo vol-ro; hostname; \
        df -k /dev/shm | awk 'NR==2{print \"shm=\" $2}'; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; \
        id; echo x > /dev/mynull && echo dev-ok; echo FOO=$FOO; pwd";
    let o = p.run(&opts, &["sh", "-c", script])?.ok()?;
    for want in [
        "root-ro\n",
        "tmpfs-rw\n",
        "from-host\n",
        "vol-ro\n",
        "hn1\n",
        "shm=8192\n",
        "CapBnd:\t0000000000000001\n",
        "NoNewPrivs:\t1\n",
        "uid=1000(user) gid=1000(user) groups=5,1000(user)\n",
        "dev-ok\n",
        "FOO=bar\n",
        "/tmp\n",
    ] {
        expect_contains("run options", &o.stdout, want)?;
    }
    Ok(())
}

/// `--uidmap/--gidmap`: a user namespace whose root is host uid 200000.
fn userns(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let opts = [
        "--rm",
        "--uidmap",
        "0:200000:65536",
        "--gidmap",
        "0:200000:65536",
    ];
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /tmp/x && echo write-ok";
    let o = p.run(&opts, &["sh", "-c", script])?.ok()?;
    let maps: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .take(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    expect_eq(
        "uid and gid maps",
        maps,
        vec![vec!["0", "200000", "65536"]; 2],
    )?;
    expect_contains("root inside", &o.stdout, "\n0\n")?;
    expect_contains("rootfs writable", &o.stdout, "write-ok")
}

/// A memory-limited init that allocates past its limit dies with SIGKILL: exit 137.
fn oom(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let opts = ["--rm", "--memory", "16m", "--memory-swap", "16m"];
    let o = p.run(
        &opts,
        &[
            "sh",
            "-c",
            "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
        ],
    )?;
    expect_eq(
        &format!("OOM-killed init: {}", o.describe()),
        o.code,
        Some(137),
    )?;
    p.expect_no_container_cgroups()
}

/// `create` + `init` (runtime create: status created/initialized) + `start` + `wait`.
fn create_init_start(rt: &Runtime) -> Result<()> {
    let p = Podman::new(rt)?;
    let n = unique_id();
    let mut c = p.command();
    c.arg("create")
        .args(p.run_flags(&["--name", &n]))
        .arg(IMAGE)
        .args(["sh", "-c", "echo hello-created; exit 9"]);
    run_captured(c)?.ok()?;
    p.cmd(&["init", &n])?.ok()?;
    expect_eq(
        "status after init",
        p.inspect(&n, "{{.State.Status}}")?,
        "initialized".into(),
    )?;
    p.cmd(&["start", &n])?.ok()?;
    let o = p.cmd(&["wait", &n])?.ok()?;
    expect_eq("podman wait", o.stdout.trim(), "9")?;
    expect_contains("logs", &p.cmd(&["logs", &n])?.stdout, "hello-created")?;
    p.cmd(&["rm", &n])?.ok()?;
    p.expect_no_container_cgroups()
}
