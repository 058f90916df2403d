//! Compiling an OCI `linux.seccomp` profile into the BPF program `seccomp(2)` loads.
//!
//! The filter is built with libseccomp and exported as raw `struct sock_filter` records,
//! so the container init only has to hand the bytes to `seccomp(SECCOMP_SET_MODE_FILTER)`:
//! no libseccomp call, no allocation after clone.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSyscall};
use serde::{Deserialize, Serialize};

use crate::convert;
use crate::error::{Result, SeccompError};

/// JSON path of the seccomp object inside config.json; every field error starts with it.
pub const FIELD_ROOT: &str = "linux.seccomp";

/// Size of one `struct sock_filter` (u16 code, u8 jt, u8 jf, u32 k).
pub const SOCK_FILTER_SIZE: usize = 8;

/// The kernel's `BPF_MAXINSNS`: `seccomp(2)` refuses longer programs with EINVAL.
pub const MAX_INSTRUCTIONS: usize = 4096;

/// A profile compiled for the host architecture, ready for `seccomp(2)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompiledFilter {
    /// The `struct sock_filter` array in host byte order, 8 bytes per instruction: the
    /// `filter` that `struct sock_fprog` points at (`len` = `bpf.len() / 8`).
    pub bpf: Vec<u8>,
    /// `SECCOMP_FILTER_FLAG_*` bits to pass as the `flags` argument of
    /// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`. Includes
    /// [`FLAG_NEW_LISTENER`](crate::FLAG_NEW_LISTENER) when the profile uses `SCMP_ACT_NOTIFY`.
    pub flags: u32,
    /// Where the listener fd must be sent (`linux.seccomp.listenerPath`); set exactly when
    /// `flags` contains `FLAG_NEW_LISTENER`.
    pub listener_path: Option<PathBuf>,
    /// `linux.seccomp.listenerMetadata`, passed verbatim in the `metadata` field of the
    /// container process state sent to the listener.
    pub listener_metadata: Option<String>,
    /// Things the compiler skipped; the runtime should show them to the user.
    pub warnings: Vec<Warning>,
}

impl fmt::Debug for CompiledFilter {
    // The program is thousands of bytes; its size says what a reader needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledFilter")
            .field(
                "bpf",
                &format_args!("<{} instructions>", self.instructions()),
            )
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("listener_path", &self.listener_path)
            .field("listener_metadata", &self.listener_metadata)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl CompiledFilter {
    /// Number of BPF instructions (`sock_fprog.len`).
    pub fn instructions(&self) -> usize {
        self.bpf.len() / SOCK_FILTER_SIZE
    }

    /// Whether loading the filter yields a user-notification fd that must be sent to
    /// [`listener_path`](Self::listener_path).
    pub fn needs_listener(&self) -> bool {
        self.flags & convert::FLAG_NEW_LISTENER != 0
    }
}

/// A part of the profile the compiler skipped, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// JSON path, e.g. `linux.seccomp.syscalls[4].names[2]`.
    pub field: String,
    /// What was skipped and why.
    pub message: String,
    /// Expected and harmless: a syscall name this libseccomp does not know (profiles list
    /// syscalls of newer kernels). runc skips those silently; a runtime shows them only
    /// when debugging.
    #[serde(default)]
    pub quiet: bool,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn scmp(what: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let what = what.into();
    move |source| SeccompError::Libseccomp { what, source }
}

/// Compiles `profile` for the host architecture (plus the architectures it lists).
///
/// Unknown syscall names are skipped, as runc does, and reported in
/// [`CompiledFilter::warnings`]. Values that cannot be expressed (errno wider than 16 bits,
/// argument index above 5, an architecture this libseccomp does not know, NOTIFY without
/// `listenerPath`) are errors naming the field.
///
/// When the default action denies, the program starts with a short prologue that answers
/// ENOSYS for native syscall numbers above the highest one the profile names, so that
/// libc falls back from syscalls newer than the profile (see `enosys.rs`).
pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledFilter> {
    let mut warnings = Vec::new();
    // Checked first: a profile that cannot work is refused before the costly compile.
    let (flags, listener_path) = load_flags(profile, &mut warnings)?;
    let ctx = build_context(profile, &mut warnings)?;
    let mut bpf = crate::enosys::prologue(profile);
    bpf.extend(export(&ctx)?);
    let instructions = bpf.len() / SOCK_FILTER_SIZE;
    if instructions > MAX_INSTRUCTIONS {
        return Err(SeccompError::ProgramTooLong {
            instructions,
            limit: MAX_INSTRUCTIONS,
        });
    }
    Ok(CompiledFilter {
        bpf,
        flags,
        listener_path,
        listener_metadata: profile.listener_metadata().clone(),
        warnings,
    })
}

/// The `seccomp(2)` flags and the listener socket of `profile`.
fn load_flags(
    profile: &LinuxSeccomp,
    warnings: &mut Vec<Warning>,
) -> Result<(u32, Option<PathBuf>)> {
    let uses_notify = profile.default_action() == LinuxSeccompAction::ScmpActNotify
        || profile
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify);
    let mut flags = convert::flags(profile.flags().as_deref().unwrap_or_default());
    if !uses_notify {
        if profile.listener_path().is_some() {
            warnings.push(Warning {
                field: format!("{FIELD_ROOT}.listenerPath"),
                message: "ignored: no rule uses SCMP_ACT_NOTIFY".into(),
                quiet: false,
            });
        }
        return Ok((flags, None));
    }
    let Some(path) = profile.listener_path().clone() else {
        return Err(SeccompError::field(
            format!("{FIELD_ROOT}.listenerPath"),
            "SCMP_ACT_NOTIFY is used but no listener socket is set: add listenerPath",
        ));
    };
    flags |= convert::FLAG_NEW_LISTENER;
    if flags & convert::FLAG_TSYNC != 0 {
        // TSYNC alone makes seccomp(2) return a thread id, which clashes with the
        // listener fd; TSYNC_ESRCH is the kernel's way to combine them.
        flags |= convert::FLAG_TSYNC_ESRCH;
    }
    Ok((flags, Some(path)))
}

/// Builds the libseccomp filter context for `profile`, collecting warnings.
fn build_context(profile: &LinuxSeccomp, warnings: &mut Vec<Warning>) -> Result<ScmpFilterContext> {
    let default = convert::action(
        profile.default_action(),
        profile.default_errno_ret(),
        &format!("{FIELD_ROOT}.defaultAction"),
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(scmp("create the seccomp filter"))?;
    // The exported program is loaded by our own init, which sets no_new_privs itself.
    ctx.set_ctl_nnp(false)
        .map_err(scmp("clear the no_new_privs attribute"))?;
    // A binary tree over syscall numbers keeps a ~350-entry allowlist at a few compares
    // per syscall instead of a linear scan; older libseccomp ignores the request.
    let _ = ctx.set_ctl_optimize(2);
    for (i, a) in profile.architectures().iter().flatten().enumerate() {
        let field = format!("{FIELD_ROOT}.architectures[{i}]");
        ctx.add_arch(convert::arch(*a))
            .map_err(|source| SeccompError::Libseccomp {
                what: format!("{field}: add architecture {a} (unsupported by this libseccomp?)"),
                source,
            })?;
    }
    for (i, call) in profile.syscalls().iter().flatten().enumerate() {
        add_syscall_rules(&mut ctx, default, call, i, warnings)?;
    }
    Ok(ctx)
}

/// Adds the rules of `linux.seccomp.syscalls[i]`.
fn add_syscall_rules(
    ctx: &mut ScmpFilterContext,
    default: ScmpAction,
    call: &LinuxSyscall,
    i: usize,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let field = format!("{FIELD_ROOT}.syscalls[{i}]");
    let act = convert::action(call.action(), call.errno_ret(), &format!("{field}.action"))?;
    if call.errno_ret().is_some() && !convert::takes_errno(call.action()) {
        warnings.push(Warning {
            field: format!("{field}.errnoRet"),
            message: format!("ignored: {} carries no errno", call.action()),
            quiet: false,
        });
    }
    let rules = convert::rule_conditions(call, &field)?;
    if act == default {
        // libseccomp rejects a rule that repeats the default action; it would be a no-op.
        return Ok(());
    }
    for (j, name) in call.names().iter().enumerate() {
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            warnings.push(Warning {
                field: format!("{field}.names[{j}]"),
                message: format!("unknown syscall {name:?} skipped"),
                quiet: true,
            });
            continue;
        };
        for conds in &rules {
            ctx.add_rule_conditional(act, nr, conds)
                .map_err(scmp(format!("{field}.names[{j}]: add rule for {name}")))?;
        }
    }
    Ok(())
}

/// Exports the filter's BPF through an anonymous memory file: libseccomp 2.5 writes
/// only to an fd, and a memfd (unlike a pipe) cannot fill up and block.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>> {
    let memfd_path = PathBuf::from("memfd:pelagos-seccomp-bpf");
    let fd = rustix::fs::memfd_create("pelagos-seccomp-bpf", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| SeccompError::io(&memfd_path, e.into()))?;
    let mut file = File::from(fd);
    ctx.export_bpf(&file)
        .map_err(scmp("export the seccomp program"))?;
    let mut bpf = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bpf))
        .map_err(|e| SeccompError::io(&memfd_path, e))?;
    if bpf.is_empty() || bpf.len() % SOCK_FILTER_SIZE != 0 {
        return Err(SeccompError::BadProgramLength { len: bpf.len() });
    }
    Ok(bpf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::*;
    use crate::parse_profile;

    fn profile(json: &str) -> LinuxSeccomp {
        parse_profile(json.as_bytes(), "test").unwrap()
    }

    fn err(json: &str) -> String {
        compile(&profile(json)).unwrap_err().to_string()
    }

    #[test]
    fn unknown_syscall_is_skipped_with_a_quiet_warning() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getcwd","no_such_call"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        ))
        .unwrap();
        assert_eq!(f.warnings.len(), 1);
        assert_eq!(
            f.warnings[0].to_string(),
            "linux.seccomp.syscalls[0].names[1]: unknown syscall \"no_such_call\" skipped"
        );
        assert!(f.warnings[0].quiet, "runc skips unknown syscalls silently");
        assert!(f.instructions() > 3);
    }

    #[test]
    fn errno_too_wide_names_the_field() {
        let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["read"],"action":"SCMP_ACT_LOG"},
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":65536}]}"#);
        assert!(
            e.starts_with("linux.seccomp.syscalls[1].errnoRet: 65536"),
            "{e}"
        );
        let e = err(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":99999}"#);
        assert!(e.starts_with("linux.seccomp.defaultErrnoRet"), "{e}");
    }

    #[test]
    fn argument_index_out_of_range_names_the_field() {
        let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["read"],"action":"SCMP_ACT_ERRNO","args":[
                {"index":0,"value":1,"op":"SCMP_CMP_EQ"},
                {"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#);
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].args[1].index"),
            "{e}"
        );
    }

    #[test]
    fn errno_on_other_action_is_a_warning() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":5}]}"#,
        ))
        .unwrap();
        assert_eq!(f.warnings[0].field, "linux.seccomp.syscalls[0].errnoRet");
    }

    #[test]
    fn oversized_program_is_an_error() {
        // Every rule with its own argument values adds instructions; thousands overflow.
        let rules: Vec<String> = (0..5000)
            .map(|v| {
                format!(
                    r#"{{"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{{"index":0,"value":{v},"op":"SCMP_CMP_EQ"}}]}}"#
                )
            })
            .collect();
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{}]}}"#,
            rules.join(",")
        );
        let e = err(&json);
        assert!(e.contains("more than the kernel limit of 4096"), "{e}");
    }

    #[test]
    fn notify_needs_a_listener_path() {
        let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mknod"],"action":"SCMP_ACT_NOTIFY"}]}"#);
        assert!(e.starts_with("linux.seccomp.listenerPath:"), "{e}");
    }

    #[test]
    fn notify_sets_new_listener() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
                "listenerMetadata":"hello","flags":["SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls":[{"names":["mknod"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        ))
        .unwrap();
        assert!(f.needs_listener());
        assert_eq!(f.flags, FLAG_TSYNC | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH);
        assert_eq!(
            f.listener_path.as_deref(),
            Some(std::path::Path::new("/run/agent.sock"))
        );
        assert_eq!(f.listener_metadata.as_deref(), Some("hello"));
    }

    #[test]
    fn listener_path_without_notify_is_ignored() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
                "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
        ))
        .unwrap();
        assert!(!f.needs_listener());
        assert_eq!(f.listener_path, None);
        assert_eq!(
            f.flags,
            FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_WAIT_KILLABLE_RECV
        );
        assert_eq!(f.warnings[0].field, "linux.seccomp.listenerPath");
    }

    #[test]
    fn every_action_and_operator_compiles() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":
                ["SCMP_ARCH_NATIVE"],"syscalls":[
                {"names":["read"],"action":"SCMP_ACT_ALLOW"},
                {"names":["write"],"action":"SCMP_ACT_LOG"},
                {"names":["getcwd"],"action":"SCMP_ACT_TRAP"},
                {"names":["mkdir"],"action":"SCMP_ACT_TRACE","errnoRet":7},
                {"names":["rmdir"],"action":"SCMP_ACT_KILL"},
                {"names":["unlink"],"action":"SCMP_ACT_KILL_THREAD"},
                {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":8,"op":"SCMP_CMP_NE"},
                    {"index":1,"value":8,"op":"SCMP_CMP_LT"},
                    {"index":2,"value":8,"op":"SCMP_CMP_LE"},
                    {"index":3,"value":8,"op":"SCMP_CMP_GE"},
                    {"index":4,"value":8,"op":"SCMP_CMP_GT"},
                    {"index":5,"value":255,"valueTwo":8,"op":"SCMP_CMP_MASKED_EQ"}]},
                {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":1,"op":"SCMP_CMP_EQ"},
                    {"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
                {"names":["close"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        ))
        .unwrap();
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }
}
