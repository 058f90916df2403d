//! Root file-system steps: make mounts private, bind the rootfs, the `mounts` list,
//! pivot_root, masked and read-only paths. Every target inside the root is resolved
//! through fds with `RESOLVE_IN_ROOT`.

use super::{Ctx, Fail, StepResult};
use crate::plan::{InitPlan, MountOp, MountPlan};
use pelagos_sys::fs::{self, cstr_in, mkdir_all_in_root, open_in_root, split_last};
use pelagos_sys::mount::{self as m, attr, ms};
use pelagos_sys::{Errno, Result};
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

fn root(ctx: &Ctx) -> Result<BorrowedFd<'_>> {
    ctx.root
        .as_ref()
        .map(|r| r.as_fd())
        .ok_or(Errno(libc::EBADF))
}

/// Make every mount slave (nothing we do propagates to the host) and bind the rootfs onto
/// itself so it is a mount point.
pub fn prepare_root(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    m::mount(None, c"/", None, ms::REC | ms::SLAVE, None).map_err(Fail::at(0))?;
    m::mount(
        Some(&plan.rootfs),
        &plan.rootfs,
        None,
        ms::BIND | ms::REC,
        None,
    )
    .map_err(Fail::at(1))?;
    ctx.root = Some(
        fs::openat(None, &plan.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(Fail::at(1))?,
    );
    Ok(())
}

/// The `mounts` entries, in order.
pub fn mounts(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let root = root(ctx)?;
    for (i, mp) in plan.mounts.iter().enumerate() {
        mount_one(root, mp).map_err(Fail::at(i))?;
    }
    Ok(())
}

/// Open (creating if missing) a mount target inside the root.
pub(super) fn target(root: BorrowedFd<'_>, dest: &CStr, file: bool) -> Result<OwnedFd> {
    match open_in_root(root, dest, libc::O_PATH) {
        Err(Errno(libc::ENOENT)) => {}
        other => return other,
    }
    if !file {
        return mkdir_all_in_root(root, dest, 0o755);
    }
    let (parent, name) = split_last(dest.to_bytes());
    let mut pbuf = [0u8; 4096];
    let pfd = if parent.is_empty() {
        fs::dup(root)?
    } else {
        mkdir_all_in_root(root, cstr_in(&mut pbuf, parent)?, 0o755)?
    };
    let mut nbuf = [0u8; 256];
    let name = cstr_in(&mut nbuf, name)?;
    fs::openat(
        Some(pfd.as_fd()),
        name,
        libc::O_CREAT | libc::O_RDONLY | libc::O_NOFOLLOW,
        0o644,
    )
}

fn mount_one(root: BorrowedFd<'_>, mp: &MountPlan) -> Result<()> {
    let tgt = target(root, &mp.dest, mp.file_target)?;
    let mnt = match &mp.op {
        MountOp::Bind { source, recursive } => {
            let mnt = m::open_tree_clone(None, source, *recursive)?;
            if mp.attr_set | mp.attr_clear != 0 {
                m::mount_setattr(
                    mnt.as_fd(),
                    mp.attr_recursive,
                    mp.attr_set,
                    mp.attr_clear,
                    0,
                )?;
            }
            mnt
        }
        MountOp::Fs {
            fstype,
            source,
            options,
        } => {
            let fsfd = m::fsopen(fstype)?;
            if let Some(src) = source {
                m::fsconfig_string(fsfd.as_fd(), c"source", src)?;
            }
            for (k, v) in options {
                match v {
                    Some(v) => m::fsconfig_string(fsfd.as_fd(), k, v)?,
                    None => m::fsconfig_flag(fsfd.as_fd(), k)?,
                }
            }
            m::fsmount(fsfd.as_fd(), mp.attr_set)?
        }
        MountOp::Cgroup { binds } => return mount_cgroup(tgt.as_fd(), mp, binds),
    };
    m::move_mount(mnt.as_fd(), tgt.as_fd())?;
    if mp.propagation != 0 {
        m::mount_setattr(
            mnt.as_fd(),
            mp.propagation & ms::REC != 0,
            0,
            0,
            mp.propagation & !ms::REC,
        )?;
    }
    Ok(())
}

/// The container's view of its cgroups: on a pure v2 host a bind of its own cgroup dir;
/// otherwise a tmpfs holding a bind per hierarchy.
fn mount_cgroup(
    tgt: BorrowedFd<'_>,
    mp: &MountPlan,
    binds: &[(std::ffi::CString, std::ffi::CString)],
) -> Result<()> {
    let bind_attrs = mp.attr_set | attr::NOSUID | attr::NODEV | attr::NOEXEC;
    if let [(host, name)] = binds {
        if name.is_empty() {
            let b = m::open_tree_clone(None, host, false)?;
            m::mount_setattr(b.as_fd(), false, bind_attrs, 0, 0)?;
            return m::move_mount(b.as_fd(), tgt);
        }
    }
    let fsfd = m::fsopen(c"tmpfs")?;
    m::fsconfig_string(fsfd.as_fd(), c"source", c"tmpfs")?;
    m::fsconfig_string(fsfd.as_fd(), c"mode", c"755")?;
    let tmp = m::fsmount(fsfd.as_fd(), attr::NOSUID | attr::NODEV | attr::NOEXEC)?;
    m::move_mount(tmp.as_fd(), tgt)?;
    for (host, name) in binds {
        match fs::mkdirat(tmp.as_fd(), name, 0o755) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
        let sub = fs::openat(
            Some(tmp.as_fd()),
            name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        let b = m::open_tree_clone(None, host, false)?;
        m::mount_setattr(b.as_fd(), false, bind_attrs, 0, 0)?;
        m::move_mount(b.as_fd(), sub.as_fd())?;
    }
    if mp.attr_set & attr::RDONLY != 0 {
        m::mount_setattr(tmp.as_fd(), false, attr::RDONLY, 0, 0)?;
    }
    Ok(())
}

/// `pivot_root` into the rootfs and detach the old root (or `MS_MOVE` + `chroot` with
/// `--no-pivot`).
pub fn pivot(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let r = root(ctx)?;
    fs::fchdir(r)?;
    if plan.no_pivot {
        m::mount(Some(c"."), c"/", None, ms::MOVE, None)?;
        fs::chroot(c".")?;
    } else {
        fs::pivot_root(c".", c".")?;
        m::umount2(c".", m::MNT_DETACH)?;
    }
    fs::chdir(c"/")?;
    ctx.root = Some(fs::openat(None, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)?);
    Ok(())
}

/// `linux.rootfsPropagation` on the new `/`.
pub fn root_propagation(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if plan.rootfs_propagation != 0 {
        m::mount(None, c"/", None, plan.rootfs_propagation, None)?;
    }
    Ok(())
}

/// `linux.maskedPaths`: files get `/dev/null` bound over them, directories an empty
/// read-only tmpfs. Missing paths are skipped.
pub fn mask_paths(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    if plan.masked.is_empty() {
        return Ok(());
    }
    let r = root(ctx)?;
    let null = open_in_root(r, c"/dev/null", libc::O_PATH).map_err(Fail::at(usize::MAX))?;
    let st = fs::fstat(null.as_fd())?;
    if !st.is_char_device() || st.rdev != libc::makedev(1, 3) {
        return Err(Fail {
            errno: Errno(libc::EINVAL),
            index: u32::MAX,
            detail: 0,
        });
    }
    for (i, p) in plan.masked.iter().enumerate() {
        let fd = match open_in_root(r, p, libc::O_PATH) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => continue,
            Err(e) => return Err(Fail::at(i)(e)),
        };
        let is_dir = fs::fstat(fd.as_fd()).map_err(Fail::at(i))?.is_dir();
        let mnt = if is_dir {
            let fsfd = m::fsopen(c"tmpfs").map_err(Fail::at(i))?;
            m::fsconfig_string(fsfd.as_fd(), c"source", c"tmpfs").map_err(Fail::at(i))?;
            m::fsconfig_flag(fsfd.as_fd(), c"ro").map_err(Fail::at(i))?;
            m::fsmount(fsfd.as_fd(), attr::RDONLY).map_err(Fail::at(i))?
        } else {
            m::open_tree_clone(Some(null.as_fd()), c"", false).map_err(Fail::at(i))?
        };
        m::move_mount(mnt.as_fd(), fd.as_fd()).map_err(Fail::at(i))?;
    }
    Ok(())
}

/// `linux.readonlyPaths`: bind each path onto itself read-only (recursively).
pub fn readonly_paths(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let r = root(ctx)?;
    for (i, p) in plan.readonly.iter().enumerate() {
        let fd = match open_in_root(r, p, libc::O_PATH) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => continue,
            Err(e) => return Err(Fail::at(i)(e)),
        };
        let mnt = m::open_tree_clone(Some(fd.as_fd()), c"", true).map_err(Fail::at(i))?;
        m::mount_setattr(mnt.as_fd(), true, attr::RDONLY, 0, 0).map_err(Fail::at(i))?;
        m::move_mount(mnt.as_fd(), fd.as_fd()).map_err(Fail::at(i))?;
    }
    Ok(())
}

/// `root.readonly`.
pub fn readonly_root(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    if plan.readonly_root {
        m::mount_setattr(root(ctx)?, false, attr::RDONLY, 0, 0)?;
    }
    Ok(())
}
