//! `linux.seccomp` and `linux.resources`: a runtime either applies them (checked from inside)
//! or says on stderr that it does not, naming the field; ignoring them silently fails.

use anyhow::{bail, Result};
use serde_json::json;

use crate::support::{case, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![case("seccomp", seccomp), case("memory_limit", memory_limit)]
}

fn seccomp(rt: &Runtime) -> Result<()> {
    let filter = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let b = Bundle::busybox()?
        .set("/linux/seccomp", filter)
        .sh("mkdir /dev/shm/x 2>&1; echo done");
    let o = Container::new(rt, b)?.run()?.ok()?;
    let applied = o.stdout.contains("Operation not permitted");
    let warned = o.stderr.contains("linux.seccomp");
    if !applied && !warned {
        bail!(
            "linux.seccomp neither applied (mkdir allowed) nor reported: {}",
            o.describe()
        );
    }
    Ok(())
}

fn memory_limit(rt: &Runtime) -> Result<()> {
    let limit: u64 = 64 << 20;
    let b = Bundle::busybox()?
        .set("/linux/resources/memory", json!({"limit": limit}))
        .sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; true");
    let o = Container::new(rt, b)?.run()?.ok()?;
    let applied = o.stdout.lines().any(|l| l.trim() == limit.to_string());
    let warned = o.stderr.contains("linux.resources");
    if !applied && !warned {
        bail!(
            "linux.resources.memory neither applied nor reported: {}",
            o.describe()
        );
    }
    Ok(())
}
