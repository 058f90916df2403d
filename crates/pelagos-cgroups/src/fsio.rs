//! Reading and writing cgroup control files: one `write(2)` per value, errors that name
//! the file and the value and explain the errno in terms of the file written.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{CgroupError, Result};

/// Writes `value` to `dir/file` in one write, without creating the file.
///
/// Cgroup files exist when their controller is active; creating one would hide a missing
/// controller, so `O_CREAT` is not used. `O_TRUNC` keeps tempdir fixtures equal to the
/// last value written and is ignored by cgroupfs.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    let res = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| {
            let n = f.write(value.as_bytes())?;
            if n == value.len() {
                Ok(())
            } else {
                Err(io::Error::new(io::ErrorKind::WriteZero, "short write"))
            }
        });
    res.map_err(|error| {
        let hint = write_hint(file, &error);
        CgroupError::Write {
            file: path,
            value: value.to_owned(),
            error,
            hint,
        }
    })
}

/// Reads `dir/file` as text.
pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|error| CgroupError::Read { file: path, error })
}

/// Reads `dir/file`, or `None` when it does not exist (controller absent or kernel too old).
pub(crate) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    match std::fs::read_to_string(dir.join(file)) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(CgroupError::Read {
            file: dir.join(file),
            error,
        }),
    }
}

/// Whether `dir/file` exists.
pub(crate) fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// Reads a single unsigned number; `max` (v2) reads as `u64::MAX`.
pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    let text = read(dir, file)?;
    parse_u64(&dir.join(file), &text)
}

/// Like [`read_u64`] but `None` when the file is absent.
pub(crate) fn read_u64_opt(dir: &Path, file: &str) -> Result<Option<u64>> {
    match read_opt(dir, file)? {
        Some(text) => parse_u64(&dir.join(file), &text).map(Some),
        None => Ok(None),
    }
}

/// Parses one number as cgroup files print it (`max` is unlimited).
pub(crate) fn parse_u64(path: &Path, text: &str) -> Result<u64> {
    let t = text.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse::<u64>().map_err(|_| CgroupError::Parse {
        file: path.to_path_buf(),
        content: t.to_owned(),
        reason: "expected an unsigned integer or \"max\"".into(),
    })
}

/// Parses `key value` lines (memory.stat, cpu.stat, cgroup.events...) leniently:
/// lines that are not `word number` are skipped, since kernels add fields over time.
pub(crate) fn parse_flat_keyed(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_owned(), v))
        })
        .collect()
}

/// Looks up `key` in flat-keyed text.
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    parse_flat_keyed(text)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Reads the pids listed in `dir/cgroup.procs`.
pub(crate) fn read_procs(dir: &Path) -> Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let text = read(dir, "cgroup.procs")?;
    text.split_whitespace()
        .map(|w| {
            w.parse::<i32>().map_err(|_| CgroupError::Parse {
                file: path.clone(),
                content: w.to_owned(),
                reason: "expected a pid".into(),
            })
        })
        .collect()
}

/// The directory and its descendant cgroup directories, deepest first.
pub(crate) fn subtree_leaf_first(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect(dir, &mut out);
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect(&e.path(), out);
            }
        }
    }
    out.push(dir.to_path_buf());
}

/// Explains an errno for the file written, so the user knows what to change.
fn write_hint(file: &str, e: &io::Error) -> String {
    let errno = e.raw_os_error().unwrap_or(0);
    let h = match (errno, file) {
        (libc::ENOENT, _) => "file missing: the controller is not mounted or not enabled in the parent's cgroup.subtree_control",
        (libc::EACCES | libc::EPERM, _) => "permission denied: run as root or use a delegated cgroup",
        (libc::EINVAL, f) if f.starts_with("memory.") => "limit too small, below current usage, or memory+swap below the memory limit",
        (libc::EINVAL, f) if f.starts_with("cpu.") => "value out of range (CFS quota >= 1000us, period 1000us-1s, weight 1-10000, shares >= 2)",
        (libc::EINVAL, f) if f.starts_with("cpuset.") => "cpus/mems outside the parent's set",
        (libc::EINVAL, "cgroup.subtree_control") => "controller unknown or not available in cgroup.controllers",
        (libc::EINVAL, _) => "value rejected by the kernel: check its format and range",
        (libc::EBUSY, f) if f.starts_with("memory.") => "usage is above the new limit and cannot be reclaimed: raise the limit",
        (libc::EBUSY, "cgroup.subtree_control") => "the cgroup has processes of its own (no internal processes on cgroup v2): move them to a leaf first",
        (libc::EBUSY, _) => "the cgroup is busy: try again after its processes exit",
        (libc::ENOSPC, "cgroup.procs") => "cpuset.cpus or cpuset.mems of the cgroup is empty",
        (libc::ENOSPC, _) => "limit reached in the hierarchy",
        (libc::ESRCH, "cgroup.procs") => "the process has already exited",
        (libc::EOPNOTSUPP, _) => "not supported by this kernel",
        (libc::EAGAIN, "pids.max" | "cgroup.procs") => "the pids limit is reached",
        _ => "unexpected kernel answer",
    };
    h.to_owned()
}

/// Page sizes with a `hugetlb.<size><suffix>` file in `d`.
pub(crate) fn hugetlb_sizes(d: &Path, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(d)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let size = n.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_owned())
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_error_names_file_value_errno_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(dir.path(), "memory.max", "1024")
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory.max=1024"), "{err}");
        assert!(err.contains("ENOENT"), "{err}");
        assert!(err.contains("subtree_control"), "{err}");
    }

    #[test]
    fn write_truncates_and_read_u64_handles_max() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pids.max"), "123456").unwrap();
        write(dir.path(), "pids.max", "max").unwrap();
        assert_eq!(read_u64(dir.path(), "pids.max").unwrap(), u64::MAX);
        write(dir.path(), "pids.max", "7").unwrap();
        assert_eq!(read_u64(dir.path(), "pids.max").unwrap(), 7);
        assert!(read_u64_opt(dir.path(), "nope").unwrap().is_none());
    }

    #[test]
    fn flat_keyed_skips_odd_lines() {
        let t = "populated 1\nfrozen 0\nweird\nx y\n";
        assert_eq!(keyed(t, "frozen"), Some(0));
        assert_eq!(keyed(t, "populated"), Some(1));
        assert_eq!(keyed(t, "x"), None);
    }
}
