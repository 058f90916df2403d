//! Real container engines driving each runtime: Debian's podman (rootful, cgroupfs, a private
//! store, `--network none`) and containerd (a private daemon per test, `ctr --runc-binary`).
//! Every case runs once per runtime with runc as the reference, so a case that fails only for
//! pelagos points at an incompatibility of pelagos-runtime, not of the test. (Debian's crun
//! refuses this host's hybrid cgroups — controllers enabled on the v2 mount — so it cannot
//! serve as a second reference here.)
//!
//! Nothing global is configured: podman gets its paths as flags and a private
//! containers.conf through `CONTAINERS_CONF`; containerd gets its own config file. Each test
//! owns a tempdir holding everything the engine writes, and a Drop guard that stops what the
//! engine started (by PID), detaches mounts and removes the cgroups it created.

mod containerd;
mod host;
mod podman;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::support::Runtime;

/// An engine a case needs installed.
#[derive(Clone, Copy, Debug)]
pub enum Engine {
    /// podman + conmon.
    Podman,
    /// containerd + ctr + the runc v2 shim.
    Containerd,
}

/// One engine test, run once per runtime.
pub struct EngineCase {
    /// Name below `engines::` (the runtime name is appended).
    pub name: &'static str,
    /// The engine it drives.
    pub engine: Engine,
    /// The body.
    pub run: fn(&Runtime) -> Result<()>,
}

/// Every engine test.
pub fn cases() -> Vec<EngineCase> {
    let mut v = podman::cases();
    v.extend(containerd::cases());
    v
}

/// Why `engine` cannot be driven here, if it cannot.
pub fn skip_reason(engine: Engine) -> Option<String> {
    let needs: &[(&str, &str)] = match engine {
        Engine::Podman => &[
            ("podman", "podman"),
            ("conmon", "conmon"),
            ("tar", "tar"),
            ("script", "bsdutils"),
        ],
        Engine::Containerd => &[
            ("containerd", "containerd"),
            ("ctr", "containerd"),
            ("containerd-shim-runc-v2", "containerd"),
            ("script", "bsdutils"),
        ],
    };
    needs
        .iter()
        .find(|(bin, _)| find_bin(bin).is_none())
        .map(|(bin, pkg)| format!("{bin} not installed: apt-get install {pkg}"))
}

/// `name` in PATH or the sbin directories.
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/bin", "/usr/sbin", "/sbin", "/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Quotes `s` for `sh -c` (the command line handed to `script`).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command line for `script -c` from a program and its arguments.
fn shell_line(program: &Path, args: &[String]) -> String {
    let mut line = sh_quote(&program.display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    line
}

/// Prints `name=value` for every cgroup limit file the container can see (v1 or v2 layout);
/// the limits tests compare these with what the engine was asked for.
const LIMITS_SCRIPT: &str = "cd /sys/fs/cgroup && for f in memory/memory.limit_in_bytes \
     pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares \
     memory.max pids.max cpu.max cpu.weight; do [ -f $f ] && echo \"$f=$(cat $f)\"; done; true";

/// The value printed by [`LIMITS_SCRIPT`] for the v1 file or, failing that, the v2 file.
fn limit<'a>(out: &'a str, v1: &str, v2: &str) -> Option<&'a str> {
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::trim)
    };
    get(v1).or_else(|| get(v2))
}

/// Checks memory 64 MiB, pids 77 (when `pids`) and 1.5 CPUs (quota 150000 per 100000) in
/// [`LIMITS_SCRIPT`] output; the v2 layout writes the cpu pair as one `cpu.max` line.
fn expect_limits(what: &str, out: &str, pids: bool) -> Result<()> {
    use crate::support::expect_eq;
    expect_eq(
        &format!("{what}: memory limit in\n{out}"),
        limit(out, "memory/memory.limit_in_bytes", "memory.max"),
        Some("67108864"),
    )?;
    if pids {
        expect_eq(
            &format!("{what}: pids limit in\n{out}"),
            limit(out, "pids/pids.max", "pids.max"),
            Some("77"),
        )?;
    }
    match limit(out, "cpu/cpu.cfs_quota_us", "cpu.max") {
        Some(q) if q.contains(' ') => expect_eq(&format!("{what}: cpu.max"), q, "150000 100000"),
        q => {
            expect_eq(&format!("{what}: cpu quota in\n{out}"), q, Some("150000"))?;
            expect_eq(
                &format!("{what}: cpu period in\n{out}"),
                limit(out, "cpu/cpu.cfs_period_us", "cpu.max"),
                Some("100000"),
            )
        }
    }
}
