//! `/dev`: the default device nodes and links every container gets, and `linux.devices`.

use super::{Ctx, Fail, StepResult};
use crate::plan::InitPlan;
use pelagos_sys::fs::{self, cstr_in, mkdir_all_in_root, split_last};
use pelagos_sys::mount as m;
use pelagos_sys::Errno;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

const DEFAULT_NODES: [(&CStr, &CStr, u32, u32); 6] = [
    (c"null", c"/dev/null", 1, 3),
    (c"zero", c"/dev/zero", 1, 5),
    (c"full", c"/dev/full", 1, 7),
    (c"random", c"/dev/random", 1, 8),
    (c"urandom", c"/dev/urandom", 1, 9),
    (c"tty", c"/dev/tty", 5, 0),
];

const DEFAULT_LINKS: [(&CStr, &CStr); 5] = [
    (c"fd", c"/proc/self/fd"),
    (c"stdin", c"/proc/self/fd/0"),
    (c"stdout", c"/proc/self/fd/1"),
    (c"stderr", c"/proc/self/fd/2"),
    (c"ptmx", c"pts/ptmx"),
];

fn ok_if_exists(r: Result<(), Errno>) -> Result<(), Errno> {
    match r {
        Err(Errno(libc::EEXIST)) => Ok(()),
        other => other,
    }
}

/// Create a node; where `mknod` is not allowed (user namespaces) bind the host's node.
fn node(
    dir: BorrowedFd<'_>,
    name: &CStr,
    host: Option<&CStr>,
    mode: u32,
    dev: u64,
) -> Result<(), Errno> {
    match fs::mknodat(dir, name, mode, dev) {
        Ok(()) | Err(Errno(libc::EEXIST)) => Ok(()),
        Err(Errno(libc::EPERM)) if host.is_some() => {
            let f = fs::openat(
                Some(dir),
                name,
                libc::O_CREAT | libc::O_RDONLY | libc::O_NOFOLLOW,
                0o644,
            )?;
            let b = m::open_tree_clone(None, host.unwrap_or(c"/dev/null"), false)?;
            m::move_mount(b.as_fd(), f.as_fd())
        }
        Err(e) => Err(e),
    }
}

/// Default devices, then `linux.devices` (index 0.. in errors; defaults use 1000+).
pub fn devices(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let root = ctx
        .root
        .as_ref()
        .map(|r| r.as_fd())
        .ok_or(Errno(libc::EBADF))?;
    if plan.default_devices {
        let dev = mkdir_all_in_root(root, c"/dev", 0o755).map_err(Fail::at(1000))?;
        for (i, (name, host, major, minor)) in DEFAULT_NODES.iter().enumerate() {
            node(
                dev.as_fd(),
                name,
                Some(host),
                libc::S_IFCHR | 0o666,
                libc::makedev(*major, *minor),
            )
            .map_err(Fail::at(1000 + i))?;
        }
        for (i, (name, target)) in DEFAULT_LINKS.iter().enumerate() {
            ok_if_exists(fs::symlinkat(target, dev.as_fd(), name)).map_err(Fail::at(1100 + i))?;
        }
    }
    for (i, d) in plan.devices.iter().enumerate() {
        let (parent, name) = split_last(d.path.to_bytes());
        let mut pbuf = [0u8; 4096];
        let mut nbuf = [0u8; 256];
        let parent = cstr_in(&mut pbuf, if parent.is_empty() { b"/" } else { parent })
            .map_err(Fail::at(i))?;
        let name = cstr_in(&mut nbuf, name).map_err(Fail::at(i))?;
        let pfd = mkdir_all_in_root(root, parent, 0o755).map_err(Fail::at(i))?;
        node(pfd.as_fd(), name, None, d.mode, d.dev).map_err(Fail::at(i))?;
        fs::fchownat(pfd.as_fd(), name, d.uid, d.gid).map_err(Fail::at(i))?;
    }
    Ok(())
}
