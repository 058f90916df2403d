//! Namespaces as the container sees them: new pid/net/ipc/uts/mount/cgroup namespaces,
//! joining an existing network namespace by path, and a user namespace with id mappings.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::support::runtime::run_captured;
use crate::support::{case, expect_contains, expect_eq, field, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("new_namespaces", new_namespaces),
        case("cgroup_namespace", cgroup_namespace),
        case("join_netns_by_path", join_netns_by_path),
        case("user_namespace", user_namespace),
    ]
}

/// The inode of one of this (host) process's namespaces, as `readlink` prints it.
fn host_ns(kind: &str) -> Result<String> {
    let l = std::fs::read_link(format!("/proc/self/ns/{kind}"))?;
    Ok(l.display().to_string())
}

fn new_namespaces(rt: &Runtime) -> Result<()> {
    let kinds = ["pid", "net", "ipc", "uts", "mnt"];
    let mut script = String::from("echo pid=$$; echo links=$(ls /sys/class/net); ");
    for k in kinds {
        script.push_str(&format!("echo {k}=$(readlink /proc/self/ns/{k}); "));
    }
    let out = Container::new(rt, Bundle::busybox()?.sh(&script))?.probe()?;
    expect_contains("init is pid 1", &out, "pid=1\n")?;
    expect_contains("only loopback in a new netns", &out, "links=lo\n")?;
    for k in kinds {
        let host = host_ns(k)?;
        let inside = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default();
        if inside.is_empty() || inside == host {
            bail!("{k} namespace not new: inside {inside:?}, host {host:?}\n{out}");
        }
    }
    Ok(())
}

fn cgroup_namespace(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?;
    let mut ns = b.config["linux"]["namespaces"].clone();
    ns.as_array_mut()
        .context("namespaces")?
        .push(json!({"type": "cgroup"}));
    let b = b
        .set("/linux/namespaces", ns)
        .sh("readlink /proc/self/ns/cgroup");
    let out = Container::new(rt, b)?.probe()?;
    let host = host_ns("cgroup")?;
    if out.trim().is_empty() || out.trim() == host {
        bail!(
            "cgroup namespace not new: inside {:?}, host {host:?}",
            out.trim()
        );
    }
    Ok(())
}

/// A named network namespace made with `ip netns`, deleted on drop.
struct NetNs(String);

impl NetNs {
    fn new() -> Result<NetNs> {
        let name = crate::support::container::unique_id();
        let mut c = Command::new("ip");
        c.args(["netns", "add", &name]);
        run_captured(c)
            .context("ip netns add (install iproute2)")?
            .ok()?;
        Ok(NetNs(name))
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let mut c = Command::new("ip");
        c.args(["netns", "delete", &self.0]);
        if let Err(e) = run_captured(c).and_then(|o| o.ok()) {
            eprintln!("e2e: cannot delete netns {}: {e:#}", self.0);
        }
    }
}

fn join_netns_by_path(rt: &Runtime) -> Result<()> {
    let netns = NetNs::new()?;
    let inode = std::fs::metadata(netns.path())?.ino();
    let b = Bundle::busybox()?;
    let mut ns = b.config["linux"]["namespaces"].clone();
    for n in ns.as_array_mut().context("namespaces")? {
        if n["type"] == "network" {
            n["path"] = json!(netns.path());
        }
    }
    let b = b
        .set("/linux/namespaces", ns)
        .sh("readlink /proc/self/ns/net");
    let out = Container::new(rt, b)?.probe()?;
    expect_eq(
        "joined netns",
        out.trim().to_string(),
        format!("net:[{inode}]"),
    )
}

fn user_namespace(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?;
    let mut ns = b.config["linux"]["namespaces"].clone();
    ns.as_array_mut()
        .context("namespaces")?
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100_000, "size": 65536}]);
    let b = b
        .set("/linux/namespaces", ns)
        .set("/linux/uidMappings", map.clone())
        .set("/linux/gidMappings", map)
        // A cgroup v1 mount is not allowed from a user namespace that does not own the
        // cgroup namespace; the isolation tests cover it without a user namespace.
        .set(
            "/mounts",
            json!(crate::support::bundle::default_config()["mounts"]
                .as_array()
                .map(|m| m
                    .iter()
                    .filter(|m| m["destination"] != "/sys/fs/cgroup")
                    .cloned()
                    .collect::<Vec<_>>())),
        )
        .sh("cat /proc/self/uid_map /proc/self/gid_map; grep -E '^(Uid|CapEff)' /proc/self/status");
    let out = Container::new(rt, b)?.probe()?;
    let maps: Vec<Vec<&str>> = out
        .lines()
        .take(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    expect_eq(
        "uid_map and gid_map",
        maps,
        vec![vec!["0", "100000", "65536"]; 2],
    )?;
    expect_eq(
        "Uid inside",
        field(&out, "Uid").map(|v| v.split_whitespace().next().unwrap_or_default().to_string()),
        Some("0".into()),
    )
}
