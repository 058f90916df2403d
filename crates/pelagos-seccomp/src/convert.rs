//! Translation of the OCI seccomp vocabulary (actions, architectures, operators, flags)
//! into libseccomp values and kernel flag bits.

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp};
use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag};
use oci_spec::runtime::{LinuxSeccompOperator, LinuxSyscall};

use crate::error::{Result, SeccompError};

/// `SECCOMP_FILTER_FLAG_TSYNC`: synchronise all threads to the new filter.
pub const FLAG_TSYNC: u32 = 1 << 0;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action except `SECCOMP_RET_ALLOW`.
pub const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep speculative store bypass mitigation off.
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: `seccomp(2)` returns a user-notification fd.
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: report TSYNC failure as ESRCH so that TSYNC can be
/// combined with NEW_LISTENER (the return value is then the listener fd).
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: a notified task waits killably.
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Errno used when a profile says `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` without `errnoRet`,
/// as runc and crun do.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// Translates an OCI action plus its optional `errnoRet` into a libseccomp action.
/// `field` is the JSON path of the action, used in errors.
pub(crate) fn action(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<ScmpAction> {
    let data = || -> Result<u16> {
        let v = errno_ret.unwrap_or(DEFAULT_ERRNO);
        u16::try_from(v).map_err(|_| {
            SeccompError::field(
                errno_field(field),
                format!("{v} does not fit the 16-bit return data of a seccomp action"),
            )
        })
    };
    Ok(match act {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(data()?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(data()?),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

/// Whether `errnoRet` means anything for this action (only ERRNO and TRACE carry data).
pub(crate) fn takes_errno(act: LinuxSeccompAction) -> bool {
    matches!(
        act,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    )
}

/// The JSON path of the errno field that belongs to an action field.
fn errno_field(action_field: &str) -> String {
    match action_field.strip_suffix(".defaultAction") {
        Some(root) => format!("{root}.defaultErrnoRet"),
        None => match action_field.strip_suffix(".action") {
            Some(root) => format!("{root}.errnoRet"),
            None => action_field.to_owned(),
        },
    }
}

/// Maps an OCI architecture name onto libseccomp's token.
pub(crate) fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Kernel flag bits for the profile's `flags`.
pub(crate) fn flags(list: &[LinuxSeccompFilterFlag]) -> u32 {
    list.iter().fold(0, |acc, f| {
        acc | match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        }
    })
}

/// Highest syscall argument index (syscalls take six arguments).
const MAX_ARG_INDEX: usize = 5;

/// Translates one argument condition. For `SCMP_CMP_MASKED_EQ` the OCI `value` is the
/// mask and `valueTwo` the value the masked argument must equal (runc's reading).
pub(crate) fn condition(arg: &LinuxSeccompArg, field: &str) -> Result<ScmpArgCompare> {
    let index = arg.index();
    if index > MAX_ARG_INDEX {
        return Err(SeccompError::field(
            format!("{field}.index"),
            format!("argument index {index} is out of range (syscalls have arguments 0 to {MAX_ARG_INDEX})"),
        ));
    }
    let value = arg.value();
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(value),
            arg.value_two().unwrap_or(0),
        ),
    };
    // `index <= 5` was checked above, so the cast cannot truncate.
    Ok(ScmpArgCompare::new(index as u32, op, datum))
}

/// Groups a rule's conditions the way runc does: libseccomp accepts each argument once per
/// rule, so when an index repeats every condition becomes a rule of its own (OR instead of
/// AND). Returns the condition sets, one per rule to add.
pub(crate) fn rule_conditions(
    call: &LinuxSyscall,
    field: &str,
) -> Result<Vec<Vec<ScmpArgCompare>>> {
    let args = call.args().as_deref().unwrap_or_default();
    let conds = args
        .iter()
        .enumerate()
        .map(|(j, a)| condition(a, &format!("{field}.args[{j}]")))
        .collect::<Result<Vec<_>>>()?;
    let mut seen = [0usize; MAX_ARG_INDEX + 1];
    for a in args {
        seen[a.index()] += 1;
    }
    if seen.iter().any(|&n| n > 1) {
        Ok(conds.into_iter().map(|c| vec![c]).collect())
    } else {
        Ok(vec![conds])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_field_follows_action_field() {
        assert_eq!(
            errno_field("linux.seccomp.syscalls[2].action"),
            "linux.seccomp.syscalls[2].errnoRet"
        );
        assert_eq!(
            errno_field("linux.seccomp.defaultAction"),
            "linux.seccomp.defaultErrnoRet"
        );
    }

    #[test]
    fn errno_defaults_to_eperm_and_rejects_wide_values() {
        let a = action(LinuxSeccompAction::ScmpActErrno, None, "x.action").unwrap();
        assert_eq!(a, ScmpAction::Errno(libc::EPERM));
        let err = action(LinuxSeccompAction::ScmpActErrno, Some(70_000), "s.action").unwrap_err();
        assert!(err.to_string().starts_with("s.errnoRet: 70000"), "{err}");
    }

    #[test]
    fn kill_is_kill_thread() {
        let a = action(LinuxSeccompAction::ScmpActKill, None, "a").unwrap();
        assert_eq!(a, ScmpAction::KillThread);
    }

    #[test]
    fn flags_fold_into_bits() {
        let f = flags(&[
            LinuxSeccompFilterFlag::SeccompFilterFlagLog,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
        ]);
        assert_eq!(f, FLAG_LOG | FLAG_SPEC_ALLOW);
    }
}
