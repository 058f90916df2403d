//! Tests of the default profile's shape and compilation.

use super::*;
use crate::compile;

fn names_with(p: &LinuxSeccomp, action: LinuxSeccompAction) -> BTreeSet<String> {
    p.syscalls()
        .iter()
        .flatten()
        .filter(|r| r.action() == action)
        .flat_map(|r| r.names().clone())
        .collect()
}

#[test]
fn default_profile_compiles_to_whole_instructions() {
    let t = std::time::Instant::now();
    let f = compile(&default_profile(&Capabilities::new())).unwrap();
    eprintln!(
        "default profile: {} instructions in {:?}",
        f.instructions(),
        t.elapsed()
    );
    for w in &f.warnings {
        eprintln!("warning: {w}");
    }
    assert!(!f.bpf.is_empty());
    assert_eq!(f.bpf.len() % 8, 0);
    assert_eq!(f.flags, 0);
    assert!(!f.needs_listener());
}

#[test]
fn allowlist_denies_by_default_with_eperm() {
    let p = default_profile(&Capabilities::new());
    assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(p.default_errno_ret(), Some(libc::EPERM as u32));
    let allowed = names_with(&p, LinuxSeccompAction::ScmpActAllow);
    assert!(allowed.len() > 300, "only {} names", allowed.len());
    for must in [
        "read", "write", "openat", "execve", "mmap", "futex", "clone", "socket",
    ] {
        assert!(allowed.contains(must), "{must} missing");
    }
    for never in [
        "kexec_load",
        "add_key",
        "keyctl",
        "userfaultfd",
        "io_uring_setup",
        "mount",
    ] {
        assert!(!allowed.contains(never), "{never} allowed");
    }
}

#[test]
fn capabilities_open_their_groups() {
    let none = default_profile(&Capabilities::new());
    let none_allowed = names_with(&none, LinuxSeccompAction::ScmpActAllow);
    assert!(!none_allowed.contains("unshare"));
    assert!(!none_allowed.contains("ptrace") || !none_allowed.contains("kcmp"));
    let admin = default_profile(&[Capability::SysAdmin, Capability::SysPtrace].into());
    let allowed = names_with(&admin, LinuxSeccompAction::ScmpActAllow);
    for name in ["unshare", "setns", "mount", "clone3", "kcmp", "pidfd_getfd"] {
        assert!(allowed.contains(name), "{name} missing with caps");
    }
    assert!(names_with(&admin, LinuxSeccompAction::ScmpActErrno).is_empty());
    compile(&admin).unwrap();
}

#[test]
fn clone_is_narrowed_without_sys_admin() {
    let p = default_profile(&Capabilities::new());
    let clone = p
        .syscalls()
        .iter()
        .flatten()
        .find(|r| r.names() == &["clone".to_owned()])
        .unwrap();
    let a = clone.args().as_ref().unwrap()[0];
    assert_eq!(a.op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
    assert_eq!(
        a.value() & libc::CLONE_NEWUSER as u64,
        libc::CLONE_NEWUSER as u64
    );
    assert_eq!(a.value_two(), Some(0));
    let errno = names_with(&p, LinuxSeccompAction::ScmpActErrno);
    assert!(errno.contains("clone3"));
}
