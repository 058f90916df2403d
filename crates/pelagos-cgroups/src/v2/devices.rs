//! `linux.resources.devices` on cgroup v2: the program that `devices_bpf` builds, loaded
//! with `bpf(2)` and attached to the container's directory. Each install replaces the
//! programs attached before (so `update` does not stack filters): the new one is attached
//! first, then every other one is detached, so that the cgroup is never without a filter.
//! Installs on one directory take turns (an exclusive `flock` on it): two at once would
//! each detach only the programs they saw before attaching, and leave both new ones.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use pelagos_sys::bpf;
use pelagos_sys::Errno;

use crate::devices_bpf::{ATTACH_TYPE_CGROUP_DEVICE, LICENSE, PROG_TYPE_CGROUP_DEVICE};
use crate::error::{CgroupError, Result};

/// Puts a device program on a cgroup v2 directory: the kernel, or a recorder in tests.
pub(crate) trait DeviceFilter {
    /// Makes `program` the one device program attached to `dir`; `None` (every device
    /// allowed) removes the attached ones.
    fn install(&self, dir: &Path, program: Option<&[u8]>) -> Result<()>;
}

/// The real thing: `bpf(BPF_PROG_LOAD/ATTACH/QUERY/DETACH)`.
pub(crate) struct Kernel;

fn bpf_error(what: &'static str, dir: &Path, errno: Errno, log: String) -> CgroupError {
    let hint = match errno.0 {
        libc::EPERM | libc::EACCES => "needs CAP_SYS_ADMIN (run as root)",
        libc::EINVAL if what == "attach" => {
            "is the directory on cgroup2 and the kernel built with CONFIG_CGROUP_BPF?"
        }
        libc::EINVAL if what == "load" && log.is_empty() => {
            "the kernel refused the program without saying why (CONFIG_CGROUP_BPF missing?)"
        }
        _ => "",
    };
    CgroupError::Bpf {
        what,
        dir: dir.to_path_buf(),
        errno: format!("{errno} ({})", errno.description()),
        log,
        hint,
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map(OwnedFd::from)
        .map_err(|error| CgroupError::Read {
            file: dir.to_path_buf(),
            error,
        })
}

impl DeviceFilter for Kernel {
    fn install(&self, dir: &Path, program: Option<&[u8]>) -> Result<()> {
        let cg = open_dir(dir)?;
        // Held until `cg` closes at the end of this call.
        pelagos_sys::fs::flock_exclusive(cg.as_fd())
            .map_err(|e| bpf_error("lock", dir, e, String::new()))?;
        let keep = match program {
            Some(insns) => {
                let prog = bpf::prog_load(PROG_TYPE_CGROUP_DEVICE, insns, LICENSE)
                    .map_err(|e| bpf_error("load", dir, e.errno, e.log))?;
                let id = bpf::prog_id(prog.as_fd())
                    .map_err(|e| bpf_error("list", dir, e, String::new()))?;
                bpf::prog_attach(
                    cg.as_fd(),
                    prog.as_fd(),
                    ATTACH_TYPE_CGROUP_DEVICE,
                    bpf::F_ALLOW_MULTI,
                )
                .map_err(|e| bpf_error("attach", dir, e, String::new()))?;
                // The attachment holds its own reference; `prog` may close.
                Some(id)
            }
            None => None,
        };
        // Listed after attaching: also those left by an install that died half-way, or
        // attached meanwhile by a tool that does not take the lock.
        let old = bpf::prog_query(cg.as_fd(), ATTACH_TYPE_CGROUP_DEVICE)
            .map_err(|e| bpf_error("list", dir, e, String::new()))?;
        for id in old.into_iter().filter(|&id| Some(id) != keep) {
            let detached = bpf::prog_fd_by_id(id)
                .and_then(|p| bpf::prog_detach(cg.as_fd(), p.as_fd(), ATTACH_TYPE_CGROUP_DEVICE));
            match detached {
                // Gone already (detached by a tool that does not take the lock).
                Ok(()) | Err(Errno(libc::ENOENT)) => {}
                Err(e) => return Err(bpf_error("detach", dir, e, String::new())),
            }
        }
        Ok(())
    }
}

/// The device program ids attached directly to `dir` (for tests and diagnostics).
pub fn attached_device_programs(dir: &Path) -> Result<Vec<u32>> {
    let cg = open_dir(dir)?;
    bpf::prog_query(cg.as_fd(), ATTACH_TYPE_CGROUP_DEVICE)
        .map_err(|e| bpf_error("list", dir, e, String::new()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::PathBuf;

    /// Records what would be attached where.
    #[derive(Default)]
    pub(crate) struct Recorder(pub RefCell<Vec<(PathBuf, Option<Vec<u8>>)>>);

    impl DeviceFilter for Recorder {
        fn install(&self, dir: &Path, program: Option<&[u8]>) -> Result<()> {
            self.0
                .borrow_mut()
                .push((dir.to_path_buf(), program.map(<[u8]>::to_vec)));
            Ok(())
        }
    }

    #[test]
    fn errors_name_the_directory_and_what_to_do() {
        let e = bpf_error(
            "attach",
            Path::new("/cg/x"),
            Errno(libc::EINVAL),
            String::new(),
        );
        let s = e.to_string();
        assert!(
            s.starts_with(
                "linux.resources.devices: attach the eBPF device filter of /cg/x: EINVAL"
            ),
            "{s}"
        );
        assert!(s.contains("CONFIG_CGROUP_BPF"), "{s}");
        let e = bpf_error(
            "load",
            Path::new("/cg/x"),
            Errno(libc::EACCES),
            "0: R1 bad".into(),
        );
        assert!(e.to_string().contains("verifier log:\n0: R1 bad"), "{e}");
    }

    #[test]
    fn a_plain_directory_is_not_a_cgroup() {
        let t = tempfile::tempdir().unwrap();
        // Not root, or not cgroup2: either way an error naming the directory, no panic.
        let e = Kernel
            .install(t.path(), Some(&[0x95, 0, 0, 0, 0, 0, 0, 0]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&t.path().display().to_string()), "{e}");
    }
}
