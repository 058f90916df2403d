//! Finding and undoing what a (possibly broken) runtime left on the host: mounts under a
//! bundle, processes whose root is inside a bundle, state directory entries.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Mount points (as the host sees them) at or under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// Lazily detaches every mount under `dir` so that removing it cannot reach into the host.
pub fn detach_mounts_under(dir: &Path) {
    for _round in 0..8 {
        let m = mounts_under(dir);
        if m.is_empty() {
            return;
        }
        for p in m {
            eprintln!("e2e: detaching leftover mount {}", p.display());
            if let Err(e) = umount2(&p, MntFlags::MNT_DETACH) {
                eprintln!("e2e: umount {}: {e}", p.display());
            }
        }
    }
}

/// Processes whose root directory is at or under `dir` (a container's rootfs).
pub fn procs_rooted_under(dir: &Path) -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r.starts_with(dir)))
        .collect()
}

/// Sends SIGKILL to every process rooted in `dir`; returns how many there were.
pub fn kill_procs_rooted_under(dir: &Path) -> usize {
    let pids = procs_rooted_under(dir);
    for pid in &pids {
        eprintln!("e2e: killing leftover container process {pid}");
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    pids.len()
}

/// True while the process exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let n = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
