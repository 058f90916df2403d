//! OCI hooks: every kind runs at its lifecycle point with the state JSON on stdin; a hook
//! that fails or outlives its timeout makes `create` fail and leaves nothing behind.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::support::{case, cleanup, expect_eq, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("all_kinds", all_kinds),
        case("timeout", timeout),
        case("failing_prestart", failing_prestart),
    ]
}

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook script that saves its stdin as `<kind>.json` and appends `kind` to `order`, in the
/// host directory `dir` or, where the hook runs inside the container, in /hooklog (a bind
/// mount of the same directory).
fn recorder(dir: &Path, kind: &str) -> String {
    format!(
        "d={dir}; [ -d \"$d\" ] || d=/hooklog; cat > \"$d/{kind}.json\"; echo {kind} >> \"$d/order\"",
        dir = dir.display()
    )
}

fn order(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn hook_state(dir: &Path, kind: &str) -> Result<Value> {
    let p = dir.join(format!("{kind}.json"));
    let text = std::fs::read_to_string(&p)
        .with_context(|| format!("{kind} hook did not run ({})", p.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{kind} hook stdin is not state JSON: {text:?}"))
}

fn all_kinds(rt: &Runtime) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("pel-e2e-hooks-")
        .tempdir()?;
    let mut b = Bundle::busybox()?
        .readonly_root(false)
        .mount(
            "/hooklog",
            "bind",
            &dir.path().display().to_string(),
            &["rbind", "rw"],
        )
        .sh(
            // Stay alive until poststart has run, so every hook before poststop sees a pid.
            "echo user >> /hooklog/order; i=0; \
             while [ ! -e /hooklog/poststart.json ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done",
        );
    for kind in KINDS {
        b = b.hook(
            kind,
            "/bin/sh",
            &["sh", "-c", &recorder(dir.path(), kind)],
            Some(10),
        );
    }
    let c = Container::new(rt, b)?;
    c.create()?.ok()?;
    let mut at_create = order(dir.path());
    // runc 1.1 runs poststart hooks at create (when its init starts), not after start as the
    // runtime spec says; pelagos is held to the spec.
    if !rt.is_pelagos() && at_create.last().is_some_and(|k| k == "poststart") {
        at_create.pop();
    }
    expect_eq(
        "hooks run by create",
        at_create,
        vec![
            "prestart".to_string(),
            "createRuntime".into(),
            "createContainer".into(),
        ],
    )?;
    c.start()?.ok()?;
    c.wait_status("stopped", crate::support::SETTLE)?;
    let at_start = order(dir.path());
    let pos = |k: &str| at_start.iter().position(|x| x == k);
    match (pos("startContainer"), pos("user"), pos("poststart")) {
        (Some(s), Some(u), Some(_)) if s < u => {}
        _ => bail!("after start expected startContainer before the user process, and poststart: {at_start:?}"),
    }
    if pos("poststop").is_some() {
        bail!("poststop ran before delete: {at_start:?}");
    }
    c.delete()?.ok()?;
    expect_eq(
        "last hook",
        order(dir.path()).last().cloned(),
        Some("poststop".to_string()),
    )?;
    for kind in KINDS {
        let s = hook_state(dir.path(), kind)?;
        expect_eq(
            &format!("{kind} state id"),
            s["id"].as_str(),
            Some(c.id.as_str()),
        )?;
        expect_eq(
            &format!("{kind} state bundle"),
            s["bundle"].as_str(),
            Some(c.bundle.path_str().as_str()),
        )?;
        if kind != "poststop" && s["pid"].as_i64().unwrap_or(0) <= 0 {
            bail!("{kind} state lacks the container pid: {s}");
        }
    }
    Ok(())
}

/// Fails unless nothing of `c` remains: no state, no processes, no mounts under the bundle.
fn expect_nothing_left(c: &Container) -> Result<()> {
    std::thread::sleep(Duration::from_millis(100));
    if c.cmd(&["state", &c.id])?.success() || !c.leftover_state().is_empty() {
        bail!(
            "state still known after a failed create: {:?}",
            c.leftover_state()
        );
    }
    let procs = cleanup::procs_rooted_under(&c.bundle.rootfs());
    let mounts = cleanup::mounts_under(c.bundle.path());
    if !procs.is_empty() || !mounts.is_empty() {
        bail!("left behind: processes {procs:?}, mounts {mounts:?}");
    }
    Ok(())
}

fn timeout(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?.hook(
        "createRuntime",
        "/bin/sh",
        &["sh", "-c", "exec sleep 30"],
        Some(1),
    );
    let c = Container::new(rt, b)?;
    let start = Instant::now();
    let o = c.create()?;
    let took = start.elapsed();
    if o.success() {
        bail!(
            "create succeeded although its hook timed out: {}",
            o.describe()
        );
    }
    if took > Duration::from_secs(15) {
        bail!("create took {took:?}; the 1s hook timeout was not enforced");
    }
    expect_nothing_left(&c)
}

fn failing_prestart(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?.hook(
        "prestart",
        "/bin/sh",
        &["sh", "-c", "echo hook-says-no >&2; exit 7"],
        None,
    );
    let c = Container::new(rt, b)?;
    let o = c.create()?;
    if o.success() {
        bail!(
            "create succeeded although a prestart hook failed: {}",
            o.describe()
        );
    }
    expect_nothing_left(&c)
}
