//! Documented errors of the command line that every runtime must report the same way:
//! a non-zero exit, a message naming the problem, and nothing created.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::support::runtime::Outcome;
use crate::support::{case, cleanup, expect_eq, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("missing_config", missing_config),
        case("invalid_config_json", invalid_config_json),
        case("invalid_ids", invalid_ids),
        case("missing_id_argument", missing_id_argument),
        case("unknown_signal", unknown_signal),
        case("missing_executable", missing_executable),
    ]
}

/// Fails unless `o` failed (an exit code, not a crash) and its stderr names `needle`.
fn failed_naming(what: &str, o: &Outcome, needle: &str) -> Result<()> {
    if o.success() || o.code.is_none() {
        bail!("{what}: expected a non-zero exit: {}", o.describe());
    }
    if !o.stderr.contains(needle) {
        bail!("{what}: error should name {needle:?}: {}", o.describe());
    }
    Ok(())
}

/// Nothing of `c` exists: no state, no processes, no mounts under the bundle.
fn nothing_left(c: &Container) -> Result<()> {
    std::thread::sleep(Duration::from_millis(50));
    let state = c.leftover_state();
    let procs = cleanup::procs_rooted_under(&c.bundle.rootfs());
    let mounts = cleanup::mounts_under(c.bundle.path());
    if !state.is_empty() || !procs.is_empty() || !mounts.is_empty() {
        bail!("left behind: state {state:?}, processes {procs:?}, mounts {mounts:?}");
    }
    Ok(())
}

/// `create` with `config` as the raw config.json text (`None`: no config.json at all).
fn create_raw(c: &Container, config: Option<&str>) -> Result<Outcome> {
    let p = c.bundle.path().join("config.json");
    let b = c.bundle.path_str();
    let mut cmd = c.rt.command(c.root());
    cmd.args(["create", "--bundle", &b, &c.id]);
    match config {
        Some(text) => std::fs::write(&p, text)?,
        None => {
            let _ = std::fs::remove_file(&p);
        }
    }
    crate::support::runtime::run_captured(cmd)
}

fn missing_config(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?)?;
    failed_naming(
        "create without config.json",
        &create_raw(&c, None)?,
        "config.json",
    )?;
    nothing_left(&c)
}

fn invalid_config_json(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?)?;
    let o = create_raw(&c, Some("{bad json"))?;
    if o.success() || o.code.is_none() {
        bail!(
            "create with invalid JSON: expected a non-zero exit: {}",
            o.describe()
        );
    }
    nothing_left(&c)
}

/// Ids that would name a path outside the state root, or nothing, are refused.
fn invalid_ids(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.sh("true"))?;
    c.bundle.write()?;
    let b = c.bundle.path_str();
    for id in ["../pel-e2e-escape", "a/b", "", ".", ".."] {
        let o = c.cmd(&["create", "--bundle", &b, id])?;
        if o.success() || o.code.is_none() {
            bail!("create accepted the id {id:?}: {}", o.describe());
        }
    }
    let root = c.root().expect("private root");
    let escaped = root.parent().map(|p| p.join("pel-e2e-escape"));
    if escaped.as_ref().is_some_and(|p| p.exists()) {
        bail!(
            "an id with `..` created {:?} outside the state root",
            escaped
        );
    }
    let entries: Vec<_> = std::fs::read_dir(root)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    expect_eq(
        "entries in the state root after refused ids",
        entries,
        vec![],
    )?;
    nothing_left(&c)
}

fn missing_id_argument(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?)?;
    for verb in ["state", "start", "delete", "kill"] {
        let o = c.cmd(&[verb])?;
        if o.success() || o.code.is_none() {
            bail!(
                "`{verb}` without an id: expected a non-zero exit: {}",
                o.describe()
            );
        }
    }
    Ok(())
}

fn unknown_signal(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.args(&["sleep", "100"]))?;
    c.create()?.ok()?;
    c.start()?.ok()?;
    failed_naming("kill with an unknown signal", &c.kill("FOO")?, "FOO")?;
    expect_eq("still running", c.status()?, "running".into())
}

/// A process that does not exist in the image: `run` fails and nothing stays behind.
fn missing_executable(rt: &Runtime) -> Result<()> {
    let c = Container::new(rt, Bundle::busybox()?.args(&["/no/such/binary"]))?;
    let o = c.run()?;
    if o.success() || o.code.is_none() {
        bail!(
            "run of a missing executable: expected a non-zero exit: {}",
            o.describe()
        );
    }
    failed_naming("run of a missing executable", &o, "/no/such/binary")?;
    nothing_left(&c)
}
