//! The rest of the command line: `spec`, `features`, the state JSON's fields,
//! `--preserve-fds`, `--no-pivot`, and the accepted-but-inert global flags.

use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::support::runtime::run_captured;
use crate::support::{case, expect_contains, expect_eq, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("spec", spec),
        case("features", features),
        case("state_fields", state_fields),
        case("preserve_fds", preserve_fds),
        case("no_pivot", no_pivot),
        case("global_flags", global_flags),
    ]
}

/// `spec` writes a config.json in the current directory and refuses to overwrite it.
fn spec(rt: &Runtime) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("pel-e2e-spec-").tempdir()?;
    let mut c = rt.command(None);
    c.arg("spec").current_dir(dir.path());
    run_captured(c)?.ok()?;
    let p = dir.path().join("config.json");
    let text =
        std::fs::read_to_string(&p).with_context(|| format!("spec wrote no {}", p.display()))?;
    let v: Value = serde_json::from_str(&text).context("spec output is not JSON")?;
    expect_eq("root.path", v["root"]["path"].as_str(), Some("rootfs"))?;
    expect_eq(
        "process.args",
        v["process"]["args"].clone(),
        serde_json::json!(["sh"]),
    )?;
    if v["ociVersion"].as_str().is_none_or(str::is_empty)
        || v["linux"]["namespaces"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        bail!("spec lacks ociVersion or linux.namespaces:\n{text}");
    }
    let mut again = rt.command(None);
    again.arg("spec").current_dir(dir.path());
    let o = run_captured(again)?;
    if o.success() {
        bail!("a second `spec` overwrote config.json: {}", o.describe());
    }
    expect_contains("refusal names the file", &o.stderr, "config.json")
}

fn features(rt: &Runtime) -> Result<()> {
    let o = rt.exec(None, &["features"])?.ok()?;
    let v: Value = serde_json::from_str(&o.stdout)
        .with_context(|| format!("features is not JSON: {}", o.stdout))?;
    for k in ["ociVersionMin", "ociVersionMax"] {
        if v[k].as_str().is_none() {
            bail!("features lacks {k}: {}", o.stdout);
        }
    }
    let hooks: Vec<&str> = v["hooks"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        if !hooks.contains(&h) {
            bail!("features.hooks lacks {h}: {hooks:?}");
        }
    }
    if v["mountOptions"].as_array().is_none_or(Vec::is_empty) {
        bail!("features lacks mountOptions: {}", o.stdout);
    }
    Ok(())
}

/// The state JSON has the runtime spec's fields with the right types.
fn state_fields(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("sleep 100"))?;
    c.create()?.ok()?;
    let s = c.state()?;
    for k in ["ociVersion", "id", "status", "bundle"] {
        if s[k].as_str().is_none_or(str::is_empty) {
            bail!("state lacks string field {k}: {s}");
        }
    }
    if s["pid"].as_i64().is_none_or(|p| p <= 0) {
        bail!("state of a created container lacks pid: {s}");
    }
    Ok(())
}

/// `--preserve-fds 1` passes fd 3 into the container; no other fd leaks.
fn preserve_fds(rt: &Runtime) -> Result<()> {
    let c = Container::new(
        rt,
        Bundle::busybox()?.sh("cat <&3; echo fds:; ls /proc/$$/fd; true"),
    )?;
    c.bundle.write()?;
    let data = c.scratch().join("passed");
    std::fs::write(&data, "through-fd-3\n")?;
    let root = c.root().context("private root")?;
    // A shell opens fd 3 for the runtime: std's Command cannot place an fd at 3 safely.
    let mut sh = Command::new("/bin/sh");
    sh.args(["-c", "exec 3<\"$1\"; shift; exec \"$@\"", "sh"])
        .arg(&data)
        .arg(&rt.bin)
        .arg("--root")
        .arg(root)
        .args([
            "run",
            "--preserve-fds",
            "1",
            "--bundle",
            &c.bundle.path_str(),
            &c.id,
        ]);
    let o = run_captured(sh)?.ok()?;
    expect_contains("fd 3 content", &o.stdout, "through-fd-3")?;
    let fds: Vec<&str> = o
        .stdout
        .split("fds:")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    expect_eq("fds of pid 1", fds, vec!["0", "1", "2", "3"])
}

fn no_pivot(rt: &Runtime) -> Result<()> {
    let c = Container::new(
        rt,
        Bundle::busybox()?.sh("ls /bin/busybox; cat /proc/self/mountinfo | wc -l"),
    )?;
    let b = c.bundle.path_str();
    c.create_with(&["create", "--no-pivot", "--bundle", &b, &c.id])?
        .ok()?;
    c.start()?.ok()?;
    c.wait_status("stopped", crate::support::SETTLE)?;
    expect_contains("rootfs under --no-pivot", &c.output()?.0, "/bin/busybox")
}

/// `--debug` and `--log-format text` (global) and `--no-new-keyring` (run) are accepted.
fn global_flags(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("echo flags-ok"))?;
    let root = c.root().context("private root")?.display().to_string();
    let b = c.bundle.path_str();
    c.bundle.write()?;
    let mut cmd = Command::new(&rt.bin);
    cmd.args([
        "--debug",
        "--root",
        &root,
        "--log-format",
        "text",
        "run",
        "--no-new-keyring",
        "--bundle",
        &b,
        &c.id,
    ]);
    let o = run_captured(cmd)?.ok()?;
    expect_contains("output", &o.stdout, "flags-ok")
}
