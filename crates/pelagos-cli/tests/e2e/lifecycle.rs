//! The OCI lifecycle through the CLI: create/start/state/kill/delete, invalid transitions
//! and their errors, signal spellings, option placement, default root, JSON log, `run`
//! exit codes, `run --detach`, `--pid-file`, `list`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::support::cleanup::pid_alive;
use crate::support::Case;
use crate::support::{case, expect_contains, expect_eq, Bundle, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("state_machine", state_machine),
        case("create_duplicate_id", create_duplicate_id),
        case("start_twice", start_twice),
        case("start_stopped", start_stopped),
        case("delete_running", delete_running),
        case("delete_force_created", delete_force_created),
        case("unknown_id", unknown_id),
        case("kill_stopped", kill_stopped),
        case("kill_by_number", |rt| kill_with(rt, &["9"], 137)),
        case("kill_by_signame", |rt| kill_with(rt, &["SIGKILL"], 137)),
        case("kill_by_name", |rt| kill_with(rt, &["KILL"], 137)),
        case("kill_term_default", |rt| kill_with(rt, &[], 42)),
        case("kill_term_by_name", |rt| kill_with(rt, &["TERM"], 42)),
        case("kill_term_by_number", |rt| kill_with(rt, &["15"], 42)),
        case("kill_usr1_by_name", |rt| kill_usr1(rt, "USR1")),
        case("kill_usr1_by_signame", |rt| kill_usr1(rt, "SIGUSR1")),
        case("kill_usr1_by_number", |rt| kill_usr1(rt, "10")),
        case("kill_all", kill_all),
        case("delete_created", delete_created),
        case("run_stdin", run_stdin),
        case("options_after_id", options_after_id),
        case("default_root", default_root),
        case("log_json", log_json),
        case("run_exit_code", run_exit_code),
        case("run_killed", run_killed),
        case("run_detach", run_detach),
        case("pid_file", pid_file),
        case("list_json", list_json),
    ]
}

/// A host directory bind-mounted rw at /shared in the container.
fn shared() -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("pel-e2e-shared-")
        .tempdir()?)
}

/// A bundle whose process marks /shared/started, then waits for /shared/stop and exits 0.
fn waiting_bundle(dir: &Path) -> Result<Bundle> {
    Ok(Bundle::busybox()?
        .mount(
            "/shared",
            "bind",
            &dir.display().to_string(),
            &["rbind", "rw"],
        )
        .sh("touch /shared/started; while [ ! -e /shared/stop ]; do sleep 0.02; done; exit 0"))
}

/// A bundle whose process loops until killed, exiting 42 on SIGTERM.
fn looping_bundle() -> Result<Bundle> {
    Ok(Bundle::busybox()?.sh("trap 'exit 42' TERM; sleep 1000 & wait"))
}

fn wait_file(p: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if p.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("{} did not appear within {timeout:?}", p.display())
}

/// A failed command whose stderr mentions `needle` (case-insensitive).
fn expect_error(what: &str, o: &crate::support::runtime::Outcome, needle: &str) -> Result<()> {
    if o.success() {
        bail!("{what}: expected failure, got success: {}", o.describe());
    }
    if !o.stderr.to_lowercase().contains(&needle.to_lowercase()) {
        bail!("{what}: error should mention {needle:?}: {}", o.describe());
    }
    Ok(())
}

fn state_machine(rt: &Runtime) -> Result<()> {
    let dir = shared()?;
    let c = Container::new(rt, waiting_bundle(dir.path())?)?;
    c.create()?.ok()?;
    let s = c.state()?;
    expect_eq("status after create", s["status"].as_str(), Some("created"))?;
    expect_eq("id", s["id"].as_str(), Some(c.id.as_str()))?;
    expect_eq(
        "bundle",
        s["bundle"].as_str(),
        Some(c.bundle.path_str().as_str()),
    )?;
    let pid = s["pid"].as_i64().context("state has no pid after create")?;
    if pid <= 0 || !pid_alive(i32::try_from(pid)?) {
        bail!("pid {pid} after create is not a live process");
    }
    std::thread::sleep(Duration::from_millis(200));
    if dir.path().join("started").exists() {
        bail!("user process ran before start");
    }
    c.start()?.ok()?;
    wait_file(&dir.path().join("started"), crate::support::SETTLE)?;
    expect_eq("status after start", c.status()?, "running".into())?;
    std::fs::write(dir.path().join("stop"), "")?;
    c.wait_status("stopped", crate::support::SETTLE)?;
    expect_eq(
        "id when stopped",
        c.state()?["id"].as_str().map(str::to_string),
        Some(c.id.clone()),
    )?;
    c.delete()?.ok()?;
    expect_error(
        "state after delete",
        &c.cmd(&["state", &c.id])?,
        "not exist",
    )?;
    let left = c.leftover_state();
    if !left.is_empty() {
        bail!("state remains after delete: {left:?}");
    }
    Ok(())
}

fn create_duplicate_id(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    let again = c.create()?;
    expect_error("second create with the same id", &again, "already exists")?;
    expect_eq("first container untouched", c.status()?, "created".into())
}

fn start_twice(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    c.start()?.ok()?;
    expect_error("second start", &c.start()?, "running")?;
    expect_eq("still running", c.status()?, "running".into())
}

fn start_stopped(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("exit 0"))?;
    c.create_start_wait()?;
    expect_error("start of a stopped container", &c.start()?, "stopped")
}

fn delete_running(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    c.start()?.ok()?;
    expect_error("delete without --force", &c.delete()?, "running")?;
    expect_eq(
        "still running after refused delete",
        c.status()?,
        "running".into(),
    )?;
    let pid = i32::try_from(c.state()?["pid"].as_i64().unwrap_or(0))?;
    c.cmd(&["delete", "--force", &c.id])?.ok()?;
    expect_error(
        "state after delete --force",
        &c.cmd(&["state", &c.id])?,
        "not exist",
    )?;
    std::thread::sleep(Duration::from_millis(100));
    if pid > 0 && pid_alive(pid) {
        bail!("container process {pid} survived delete --force");
    }
    Ok(())
}

fn delete_force_created(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    let pid = i32::try_from(c.state()?["pid"].as_i64().unwrap_or(0))?;
    c.cmd(&["delete", "--force", &c.id])?.ok()?;
    std::thread::sleep(Duration::from_millis(100));
    if pid > 0 && pid_alive(pid) {
        bail!("init process {pid} of a created container survived delete --force");
    }
    expect_error(
        "state after delete",
        &c.cmd(&["state", &c.id])?,
        "not exist",
    )
}

fn unknown_id(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?)?;
    for args in [
        &["state"][..],
        &["start"],
        &["kill"],
        &["kill", "KILL"],
        &["delete"],
    ] {
        let mut a: Vec<&str> = vec![args[0], &c.id];
        a.extend(&args[1..]);
        expect_error(&format!("{a:?} of an unknown id"), &c.cmd(&a)?, "not exist")?;
    }
    Ok(())
}

fn kill_stopped(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("exit 0"))?;
    c.create_start_wait()?;
    expect_error(
        "kill of a stopped container",
        &c.kill("KILL")?,
        "not running",
    )
}

/// Waits until the container's init handles signal `signo`: an init ignores
/// signals it does not handle, so one sent earlier would be lost.
fn wait_handler(c: &Container, signo: u32) -> Result<()> {
    let pid = c.state()?["pid"].as_i64().context("state has no pid")?;
    let start = Instant::now();
    while start.elapsed() < crate::support::SETTLE {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught =
            crate::support::field(&status, "SigCgt").and_then(|v| u64::from_str_radix(v, 16).ok());
        if caught.is_some_and(|m| m & (1 << (signo - 1)) != 0) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("container init {pid} never installed its handler for signal {signo}")
}

/// Starts a looping container, sends `sig` (none: the default), expects `stopped` and, via
/// a foreground `run` of the same bundle, the exit code `want_code`.
fn kill_with(rt: &Runtime, sig: &[&str], want_code: i32) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    c.start()?.ok()?;
    wait_handler(&c, 15)?;
    let mut args = vec!["kill", c.id.as_str()];
    args.extend(sig);
    c.cmd(&args)?.ok()?;
    c.wait_status("stopped", crate::support::SETTLE)?;
    c.delete()?.ok()?;

    let r = Container::new(rt, looping_bundle()?)?;
    let mut child = r.spawn_run()?;
    r.wait_status("running", crate::support::SETTLE)?;
    wait_handler(&r, 15)?;
    let mut args = vec!["kill", r.id.as_str()];
    args.extend(sig);
    r.cmd(&args)?.ok()?;
    let st = crate::support::runtime::wait_timeout(&mut child, crate::support::SETTLE)?;
    expect_eq(
        &format!("exit code of `run` after kill {sig:?}"),
        st.code(),
        Some(want_code),
    )
}

fn kill_all(rt: &Runtime) -> Result<()> {
    let b =
        Bundle::busybox()?.sh("sleep 1000 & sleep 1000 & trap 'exit 42' TERM; sleep 1000 & wait");
    let c = Container::new(rt, b)?;
    c.create()?.ok()?;
    c.start()?.ok()?;
    std::thread::sleep(Duration::from_millis(100));
    c.cmd(&["kill", "--all", &c.id, "KILL"])?.ok()?;
    c.wait_status("stopped", crate::support::SETTLE)?;
    let left = crate::support::cleanup::procs_rooted_under(&c.bundle.rootfs());
    expect_eq("processes left after kill --all", left, vec![])
}

fn options_after_id(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    let pidf = c.scratch().join("pidfile");
    let (b, p) = (c.bundle.path_str(), pidf.display().to_string());
    c.create_with(&["create", &c.id, "--bundle", &b, "--pid-file", &p])?
        .ok()?;
    expect_eq("status", c.status()?, "created".into())?;
    let pid: i64 = std::fs::read_to_string(&pidf)?.trim().parse()?;
    expect_eq("pid file", Some(pid), c.state()?["pid"].as_i64())?;
    c.cmd(&["delete", &c.id, "--force"])?.ok()?;
    expect_error(
        "state after `delete ID --force`",
        &c.cmd(&["state", &c.id])?,
        "not exist",
    )
}

fn default_root(rt: &Runtime) -> Result<()> {
    let c = Container::with_default_root(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    if !c.state_dir().is_dir() {
        bail!(
            "no state under the default root {}",
            c.state_dir().display()
        );
    }
    expect_eq("status", c.status()?, "created".into())?;
    c.cmd(&["delete", "--force", &c.id])?.ok()?;
    if c.state_dir().exists() {
        bail!("{} remains after delete", c.state_dir().display());
    }
    Ok(())
}

fn log_json(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?)?;
    let log = c.scratch().join("runtime.log");
    let l = log.display().to_string();
    let o = c.cmd(&["--log", &l, "--log-format", "json", "state", &c.id])?;
    if o.success() {
        bail!("state of an unknown id succeeded: {}", o.describe());
    }
    let text = std::fs::read_to_string(&log).with_context(|| format!("read {l}"))?;
    let mut found = false;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("log line is not JSON: {line}"))?;
        if v["level"] == "error" && v["msg"].as_str().is_some_and(|m| m.contains("not exist")) {
            found = true;
        }
    }
    if !found {
        bail!("no {{\"level\":\"error\",\"msg\":\"...not exist...\"}} line in {l}:\n{text}");
    }
    Ok(())
}

fn run_exit_code(rt: &Runtime) -> Result<()> {
    for code in [0, 3, 127] {
        let c = Container::new(rt, Bundle::busybox()?.sh(&format!("echo out; exit {code}")))?;
        let o = c.run()?;
        expect_eq(
            &format!("run exit code: {}", o.describe()),
            o.code,
            Some(code),
        )?;
        expect_contains("run output", &o.stdout, "out")?;
        expect_error("state after run", &c.cmd(&["state", &c.id])?, "not exist")?;
    }
    Ok(())
}

fn run_killed(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("sleep 1000 & wait"))?;
    let mut child = c.spawn_run()?;
    c.wait_status("running", crate::support::SETTLE)?;
    c.kill("9")?.ok()?;
    let st = crate::support::runtime::wait_timeout(&mut child, crate::support::SETTLE)?;
    expect_eq("run exit code after SIGKILL", st.code(), Some(128 + 9))
}

fn run_detach(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    let b = c.bundle.path_str();
    let start = Instant::now();
    c.create_with(&["run", "--detach", "--bundle", &b, &c.id])?
        .ok()?;
    if start.elapsed() > crate::support::SETTLE {
        bail!("run --detach did not return promptly");
    }
    expect_eq("status after run --detach", c.status()?, "running".into())?;
    c.kill("KILL")?.ok()?;
    c.wait_status("stopped", crate::support::SETTLE)?;
    c.delete()?.ok()?;
    Ok(())
}

fn pid_file(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    let pidf = c.scratch().join("pid");
    let (b, p) = (c.bundle.path_str(), pidf.display().to_string());
    c.create_with(&["create", "--bundle", &b, "--pid-file", &p, &c.id])?
        .ok()?;
    let text = std::fs::read_to_string(&pidf)?;
    let pid: i64 = text
        .trim()
        .parse()
        .with_context(|| format!("pid file content {text:?}"))?;
    expect_eq("pid file vs state", Some(pid), c.state()?["pid"].as_i64())
}

fn list_json(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    let o = c.cmd(&["list", "--format", "json"])?.ok()?;
    let v: serde_json::Value =
        serde_json::from_str(&o.stdout).with_context(|| format!("list JSON: {}", o.stdout))?;
    let arr = v.as_array().context("list --format json is not an array")?;
    let me = arr
        .iter()
        .find(|e| e["id"] == c.id.as_str())
        .with_context(|| format!("{} not in {}", c.id, o.stdout))?;
    expect_eq("list status", me["status"].as_str(), Some("created"))?;
    expect_eq(
        "list bundle",
        me["bundle"].as_str(),
        Some(c.bundle.path_str().as_str()),
    )
}

/// A handled non-terminating signal reaches the process: its trap exits with 10.
fn kill_usr1(rt: &Runtime, sig: &str) -> Result<()> {
    let b = Bundle::busybox()?.sh("trap 'exit 10' USR1; sleep 1000 & wait");
    let c = Container::new(rt, b)?;
    let mut child = c.spawn_run()?;
    c.wait_status("running", crate::support::SETTLE)?;
    wait_handler(&c, 10)?;
    c.kill(sig)?.ok()?;
    let st = crate::support::runtime::wait_timeout(&mut child, crate::support::SETTLE)?;
    expect_eq(&format!("exit code after kill {sig}"), st.code(), Some(10))
}

/// A created (never started) container is deleted without --force, its init gone.
fn delete_created(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, looping_bundle()?)?;
    c.create()?.ok()?;
    let pid = i32::try_from(c.state()?["pid"].as_i64().unwrap_or(0))?;
    c.delete()?.ok()?;
    std::thread::sleep(Duration::from_millis(100));
    if pid > 0 && pid_alive(pid) {
        bail!("init {pid} of a deleted created container still lives");
    }
    expect_error(
        "state after delete",
        &c.cmd(&["state", &c.id])?,
        "not exist",
    )
}

/// `run` passes its stdin to the container process (terminal off).
fn run_stdin(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("cat; echo end"))?;
    c.bundle.write()?;
    let input = c.scratch().join("input");
    std::fs::write(&input, "piped-input\n")?;
    let b = c.bundle.path_str();
    let mut cmd = rt.command(c.root());
    cmd.args(["run", "--bundle", &b, &c.id]);
    let mut out = tempfile::tempfile()?;
    cmd.stdin(std::fs::File::open(&input)?)
        .stdout(out.try_clone()?)
        .stderr(std::process::Stdio::null());
    let st = crate::support::runtime::spawn_wait(&mut cmd, Duration::from_secs(60))?;
    let text = crate::support::runtime::read_all(&mut out)?;
    expect_eq("exit", st.code(), Some(0))?;
    expect_eq("stdout", text, "piped-input\nend\n".to_string())
}
