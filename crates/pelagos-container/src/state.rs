//! The on-disk state of containers: one directory per container under the runtime root,
//! holding `state.json` (written atomically) and the `start` socket.

use crate::error::{ContainerError, Result};
use pelagos_spec::{Hook, OciState, ProcessConfig, Status};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// What the runtime remembers about a container between commands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerState {
    /// The OCI state as last saved (status `created` or `running`).
    pub oci: OciState,
    /// Start time of the init (field 22 of `/proc/<pid>/stat`), guarding against pid reuse.
    pub pid_start_time: u64,
    /// The container has its own pid namespace (so `kill --all` can find its processes).
    pub own_pid_ns: bool,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
    /// `process.args[0]`, for error messages from `start`.
    pub arg0: String,
    /// The PATH candidates tried for `arg0`.
    pub exec_candidates: Vec<String>,
    pub start_hooks: Vec<Hook>,
    /// The container's process, the base of `exec`.
    #[serde(default)]
    pub process: ProcessConfig,
    /// `CLONE_NEW*` flags of the namespaces the container has (created or joined).
    #[serde(default)]
    pub ns_flags: u64,
    /// The container's cgroup.
    #[serde(default)]
    pub cgroup: Option<pelagos_cgroups::Cgroup>,
    /// The device allow rules added after the config's own, kept for `update`.
    #[serde(default)]
    pub implicit_devices: Vec<oci_spec::runtime::LinuxDeviceCgroup>,
    /// `linux.seccomp`, applied to `exec` processes too.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

/// The directory tree of container states (`--root`).
#[derive(Clone, Debug)]
pub struct StateStore {
    root: PathBuf,
}

/// Container ids: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 1024 bytes.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::InvalidId(id.to_string()))
    }
}

impl StateStore {
    /// A store rooted at `root` (created on first use, mode 0700).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateStore { root: root.into() }
    }

    /// The store's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Atomically reserve `id` (create-exclusive on its directory).
    pub fn reserve(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| {
                ContainerError::io(format!("create state root {}", self.root.display()), e)
            })?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(ContainerError::Exists(id.to_string()))
            }
            Err(e) => Err(ContainerError::io(
                format!("create state dir {}", dir.display()),
                e,
            )),
        }
    }

    /// Save a container's state (temp file, rename).
    pub fn save(&self, id: &str, st: &ContainerState) -> Result<()> {
        let data = serde_json::to_vec(st)
            .map_err(|e| ContainerError::Other(format!("encode state of {id}: {e}")))?;
        write_atomic(&self.dir(id).join("state.json"), &data)
    }

    /// Load the saved state of `id`.
    pub fn load(&self, id: &str) -> Result<ContainerState> {
        validate_id(id)?;
        let path = self.dir(id).join("state.json");
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io(format!("read {}", path.display()), e)),
        };
        serde_json::from_slice(&data).map_err(|e| {
            ContainerError::Other(format!("corrupt state file {}: {e}", path.display()))
        })
    }

    /// Remove the state directory of `id`.
    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ContainerError::io(
                format!("remove state dir {}", dir.display()),
                e,
            )),
        }
    }

    /// Ids with a saved state, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ContainerError::io(
                    format!("read state root {}", self.root.display()),
                    e,
                ))
            }
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// Write `data` to `path` atomically: a temp file in the same dir, then rename, so a reader
/// or a killed runtime never sees half a file. No fsync: this is runtime state (normally on
/// the tmpfs under /run) describing processes that do not survive a reboot, and an fsync
/// costs milliseconds on every create/start/delete.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(ContainerError::io(format!("write {}", path.display()), e));
    }
    Ok(())
}

/// What `/proc/<pid>/stat` says: (state letter, start time).
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Is the init of this state still the same live process?
pub fn init_alive(st: &ContainerState) -> bool {
    st.oci.pid > 0
        && matches!(proc_stat(st.oci.pid), Some((s, start)) if s != 'Z' && s != 'X' && start == st.pid_start_time)
}

/// The live status: `stopped` once the init is gone, else what was saved.
pub fn live_status(st: &ContainerState) -> Status {
    if !init_alive(st) {
        return Status::Stopped;
    }
    if let Some(cg) = &st.cgroup {
        use pelagos_cgroups::CgroupManager;
        if st.oci.status != Status::Created && cg.is_frozen().unwrap_or(false) {
            return Status::Paused;
        }
    }
    match st.oci.status {
        Status::Creating | Status::Created => Status::Created,
        Status::Paused => Status::Running,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_3").is_ok());
        for bad in ["", "-x", "a/b", "..", "a b", "ä"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserve_is_exclusive_and_list() {
        let t = tempfile::tempdir().unwrap();
        let s = StateStore::new(t.path().join("root"));
        s.reserve("a").unwrap();
        assert!(matches!(s.reserve("a"), Err(ContainerError::Exists(_))));
        assert!(s.list().unwrap().is_empty(), "no state.json yet");
        assert!(matches!(s.load("a"), Err(ContainerError::NotFound(_))));
        s.remove("a").unwrap();
    }

    #[test]
    fn own_stat() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(start > 0);
    }
}
