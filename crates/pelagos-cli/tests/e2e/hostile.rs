//! Hostile bundles (pelagos-runtime only; runc's handling is not the reference here): each
//! must be rejected by `create` and by `run` with an error naming the JSON field, a non-zero
//! exit, and nothing created (no state entry, no process, no mount).

use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::json;

use crate::support::{cleanup, pelagos_case, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        pelagos_case("root_path_escape", root_path_escape),
        pelagos_case("relative_mount_destination", relative_mount_destination),
        pelagos_case("empty_args", empty_args),
        pelagos_case("unknown_rlimit", unknown_rlimit),
        pelagos_case("relative_hook_path", relative_hook_path),
    ]
}

/// Runs `create` then `run` on the bundle; both must fail naming every string in `names`
/// and leave nothing behind.
fn rejected(rt: &Runtime, b: Bundle, names: &[&str]) -> Result<()> {
    let c = Container::new(rt, b)?;
    let bundle = c.bundle.path_str();
    for verb in ["create", "run"] {
        let o = c.create_with(&[verb, "--bundle", &bundle, &c.id])?;
        if o.success() || o.signal.is_some() {
            bail!("{verb} accepted a hostile bundle: {}", o.describe());
        }
        for n in names {
            if !o.stderr.contains(n) {
                bail!("{verb}: error should name {n:?}: {}", o.describe());
            }
        }
        nothing_left(&c)?;
    }
    Ok(())
}

fn nothing_left(c: &Container) -> Result<()> {
    std::thread::sleep(Duration::from_millis(50));
    let state = c.leftover_state();
    if !state.is_empty() {
        bail!("state created for a rejected bundle: {state:?}");
    }
    let listed = c.cmd(&["list", "--format", "json"])?;
    if listed.stdout.contains(&c.id) {
        bail!("list shows the rejected container: {}", listed.stdout);
    }
    let procs = cleanup::procs_rooted_under(&c.bundle.rootfs());
    let mounts = cleanup::mounts_under(c.bundle.path());
    if !procs.is_empty() || !mounts.is_empty() {
        bail!("left behind: processes {procs:?}, mounts {mounts:?}");
    }
    Ok(())
}

fn root_path_escape(rt: &Runtime) -> Result<()> {
    // A real directory outside the bundle, so only the escape itself can be the reason.
    let outside = tempfile::Builder::new()
        .prefix("pel-e2e-outside-")
        .tempdir()?;
    let b = Bundle::busybox()?;
    let name = outside
        .path()
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let b = b.set("/root/path", json!(format!("rootfs/../../{name}")));
    rejected(rt, b, &["root.path"])
}

fn relative_mount_destination(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?.mount("tmp/rel", "tmpfs", "tmpfs", &["nosuid"]);
    rejected(rt, b, &["mounts", "destination"])
}

fn empty_args(rt: &Runtime) -> Result<()> {
    rejected(
        rt,
        Bundle::busybox()?.set("/process/args", json!([])),
        &["process.args"],
    )
}

fn unknown_rlimit(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?.rlimits(&[("RLIMIT_BOGUS", 1, 1)]);
    rejected(rt, b, &["rlimits", "RLIMIT_BOGUS"])
}

fn relative_hook_path(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?.hook("createRuntime", "bin/true", &["true"], None);
    rejected(rt, b, &["hooks", "path"])
}
