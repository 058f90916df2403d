//! The runtimes under test (runc as the oracle, pelagos-runtime) and running their CLI with
//! stdio in files, so a container that inherits the runtime's stdio never blocks a test.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long any single runtime invocation may take before the test kills it.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// One OCI runtime binary with runc's command line.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// Short name used in test names: `runc` or `pelagos`.
    pub name: &'static str,
    /// The binary.
    pub bin: PathBuf,
    /// The state directory used when no `--root` is given.
    pub default_root: &'static str,
}

impl Runtime {
    /// True for pelagos-runtime (some expectations are pelagos-only).
    pub fn is_pelagos(&self) -> bool {
        self.name == "pelagos"
    }

    /// A command for this runtime with `--root` when given.
    pub fn command(&self, root: Option<&Path>) -> Command {
        let mut c = Command::new(&self.bin);
        if let Some(r) = root {
            c.arg("--root").arg(r);
        }
        c
    }

    /// Runs `<bin> [--root R] args...` with stdin from /dev/null and captures its output.
    pub fn exec(&self, root: Option<&Path>, args: &[&str]) -> Result<Outcome> {
        let mut c = self.command(root);
        c.args(args);
        run_captured(c)
    }
}

/// What one invocation did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The command line, for messages.
    pub argv: String,
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Terminating signal, if killed.
    pub signal: Option<i32>,
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error.
    pub stderr: String,
}

impl Outcome {
    /// True when it exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The outcome if it succeeded, otherwise an error that shows everything.
    pub fn ok(self) -> Result<Outcome> {
        if self.success() {
            Ok(self)
        } else {
            bail!("command failed: {}", self.describe())
        }
    }

    /// Argv, exit status and both streams, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "`{}` exited {:?} (signal {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.argv, self.code, self.signal, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with stdin from /dev/null and stdout/stderr in anonymous files.
pub fn run_captured(mut cmd: Command) -> Result<Outcome> {
    let mut out = tempfile::tempfile()?;
    let mut err = tempfile::tempfile()?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?);
    let argv = describe_cmd(&cmd);
    let status = spawn_wait(&mut cmd, CMD_TIMEOUT).with_context(|| argv.clone())?;
    Ok(Outcome {
        argv,
        code: status.code(),
        signal: status.signal(),
        stdout: read_all(&mut out)?,
        stderr: read_all(&mut err)?,
    })
}

/// Spawns and waits at most `timeout`; on timeout kills the child by PID and fails.
pub fn spawn_wait(cmd: &mut Command, timeout: Duration) -> Result<ExitStatus> {
    let mut child = cmd.spawn().context("spawn")?;
    wait_timeout(&mut child, timeout)
}

/// Waits for `child` at most `timeout`; on timeout kills it and fails.
pub fn wait_timeout(child: &mut std::process::Child, timeout: Duration) -> Result<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {timeout:?} (killed pid {})", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads a file from its beginning into a string.
pub fn read_all(f: &mut File) -> Result<String> {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0))?;
    f.read_to_string(&mut s)?;
    Ok(s)
}

fn describe_cmd(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
