//! Parsing OCI mount entries: options into mount attributes, propagation and file-system
//! parameters.

use crate::config::{FsOption, MountKind, MountSpec};
use crate::error::SpecError;

const ATTR_RDONLY: u64 = 0x1;
const ATTR_NOSUID: u64 = 0x2;
const ATTR_NODEV: u64 = 0x4;
const ATTR_NOEXEC: u64 = 0x8;
const ATTR_ATIME_MASK: u64 = 0x70;
const ATTR_NOATIME: u64 = 0x10;
const ATTR_STRICTATIME: u64 = 0x20;
const ATTR_NODIRATIME: u64 = 0x80;
const ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// What the options of one mount entry amount to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ParsedOptions {
    pub bind: Option<bool>,
    pub attr_set: u64,
    pub attr_clear: u64,
    pub attr_recursive: bool,
    pub propagation: u64,
    pub data: Vec<FsOption>,
    pub ignored: Vec<String>,
}

/// Parse mount options (`ro`, `nosuid`, `rbind`, `rprivate`, `mode=755`, ...). `field` names
/// the JSON field for errors.
pub fn parse_mount_options(options: &[String], field: &str) -> Result<ParsedOptions, SpecError> {
    let mut p = ParsedOptions::default();
    for (i, raw) in options.iter().enumerate() {
        let opt = raw.as_str();
        let (name, recursive) = match opt.strip_prefix('r') {
            Some(rest)
                if matches!(
                    rest,
                    "ro" | "rw"
                        | "nosuid"
                        | "suid"
                        | "nodev"
                        | "dev"
                        | "noexec"
                        | "exec"
                        | "noatime"
                        | "atime"
                        | "relatime"
                        | "norelatime"
                        | "strictatime"
                        | "nostrictatime"
                        | "nodiratime"
                        | "diratime"
                        | "nosymfollow"
                        | "symfollow"
                ) =>
            {
                (rest, true)
            }
            _ => (opt, false),
        };
        if attr_option(&mut p, name) {
            if recursive {
                p.attr_recursive = true;
            }
            continue;
        }
        match name {
            "bind" => p.bind = Some(p.bind.unwrap_or(false)),
            "rbind" => p.bind = Some(true),
            "private" => p.propagation = libc::MS_PRIVATE,
            "rprivate" => p.propagation = libc::MS_PRIVATE | libc::MS_REC,
            "shared" => p.propagation = libc::MS_SHARED,
            "rshared" => p.propagation = libc::MS_SHARED | libc::MS_REC,
            "slave" => p.propagation = libc::MS_SLAVE,
            "rslave" => p.propagation = libc::MS_SLAVE | libc::MS_REC,
            "unbindable" => p.propagation = libc::MS_UNBINDABLE,
            "runbindable" => p.propagation = libc::MS_UNBINDABLE | libc::MS_REC,
            "defaults" | "async" | "remount" | "nomand" | "loud" | "silent" | "tmpcopyup"
            | "notmpcopyup" | "copy-symlink" | "nocopyup" | "copyup" | "noiversion"
            | "nolazytime" | "norelatime_" => p.ignored.push(raw.clone()),
            "idmap" | "ridmap" => {
                return Err(SpecError::invalid(
                    format!("{field}.options[{i}]"),
                    format!("mount option {raw:?} (id-mapped mounts) is not supported yet"),
                ))
            }
            "" => {
                return Err(SpecError::invalid(
                    format!("{field}.options[{i}]"),
                    "empty mount option",
                ));
            }
            _ => {
                if opt.contains(',') {
                    return Err(SpecError::invalid(
                        format!("{field}.options[{i}]"),
                        format!("{raw:?}: give each mount option as its own list element"),
                    ));
                }
                let (key, value) = match opt.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (opt.to_string(), None),
                };
                p.data.push(FsOption { key, value });
            }
        }
        if recursive {
            p.attr_recursive = true;
        }
    }
    Ok(p)
}

/// Apply a mount-attribute option (`ro`, `nosuid`, `noatime`, ...); false if `name` is not one.
fn attr_option(p: &mut ParsedOptions, name: &str) -> bool {
    let mut set = |bit: u64| {
        p.attr_set |= bit;
        p.attr_clear &= !bit;
    };
    match name {
        "ro" => set(ATTR_RDONLY),
        "nosuid" => set(ATTR_NOSUID),
        "nodev" => set(ATTR_NODEV),
        "noexec" => set(ATTR_NOEXEC),
        "nodiratime" => set(ATTR_NODIRATIME),
        "nosymfollow" => set(ATTR_NOSYMFOLLOW),
        "noatime" | "strictatime" | "relatime" | "norelatime" | "nostrictatime" | "atime" => {
            p.attr_clear |= ATTR_ATIME_MASK;
            p.attr_set &= !ATTR_ATIME_MASK;
            match name {
                "noatime" => p.attr_set |= ATTR_NOATIME,
                "strictatime" => p.attr_set |= ATTR_STRICTATIME,
                _ => {}
            }
        }
        "rw" | "suid" | "dev" | "exec" | "diratime" | "symfollow" => {
            let bit = match name {
                "rw" => ATTR_RDONLY,
                "suid" => ATTR_NOSUID,
                "dev" => ATTR_NODEV,
                "exec" => ATTR_NOEXEC,
                "diratime" => ATTR_NODIRATIME,
                _ => ATTR_NOSYMFOLLOW,
            };
            p.attr_set &= !bit;
            p.attr_clear |= bit;
        }
        _ => return false,
    }
    true
}

/// Build a [`MountSpec`] for mount entry `i`.
pub(crate) fn mount_spec(
    i: usize,
    destination: String,
    typ: Option<&str>,
    source: Option<String>,
    options: &[String],
) -> Result<MountSpec, SpecError> {
    let field = format!("mounts[{i}]");
    let p = parse_mount_options(options, &field)?;
    let kind = match (typ, p.bind) {
        (_, Some(recursive)) => MountKind::Bind { recursive },
        (Some("bind"), None) => MountKind::Bind { recursive: false },
        (Some("cgroup") | Some("cgroup2"), None) => MountKind::Cgroup,
        (Some(t), None) if !t.is_empty() && t != "none" => MountKind::Fs { fstype: t.to_string() },
        _ => {
            return Err(SpecError::invalid(
                format!("{field}.type"),
                format!("mount of {destination:?} has no type and is not a bind mount: set \"type\" or add \"bind\" to options"),
            ))
        }
    };
    if matches!(kind, MountKind::Bind { .. }) && source.as_deref().is_none_or(str::is_empty) {
        return Err(SpecError::invalid(
            format!("{field}.source"),
            "a bind mount needs a source",
        ));
    }
    if matches!(kind, MountKind::Bind { .. }) && !p.data.is_empty() {
        let keys: Vec<&str> = p.data.iter().map(|d| d.key.as_str()).collect();
        return Err(SpecError::invalid(
            format!("{field}.options"),
            format!("unknown option(s) {keys:?} for a bind mount"),
        ));
    }
    Ok(MountSpec {
        destination,
        source,
        kind,
        attr_set: p.attr_set,
        attr_clear: p.attr_clear,
        attr_recursive: p.attr_recursive,
        propagation: p.propagation,
        data: p.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn proc_like() {
        let p = parse_mount_options(&opts(&["nosuid", "noexec", "nodev", "ro"]), "m").unwrap();
        assert_eq!(
            p.attr_set,
            ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC
        );
        assert!(p.data.is_empty());
    }

    #[test]
    fn tmpfs_data_and_propagation() {
        let p = parse_mount_options(
            &opts(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]),
            "m",
        )
        .unwrap();
        assert_eq!(p.attr_set, ATTR_NOSUID | ATTR_STRICTATIME);
        assert_eq!(p.attr_clear, ATTR_ATIME_MASK);
        assert_eq!(p.propagation, libc::MS_SLAVE | libc::MS_REC);
        assert_eq!(p.data.len(), 2);
        assert_eq!(
            p.data[0],
            FsOption {
                key: "mode".into(),
                value: Some("755".into())
            }
        );
    }

    #[test]
    fn binds() {
        let m = mount_spec(
            0,
            "/x".into(),
            Some("none"),
            Some("/src".into()),
            &opts(&["rbind", "rro"]),
        )
        .unwrap();
        assert_eq!(m.kind, MountKind::Bind { recursive: true });
        assert!(m.attr_recursive);
        let m = mount_spec(
            0,
            "/x".into(),
            Some("bind"),
            Some("/src".into()),
            &opts(&["ro"]),
        )
        .unwrap();
        assert_eq!(m.kind, MountKind::Bind { recursive: false });
        assert!(mount_spec(0, "/x".into(), Some("bind"), None, &[]).is_err());
        assert!(mount_spec(0, "/x".into(), None, None, &[]).is_err());
        assert!(mount_spec(
            0,
            "/x".into(),
            Some("bind"),
            Some("/s".into()),
            &opts(&["mode=1"])
        )
        .is_err());
    }

    #[test]
    fn rejects() {
        assert!(parse_mount_options(&opts(&["idmap"]), "m").is_err());
        assert!(parse_mount_options(&opts(&["a,b"]), "m").is_err());
    }
}
