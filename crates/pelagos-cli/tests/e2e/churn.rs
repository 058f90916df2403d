//! Many short containers: every create/start/delete cycle (with memory, pids and device
//! limits, so every cgroup hierarchy is used) must leave no cgroup directory and no state
//! behind. A few workers run their cycles side by side, which also races creates against
//! deletes of the shared parent cgroup.

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
/// Cycles run in this many threads at once.
const WORKERS: usize = 4;
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

/// create, start, wait for the exit, delete; the state dir must be gone afterwards.
fn cycle(rt: &Runtime, root: &Path, bundle: &str, pid_file: &Path, id: &str) -> Result<()> {
    let pid_arg = pid_file.display().to_string();
    let create = rt.exec(
        Some(root),
        &["create", "--bundle", bundle, "--pid-file", &pid_arg, id],
    )?;
    if !create.success() {
        bail!("{}", create.describe());
    }
    let pid: i32 = std::fs::read_to_string(pid_file)?.trim().parse()?;
    rt.exec(Some(root), &["start", id])?.ok()?;
    wait_exit(pid)?;
    rt.exec(Some(root), &["delete", id])?.ok()?;
    if root.join(id).exists() {
        bail!("state dir {} left behind", root.join(id).display());
    }
    Ok(())
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
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (root, prefix, bundle) = (&root, &prefix, &bundle);
                let pid_file = guard.scratch().join(format!("pid-{w}"));
                s.spawn(move || -> Result<()> {
                    for n in (w..CYCLES).step_by(WORKERS) {
                        cycle(rt, root, bundle, &pid_file, &format!("{prefix}-{n}"))
                            .with_context(|| format!("cycle {n}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        }
        Ok(())
    })?;
    let took = start.elapsed();
    eprintln!(
        "churn: {CYCLES} create/start/delete cycles ({WORKERS} at a time) in {took:.1?} ({:.1?} each)",
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
