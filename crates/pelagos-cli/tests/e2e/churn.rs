//! Many short containers in a row: every create/start/delete cycle (with memory and pids
//! limits, so every cgroup hierarchy is used) must leave no cgroup directory and no state
//! behind.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::support::{pelagos_case, Bundle, Case, Container, Runtime, SETTLE};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![pelagos_case(
        "thousand_cycles_leave_nothing",
        thousand_cycles_leave_nothing,
    )]
}

const CYCLES: usize = 1000;
/// The host's cgroup file systems.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Waits until process `pid` has exited (gone, or a zombie waiting for its reaper).
fn wait_exit(pid: i32) -> Result<()> {
    let start = Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        match stat.rsplit(") ").next().and_then(|r| r.chars().next()) {
            None | Some('Z' | 'X') => return Ok(()),
            Some(_) if start.elapsed() > SETTLE => bail!("pid {pid} still running"),
            Some(_) => std::thread::sleep(Duration::from_micros(200)),
        }
    }
}

/// Directories below any cgroup mount (two levels deep: `<hierarchy>/<parent>/<name>`)
/// whose name contains `needle`.
fn cgroup_dirs_named(needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for l in mounts.lines().filter(|l| l.contains(" - cgroup")) {
        let Some(mp) = l.split(' ').nth(4) else {
            continue;
        };
        if !Path::new(mp).starts_with(CGROUP_ROOT) {
            continue;
        }
        let mut dirs = vec![PathBuf::from(mp)];
        for _depth in 0..3 {
            let mut next = Vec::new();
            for d in dirs {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if !e.file_type().is_ok_and(|t| t.is_dir()) {
                        continue;
                    }
                    if e.file_name().to_string_lossy().contains(needle) {
                        found.push(e.path());
                    }
                    next.push(e.path());
                }
            }
            dirs = next;
        }
    }
    found
}

fn thousand_cycles_leave_nothing(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .set(
            "/linux/resources",
            json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 32},
                   "devices": [{"allow": false, "access": "rwm"}]}),
        )
        .args(&["/bin/true"]);
    b.write()?;
    let bundle = b.path_str();
    // The guard's id names the run; the cycles append a number.
    let guard = Container::new(rt, Bundle::busybox()?)?;
    let root = guard.root().context("private --root")?.to_path_buf();
    let prefix = format!("{}-churn", guard.id);
    let pid_file = guard.scratch().join("pid");
    let pid_arg = pid_file.display().to_string();
    let start = Instant::now();
    for n in 0..CYCLES {
        let id = format!("{prefix}-{n}");
        let create = rt.exec(
            Some(&root),
            &["create", "--bundle", &bundle, "--pid-file", &pid_arg, &id],
        )?;
        if !create.success() {
            bail!("cycle {n}: {}", create.describe());
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)?.trim().parse()?;
        rt.exec(Some(&root), &["start", &id])?
            .ok()
            .with_context(|| format!("cycle {n}"))?;
        wait_exit(pid)?;
        rt.exec(Some(&root), &["delete", &id])?
            .ok()
            .with_context(|| format!("cycle {n}"))?;
        if root.join(&id).exists() {
            bail!(
                "cycle {n}: state dir {} left behind",
                root.join(&id).display()
            );
        }
    }
    let took = start.elapsed();
    eprintln!(
        "churn: {CYCLES} create/start/delete cycles in {took:.1?} ({:.1?} each)",
        took / CYCLES as u32
    );
    let left = cgroup_dirs_named(&prefix);
    if !left.is_empty() {
        bail!("{} cgroup dirs left behind: {left:?}", left.len());
    }
    let state: Vec<_> = std::fs::read_dir(&root)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(&prefix))
        .collect();
    if !state.is_empty() {
        bail!("state left in {}: {state:?}", root.display());
    }
    Ok(())
}
