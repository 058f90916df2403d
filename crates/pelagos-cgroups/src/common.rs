//! Operations shared by both versions: polling for a state change, creating and removing
//! cgroup directory trees, signalling the processes of a cgroup.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{CgroupError, Result};
use crate::fsio;

/// How long freeze/thaw may take to settle.
pub(crate) const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `kill_all(SIGKILL)` waits for the cgroup to empty.
pub(crate) const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `destroy` retries `rmdir` on EBUSY (processes still exiting).
const RMDIR_TIMEOUT: Duration = Duration::from_millis(500);

/// Calls `done` until it returns true or `timeout` passes; short sleeps first, because
/// the common case settles within a millisecond.
pub(crate) fn poll_until(
    timeout: Duration,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<bool> {
    let start = Instant::now();
    let mut nap = Duration::from_micros(200);
    loop {
        if done()? {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Creates `dir` and missing ancestors, naming the directory and what to do on failure.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    // A concurrent `delete` may remove an empty shared parent between our mkdirs: retry.
    let mut res = std::fs::create_dir_all(dir);
    for _ in 0..3 {
        match &res {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                res = std::fs::create_dir_all(dir)
            }
            _ => break,
        }
    }
    res.map_err(|error| {
        let hint = match error.raw_os_error() {
            Some(libc::EACCES | libc::EPERM) => {
                "permission denied: run as root or use a delegated cgroup"
            }
            Some(libc::EROFS) => {
                "cgroupfs is mounted read-only here (inside a container?): mount it read-write"
            }
            Some(libc::ENOENT) => "the hierarchy is not mounted",
            Some(libc::EAGAIN) => "cgroup.max.descendants or max.depth reached in an ancestor",
            _ => "unexpected kernel answer",
        };
        CgroupError::Create {
            dir: dir.to_path_buf(),
            error,
            hint: hint.into(),
        }
    })
}

/// Removes `dir` and its descendant cgroups, deepest first, retrying briefly while the
/// kernel still reports EBUSY. Returns the directories that could not be removed.
pub(crate) fn remove_tree(dir: &Path) -> Vec<(PathBuf, io::Error)> {
    let mut failed = Vec::new();
    for d in fsio::subtree_leaf_first(dir) {
        let start = Instant::now();
        let mut nap = Duration::from_millis(1);
        loop {
            match std::fs::remove_dir(&d) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e)
                    if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < RMDIR_TIMEOUT =>
                {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(50));
                }
                Err(e) => {
                    failed.push((d.clone(), e));
                    break;
                }
            }
        }
    }
    failed
}

/// Sends `signal` to each pid; processes that are already gone are not an error.
pub(crate) fn signal_pids(pids: &[i32], signal: i32) -> Result<()> {
    let sig = Signal::try_from(signal).map_err(|_| CgroupError::Unsupported {
        what: format!("signal {signal}"),
        reason: "not a signal number of this platform".into(),
    })?;
    for &pid in pids {
        match kill(Pid::from_raw(pid), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => return Err(CgroupError::Signal { pid, signal, error }),
        }
    }
    Ok(())
}

/// The pids in `dir` and its descendants.
pub(crate) fn pids_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut all = Vec::new();
    for d in fsio::subtree_leaf_first(dir) {
        match fsio::read_procs(&d) {
            Ok(p) => all.extend(p),
            // A cgroup that does not exist (never created, already removed, or a child
            // removed while walking) holds no processes; `delete` relies on this.
            Err(CgroupError::Read { error, .. }) if error.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// Signals all processes of a cgroup until it is empty, with the group frozen during each
/// round so that no process can fork a child that escapes the round (`freeze`/`thaw`
/// are best-effort callbacks: a host without a freezer still gets the retry loop).
pub(crate) fn kill_until_empty(
    dir: &Path,
    signal: i32,
    freeze: &dyn Fn() -> Result<()>,
    thaw: &dyn Fn() -> Result<()>,
) -> Result<()> {
    // The common case at `delete`: everything has exited already. An empty group cannot
    // gain a process by fork, so there is nothing to freeze.
    if pids_recursive(dir)?.is_empty() {
        return Ok(());
    }
    let mut last = Vec::new();
    let emptied = poll_until(KILL_TIMEOUT, || {
        let frozen = freeze().is_ok();
        let pids = pids_recursive(dir);
        let sent = pids
            .as_ref()
            .map_err(|_| ())
            .map(|p| signal_pids(p, signal));
        if frozen {
            thaw()?;
        }
        let pids = pids?;
        if let Ok(Err(e)) = sent {
            return Err(e);
        }
        last = pids;
        Ok(last.is_empty())
    })?;
    if emptied {
        Ok(())
    } else {
        Err(CgroupError::Timeout {
            what: "kill all",
            dir: dir.to_path_buf(),
            millis: KILL_TIMEOUT.as_millis() as u64,
            detail: format!("pids still present: {last:?} (stuck in uninterruptible sleep?)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_leaf_first_and_reports_failures() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a");
        std::fs::create_dir_all(d.join("b/c")).unwrap();
        std::fs::create_dir_all(d.join("x")).unwrap();
        assert!(remove_tree(&d).is_empty());
        assert!(!d.exists());
        assert!(remove_tree(&d).is_empty(), "already gone is fine");
        std::fs::create_dir_all(d.join("b")).unwrap();
        std::fs::write(d.join("b/file"), "").unwrap();
        let failed = remove_tree(&d);
        assert_eq!(failed.len(), 2, "{failed:?}");
        let e = CgroupError::Remove { failed }.to_string();
        assert!(e.contains("a/b") && e.contains("ENOTEMPTY"), "{e}");
    }

    #[test]
    fn pids_recursive_walks_children() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("c")).unwrap();
        std::fs::write(t.path().join("cgroup.procs"), "3\n1\n").unwrap();
        std::fs::write(t.path().join("c/cgroup.procs"), "2\n3\n").unwrap();
        assert_eq!(pids_recursive(t.path()).unwrap(), [1, 2, 3]);
        assert!(pids_recursive(&t.path().join("missing"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn poll_until_times_out() {
        assert!(!poll_until(Duration::from_millis(5), || Ok(false)).unwrap());
        let mut n = 0;
        assert!(poll_until(Duration::from_secs(1), || {
            n += 1;
            Ok(n > 3)
        })
        .unwrap());
    }
}
