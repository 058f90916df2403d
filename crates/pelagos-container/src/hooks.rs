//! Hooks the runtime runs itself (prestart, createRuntime, poststart, poststop): the
//! state JSON on stdin, an optional timeout.

use crate::error::{ContainerError, Result};
use pelagos_spec::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `hooks` of kind `kind` in order; the first failure is returned.
pub fn run_hooks(kind: &'static str, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for (index, h) in hooks.iter().enumerate() {
        run_one(h, state).map_err(|message| ContainerError::Hook {
            kind,
            index,
            path: h.path.clone(),
            message,
        })?;
    }
    Ok(())
}

/// Run hooks, turning failures into warnings (poststart, poststop).
pub fn run_hooks_warn(kind: &'static str, hooks: &[Hook], state: &[u8], warn: &dyn Fn(&str)) {
    if let Err(e) = run_hooks(kind, hooks, state) {
        warn(&e.to_string());
    }
}

fn run_one(h: &Hook, state: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear()
        .envs(h.env.iter().filter_map(|e| e.split_once('=')))
        .stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let deadline = h
        .timeout
        .map(|t| Instant::now() + Duration::from_secs(u64::from(t)));
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("failed with {st}")),
            Ok(None) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", h.timeout.unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(args: &[&str], timeout: Option<u32>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![],
            timeout,
        }
    }

    #[test]
    fn stdin_and_status() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let script = format!("cat > {}", out.display());
        run_hooks(
            "prestart",
            &[hook(&["sh", "-c", &script], None)],
            b"{\"id\":\"x\"}",
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"x\"}");
        let e = run_hooks("poststop", &[hook(&["sh", "-c", "exit 3"], None)], b"").unwrap_err();
        assert!(e.to_string().contains("poststop[0]"), "{e}");
    }

    #[test]
    fn timeout() {
        let e = run_hooks("prestart", &[hook(&["sh", "-c", "sleep 5"], Some(1))], b"").unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
    }
}
