//! Security steps: LSM label, user identity, capabilities, no_new_privs, seccomp.

use super::{Ctx, Fail, StepResult};
use crate::plan::InitPlan;
use pelagos_sys::fs::{self, open_in_root};
use pelagos_sys::process as p;
use pelagos_sys::Errno;
use std::os::fd::AsFd;

/// `process.apparmorProfile`, applied at exec (only planned when AppArmor is enabled).
pub fn apparmor(plan: &mut InitPlan, ctx: &mut Ctx) -> StepResult {
    let Some(label) = &plan.process.apparmor else {
        return Ok(());
    };
    let root = ctx
        .root
        .as_ref()
        .map(|r| r.as_fd())
        .ok_or(Errno(libc::EBADF))?;
    let proc_ = open_in_root(root, c"/proc", libc::O_PATH | libc::O_DIRECTORY)?;
    if fs::fstatfs_type(proc_.as_fd())? != fs::PROC_SUPER_MAGIC {
        return Err(Errno(libc::EXDEV).into());
    }
    let f = fs::openat(
        Some(proc_.as_fd()),
        c"self/attr/apparmor/exec",
        libc::O_WRONLY,
        0,
    )
    .or_else(|_| fs::openat(Some(proc_.as_fd()), c"self/attr/exec", libc::O_WRONLY, 0))?;
    fs::write_all(f.as_fd(), label.to_bytes())?;
    Ok(())
}

/// Drop the bounding set, then switch to the configured uid/gid/groups keeping the
/// permitted capabilities for the next step.
pub fn identity(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    p::set_keepcaps(true)?;
    for cap in 0..=plan.process.last_cap.min(63) {
        if plan.process.caps.bounding & (1u64 << cap) == 0 {
            match p::capbset_drop(cap) {
                Ok(()) | Err(Errno(libc::EINVAL)) => {}
                Err(e) => {
                    return Err(Fail {
                        errno: e,
                        index: cap,
                        detail: 0,
                    })
                }
            }
        }
    }
    if plan.process.set_groups {
        p::setgroups(&plan.process.groups).map_err(Fail::at(0))?;
    }
    p::setresgid(plan.process.gid).map_err(Fail::at(1))?;
    p::setresuid(plan.process.uid).map_err(Fail::at(2))?;
    Ok(())
}

/// Effective, permitted, inheritable and ambient sets.
pub fn capabilities(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    let c = plan.process.caps;
    p::capset(c.effective, c.permitted, c.inheritable)?;
    p::ambient_clear()?;
    for cap in 0..=plan.process.last_cap.min(63) {
        if c.ambient & (1u64 << cap) != 0 {
            // A cap missing from permitted or inheritable cannot be ambient; runc skips it too.
            let _ = p::ambient_raise(cap);
        }
    }
    p::set_keepcaps(false)?;
    Ok(())
}

/// `process.noNewPrivileges`.
pub fn no_new_privs(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if plan.process.no_new_privs {
        p::set_no_new_privs()?;
    }
    Ok(())
}

fn load_seccomp(plan: &InitPlan) -> StepResult {
    let Some((program, flags)) = &plan.seccomp else {
        return Ok(());
    };
    if let Some(fd) = pelagos_sys::seccomp::set_filter(program, *flags)? {
        // The runtime forwards the notify fd to the agent at listenerPath.
        let msg = crate::protocol::Msg::simple(crate::protocol::Kind::SeccompFd).encode();
        pelagos_sys::socket::send(plan.sync.as_fd(), &msg, Some(fd.as_fd()))?;
    }
    Ok(())
}

/// Seccomp while still privileged: when no_new_privs is off (the filter needs
/// CAP_SYS_ADMIN then) or a listener must get the notify fd during create.
pub fn seccomp_early(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if plan.seccomp_early {
        load_seccomp(plan)?;
    }
    Ok(())
}

/// Seccomp, the last step before exec.
pub fn seccomp(plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    if !plan.seccomp_early {
        load_seccomp(plan)?;
    }
    Ok(())
}

/// `exec`: nothing in the container may ptrace or open this process before it execs.
pub fn undumpable(_plan: &mut InitPlan, _ctx: &mut Ctx) -> StepResult {
    p::set_dumpable(false)?;
    Ok(())
}
