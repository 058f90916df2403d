//! OCI `config.json` -> [`ContainerConfig`], with every rejection naming its JSON field.

use crate::caps::{mask_of, CapSets};
use crate::config::*;
use crate::doc::{ProcessDoc, SpecDoc as Spec};
use crate::error::SpecError;
use crate::mounts::mount_spec;
use crate::path::{clean_absolute, relative_escapes};
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Read and validate `<bundle>/config.json`. `last_cap` is the highest capability number
/// the running kernel knows (`/proc/sys/kernel/cap_last_cap`).
pub fn load_bundle(bundle: &Path, last_cap: u32) -> Result<ContainerConfig, SpecError> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|error| SpecError::Read {
        path: path.display().to_string(),
        error,
    })?;
    let cfg = from_oci_bytes(&bytes, bundle, last_cap).map_err(|e| match e {
        SpecError::Parse { field, message, .. } => SpecError::Parse {
            path: path.display().to_string(),
            field,
            message,
        },
        other => other,
    })?;
    if !cfg.rootfs.is_dir() {
        return Err(SpecError::invalid(
            "root.path",
            format!(
                "{} is not a directory: create the root file system there or fix root.path",
                cfg.rootfs.display()
            ),
        ));
    }
    Ok(cfg)
}

/// Lists of capability names, read on their own so unknown names can be skipped.
#[derive(serde::Deserialize)]
struct CapsOnly {
    process: Option<ProcessCaps>,
}

#[derive(serde::Deserialize)]
struct ProcessCaps {
    capabilities: Option<std::collections::BTreeMap<String, Option<Vec<String>>>>,
}

/// Validate `config.json` bytes. The common case decodes straight into the OCI types; a
/// config naming capabilities this build does not know has them taken out first (and
/// skipped with a warning, as runc does), then is decoded the same way.
pub fn from_oci_bytes(
    bytes: &[u8],
    bundle: &Path,
    last_cap: u32,
) -> Result<ContainerConfig, SpecError> {
    let caps: CapsOnly = crate::json::decode(bytes).map_err(parse_err("config.json"))?;
    let lists = caps
        .process
        .and_then(|p| p.capabilities)
        .unwrap_or_default();
    let all_known = lists
        .values()
        .flatten()
        .flatten()
        .all(|n| crate::caps::cap_number(n).is_some_and(|b| b <= last_cap));
    if !all_known {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| SpecError::Parse {
            path: "config.json".into(),
            field: format!("line {} column {}", e.line(), e.column()),
            message: e.to_string(),
        })?;
        return from_oci_value(value, bundle, last_cap);
    }
    let spec: Spec = crate::json::decode(bytes).map_err(parse_err("config.json"))?;
    let mut skipped = Vec::new();
    let mut mask = |name: &str| {
        mask_of(
            lists.get(name).cloned().flatten().as_deref().unwrap_or(&[]),
            last_cap,
            &mut skipped,
        )
    };
    let caps = CapSets {
        bounding: mask("bounding"),
        effective: mask("effective"),
        permitted: mask("permitted"),
        inheritable: mask("inheritable"),
        ambient: mask("ambient"),
    };
    from_spec(spec, caps, Vec::new(), bundle)
}

/// A [`crate::json::DecodeError`] of document `path` as a [`SpecError`].
fn parse_err(path: &'static str) -> impl Fn(crate::json::DecodeError) -> SpecError {
    move |e| SpecError::Parse {
        path: path.into(),
        field: e.field,
        message: e.message,
    }
}

/// Validate an already parsed `config.json` for the bundle at `bundle` (made absolute by
/// the caller or here against the current directory).
pub fn from_oci_value(
    mut value: Value,
    bundle: &Path,
    last_cap: u32,
) -> Result<ContainerConfig, SpecError> {
    let mut warnings = Vec::new();
    let caps = take_caps(&mut value, last_cap, &mut warnings)?;
    let spec: Spec = crate::json::decode_value(&value).map_err(parse_err("config.json"))?;
    from_spec(spec, caps, warnings, bundle)
}

fn from_spec(
    spec: Spec,
    caps: CapSets,
    warnings: Vec<String>,
    bundle: &Path,
) -> Result<ContainerConfig, SpecError> {
    let bundle = if bundle.is_absolute() {
        bundle.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(bundle))
            .unwrap_or_else(|_| bundle.to_path_buf())
    };
    let mut cfg = ContainerConfig {
        oci_version: spec.version().clone(),
        bundle: bundle.clone(),
        warnings,
        ..Default::default()
    };
    if !spec.version().starts_with("1.") {
        return Err(SpecError::invalid(
            "ociVersion",
            format!("{:?} is not a 1.x runtime spec version", spec.version()),
        ));
    }
    convert_root(&spec, &bundle, &mut cfg)?;
    convert_process(&spec, caps, &mut cfg)?;
    cfg.hostname = spec.hostname().clone().filter(|h| !h.is_empty());
    cfg.domainname = spec.domainname().clone().filter(|h| !h.is_empty());
    convert_mounts(&spec, &bundle, &mut cfg)?;
    convert_hooks(&spec, &mut cfg)?;
    if let Some(a) = spec.annotations() {
        cfg.annotations = a.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    if let Some(linux) = spec.linux() {
        convert_linux(linux, &mut cfg)?;
    }
    check_sysctl_namespaces(&cfg)?;
    if cfg.hostname.is_some()
        && !creates(&cfg, NamespaceKind::Uts)
        && cfg.namespace(NamespaceKind::Uts).is_none()
    {
        return Err(SpecError::invalid(
            "hostname",
            "setting a hostname needs a uts namespace in linux.namespaces",
        ));
    }
    Ok(cfg)
}

fn creates(cfg: &ContainerConfig, kind: NamespaceKind) -> bool {
    cfg.namespace(kind).is_some_and(|n| n.path.is_none())
}

/// Pull `process.capabilities` out of the JSON before typed parsing, so that names this
/// build does not know are skipped with a warning (as runc does) instead of failing.
fn take_caps(
    value: &mut Value,
    last_cap: u32,
    warnings: &mut Vec<String>,
) -> Result<CapSets, SpecError> {
    let Some(caps) = value.pointer_mut("/process/capabilities").map(Value::take) else {
        return Ok(CapSets::default());
    };
    if caps.is_null() {
        return Ok(CapSets::default());
    }
    let obj = caps.as_object().ok_or_else(|| {
        SpecError::invalid(
            "process.capabilities",
            "must be an object of capability lists",
        )
    })?;
    let mut skipped = Vec::new();
    let mut set = |name: &str| -> Result<u64, SpecError> {
        let Some(list) = obj.get(name) else {
            return Ok(0);
        };
        if list.is_null() {
            return Ok(0);
        }
        let arr = list.as_array().ok_or_else(|| {
            SpecError::invalid(
                format!("process.capabilities.{name}"),
                "must be a list of names",
            )
        })?;
        let mut names = Vec::with_capacity(arr.len());
        for (i, v) in arr.iter().enumerate() {
            let s = v.as_str().ok_or_else(|| {
                SpecError::invalid(
                    format!("process.capabilities.{name}[{i}]"),
                    format!("{v} is not a string"),
                )
            })?;
            names.push(s.to_string());
        }
        Ok(mask_of(&names, last_cap, &mut skipped))
    };
    let sets = CapSets {
        bounding: set("bounding")?,
        effective: set("effective")?,
        permitted: set("permitted")?,
        inheritable: set("inheritable")?,
        ambient: set("ambient")?,
    };
    for s in skipped {
        warnings.push(format!(
            "process.capabilities: {s} is unknown to this kernel or runtime, skipped"
        ));
    }
    if let Some(obj) = value.pointer_mut("/process").and_then(Value::as_object_mut) {
        obj.remove("capabilities");
    }
    Ok(sets)
}

fn convert_root(spec: &Spec, bundle: &Path, cfg: &mut ContainerConfig) -> Result<(), SpecError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("root", "missing: the bundle needs a root.path"))?;
    let p = root.path();
    let s = p
        .to_str()
        .ok_or_else(|| SpecError::invalid("root.path", "not valid UTF-8"))?;
    if s.is_empty() {
        return Err(SpecError::invalid("root.path", "must not be empty"));
    }
    cfg.rootfs = if p.is_absolute() {
        PathBuf::from(clean_absolute(s).unwrap_or_else(|| s.to_string()))
    } else {
        if relative_escapes(s) {
            return Err(SpecError::invalid(
                "root.path",
                format!("{s:?} escapes the bundle directory"),
            ));
        }
        let joined = bundle.join(p);
        PathBuf::from(clean_absolute(&joined.to_string_lossy()).unwrap_or_default())
    };
    cfg.root_readonly = root.readonly().unwrap_or(false);
    Ok(())
}

fn convert_process(spec: &Spec, caps: CapSets, cfg: &mut ContainerConfig) -> Result<(), SpecError> {
    let proc_ = spec
        .process()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("process", "missing"))?;
    cfg.process = process_from(proc_, caps)?;
    cfg.warnings.extend(unapplied(proc_));
    Ok(())
}

/// Warnings for `process` fields that are accepted but not applied.
fn unapplied(proc_: &ProcessDoc) -> impl Iterator<Item = String> + '_ {
    proc_
        .unapplied()
        .into_iter()
        .map(|f| format!("process.{f} is not supported by pelagos and is ignored"))
}

/// Parse a `process.json` (as `exec --process` takes it) into a [`ProcessConfig`];
/// error fields are named `process.*`.
pub fn process_from_json(
    bytes: &[u8],
    last_cap: u32,
) -> Result<(ProcessConfig, Vec<String>), SpecError> {
    let inner: Value = serde_json::from_slice(bytes).map_err(|e| SpecError::Parse {
        path: "process.json".into(),
        field: format!("line {} column {}", e.line(), e.column()),
        message: e.to_string(),
    })?;
    let mut value = serde_json::json!({ "process": inner });
    let mut warnings = Vec::new();
    let caps = take_caps(&mut value, last_cap, &mut warnings)?;
    #[derive(serde::Deserialize)]
    struct Wrapper {
        process: ProcessDoc,
    }
    let w: Wrapper = crate::json::decode_value(&value).map_err(parse_err("process.json"))?;
    let process = process_from(&w.process, caps)?;
    warnings.extend(unapplied(&w.process));
    Ok((process, warnings))
}

fn process_from(proc_: &ProcessDoc, caps: CapSets) -> Result<ProcessConfig, SpecError> {
    let args = proc_.args().clone().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(SpecError::invalid(
            "process.args",
            "must not be empty: name the program to run",
        ));
    }
    for (i, a) in args.iter().enumerate() {
        if a.contains('\0') {
            return Err(SpecError::invalid(
                format!("process.args[{i}]"),
                "contains a NUL byte",
            ));
        }
    }
    let env = proc_.env().clone().unwrap_or_default();
    for (i, e) in env.iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') || e.contains('\0') {
            return Err(SpecError::invalid(
                format!("process.env[{i}]"),
                format!("{e:?} is not NAME=value"),
            ));
        }
    }
    let cwd = proc_.cwd().to_str().unwrap_or_default();
    let cwd = clean_absolute(cwd).ok_or_else(|| {
        SpecError::invalid("process.cwd", format!("{cwd:?} must be an absolute path"))
    })?;
    let user = proc_.user();
    let mut rlimits = Vec::new();
    for (i, r) in proc_
        .rlimits()
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let name = r.typ().to_string();
        let resource = rlimit_number(&name).ok_or_else(|| {
            SpecError::invalid(
                format!("process.rlimits[{i}].type"),
                format!("unknown rlimit {name:?}"),
            )
        })?;
        if rlimits.iter().any(|x: &Rlimit| x.resource == resource) {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}].type"),
                format!("{name} is given twice"),
            ));
        }
        if r.soft() > r.hard() {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}]"),
                format!(
                    "{name}: soft limit {} is above hard limit {}",
                    r.soft(),
                    r.hard()
                ),
            ));
        }
        rlimits.push(Rlimit {
            name,
            resource,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    Ok(ProcessConfig {
        args,
        env,
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        umask: user.umask(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        caps,
        rlimits,
        no_new_privileges: proc_.no_new_privileges().unwrap_or(false),
        terminal: proc_.terminal().unwrap_or(false),
        console_size: proc_
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16)),
        oom_score_adj: proc_.oom_score_adj(),
        apparmor_profile: proc_.apparmor_profile().clone().filter(|s| !s.is_empty()),
        selinux_label: proc_.selinux_label().clone().filter(|s| !s.is_empty()),
    })
}

/// `RLIMIT_*` name -> resource number.
fn rlimit_number(name: &str) -> Option<i32> {
    const NAMES: [&str; 16] = [
        "RLIMIT_CPU",
        "RLIMIT_FSIZE",
        "RLIMIT_DATA",
        "RLIMIT_STACK",
        "RLIMIT_CORE",
        "RLIMIT_RSS",
        "RLIMIT_NPROC",
        "RLIMIT_NOFILE",
        "RLIMIT_MEMLOCK",
        "RLIMIT_AS",
        "RLIMIT_LOCKS",
        "RLIMIT_SIGPENDING",
        "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE",
        "RLIMIT_RTPRIO",
        "RLIMIT_RTTIME",
    ];
    NAMES.iter().position(|n| *n == name).map(|i| i as i32)
}

fn convert_mounts(spec: &Spec, bundle: &Path, cfg: &mut ContainerConfig) -> Result<(), SpecError> {
    for (i, m) in spec.mounts().clone().unwrap_or_default().iter().enumerate() {
        let dest = m.destination().to_str().unwrap_or_default();
        let destination = clean_absolute(dest).ok_or_else(|| {
            SpecError::invalid(
                format!("mounts[{i}].destination"),
                format!("{dest:?} is not an absolute path"),
            )
        })?;
        if destination == "/" {
            return Err(SpecError::invalid(
                format!("mounts[{i}].destination"),
                "cannot mount over the container root",
            ));
        }
        let source = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned());
        let mut spec = mount_spec(
            i,
            destination,
            m.typ().as_deref(),
            source,
            &m.options().clone().unwrap_or_default(),
        )?;
        if let (MountKind::Bind { .. }, Some(src)) = (&spec.kind, &spec.source) {
            if !src.starts_with('/') {
                spec.source = Some(bundle.join(src).to_string_lossy().into_owned());
            }
        }
        cfg.mounts.push(spec);
    }
    Ok(())
}

fn convert_hooks(spec: &Spec, cfg: &mut ContainerConfig) -> Result<(), SpecError> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    let conv =
        |name: &str, list: &Option<Vec<oci_spec::runtime::Hook>>| -> Result<Vec<Hook>, SpecError> {
            let mut out = Vec::new();
            for (i, hk) in list.clone().unwrap_or_default().iter().enumerate() {
                let path = hk.path().to_string_lossy().into_owned();
                if !path.starts_with('/') {
                    return Err(SpecError::invalid(
                        format!("hooks.{name}[{i}].path"),
                        format!("{path:?} is not an absolute path"),
                    ));
                }
                let timeout = match hk.timeout() {
                    Some(t) if t <= 0 => {
                        return Err(SpecError::invalid(
                            format!("hooks.{name}[{i}].timeout"),
                            format!("{t} must be greater than zero"),
                        ))
                    }
                    Some(t) => Some(u32::try_from(t).unwrap_or(u32::MAX)),
                    None => None,
                };
                out.push(Hook {
                    path,
                    args: hk.args().clone().unwrap_or_default(),
                    env: hk.env().clone().unwrap_or_default(),
                    timeout,
                });
            }
            Ok(out)
        };
    #[allow(deprecated)]
    let prestart = h.prestart();
    cfg.hooks = Hooks {
        prestart: conv("prestart", prestart)?,
        create_runtime: conv("createRuntime", h.create_runtime())?,
        create_container: conv("createContainer", h.create_container())?,
        start_container: conv("startContainer", h.start_container())?,
        poststart: conv("poststart", h.poststart())?,
        poststop: conv("poststop", h.poststop())?,
    };
    Ok(())
}

fn ns_kind(t: LinuxNamespaceType) -> NamespaceKind {
    match t {
        LinuxNamespaceType::Mount => NamespaceKind::Mount,
        LinuxNamespaceType::Cgroup => NamespaceKind::Cgroup,
        LinuxNamespaceType::Uts => NamespaceKind::Uts,
        LinuxNamespaceType::Ipc => NamespaceKind::Ipc,
        LinuxNamespaceType::User => NamespaceKind::User,
        LinuxNamespaceType::Pid => NamespaceKind::Pid,
        LinuxNamespaceType::Network => NamespaceKind::Network,
        LinuxNamespaceType::Time => NamespaceKind::Time,
    }
}

fn convert_linux(
    linux: &oci_spec::runtime::Linux,
    cfg: &mut ContainerConfig,
) -> Result<(), SpecError> {
    let mut seen = HashSet::new();
    for (i, ns) in linux
        .namespaces()
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let kind = ns_kind(ns.typ());
        if !seen.insert(kind) {
            return Err(SpecError::invalid(
                format!("linux.namespaces[{i}]"),
                format!("namespace {:?} given twice", kind.oci_name()),
            ));
        }
        let path = ns.path().clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = &path {
            if !p.is_absolute() {
                return Err(SpecError::invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{} is not absolute", p.display()),
                ));
            }
        }
        cfg.namespaces.push(NamespaceSpec { kind, path });
    }
    if !seen.contains(&NamespaceKind::Mount) {
        return Err(SpecError::invalid(
            "linux.namespaces",
            "a mount namespace is required",
        ));
    }
    let map = |v: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<IdMap> {
        v.clone()
            .unwrap_or_default()
            .iter()
            .map(|m| IdMap {
                container_id: m.container_id(),
                host_id: m.host_id(),
                size: m.size(),
            })
            .collect()
    };
    cfg.uid_mappings = map(linux.uid_mappings());
    cfg.gid_mappings = map(linux.gid_mappings());
    if creates(cfg, NamespaceKind::User)
        && (cfg.uid_mappings.is_empty() || cfg.gid_mappings.is_empty())
    {
        return Err(SpecError::invalid(
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    if cfg
        .namespace(NamespaceKind::User)
        .is_some_and(|n| n.path.is_some())
    {
        return Err(SpecError::invalid(
            "linux.namespaces",
            "joining an existing user namespace by path is not supported yet",
        ));
    }
    convert_devices(linux, cfg)?;
    convert_paths_and_misc(linux, cfg)
}

fn convert_devices(
    linux: &oci_spec::runtime::Linux,
    cfg: &mut ContainerConfig,
) -> Result<(), SpecError> {
    for (i, d) in linux
        .devices()
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let p = d.path().to_string_lossy();
        let path = clean_absolute(&p).ok_or_else(|| {
            SpecError::invalid(
                format!("linux.devices[{i}].path"),
                format!("{p:?} is not absolute"),
            )
        })?;
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(SpecError::invalid(
                    format!("linux.devices[{i}].type"),
                    "\"a\" is only valid in device cgroup rules",
                ))
            }
        };
        cfg.devices.push(DeviceSpec {
            path,
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(())
}

fn convert_paths_and_misc(
    linux: &oci_spec::runtime::Linux,
    cfg: &mut ContainerConfig,
) -> Result<(), SpecError> {
    let abs_list = |name: &str, v: &Option<Vec<String>>| -> Result<Vec<String>, SpecError> {
        v.clone()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                clean_absolute(p).ok_or_else(|| {
                    SpecError::invalid(
                        format!("linux.{name}[{i}]"),
                        format!("{p:?} is not absolute"),
                    )
                })
            })
            .collect()
    };
    cfg.masked_paths = abs_list("maskedPaths", linux.masked_paths())?;
    cfg.readonly_paths = abs_list("readonlyPaths", linux.readonly_paths())?;
    let mut sysctl: Vec<(String, String)> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctl.sort();
    cfg.sysctl = sysctl;
    cfg.rootfs_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => 0,
        Some("private") => libc::MS_PRIVATE,
        Some("rprivate") => libc::MS_PRIVATE | libc::MS_REC,
        Some("slave") => libc::MS_SLAVE,
        Some("rslave") => libc::MS_SLAVE | libc::MS_REC,
        Some("shared") => libc::MS_SHARED,
        Some("rshared") => libc::MS_SHARED | libc::MS_REC,
        Some("unbindable") => libc::MS_UNBINDABLE,
        Some("runbindable") => libc::MS_UNBINDABLE | libc::MS_REC,
        Some(other) => {
            return Err(SpecError::invalid(
                "linux.rootfsPropagation",
                format!("unknown value {other:?}"),
            ))
        }
    };
    cfg.has_resources = linux.resources().is_some();
    cfg.has_seccomp = linux.seccomp().is_some();
    cfg.resources = linux.resources().clone();
    cfg.seccomp = linux.seccomp().clone();
    cfg.cgroups_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    if let Some(offsets) = linux.time_offsets() {
        for (clock, off) in offsets {
            if clock != "monotonic" && clock != "boottime" {
                return Err(SpecError::invalid(
                    format!("linux.timeOffsets.{clock}"),
                    "only monotonic and boottime can be offset",
                ));
            }
            cfg.time_offsets.push((
                clock.clone(),
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0),
            ));
        }
        if !cfg.time_offsets.is_empty() && !creates(cfg, NamespaceKind::Time) {
            return Err(SpecError::invalid(
                "linux.timeOffsets",
                "needs a new time namespace in linux.namespaces",
            ));
        }
    }
    Ok(())
}

/// Only namespaced sysctls may be set, and only when their namespace is the container's own.
fn check_sysctl_namespaces(cfg: &ContainerConfig) -> Result<(), SpecError> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    for (key, _) in &cfg.sysctl {
        let field = format!("linux.sysctl.{key}");
        if key.is_empty() || key.contains("..") || key.contains('\0') || key.starts_with('/') {
            return Err(SpecError::invalid(field, "not a valid sysctl name"));
        }
        let needs = if IPC.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            NamespaceKind::Ipc
        } else if key.starts_with("net.") {
            NamespaceKind::Network
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            NamespaceKind::Uts
        } else {
            return Err(SpecError::invalid(
                field,
                "this sysctl is not namespaced: it would change the host",
            ));
        };
        if cfg.namespace(needs).is_none() {
            return Err(SpecError::invalid(
                field,
                format!(
                    "needs its own {} namespace in linux.namespaces",
                    needs.oci_name()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
