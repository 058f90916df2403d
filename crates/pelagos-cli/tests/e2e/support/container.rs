//! A container under test: a unique id, a private `--root`, its bundle, and a Drop guard that
//! deletes it (and, if the runtime failed to, kills its processes and detaches its mounts).

use std::fs::{File, OpenOptions};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::bundle::Bundle;
use super::cleanup;
use super::runtime::{run_captured, spawn_wait, Outcome, Runtime, CMD_TIMEOUT};

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A fresh container id: `pel-e2e-<pid>-<n>`.
pub fn unique_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("pel-e2e-{}-{n}", std::process::id())
}

/// One container id bound to a runtime, a state root and a bundle.
pub struct Container<'r> {
    /// The runtime driving it.
    pub rt: &'r Runtime,
    /// Its id.
    pub id: String,
    /// The bundle (config.json is written before create/run).
    pub bundle: Bundle,
    root: Option<tempfile::TempDir>,
    scratch: tempfile::TempDir,
}

impl<'r> Container<'r> {
    /// A container with its own `--root` in a tempdir.
    pub fn new(rt: &'r Runtime, bundle: Bundle) -> Result<Self> {
        let root = tempfile::Builder::new().prefix("pel-e2e-root-").tempdir()?;
        Self::build(rt, bundle, Some(root))
    }

    /// A container that uses the runtime's default state root (no `--root`).
    pub fn with_default_root(rt: &'r Runtime, bundle: Bundle) -> Result<Self> {
        Self::build(rt, bundle, None)
    }

    fn build(rt: &'r Runtime, bundle: Bundle, root: Option<tempfile::TempDir>) -> Result<Self> {
        let scratch = tempfile::Builder::new().prefix("pel-e2e-out-").tempdir()?;
        Ok(Container {
            rt,
            id: unique_id(),
            bundle,
            root,
            scratch,
        })
    }

    /// The state root passed as `--root`, if any.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_ref().map(tempfile::TempDir::path)
    }

    /// The directory holding this container's state (`<root>/<id>`).
    pub fn state_dir(&self) -> PathBuf {
        let root = self
            .root()
            .map_or_else(|| PathBuf::from(self.rt.default_root), Path::to_path_buf);
        root.join(&self.id)
    }

    /// Paths in the state root that name this container (whatever layout the runtime uses
    /// below its root); empty once the container is gone.
    pub fn leftover_state(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        match self.root() {
            Some(r) => walk_named(r, &self.id, &mut found),
            None if self.state_dir().exists() => found.push(self.state_dir()),
            None => {}
        }
        found
    }

    /// A scratch directory on the host for files the test shares with the container.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Runs `<runtime> [--root R] args...` (args may name the id).
    pub fn cmd(&self, args: &[&str]) -> Result<Outcome> {
        self.rt.exec(self.root(), args)
    }

    /// Writes config.json and runs `create --bundle B ID`, the container's stdio going to
    /// files readable with [`Container::output`].
    pub fn create(&self) -> Result<Outcome> {
        let b = self.bundle.path_str();
        self.create_with(&["create", "--bundle", &b, &self.id])
    }

    /// Like [`Container::create`] with a custom argument list (must include the id).
    pub fn create_with(&self, args: &[&str]) -> Result<Outcome> {
        self.bundle.write()?;
        let (out, err) = self.io_files()?;
        let mut c = self.rt.command(self.root());
        c.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        let argv = format!("{} {}", self.rt.bin.display(), args.join(" "));
        let st = spawn_wait(&mut c, CMD_TIMEOUT).with_context(|| argv.clone())?;
        let (stdout, stderr) = self.output()?;
        Ok(Outcome {
            argv,
            code: st.code(),
            signal: st.signal(),
            stdout,
            stderr,
        })
    }

    /// What the container (and the create/run command) wrote so far: (stdout, stderr).
    pub fn output(&self) -> Result<(String, String)> {
        let o = std::fs::read_to_string(self.scratch.path().join("stdout")).unwrap_or_default();
        let e = std::fs::read_to_string(self.scratch.path().join("stderr")).unwrap_or_default();
        Ok((o, e))
    }

    fn io_files(&self) -> Result<(File, File)> {
        let open = |n: &str| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.scratch.path().join(n))
        };
        Ok((open("stdout")?, open("stderr")?))
    }

    /// `start ID`.
    pub fn start(&self) -> Result<Outcome> {
        self.cmd(&["start", &self.id])
    }

    /// `state ID` parsed; fails if the command fails.
    pub fn state(&self) -> Result<Value> {
        let o = self.cmd(&["state", &self.id])?.ok()?;
        serde_json::from_str(&o.stdout).with_context(|| format!("state JSON: {}", o.stdout))
    }

    /// The `status` field of `state ID`.
    pub fn status(&self) -> Result<String> {
        let s = self.state()?;
        Ok(s["status"].as_str().unwrap_or_default().to_string())
    }

    /// `kill ID SIGNAL`.
    pub fn kill(&self, sig: &str) -> Result<Outcome> {
        self.cmd(&["kill", &self.id, sig])
    }

    /// `delete ID`.
    pub fn delete(&self) -> Result<Outcome> {
        self.cmd(&["delete", &self.id])
    }

    /// Polls `state` until the status is `want` (fails after `timeout`).
    pub fn wait_status(&self, want: &str, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < timeout {
            match self.status() {
                Ok(s) if s == want => return Ok(()),
                Ok(s) => last = s,
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        bail!(
            "{}: status did not become {want} within {timeout:?}; last: {last}",
            self.id
        )
    }

    /// `create` + `start` + wait for `stopped`; returns the container's stdout.
    pub fn create_start_wait(&self) -> Result<String> {
        self.create()?.ok()?;
        self.start()?.ok()?;
        self.wait_status("stopped", super::SETTLE)?;
        Ok(self.output()?.0)
    }

    /// `run ID` in the foreground (writes config.json first); output captured.
    pub fn run(&self) -> Result<Outcome> {
        self.bundle.write()?;
        let b = self.bundle.path_str();
        let mut c = self.rt.command(self.root());
        c.args(["run", "--bundle", &b, &self.id]);
        run_captured(c)
    }

    /// `run ID` in the foreground as a background child (for killing it from outside).
    pub fn spawn_run(&self) -> Result<Child> {
        self.bundle.write()?;
        let (out, err) = self.io_files()?;
        let b = self.bundle.path_str();
        let mut c: Command = self.rt.command(self.root());
        c.args(["run", "--bundle", &b, &self.id])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        Ok(c.spawn()?)
    }

    /// Runs the bundle's process with `run` and returns its stdout, failing on non-zero exit.
    pub fn probe(&self) -> Result<String> {
        Ok(self.run()?.ok()?.stdout)
    }
}

/// Collects paths under `dir` whose file name contains `needle`.
fn walk_named(dir: &Path, needle: &str, found: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if e.file_name().to_string_lossy().contains(needle) {
            found.push(p.clone());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk_named(&p, needle, found);
        }
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.cmd(&["delete", "--force", &self.id]);
        let rootfs = self.bundle.rootfs();
        if cleanup::kill_procs_rooted_under(&rootfs) > 0 {
            std::thread::sleep(Duration::from_millis(50));
            let _ = self.cmd(&["delete", "--force", &self.id]);
        }
        cleanup::detach_mounts_under(self.bundle.path());
        if self.root.is_none() {
            // The default root is shared with the host: remove only our own entry.
            let d = self.state_dir();
            if d.exists() {
                eprintln!("e2e: removing leftover state dir {}", d.display());
                let _ = std::fs::remove_dir_all(&d);
            }
        }
    }
}
