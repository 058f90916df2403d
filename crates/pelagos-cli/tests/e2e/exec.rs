//! `exec`: a second process joining a running container sees the container's namespaces,
//! root and security settings, takes its own cwd/env/user, and reports its exit code.

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::support::runtime::Outcome;
use crate::support::{case, expect_contains, expect_eq, field, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("joins_namespaces", joins_namespaces),
        case("exit_code", exit_code),
        case("cwd_env_user", cwd_env_user),
        case("same_security", same_security),
        case("process_json", process_json),
        case("detach_pid_file", detach_pid_file),
        case("stopped_container", stopped_container),
        case("unknown_id", unknown_id),
    ]
}

/// A running container whose init just waits.
fn running(rt: &Runtime) -> Result<Container<'_>> {
    let c = Container::new(rt, Bundle::busybox()?.args(&["sleep", "1000"]))?;
    c.create()?.ok()?;
    c.start()?.ok()?;
    c.wait_status("running", crate::support::SETTLE)?;
    Ok(c)
}

/// `exec [opts...] ID args...`.
fn exec(c: &Container, opts: &[&str], args: &[&str]) -> Result<Outcome> {
    let mut a = vec!["exec"];
    a.extend(opts);
    a.push(&c.id);
    a.extend(args);
    c.cmd(&a)
}

fn joins_namespaces(rt: &Runtime) -> Result<()> {
    let c = running(rt)?;
    let script = "for k in pid net mnt uts ipc; do \
                  [ \"$(readlink /proc/self/ns/$k)\" = \"$(readlink /proc/1/ns/$k)\" ] && echo same-$k; done; \
                  hostname; ls /bin/busybox";
    let o = exec(&c, &[], &["sh", "-c", script])?.ok()?;
    for k in ["pid", "net", "mnt", "uts", "ipc"] {
        expect_contains(
            "exec joins the container's namespaces",
            &o.stdout,
            &format!("same-{k}"),
        )?;
    }
    expect_contains("container hostname", &o.stdout, "runc\n")?;
    expect_contains("container root", &o.stdout, "/bin/busybox")
}

fn exit_code(rt: &Runtime) -> Result<()> {
    let c = running(rt)?;
    let o = exec(&c, &[], &["sh", "-c", "echo out; exit 5"])?;
    expect_eq(
        &format!("exec exit code: {}", o.describe()),
        o.code,
        Some(5),
    )?;
    expect_contains("exec stdout", &o.stdout, "out")?;
    expect_eq("container still running", c.status()?, "running".into())
}

fn cwd_env_user(rt: &Runtime) -> Result<()> {
    let c = running(rt)?;
    let opts = ["--cwd", "/tmp", "--env", "FOO=bar", "--user", "1000:1000"];
    let o = exec(&c, &opts, &["sh", "-c", "pwd; echo FOO=$FOO; id -u; id -g"])?.ok()?;
    expect_eq(
        "pwd, env, uid, gid",
        o.stdout.lines().collect::<Vec<_>>(),
        vec!["/tmp", "FOO=bar", "1000", "1000"],
    )
}

/// Without overrides the exec'd process gets the container process's capabilities and
/// no_new_privs.
fn same_security(rt: &Runtime) -> Result<()> {
    let c = running(rt)?;
    let o = exec(&c, &[], &["sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; echo ---; grep -E '^(Cap|NoNewPrivs)' /proc/1/status"])?
        .ok()?;
    let (mine, init) = o.stdout.split_once("---").context("probe output")?;
    for k in ["CapBnd", "CapPrm", "CapEff", "NoNewPrivs"] {
        expect_eq(
            &format!("{k} of exec vs init"),
            field(mine, k),
            field(init, k),
        )?;
    }
    Ok(())
}

fn process_json(rt: &Runtime) -> Result<()> {
    let c = running(rt)?;
    let p = c.scratch().join("process.json");
    let proc_ = json!({
        "terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/etc",
        "args": ["sh", "-c", "pwd; echo V=$V"], "env": ["PATH=/bin", "V=from-json"]
    });
    std::fs::write(&p, proc_.to_string())?;
    let ps = p.display().to_string();
    let o = exec(&c, &["--process", &ps], &[])?.ok()?;
    expect_eq(
        "process.json",
        o.stdout.lines().collect::<Vec<_>>(),
        vec!["/etc", "V=from-json"],
    )
}

fn detach_pid_file(rt: &Runtime) -> Result<()> {
    let c = running(rt)?;
    let pidf = c.scratch().join("exec.pid");
    let ps = pidf.display().to_string();
    exec(&c, &["--detach", "--pid-file", &ps], &["sleep", "100"])?.ok()?;
    let pid: i32 = std::fs::read_to_string(&pidf)?
        .trim()
        .parse()
        .context("exec pid file")?;
    if !crate::support::cleanup::pid_alive(pid) {
        bail!("detached exec process {pid} is not running");
    }
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let init = i32::try_from(c.state()?["pid"].as_i64().unwrap_or(0))?;
    expect_eq(
        "detached exec in the container's pid namespace",
        ns(pid),
        ns(init),
    )
}

fn stopped_container(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("exit 0"))?;
    c.create_start_wait()?;
    let o = exec(&c, &[], &["true"])?;
    if o.success() || o.code.is_none() {
        bail!("exec into a stopped container succeeded: {}", o.describe());
    }
    expect_contains("error names the state", &o.stderr.to_lowercase(), "stopped")
}

fn unknown_id(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?)?;
    let o = exec(&c, &[], &["true"])?;
    if o.success() || o.code.is_none() {
        bail!("exec with an unknown id succeeded: {}", o.describe());
    }
    expect_contains("error", &o.stderr, "not exist")
}
