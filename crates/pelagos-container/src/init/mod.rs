//! The container init: the child side of the spawn pipeline.
//!
//! It runs [`STEPS`] in order, each a named function over the prepared
//! [`InitPlan`](crate::plan::InitPlan). Steps only make async-signal-safe kernel calls via
//! `pelagos-sys`: no allocation, no locks, no logging. A failing step sends
//! `(step, errno, index)` to the parent and exits; the parent turns it into a message
//! naming the object ("mount /proc: EPERM").

mod devices;
mod process;
mod rootfs;
mod security;

pub use process::FOUND_RELATIVE;

use crate::plan::{InitPlan, StartPlan};
use crate::protocol::{Kind, Msg};
use pelagos_sys::clone::exit_now;
use pelagos_sys::Errno;
use std::os::fd::{AsFd, OwnedFd};

/// A step's failure: errno, which item, and extra detail (a hook's exit status).
#[derive(Clone, Copy, Debug)]
pub struct Fail {
    pub errno: Errno,
    pub index: u32,
    pub detail: i32,
}

impl From<Errno> for Fail {
    fn from(errno: Errno) -> Self {
        Fail {
            errno,
            index: 0,
            detail: 0,
        }
    }
}

impl Fail {
    pub(crate) fn at(index: usize) -> impl Fn(Errno) -> Fail {
        move |errno| Fail {
            errno,
            index: index as u32,
            detail: 0,
        }
    }
}

/// Result of one step.
pub type StepResult = Result<(), Fail>;

/// Mutable state the steps share.
#[derive(Default)]
pub struct Ctx {
    /// The container root (before pivot: the bind-mounted rootfs; after: `/`).
    pub root: Option<OwnedFd>,
    /// Which exec candidate was found.
    pub exec_index: usize,
    /// The connection from `start`, once accepted.
    pub start_conn: Option<OwnedFd>,
    /// Bytes of state JSON in `plan.state_buf`.
    pub state_len: usize,
}

/// The named steps of the init.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    Prepare = 1,
    WaitForParent,
    CgroupNamespace,
    JoinNamespaces,
    TimeNamespace,
    Hostname,
    OomScoreAdj,
    PrepareRoot,
    Mounts,
    Devices,
    CreateHooks,
    PivotRoot,
    RootPropagation,
    Sysctl,
    CreateCwd,
    MaskPaths,
    ReadonlyPaths,
    ReadonlyRoot,
    Rlimits,
    Terminal,
    Cwd,
    Apparmor,
    Identity,
    Capabilities,
    NoNewPrivs,
    FindExecutable,
    Ready,
    WaitStart,
    StartHooks,
    Seccomp,
    Exec,
    Undumpable,
    OpenRoot,
    SeccompEarly,
    JoinCgroup,
}

impl Step {
    /// Decode a step number from the wire.
    pub fn from_u32(n: u32) -> Option<Step> {
        STEPS
            .iter()
            .chain(EXEC_STEPS)
            .map(|(s, _)| *s)
            .find(|s| *s as u32 == n)
    }
}

type StepFn = fn(&mut InitPlan, &mut Ctx) -> StepResult;

/// The order of the init. One list; `tests::order` checks its invariants.
pub const STEPS: &[(Step, StepFn)] = &[
    (Step::Prepare, process::prepare),
    (Step::JoinCgroup, process::join_cgroup),
    (Step::WaitForParent, process::wait_for_parent),
    (Step::CgroupNamespace, process::cgroup_namespace),
    (Step::JoinNamespaces, process::join_namespaces),
    (Step::TimeNamespace, process::time_namespace),
    (Step::Hostname, process::hostname),
    (Step::OomScoreAdj, process::oom_score_adj),
    (Step::PrepareRoot, rootfs::prepare_root),
    (Step::Mounts, rootfs::mounts),
    (Step::Devices, devices::devices),
    (Step::CreateHooks, process::create_hooks),
    (Step::PivotRoot, rootfs::pivot),
    (Step::RootPropagation, rootfs::root_propagation),
    (Step::Sysctl, process::sysctl),
    (Step::CreateCwd, process::create_cwd),
    (Step::MaskPaths, rootfs::mask_paths),
    (Step::ReadonlyPaths, rootfs::readonly_paths),
    (Step::ReadonlyRoot, rootfs::readonly_root),
    (Step::Rlimits, process::rlimits),
    (Step::Terminal, process::terminal),
    (Step::Cwd, process::cwd),
    (Step::Apparmor, security::apparmor),
    (Step::SeccompEarly, security::seccomp_early),
    (Step::Identity, security::identity),
    (Step::Capabilities, security::capabilities),
    (Step::NoNewPrivs, security::no_new_privs),
    (Step::FindExecutable, process::find_executable),
    (Step::Ready, process::ready),
    (Step::WaitStart, process::wait_start),
    (Step::StartHooks, process::start_hooks),
    (Step::Seccomp, security::seccomp),
    (Step::Exec, process::exec),
];

/// The steps of a process joining a running container (`exec`): no mounts, no hooks.
pub const EXEC_STEPS: &[(Step, StepFn)] = &[
    (Step::Prepare, process::prepare),
    (Step::Undumpable, security::undumpable),
    (Step::JoinCgroup, process::join_cgroup),
    (Step::WaitForParent, process::wait_for_parent),
    (Step::JoinNamespaces, process::join_namespaces),
    (Step::OpenRoot, process::open_root),
    (Step::Rlimits, process::rlimits),
    (Step::Terminal, process::terminal),
    (Step::Cwd, process::cwd),
    (Step::Apparmor, security::apparmor),
    (Step::SeccompEarly, security::seccomp_early),
    (Step::Identity, security::identity),
    (Step::Capabilities, security::capabilities),
    (Step::NoNewPrivs, security::no_new_privs),
    (Step::FindExecutable, process::find_executable),
    (Step::Ready, process::ready),
    (Step::Seccomp, security::seccomp),
    (Step::Exec, process::exec),
];

/// Run the init. Never returns: it execs the container process or exits 1 after
/// reporting the failed step.
pub fn run(plan: &mut InitPlan) -> ! {
    run_steps(plan, STEPS)
}

/// Run the steps of a process joining a running container.
pub fn run_exec(plan: &mut InitPlan) -> ! {
    run_steps(plan, EXEC_STEPS)
}

fn run_steps(plan: &mut InitPlan, steps: &[(Step, StepFn)]) -> ! {
    let mut ctx = Ctx::default();
    for (step, f) in steps {
        if let Err(fail) = f(plan, &mut ctx) {
            report(plan, &ctx, *step, fail);
            exit_now(1);
        }
    }
    exit_now(1)
}

fn report(plan: &InitPlan, ctx: &Ctx, step: Step, fail: Fail) {
    let msg = Msg {
        kind: Kind::Error,
        step: step as u32,
        errno: fail.errno.0,
        index: fail.index,
        detail: fail.detail,
    };
    let bytes = msg.encode();
    // After `start` connected, the creating runtime is gone: report to `start`.
    let sock = match (&ctx.start_conn, &plan.start) {
        (Some(conn), _) => conn.as_fd(),
        (None, StartPlan::WaitFor(_)) | (None, StartPlan::Immediate) => plan.sync.as_fd(),
    };
    let _ = pelagos_sys::socket::send(sock, &bytes, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(s: Step) -> usize {
        STEPS.iter().position(|(x, _)| *x == s).unwrap()
    }

    #[test]
    fn order() {
        assert_eq!(STEPS.first().unwrap().0, Step::Prepare);
        assert_eq!(STEPS.last().unwrap().0, Step::Exec);
        assert_eq!(
            STEPS[STEPS.len() - 2].0,
            Step::Seccomp,
            "seccomp is the last step before exec"
        );
        assert!(
            pos(Step::WaitForParent) < pos(Step::CgroupNamespace),
            "cgroupns root = the placed cgroup"
        );
        assert!(pos(Step::WaitForParent) < pos(Step::JoinNamespaces));
        assert_eq!(
            pos(Step::JoinCgroup),
            1,
            "the init joins its cgroup before anything else"
        );
        assert!(pos(Step::Mounts) < pos(Step::Devices));
        assert!(
            pos(Step::CreateHooks) < pos(Step::PivotRoot),
            "createContainer runs before pivot_root"
        );
        assert!(
            pos(Step::Sysctl) < pos(Step::ReadonlyPaths),
            "/proc/sys turns read-only"
        );
        assert!(pos(Step::Identity) < pos(Step::Capabilities));
        assert!(
            pos(Step::CreateCwd) < pos(Step::ReadonlyRoot),
            "cwd is created before / turns read-only"
        );
        assert!(
            pos(Step::FindExecutable) < pos(Step::Ready),
            "create reports a missing executable"
        );
        assert!(pos(Step::Ready) < pos(Step::WaitStart));
        assert_eq!(EXEC_STEPS.last().unwrap().0, Step::Exec);
        assert_eq!(EXEC_STEPS[EXEC_STEPS.len() - 2].0, Step::Seccomp);
        assert_eq!(
            EXEC_STEPS[1].0,
            Step::Undumpable,
            "exec is undumpable before it joins"
        );
        let mut seen = std::collections::HashSet::new();
        for (s, _) in STEPS.iter().chain(EXEC_STEPS) {
            assert_eq!(Step::from_u32(*s as u32), Some(*s));
            seen.insert(*s as u32);
        }
        assert!(
            pos(Step::SeccompEarly) < pos(Step::Identity),
            "early seccomp runs while privileged"
        );
    }
}
