//! The built-in default profile: an allowlist in the spirit of the docker/podman default
//! (deny with EPERM, allow what containers normally need, narrow a few syscalls by
//! argument, and open capability-gated syscalls only to containers holding the capability).

mod syscalls;

use std::collections::BTreeSet;

use oci_spec::runtime::{
    Arch, Capabilities, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg,
    LinuxSeccompArgBuilder, LinuxSeccompOperator, LinuxSyscall,
};

/// `personality(2)` values a container may set: Linux, 32-bit Linux, and the 2.6 uname
/// emulation of both. `0xffffffff` only queries the persona.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// The namespace flags of `clone(2)`: creating namespaces needs CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// Address family of vsock sockets, which reach the hypervisor host and are not
/// namespaced.
const AF_VSOCK: u64 = libc::AF_VSOCK as u64;

/// The default profile for a container whose capability set is `caps` (the bounding set
/// is what matters: a capability the process can never hold cannot unlock a syscall).
///
/// Unlisted syscalls fail with EPERM. `clone3` without CAP_SYS_ADMIN fails with ENOSYS, so
/// that libc falls back to `clone`, whose flags the filter can inspect (clone3 passes them
/// in memory, out of reach of seccomp).
pub fn default_profile(caps: &Capabilities) -> LinuxSeccomp {
    let mut allowed: BTreeSet<&str> = [
        syscalls::FILES,
        syscalls::PROCESSES,
        syscalls::MEMORY,
        syscalls::TIME_AND_EVENTS,
        syscalls::IPC,
        syscalls::NETWORK,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect();
    for (cap, names) in syscalls::BY_CAPABILITY {
        if caps.contains(cap) {
            allowed.extend(names.iter().copied());
        }
    }
    let mut rules = vec![allow(&allowed.into_iter().collect::<Vec<_>>(), Vec::new())];
    for &p in PERSONALITIES {
        rules.push(allow(
            &["personality"],
            vec![arg(0, p, None, LinuxSeccompOperator::ScmpCmpEq)],
        ));
    }
    rules.push(allow(
        &["socket"],
        vec![arg(0, AF_VSOCK, None, LinuxSeccompOperator::ScmpCmpNe)],
    ));
    if caps.contains(&Capability::SysAdmin) {
        rules.push(allow(&["clone", "clone3"], Vec::new()));
    } else {
        // s390 passes the flags in the second argument; every other architecture in the
        // first.
        let flags_index = if cfg!(target_arch = "s390x") { 1 } else { 0 };
        rules.push(allow(
            &["clone"],
            vec![arg(
                flags_index,
                CLONE_NAMESPACE_FLAGS,
                Some(0),
                LinuxSeccompOperator::ScmpCmpMaskedEq,
            )],
        ));
        let mut clone3 = rule(&["clone3"], LinuxSeccompAction::ScmpActErrno, Vec::new());
        clone3.set_errno_ret(Some(libc::ENOSYS as u32));
        rules.push(clone3);
    }
    let mut profile = LinuxSeccomp::default();
    profile
        .set_default_action(LinuxSeccompAction::ScmpActErrno)
        .set_default_errno_ret(Some(libc::EPERM as u32))
        .set_architectures(Some(host_architectures()))
        .set_syscalls(Some(rules));
    profile
}

/// The architectures a process on this host can issue syscalls in (compat modes
/// included), so that a 32-bit binary meets the same allowlist instead of the bad-arch
/// kill.
fn host_architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else if cfg!(target_arch = "s390x") {
        vec![Arch::ScmpArchS390x, Arch::ScmpArchS390]
    } else if cfg!(target_arch = "powerpc64") {
        vec![Arch::ScmpArchPpc64le, Arch::ScmpArchPpc64]
    } else if cfg!(target_arch = "riscv64") {
        vec![Arch::ScmpArchRiscv64]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

fn rule(names: &[&str], action: LinuxSeccompAction, args: Vec<LinuxSeccompArg>) -> LinuxSyscall {
    let mut r = LinuxSyscall::default();
    r.set_names(names.iter().map(|n| (*n).to_owned()).collect())
        .set_action(action)
        .set_args((!args.is_empty()).then_some(args));
    r
}

fn allow(names: &[&str], args: Vec<LinuxSeccompArg>) -> LinuxSyscall {
    rule(names, LinuxSeccompAction::ScmpActAllow, args)
}

fn arg(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> LinuxSeccompArg {
    let b = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    let b = match value_two {
        Some(v) => b.value_two(v),
        None => b,
    };
    // The builder fails only for a missing field without default, and every field here
    // has one.
    b.build().unwrap_or_default()
}

#[cfg(test)]
mod tests;
