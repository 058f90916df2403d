//! What the engine tests look at or undo on the host: cgroup hierarchies (found in
//! mountinfo, v1 and v2), a process's cgroup files, leftover cgroup trees, engine helper
//! processes (conmon, shims) recognised by the test's private paths in their argv.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::cleanup;

/// One mounted cgroup hierarchy.
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// A cgroup2 (unified) hierarchy.
    pub v2: bool,
    /// The v1 controllers (and `name=` options) it carries.
    pub controllers: Vec<String>,
}

/// Every cgroup hierarchy mounted in this mount namespace (full mounts only, not binds).
pub fn hierarchies() -> Vec<Hierarchy> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let (root, mount, fstype) = (*f.get(3)?, *f.get(4)?, *r.first()?);
            if root != "/" || !matches!(fstype, "cgroup" | "cgroup2") {
                return None;
            }
            let controllers = r
                .get(2)
                .map(|o| o.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            Some(Hierarchy {
                mount: PathBuf::from(mount),
                v2: fstype == "cgroup2",
                controllers,
            })
        })
        .collect()
}

/// True when `controller` lives on a v1 hierarchy here.
pub fn is_v1(controller: &str) -> bool {
    hierarchies()
        .iter()
        .any(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
}

/// The host path of `pid`'s cgroup for `controller` (v1), or its unified cgroup (v2).
pub fn cgroup_dir(pid: i32, controller: &str) -> Result<PathBuf> {
    let p = format!("/proc/{pid}/cgroup");
    let text = fs::read_to_string(&p).with_context(|| format!("read {p}"))?;
    let hs = hierarchies();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        let rel = path.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == controller) {
            if let Some(h) = hs
                .iter()
                .find(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
            {
                return Ok(h.mount.join(rel));
            }
        }
    }
    let unified = text.lines().find_map(|l| l.strip_prefix("0::"));
    match (unified, hs.iter().find(|h| h.v2)) {
        (Some(path), Some(h)) if !is_v1(controller) => {
            Ok(h.mount.join(path.trim_start_matches('/')))
        }
        _ => bail!("no {controller} cgroup for pid {pid} in {p}:\n{text}"),
    }
}

/// A cgroup file of `pid` for `controller`, trimmed.
pub fn cgroup_file(pid: i32, controller: &str, file: &str) -> Result<String> {
    let p = cgroup_dir(pid, controller)?.join(file);
    let s = fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
    Ok(s.trim().to_string())
}

/// Names of the cgroups directly below `rel` in any hierarchy.
pub fn cgroup_children(rel: &str) -> Vec<String> {
    let mut names: Vec<String> = hierarchies()
        .iter()
        .filter_map(|h| fs::read_dir(h.mount.join(rel.trim_start_matches('/'))).ok())
        .flat_map(|rd| rd.filter_map(Result::ok))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Removes the cgroup `rel` and everything below it in every hierarchy (deepest first).
pub fn remove_cgroup_tree(rel: &str) {
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        return;
    }
    for h in hierarchies() {
        let top = h.mount.join(rel);
        let mut dirs = Vec::new();
        collect_dirs(&top, &mut dirs);
        dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for d in dirs {
            if let Err(e) = fs::remove_dir(&d) {
                eprintln!("e2e: cannot remove cgroup {}: {e}", d.display());
            }
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    out.push(dir.to_path_buf());
    for e in rd.filter_map(Result::ok) {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&e.path(), out);
        }
    }
}

/// PIDs of processes (not this one) whose command line contains `needle`.
pub fn procs_with_arg(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// SIGKILLs every process whose argv names `needle` (a test's private tempdir) and waits a
/// little for them to go, so that their cgroups can be removed next.
pub fn kill_procs_with_arg(needle: &str, what: &str) {
    let pids = procs_with_arg(needle);
    for pid in &pids {
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        eprintln!("e2e: killing leftover {what} process {pid}: {cmd}");
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    let gone = || pids.iter().all(|p| !cleanup::pid_alive(*p));
    let _ = wait_until("leftover processes gone", Duration::from_secs(5), || {
        Ok(gone())
    });
}

/// Polls `f` every 50 ms until it returns true; fails after `timeout` with `what`.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match f() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = format!(" (last error: {e:#})"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not happen within {timeout:?}{last}")
}
