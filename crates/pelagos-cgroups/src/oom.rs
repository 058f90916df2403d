//! Waiting for OOM kills without polling. On cgroup v1 an eventfd is registered for
//! `memory.oom_control` through `cgroup.event_control`: the kernel signals it when the
//! group runs out of memory (and once more when the group is removed). On cgroup v2 the
//! kernel raises a file-modified event on `memory.events` whenever a counter in it
//! changes, so an inotify watch on it wakes up on every OOM kill.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pelagos_sys::notify;

use crate::error::{CgroupError, Result};
use crate::fsio;

/// An fd that becomes readable when the OOM killer may have acted in one cgroup; after it
/// does, [`OomWatch::take`] says how many OOM events happened.
#[derive(Debug)]
pub struct OomWatch {
    fd: OwnedFd,
    source: Source,
}

#[derive(Debug)]
enum Source {
    /// The v1 memory cgroup directory and the `oom_kill` count already reported.
    V1 { dir: PathBuf, seen: u64 },
    /// The v2 directory and the `oom_kill` count already reported.
    V2 { dir: PathBuf, seen: u64 },
}

fn sys_error(what: &str, file: &Path, e: pelagos_sys::Errno) -> CgroupError {
    CgroupError::Read {
        file: file.to_path_buf(),
        error: std::io::Error::other(format!("{what}: {e} ({})", e.description())),
    }
}

impl OomWatch {
    /// Registers an eventfd for `memory.oom_control` of the v1 memory cgroup `dir`.
    pub fn v1(dir: &Path) -> Result<OomWatch> {
        let control = dir.join("memory.oom_control");
        let target = File::open(&control).map_err(|error| CgroupError::Read {
            file: control.clone(),
            error,
        })?;
        let fd = notify::eventfd().map_err(|e| sys_error("eventfd", &control, e))?;
        // The kernel takes its own reference: `target` may close afterwards.
        fsio::write(
            dir,
            "cgroup.event_control",
            &format!("{} {}", fd.as_raw_fd(), target.as_raw_fd()),
        )?;
        let seen = oom_control(dir)?.and_then(|c| c.kills).unwrap_or(0);
        Ok(OomWatch {
            fd,
            source: Source::V1 {
                dir: dir.to_path_buf(),
                seen,
            },
        })
    }

    /// Watches `memory.events` of the v2 cgroup `dir`; OOM kills counted before this call
    /// are not reported.
    pub fn v2(dir: &Path) -> Result<OomWatch> {
        let events = dir.join("memory.events");
        let seen = oom_kills_v2(dir)?.ok_or_else(|| CgroupError::Unsupported {
            what: format!("OOM events of {}", dir.display()),
            reason: "memory.events is missing: the memory controller is not enabled".into(),
        })?;
        let fd = notify::inotify().map_err(|e| sys_error("inotify_init1", &events, e))?;
        let path = CString::new(events.as_os_str().as_bytes()).map_err(|_| {
            sys_error(
                "inotify_add_watch",
                &events,
                pelagos_sys::Errno(libc::EINVAL),
            )
        })?;
        notify::inotify_watch(fd.as_fd(), &path, libc::IN_MODIFY)
            .map_err(|e| sys_error("inotify_add_watch", &events, e))?;
        Ok(OomWatch {
            fd,
            source: Source::V2 {
                dir: dir.to_path_buf(),
                seen,
            },
        })
    }

    /// The fd to wait on (readable when there is something to [`take`](Self::take)).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// How many OOM events happened since the last call; 0 for a wake-up that was not one
    /// (another counter changed, or the cgroup was removed). Does not block.
    pub fn take(&mut self) -> Result<u64> {
        match &mut self.source {
            Source::V1 { dir, seen } => {
                let n = notify::eventfd_take(self.fd.as_fd())
                    .map_err(|e| sys_error("read eventfd", dir, e))?;
                if n == 0 {
                    return Ok(0);
                }
                v1_kills_since(dir, seen)
            }
            Source::V2 { dir, seen } => {
                notify::drain(self.fd.as_fd()).map_err(|e| sys_error("read inotify", dir, e))?;
                let now = oom_kills_v2(dir)?.unwrap_or(*seen);
                let new = now.saturating_sub(*seen);
                *seen = now;
                Ok(new)
            }
        }
    }
}

/// What `memory.oom_control` says: `oom_kill` (kernel 4.13+) and `under_oom`.
struct OomControl {
    kills: Option<u64>,
    under_oom: bool,
}

fn oom_control(dir: &Path) -> Result<Option<OomControl>> {
    Ok(
        fsio::read_opt(dir, "memory.oom_control")?.map(|t| OomControl {
            kills: fsio::keyed(&t, "oom_kill"),
            under_oom: fsio::keyed(&t, "under_oom") == Some(1),
        }),
    )
}

/// The OOM events behind a v1 notification. The kernel signals when the group runs out
/// of memory, before the victim is chosen, and may signal more than once for one kill; so
/// the `oom_kill` counter (which follows within milliseconds) decides. A group whose OOM
/// killer is disabled counts one event per notification while it is stuck; a removed group
/// (its last notification) none.
fn v1_kills_since(dir: &Path, seen: &mut u64) -> Result<u64> {
    let deadline = std::time::Instant::now() + V1_KILL_SETTLE;
    loop {
        let Some(c) = oom_control(dir)? else {
            return Ok(0);
        };
        let Some(kills) = c.kills else {
            return Ok(1); // kernel without the counter: one event per notification
        };
        if kills > *seen {
            let new = kills - *seen;
            *seen = kills;
            return Ok(new);
        }
        if c.under_oom {
            return Ok(1);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// How long a v1 notification may precede its `oom_kill` count.
const V1_KILL_SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// `oom_kill` of `memory.events`, `None` when the file is absent.
pub(crate) fn oom_kills_v2(dir: &Path) -> Result<Option<u64>> {
    Ok(fsio::read_opt(dir, "memory.events")?.map(|t| fsio::keyed(&t, "oom_kill").unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(w: &OomWatch) -> bool {
        let mut ready = [false];
        pelagos_sys::process::poll_readable(&[w.fd()], &mut ready, 0).unwrap();
        ready[0]
    }

    #[test]
    fn v2_wakes_on_memory_events_and_counts_new_kills() {
        let t = tempfile::tempdir().unwrap();
        let ev = t.path().join("memory.events");
        std::fs::write(&ev, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n").unwrap();
        let mut w = OomWatch::v2(t.path()).unwrap();
        assert!(!readable(&w));
        assert_eq!(w.take().unwrap(), 0, "kills before the watch do not count");
        std::fs::write(&ev, "low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n").unwrap();
        assert!(readable(&w));
        assert_eq!(w.take().unwrap(), 2);
        assert!(!readable(&w), "drained");
        std::fs::write(&ev, "low 0\nhigh 1\nmax 9\noom 3\noom_kill 3\n").unwrap();
        assert!(readable(&w));
        assert_eq!(w.take().unwrap(), 0, "another counter changed");
    }

    #[test]
    fn v1_registers_the_eventfd_with_the_control_file() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("memory.oom_control"), "oom_kill 0\n").unwrap();
        std::fs::write(t.path().join("cgroup.event_control"), "").unwrap();
        let mut w = OomWatch::v1(t.path()).unwrap();
        let line = std::fs::read_to_string(t.path().join("cgroup.event_control")).unwrap();
        let fds: Vec<i32> = line.split(' ').map(|f| f.parse().unwrap()).collect();
        assert_eq!(fds[0], w.fd().as_raw_fd());
        assert_eq!(w.take().unwrap(), 0);
    }

    #[test]
    fn missing_files_are_errors_naming_them() {
        let t = tempfile::tempdir().unwrap();
        let e = OomWatch::v1(t.path()).unwrap_err().to_string();
        assert!(e.contains("memory.oom_control"), "{e}");
        let e = OomWatch::v2(t.path()).unwrap_err().to_string();
        assert!(e.contains("memory.events"), "{e}");
    }
}
