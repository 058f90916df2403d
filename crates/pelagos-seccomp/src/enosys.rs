//! The ENOSYS prologue: syscalls newer than anything the profile names fail with ENOSYS
//! instead of the profile's default errno.
//!
//! libc probes new syscalls and falls back to older ones only on ENOSYS (glibc's
//! `faccessat` tries `faccessat2`, `posix_spawn` tries `clone3`...). An allowlist written
//! before a syscall existed would answer EPERM, and the program fails instead of falling
//! back. runc solves this by patching its filter; this module does the same with a short
//! prologue in front of libseccomp's program, for the native architecture:
//!
//! ```text
//! 0  ld  [4]                   ; seccomp_data.arch
//! 1  jeq #NATIVE_AUDIT_ARCH, 0, 4
//! 2  ld  [0]                   ; seccomp_data.nr
//! 3  jset #COMPAT_BIT, 2, 0    ; x32 numbers carry bit 30: leave them to libseccomp
//! 4  jgt #MAX_KNOWN, 0, 1
//! 5  ret #SECCOMP_RET_ERRNO | ENOSYS
//! 6  ...libseccomp's program (its jumps are relative, so it is unaffected)
//! ```

use libseccomp::ScmpSyscall;
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction};

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGT_K: u16 = 0x25;
const BPF_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
/// Offsets of `arch` and `nr` in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

/// The native architecture's `AUDIT_ARCH_*` value and the bit that marks compat syscall
/// numbers sharing that value (x32 on x86-64); `None` where the crate does not know it.
fn native_arch() -> Option<(u32, u32)> {
    if cfg!(target_arch = "x86_64") {
        Some((Arch::ScmpArchX86_64 as u32, 0x4000_0000))
    } else if cfg!(target_arch = "aarch64") {
        Some((Arch::ScmpArchAarch64 as u32, 0))
    } else if cfg!(target_arch = "riscv64") {
        Some((Arch::ScmpArchRiscv64 as u32, 0))
    } else if cfg!(target_arch = "s390x") {
        Some((Arch::ScmpArchS390x as u32, 0))
    } else {
        None
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..2].copy_from_slice(&code.to_ne_bytes());
    b[2] = jt;
    b[3] = jf;
    b[4..].copy_from_slice(&k.to_ne_bytes());
    b
}

/// The highest native syscall number the profile names, if any.
fn max_known(profile: &LinuxSeccomp) -> Option<u32> {
    profile
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names())
        .filter_map(|n| ScmpSyscall::from_name(n).ok())
        .filter_map(|s| u32::try_from(s.as_raw_syscall()).ok())
        .max()
}

/// The prologue for `profile`, or nothing when it does not apply: the default action lets
/// syscalls through (ALLOW, LOG) or hands them to an agent (NOTIFY, TRACE), or the profile
/// names no syscall, or the architecture is unknown here.
pub(crate) fn prologue(profile: &LinuxSeccomp) -> Vec<u8> {
    let denies = matches!(
        profile.default_action(),
        LinuxSeccompAction::ScmpActErrno
            | LinuxSeccompAction::ScmpActKill
            | LinuxSeccompAction::ScmpActKillThread
            | LinuxSeccompAction::ScmpActKillProcess
            | LinuxSeccompAction::ScmpActTrap
    );
    let (Some((arch, compat_bit)), Some(max), true) = (native_arch(), max_known(profile), denies)
    else {
        return Vec::new();
    };
    [
        insn(BPF_LD_W_ABS, 0, 0, DATA_ARCH),
        insn(BPF_JEQ_K, 0, 4, arch),
        insn(BPF_LD_W_ABS, 0, 0, DATA_NR),
        insn(BPF_JSET_K, 2, 0, compat_bit),
        insn(BPF_JGT_K, 0, 1, max),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_profile;
    use oci_spec::runtime::Capabilities;

    #[test]
    #[cfg_attr(
        not(any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "riscv64",
            target_arch = "s390x"
        )),
        ignore = "no ENOSYS prologue on this architecture"
    )]
    fn applies_to_deny_by_default_profiles_only() {
        let mut p = default_profile(&Capabilities::new());
        assert_eq!(prologue(&p).len(), 6 * 8);
        p.set_default_action(LinuxSeccompAction::ScmpActAllow);
        assert!(prologue(&p).is_empty());
    }

    #[test]
    fn max_known_covers_the_newest_listed_syscall() {
        let p = default_profile(&Capabilities::new());
        let openat2 = ScmpSyscall::from_name("openat2").unwrap().as_raw_syscall();
        assert!(max_known(&p).unwrap() >= u32::try_from(openat2).unwrap());
    }
}
