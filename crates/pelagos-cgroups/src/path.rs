//! Resolution of the OCI `linux.cgroupsPath`: absolute, relative, the systemd
//! `slice:prefix:name` form (mapped to its cgroupfs path, no systemd calls), or none.

use crate::error::{CgroupError, Result};

/// The parent of default cgroups (`/pelagos/<id>`) and of relative paths when the caller's
/// own cgroup is unknown.
pub const DEFAULT_PARENT: &str = "pelagos";

/// A `cgroupsPath` after validation, before it is joined to hierarchy mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupPath {
    /// Relative to each hierarchy's root: normalized, starts with `/`, no `..`.
    Absolute(String),
    /// Relative to the caller's own cgroup (or [`DEFAULT_PARENT`]): no leading `/`.
    Relative(String),
}

/// Validates and resolves `cgroups_path` for container `id`.
///
/// - `None` or empty: `/pelagos/<id>`.
/// - `/a/b`: absolute within every hierarchy.
/// - `a/b`: relative (placed by the manager under the caller's cgroup).
/// - `slice:prefix:name`: `/<expanded slice>/<prefix>-<name>.scope`; an empty slice is
///   `system.slice`, `-.slice` is the root, a name ending in `.slice` is itself a slice.
pub fn resolve(cgroups_path: Option<&str>, id: &str) -> Result<CgroupPath> {
    check_id(id)?;
    let p = match cgroups_path {
        None | Some("") => return Ok(CgroupPath::Absolute(format!("/{DEFAULT_PARENT}/{id}"))),
        Some(p) => p,
    };
    let bad = |reason: &str| CgroupError::Path {
        path: p.to_owned(),
        reason: reason.to_owned(),
    };
    if p.contains('\0') || p.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed"));
    }
    if !p.starts_with('/') && p.matches(':').count() == 2 {
        return systemd_path(p, id).map(CgroupPath::Absolute);
    }
    if p.contains(':') {
        return Err(bad(
            "':' is only valid in the systemd form slice:prefix:name",
        ));
    }
    let norm = normalize(p)
        .ok_or_else(|| bad("'..' would leave the cgroup root: use a path inside it"))?;
    if p.starts_with('/') {
        Ok(CgroupPath::Absolute(format!("/{norm}")))
    } else if norm.is_empty() {
        Err(bad("a relative path must name a cgroup"))
    } else {
        Ok(CgroupPath::Relative(norm))
    }
}

/// Joins components without `.` and empty parts; `None` if any component is `..`.
fn normalize(p: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(CgroupError::Path {
            path: id.to_owned(),
            reason:
                "the container id is used as a cgroup name: it must be non-empty and contain no '/'"
                    .into(),
        });
    }
    Ok(())
}

/// Maps `slice:prefix:name` to the cgroupfs path systemd would use.
fn systemd_path(p: &str, id: &str) -> Result<String> {
    let bad = |reason: String| CgroupError::Path {
        path: p.to_owned(),
        reason,
    };
    let mut it = p.split(':');
    let (slice, prefix, name) = (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    );
    for part in [slice, prefix, name] {
        if part.contains('/') || part == ".." || part == "." {
            return Err(bad(format!(
                "systemd form slice:prefix:name: {part:?} must be a unit name, not a path"
            )));
        }
    }
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let name = if name.is_empty() { id } else { name };
    let parent = expand_slice(slice).map_err(|r| bad(r.to_owned()))?;
    if name.ends_with(".slice") {
        // A slice unit's place is determined by its own name alone.
        return expand_slice(name).map_err(|r| bad(r.to_owned()));
    }
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok(format!("{parent}/{unit}"))
}

/// `a-b-c.slice` -> `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` -> `` (the root).
fn expand_slice(slice: &str) -> std::result::Result<String, &'static str> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err("the slice must end in .slice");
    };
    if stem == "-" {
        return Ok(String::new());
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err("invalid slice name: dashes separate non-empty parts");
    }
    let mut out = String::new();
    let mut acc = String::new();
    for part in stem.split('-') {
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(part);
        out.push('/');
        out.push_str(&acc);
        out.push_str(".slice");
    }
    Ok(out)
}

/// Joins a cgroup path (absolute within the hierarchy, or relative) below `base`.
pub(crate) fn join_under(base: &str, rel: &str) -> String {
    let b = base.trim_end_matches('/');
    format!("{b}/{}", rel.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(s: &str) -> CgroupPath {
        CgroupPath::Absolute(s.into())
    }

    #[test]
    fn default_absolute_relative() {
        assert_eq!(resolve(None, "abc").unwrap(), abs("/pelagos/abc"));
        assert_eq!(resolve(Some(""), "abc").unwrap(), abs("/pelagos/abc"));
        assert_eq!(
            resolve(Some("/pelagos/abc"), "x").unwrap(),
            abs("/pelagos/abc")
        );
        assert_eq!(resolve(Some("//a/./b/"), "x").unwrap(), abs("/a/b"));
        assert_eq!(
            resolve(Some("a/b"), "x").unwrap(),
            CgroupPath::Relative("a/b".into())
        );
    }

    #[test]
    fn dotdot_rejected_naming_cgroups_path() {
        for p in ["/a/../../etc", "../x", "/..", "a/.."] {
            let e = resolve(Some(p), "x").unwrap_err().to_string();
            assert!(e.contains("cgroupsPath") && e.contains(".."), "{e}");
        }
        assert!(resolve(Some("machine.slice:p:../x"), "x").is_err());
        assert!(resolve(None, "../x").is_err());
        assert!(resolve(None, "a/b").is_err());
        assert!(resolve(Some("a:b"), "x").is_err());
        assert!(resolve(Some("."), "x").is_err());
    }

    #[test]
    fn systemd_form() {
        assert_eq!(
            resolve(Some("system.slice:docker:abc"), "x").unwrap(),
            abs("/system.slice/docker-abc.scope")
        );
        assert_eq!(
            resolve(Some("machine-libpod.slice:libpod:abc"), "x").unwrap(),
            abs("/machine.slice/machine-libpod.slice/libpod-abc.scope")
        );
        assert_eq!(
            resolve(Some(":pelagos:"), "id1").unwrap(),
            abs("/system.slice/pelagos-id1.scope")
        );
        assert_eq!(resolve(Some("-.slice::n"), "x").unwrap(), abs("/n.scope"));
        assert_eq!(
            resolve(Some("a.slice::b-c.slice"), "x").unwrap(),
            abs("/b.slice/b-c.slice")
        );
        assert!(resolve(Some("notaslice:p:n"), "x").is_err());
        assert!(resolve(Some("a--b.slice:p:n"), "x").is_err());
    }

    #[test]
    fn join() {
        assert_eq!(join_under("/", "a/b"), "/a/b");
        assert_eq!(join_under("/u/s", "/a"), "/u/s/a");
    }
}
