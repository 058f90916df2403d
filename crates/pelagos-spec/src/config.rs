//! The validated container configuration consumed by the spawn pipeline.

use crate::caps::CapSets;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything needed to create one container, validated.
#[derive(Clone, Debug, Default)]
pub struct ContainerConfig {
    pub oci_version: String,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// Absolute host path of the root file system.
    pub rootfs: PathBuf,
    pub root_readonly: bool,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub process: ProcessConfig,
    pub mounts: Vec<MountSpec>,
    pub namespaces: Vec<NamespaceSpec>,
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
    pub devices: Vec<DeviceSpec>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// `(key, value)` in config order, e.g. `("net.ipv4.ip_forward", "1")`.
    pub sysctl: Vec<(String, String)>,
    /// `MS_*` propagation flags for `/` after pivot, 0 if unset.
    pub rootfs_propagation: u64,
    pub hooks: Hooks,
    pub annotations: BTreeMap<String, String>,
    /// `linux.resources` is present (applied by the cgroup layer).
    pub has_resources: bool,
    /// `linux.seccomp` is present.
    pub has_seccomp: bool,
    /// `linux.resources`, for the cgroup layer.
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// `linux.seccomp`, for the seccomp compiler.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    pub cgroups_path: Option<String>,
    /// `linux.timeOffsets`: (clock, secs, nanosecs).
    pub time_offsets: Vec<(String, i64, u32)>,
    /// Non-fatal notes found while validating (unknown capability names, ...).
    pub warnings: Vec<String>,
}

/// The container process.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ProcessConfig {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub umask: Option<u32>,
    pub additional_gids: Vec<u32>,
    pub caps: CapSets,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub oom_score_adj: Option<i32>,
    pub apparmor_profile: Option<String>,
    pub selinux_label: Option<String>,
}

/// One resource limit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE` etc.
    pub name: String,
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// Namespace kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamespaceKind {
    Mount,
    Uts,
    Ipc,
    Pid,
    Network,
    Cgroup,
    User,
    Time,
}

impl NamespaceKind {
    /// The `CLONE_NEW*` flag.
    pub fn clone_flag(self) -> u64 {
        (match self {
            NamespaceKind::Mount => libc::CLONE_NEWNS,
            NamespaceKind::Uts => libc::CLONE_NEWUTS,
            NamespaceKind::Ipc => libc::CLONE_NEWIPC,
            NamespaceKind::Pid => libc::CLONE_NEWPID,
            NamespaceKind::Network => libc::CLONE_NEWNET,
            NamespaceKind::Cgroup => libc::CLONE_NEWCGROUP,
            NamespaceKind::User => libc::CLONE_NEWUSER,
            NamespaceKind::Time => 0x80,
        }) as u64
    }

    /// The OCI name (`network`).
    pub fn oci_name(self) -> &'static str {
        match self {
            NamespaceKind::Mount => "mount",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Network => "network",
            NamespaceKind::Cgroup => "cgroup",
            NamespaceKind::User => "user",
            NamespaceKind::Time => "time",
        }
    }
}

/// A namespace to create (`path` None) or join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceSpec {
    pub kind: NamespaceKind,
    pub path: Option<PathBuf>,
}

/// A uid/gid mapping line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// How a mount entry is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of `source`; `recursive` for rbind.
    Bind { recursive: bool },
    /// A new file system of this type (tmpfs, proc, sysfs, devpts, mqueue, ...).
    Fs { fstype: String },
    /// The container's cgroup hierarchy (`type: cgroup` / `cgroup2`).
    Cgroup,
}

/// A file-system option for `fsconfig`: `key=value` or a bare flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsOption {
    pub key: String,
    pub value: Option<String>,
}

/// One `mounts` entry, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    /// Absolute, lexically clean path inside the container.
    pub destination: String,
    /// Host path for binds (absolute), or the source string for file systems.
    pub source: Option<String>,
    pub kind: MountKind,
    /// `MOUNT_ATTR_*` bits to set and clear.
    pub attr_set: u64,
    pub attr_clear: u64,
    /// Apply the attribute changes to submounts too (`rro`, ...).
    pub attr_recursive: bool,
    /// `MS_*` propagation flag (with `MS_REC` for r-variants) or 0.
    pub propagation: u64,
    /// Options passed to the file system.
    pub data: Vec<FsOption>,
}

/// A device node to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Absolute path inside the container.
    pub path: String,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// One hook command.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hook {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u32>,
}

/// The OCI hooks.
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

impl ContainerConfig {
    /// Is a namespace of this kind created or joined?
    pub fn namespace(&self, kind: NamespaceKind) -> Option<&NamespaceSpec> {
        self.namespaces.iter().find(|n| n.kind == kind)
    }
}
