//! Cgroup layout detection from a mountinfo text and a cgroup root, both passed in by the
//! caller: pure v2, or v1 (including the hybrid layout with an extra cgroup2 mount).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};

/// One mounted cgroup v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Controllers bound to it (`cpu`, `cpuacct`) or the hierarchy name (`name=systemd`).
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mount: PathBuf,
    /// The mount's root inside the hierarchy (`/` unless inside a cgroup namespace bind).
    pub mount_root: String,
}

impl Hierarchy {
    /// Whether the hierarchy carries `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroup layout of the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version", rename_all = "lowercase")]
pub enum Layout {
    /// cgroup v1, possibly hybrid (`unified` is the extra cgroup2 mount, if any).
    V1 {
        /// Every v1 hierarchy mounted under the root.
        hierarchies: Vec<Hierarchy>,
        /// The cgroup2 mount of a hybrid host (e.g. `<root>/unified`).
        unified: Option<PathBuf>,
    },
    /// Pure cgroup v2 mounted at `mount`.
    V2 {
        /// The cgroup2 mount point (the root passed in).
        mount: PathBuf,
    },
}

/// Cgroup version of a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupVersion {
    /// Legacy or hybrid.
    V1,
    /// Unified.
    V2,
}

/// The detected layout plus, optionally, the caller's own cgroup (for relative paths).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupRoot {
    /// The cgroup root the caller passed in (normally `/sys/fs/cgroup`).
    pub root: PathBuf,
    /// Hierarchies found under it.
    pub layout: Layout,
    /// The caller's own cgroup per controller (key `""` for v2), from `/proc/self/cgroup`.
    pub own: Option<BTreeMap<String, String>>,
}

/// One parsed mountinfo line, reduced to what detection needs.
struct MountLine<'a> {
    root: &'a str,
    mount_point: String,
    fstype: &'a str,
    super_opts: &'a str,
}

fn parse_mountinfo_line(line: &str, no: usize) -> Result<MountLine<'_>> {
    let bad = |reason: &str| CgroupError::ParseProc {
        source_name: "mountinfo",
        line: no,
        reason: reason.to_owned(),
    };
    let (left, right) = line
        .split_once(" - ")
        .ok_or_else(|| bad("no ' - ' separator"))?;
    let lf: Vec<&str> = left.split(' ').collect();
    if lf.len() < 6 {
        return Err(bad("fewer than 6 fields before ' - '"));
    }
    let mut rf = right.split(' ');
    let fstype = rf.next().ok_or_else(|| bad("no fstype"))?;
    let _source = rf.next();
    let super_opts = rf.next().unwrap_or("");
    Ok(MountLine {
        root: lf[3],
        mount_point: unescape(lf[4]),
        fstype,
        super_opts,
    })
}

/// Undoes mountinfo's octal escapes (`\040` for space and so on).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `p` is `root` itself or directly below it (one component).
fn is_at_or_below(p: &Path, root: &Path) -> bool {
    p == root || p.parent() == Some(root)
}

impl CgroupRoot {
    /// Detects the layout under `root` from `mountinfo` (the text of `/proc/self/mountinfo`).
    ///
    /// A cgroup2 mount at `root` means pure v2. Otherwise every v1 mount at `root/<name>`
    /// is a hierarchy (co-mounted controllers such as `cpu,cpuacct` share one, named
    /// hierarchies like `name=systemd` count too) and a cgroup2 mount below `root`
    /// (`root/unified`) makes the host hybrid; it is still driven as v1.
    pub fn detect(root: impl AsRef<Path>, mountinfo: &str) -> Result<CgroupRoot> {
        let root = root.as_ref().to_path_buf();
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        let mut unified: Option<PathBuf> = None;
        for (i, line) in mountinfo.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let m = parse_mountinfo_line(line, i + 1)?;
            let mp = PathBuf::from(&m.mount_point);
            if !is_at_or_below(&mp, &root) {
                continue;
            }
            // A later mount at or above a hierarchy's mount point hides it (mountinfo lists
            // mounts in the order they were made).
            hierarchies.retain(|h| !is_at_or_below(&h.mount, &mp));
            if unified.as_deref().is_some_and(|u| is_at_or_below(u, &mp)) {
                unified = None;
            }
            match m.fstype {
                "cgroup2" if mp == root => {
                    return Ok(CgroupRoot {
                        root,
                        layout: Layout::V2 { mount: mp },
                        own: None,
                    });
                }
                "cgroup2" => unified = Some(mp),
                "cgroup" if mp != root => {
                    let controllers: Vec<String> = m
                        .super_opts
                        .split(',')
                        .filter(|o| is_controller_opt(o))
                        .map(str::to_owned)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    // A hierarchy mounted twice (bind mounts) is listed once.
                    if hierarchies.iter().any(|h| h.controllers == controllers) {
                        continue;
                    }
                    hierarchies.push(Hierarchy {
                        controllers,
                        mount: mp,
                        mount_root: m.root.to_owned(),
                    });
                }
                _ => {}
            }
        }
        if hierarchies.is_empty() {
            return Err(CgroupError::Detect {
                root,
                reason: "no cgroup2 mount at the root and no cgroup v1 hierarchy below it: mount cgroupfs or pass the right root".into(),
            });
        }
        Ok(CgroupRoot {
            root,
            layout: Layout::V1 {
                hierarchies,
                unified,
            },
            own: None,
        })
    }

    /// Records the caller's own cgroup from the text of `/proc/self/cgroup`, used to place
    /// relative `cgroupsPath` values as runc does.
    pub fn with_own_cgroup(mut self, proc_self_cgroup: &str) -> Result<CgroupRoot> {
        let mut own = BTreeMap::new();
        for (i, line) in proc_self_cgroup.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), Some(c)) => (a, b, c),
                _ => {
                    return Err(CgroupError::ParseProc {
                        source_name: "/proc/self/cgroup",
                        line: i + 1,
                        reason: "expected id:controllers:path".into(),
                    })
                }
            };
            if ctrls.is_empty() {
                own.insert(String::new(), path.to_owned());
            } else {
                for c in ctrls.split(',') {
                    own.insert(c.to_owned(), path.to_owned());
                }
            }
        }
        self.own = Some(own);
        Ok(self)
    }

    /// The cgroup version this layout is driven as.
    pub fn version(&self) -> CgroupVersion {
        match self.layout {
            Layout::V1 { .. } => CgroupVersion::V1,
            Layout::V2 { .. } => CgroupVersion::V2,
        }
    }

    /// The v1 hierarchy carrying `controller`, if mounted.
    pub fn hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        match &self.layout {
            Layout::V1 { hierarchies, .. } => hierarchies.iter().find(|h| h.has(controller)),
            Layout::V2 { .. } => None,
        }
    }
}

/// The controllers cgroup v1 knows; other superblock options (`rw`, `xattr`,
/// `release_agent=...`, `clone_children`...) are mount flags.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// Superblock options of a v1 cgroup mount that name a controller or hierarchy.
fn is_controller_opt(o: &str) -> bool {
    o.starts_with("name=") || V1_CONTROLLERS.contains(&o)
}

#[cfg(test)]
pub(crate) mod tests {

    #[test]
    fn a_later_mount_hides_the_hierarchy_below_it() {
        let mi = "25 1 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                  26 25 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  27 25 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                  90 27 0:50 / /sys/fs/cgroup/unified rw - tmpfs none rw\n";
        let r = CgroupRoot::detect("/sys/fs/cgroup", mi).unwrap();
        match r.layout {
            Layout::V1 {
                hierarchies,
                unified,
            } => {
                assert_eq!(hierarchies.len(), 1);
                assert_eq!(
                    unified, None,
                    "the tmpfs over unified hides the cgroup2 mount"
                );
            }
            other => panic!("expected v1, got {other:?}"),
        }
    }

    use super::*;

    /// A mountinfo text shaped like this host's (v1 hybrid) with cgroups under `root`.
    pub(crate) fn hybrid_mountinfo(root: &str) -> String {
        let mut s = format!("31 23 0:28 / {root} rw,relatime - tmpfs tmpfs rw,mode=755\n");
        let ctrls = [
            "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
        ];
        for (i, c) in ctrls.iter().enumerate() {
            s += &format!(
                "{} 31 0:{} / {root}/{c} rw,relatime - cgroup cgroup rw,{c}\n",
                32 + i,
                29 + i
            );
        }
        s += &format!("40 31 0:37 / {root}/systemd rw,relatime - cgroup cgroup rw,name=systemd\n");
        s += &format!("41 31 0:38 / {root}/unified rw,relatime - cgroup2 cgroup2 rw\n");
        s
    }

    pub(crate) fn v2_mountinfo(root: &str) -> String {
        format!(
            "22 1 0:21 / /proc rw - proc proc rw\n\
             26 24 0:23 / {root} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
        )
    }

    #[test]
    fn detects_hybrid_as_v1_with_unified() {
        let r = CgroupRoot::detect("/sys/fs/cgroup", &hybrid_mountinfo("/sys/fs/cgroup")).unwrap();
        assert_eq!(r.version(), CgroupVersion::V1);
        let Layout::V1 {
            hierarchies,
            unified,
        } = &r.layout
        else {
            panic!()
        };
        assert_eq!(
            unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert_eq!(hierarchies.len(), 9);
        assert_eq!(
            r.hierarchy("memory").unwrap().mount,
            Path::new("/sys/fs/cgroup/memory")
        );
        assert!(r.hierarchy("name=systemd").is_some());
        assert!(r.hierarchy("hugetlb").is_none());
    }

    #[test]
    fn detects_pure_v2() {
        let r = CgroupRoot::detect("/sys/fs/cgroup", &v2_mountinfo("/sys/fs/cgroup")).unwrap();
        assert_eq!(
            r.layout,
            Layout::V2 {
                mount: "/sys/fs/cgroup".into()
            }
        );
    }

    #[test]
    fn detects_comounted_cpu_cpuacct_and_named() {
        let mi = "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755\n\
            33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:8 - cgroup cgroup rw,cpu,cpuacct\n\
            34 30 0:30 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n\
            35 30 0:31 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n\
            36 30 0:32 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n\
            37 30 0:33 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n";
        let r = CgroupRoot::detect("/sys/fs/cgroup", mi).unwrap();
        let cpu = r.hierarchy("cpuacct").unwrap();
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        assert_eq!(cpu.mount, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            r.hierarchy("name=systemd").unwrap().controllers,
            ["name=systemd"]
        );
        assert_eq!(r.hierarchy("cpuset").unwrap().controllers, ["cpuset"]);
        let Layout::V1 { unified, .. } = &r.layout else {
            panic!()
        };
        assert!(unified.is_none());
    }

    #[test]
    fn mounts_elsewhere_are_ignored_and_nothing_is_an_error() {
        let mi = v2_mountinfo("/mnt/other");
        let err = CgroupRoot::detect("/sys/fs/cgroup", &mi)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/sys/fs/cgroup"), "{err}");
        let err = CgroupRoot::detect("/x", "garbage line")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mountinfo line 1"), "{err}");
    }

    #[test]
    fn own_cgroup_parsed_per_controller() {
        let r = CgroupRoot::detect("/sys/fs/cgroup", &hybrid_mountinfo("/sys/fs/cgroup"))
            .unwrap()
            .with_own_cgroup("9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/\n")
            .unwrap();
        let own = r.own.unwrap();
        assert_eq!(own["memory"], "/a/b");
        assert_eq!(own["cpuacct"], "/c");
        assert_eq!(own["name=systemd"], "/");
        assert_eq!(own[""], "/");
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/a\\04"), "/a\\04");
    }
}
