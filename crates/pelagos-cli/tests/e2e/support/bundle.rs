//! OCI bundle builder: a busybox-static rootfs in a tempdir plus a config.json shaped like
//! `runc spec`'s default, with methods to tweak every field the tests touch.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Where Debian's `busybox-static` installs its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// A bundle directory (config.json + rootfs) removed on drop; any mount a runtime left under
/// it is detached first so removal can never reach through a bind mount into the host.
pub struct Bundle {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    /// The config.json document; written by [`Bundle::write`].
    pub config: Value,
}

impl Bundle {
    /// A fresh bundle with a busybox rootfs and the default config (`sh` as the process).
    pub fn busybox() -> Result<Bundle> {
        let dir = tempfile::Builder::new()
            .prefix("pel-e2e-bundle-")
            .tempdir()
            .context("create bundle tempdir")?;
        let path = dir.path().to_path_buf();
        // Traversable by the mapped root of a user-namespaced container.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        make_rootfs(&path.join("rootfs"))?;
        Ok(Bundle {
            dir: Some(dir),
            path,
            config: default_config(),
        })
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rootfs directory inside the bundle.
    pub fn rootfs(&self) -> PathBuf {
        self.path.join("rootfs")
    }

    /// The bundle directory as a string (tests pass it on command lines).
    pub fn path_str(&self) -> String {
        self.path.display().to_string()
    }

    /// Writes config.json into the bundle.
    pub fn write(&self) -> Result<()> {
        let p = self.path.join("config.json");
        let text = serde_json::to_string_pretty(&self.config)?;
        fs::write(&p, text).with_context(|| format!("write {}", p.display()))
    }

    /// Sets any field by JSON pointer (e.g. `/linux/sysctl`), creating parent objects.
    pub fn set(mut self, pointer: &str, value: Value) -> Self {
        let mut cur = &mut self.config;
        let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if let Value::Array(arr) = cur {
                let idx: usize = part.parse().expect("array index in pointer");
                if last {
                    arr[idx] = value;
                    return self;
                }
                cur = &mut arr[idx];
                continue;
            }
            if !cur.is_object() {
                *cur = json!({});
            }
            let obj = cur.as_object_mut().expect("object");
            if last {
                obj.insert((*part).to_string(), value);
                return self;
            }
            cur = obj.entry((*part).to_string()).or_insert_with(|| json!({}));
        }
        self
    }

    /// Removes a field by JSON pointer if present.
    pub fn unset(mut self, pointer: &str) -> Self {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer with a slash");
        if let Some(Value::Object(o)) = self.config.pointer_mut(parent) {
            o.remove(key);
        }
        self
    }

    /// `process.args`.
    pub fn args(self, args: &[&str]) -> Self {
        self.set("/process/args", json!(args))
    }

    /// `process.args = ["sh", "-c", script]`.
    pub fn sh(self, script: &str) -> Self {
        self.args(&["sh", "-c", script])
    }

    /// Replaces `process.env`.
    pub fn env(self, env: &[&str]) -> Self {
        self.set("/process/env", json!(env))
    }

    /// `process.cwd`.
    pub fn cwd(self, cwd: &str) -> Self {
        self.set("/process/cwd", json!(cwd))
    }

    /// `process.user`.
    pub fn user(self, uid: u32, gid: u32, additional: &[u32]) -> Self {
        let mut u = json!({"uid": uid, "gid": gid});
        if !additional.is_empty() {
            u["additionalGids"] = json!(additional);
        }
        self.set("/process/user", u)
    }

    /// `hostname`.
    pub fn hostname(self, name: &str) -> Self {
        self.set("/hostname", json!(name))
    }

    /// `process.terminal`.
    pub fn terminal(self, on: bool) -> Self {
        self.set("/process/terminal", json!(on))
    }

    /// `root.readonly`.
    pub fn readonly_root(self, on: bool) -> Self {
        self.set("/root/readonly", json!(on))
    }

    /// `process.noNewPrivileges`.
    pub fn no_new_privs(self, on: bool) -> Self {
        self.set("/process/noNewPrivileges", json!(on))
    }

    /// Appends an entry to `mounts`.
    pub fn mount(mut self, dest: &str, typ: &str, source: &str, options: &[&str]) -> Self {
        let m = json!({"destination": dest, "type": typ, "source": source, "options": options});
        self.config["mounts"]
            .as_array_mut()
            .expect("mounts array")
            .push(m);
        self
    }

    /// Replaces `process.rlimits`.
    pub fn rlimits(self, limits: &[(&str, u64, u64)]) -> Self {
        let v: Vec<Value> = limits
            .iter()
            .map(|(t, soft, hard)| json!({"type": t, "soft": soft, "hard": hard}))
            .collect();
        self.set("/process/rlimits", json!(v))
    }

    /// Sets one capability set (`bounding`, `effective`, `permitted`, `inheritable`, `ambient`).
    pub fn caps(self, set: &str, caps: &[&str]) -> Self {
        self.set(&format!("/process/capabilities/{set}"), json!(caps))
    }

    /// Appends a hook of `kind` (e.g. `createRuntime`).
    pub fn hook(mut self, kind: &str, path: &str, args: &[&str], timeout: Option<u32>) -> Self {
        // Hooks get no environment unless given one; shells then need a PATH for `cat`.
        let mut h =
            json!({"path": path, "args": args, "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]});
        if let Some(t) = timeout {
            h["timeout"] = json!(t);
        }
        let hooks = self
            .config
            .as_object_mut()
            .expect("object")
            .entry("hooks")
            .or_insert(json!({}));
        hooks
            .as_object_mut()
            .expect("hooks object")
            .entry(kind)
            .or_insert(json!([]));
        hooks[kind].as_array_mut().expect("hook array").push(h);
        self
    }

    /// Replaces `linux.maskedPaths`.
    pub fn masked_paths(self, paths: &[&str]) -> Self {
        self.set("/linux/maskedPaths", json!(paths))
    }

    /// Replaces `linux.readonlyPaths`.
    pub fn readonly_paths(self, paths: &[&str]) -> Self {
        self.set("/linux/readonlyPaths", json!(paths))
    }

    /// Sets one `linux.sysctl` entry.
    pub fn sysctl(mut self, key: &str, value: &str) -> Self {
        let linux = self.config["linux"].as_object_mut().expect("linux object");
        let s = linux.entry("sysctl").or_insert(json!({}));
        s[key] = json!(value);
        self
    }

    /// Writes a file inside the rootfs (parents created).
    pub fn file(self, rel: &str, content: &str, mode: u32) -> Result<Self> {
        let p = self.rootfs().join(rel.trim_start_matches('/'));
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&p, content).with_context(|| format!("write {}", p.display()))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        Ok(self)
    }

    /// Creates a directory inside the rootfs.
    pub fn dir(self, rel: &str) -> Result<Self> {
        let p = self.rootfs().join(rel.trim_start_matches('/'));
        fs::create_dir_all(&p).with_context(|| format!("mkdir {}", p.display()))?;
        Ok(self)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        super::cleanup::detach_mounts_under(&self.path);
        if let Some(d) = self.dir.take() {
            if let Err(e) = d.close() {
                eprintln!("e2e: cannot remove bundle {}: {e}", self.path.display());
            }
        }
    }
}

/// Builds a busybox rootfs: the static binary, one symlink per applet, a minimal /etc.
fn make_rootfs(root: &Path) -> Result<()> {
    for d in [
        "bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/user",
        "var",
        "run",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::copy(BUSYBOX, root.join("bin/busybox"))
        .with_context(|| format!("copy {BUSYBOX}: install busybox-static"))?;
    for applet in applets()? {
        // `busybox --list` names itself; linking it would replace the binary.
        if applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = root.join("bin").join(&applet);
        if !link.exists() {
            symlink("busybox", &link).with_context(|| format!("symlink {}", link.display()))?;
        }
    }
    // Some probes call /usr/bin/env or /sbin/...; point them at /bin.
    fs::create_dir_all(root.join("usr"))?;
    symlink("../bin", root.join("usr/bin"))?;
    symlink("bin", root.join("sbin"))?;
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(
        root.join("etc/group"),
        "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
    )?;
    fs::write(root.join("etc/hostname"), "busybox\n")?;
    Ok(())
}

/// The applet names of the host's busybox, listed once per process.
fn applets() -> Result<Vec<String>> {
    static LIST: std::sync::OnceLock<std::result::Result<Vec<String>, String>> =
        std::sync::OnceLock::new();
    let r = LIST.get_or_init(|| {
        let out = Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("{BUSYBOX} --list failed"));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    });
    match r {
        Ok(v) => Ok(v.clone()),
        Err(e) => bail!("{e}"),
    }
}

/// The default config: what `runc spec` writes, with `terminal: false`.
pub fn default_config() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn default_mounts() -> Value {
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ])
}
