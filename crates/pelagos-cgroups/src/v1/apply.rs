//! Writing `linux.resources` to cgroup v1 controller files (the OCI model's native form).

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::V1Manager;
use crate::convert;
use crate::devices;
use crate::error::{CgroupError, Result};
use crate::fsio;
use crate::manager::Warning;
use crate::v2::apply_rdma_line;

fn warn(out: &mut Vec<Warning>, field: &str, message: String) {
    out.push(Warning {
        field: field.into(),
        message,
    });
}

impl V1Manager {
    /// Applies every set field of `r`; see the crate README for the file mapping.
    pub fn apply(&self, r: &LinuxResources) -> Result<Vec<Warning>> {
        let mut w = Vec::new();
        if let Some(rules) = r.devices().as_ref().filter(|d| !d.is_empty()) {
            let dir = self.need("devices", "devices")?;
            for dw in devices::v1_writes(rules)? {
                fsio::write(dir, dw.file, &dw.line)?;
            }
        }
        if let Some(m) = r.memory() {
            memory(self.need("memory", "memory")?, m, &mut w)?;
        }
        if let Some(c) = r.cpu() {
            self.cpu(c)?;
        }
        if let Some(p) = r.pids().as_ref().filter(|p| p.limit() != 0) {
            fsio::write(
                self.need("pids", "pids")?,
                "pids.max",
                &convert::v2_limit(p.limit()),
            )?;
        }
        if let Some(b) = r.block_io() {
            blkio(self.need("blkio", "blockIO")?, b, &mut w)?;
        }
        self.hugetlb(r)?;
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                fsio::write(
                    self.need("net_cls", "network.classID")?,
                    "net_cls.classid",
                    &id.to_string(),
                )?;
            }
            for p in n.priorities().iter().flatten() {
                let d = self.need("net_prio", "network.priorities")?;
                fsio::write(
                    d,
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
        for (dev, l) in r.rdma().iter().flatten() {
            let d = self.need("rdma", "rdma")?;
            fsio::write(
                d,
                "rdma.max",
                &apply_rdma_line(dev, l.hca_handles(), l.hca_objects())?,
            )?;
        }
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(CgroupError::Unsupported {
                what: "linux.resources.unified".into(),
                reason: "cgroup v2 key/values need a cgroup v2 host; this host is v1: use the typed fields".into(),
            });
        }
        Ok(w)
    }

    fn cpu(&self, c: &LinuxCpu) -> Result<()> {
        let wants_cpu = c.shares().is_some_and(|v| v != 0)
            || c.quota().is_some_and(|v| v != 0)
            || c.period().is_some_and(|v| v != 0)
            || c.burst().is_some()
            || c.realtime_period().is_some_and(|v| v != 0)
            || c.realtime_runtime().is_some_and(|v| v != 0)
            || c.idle().is_some();
        if wants_cpu {
            let d = self.need("cpu", "cpu")?;
            if let Some(s) = c.shares().filter(|s| *s != 0) {
                fsio::write(d, "cpu.shares", &s.to_string())?;
            }
            cfs(
                d,
                c.quota().filter(|q| *q != 0),
                c.period().filter(|p| *p != 0),
            )?;
            if let Some(b) = c.burst() {
                fsio::write(d, "cpu.cfs_burst_us", &b.to_string())?;
            }
            // The period must be set before a runtime that only fits the new period.
            if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
                fsio::write(d, "cpu.rt_period_us", &p.to_string())?;
            }
            if let Some(rt) = c.realtime_runtime().filter(|r| *r != 0) {
                fsio::write(d, "cpu.rt_runtime_us", &rt.to_string())?;
            }
            if let Some(i) = c.idle() {
                fsio::write(d, "cpu.idle", &i.to_string())?;
            }
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            fsio::write(self.need("cpuset", "cpu.cpus")?, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            fsio::write(self.need("cpuset", "cpu.mems")?, "cpuset.mems", mems)?;
        }
        Ok(())
    }

    /// hugepageLimits: the v1 hugetlb controller, or on a hybrid host whose hugetlb
    /// controller lives in the cgroup2 mount, `hugetlb.<size>.max` there.
    fn hugetlb(&self, r: &LinuxResources) -> Result<()> {
        let Some(limits) = r.hugepage_limits().as_ref().filter(|l| !l.is_empty()) else {
            return Ok(());
        };
        for h in limits {
            convert::check_page_size(h.page_size())?;
        }
        if let Some(d) = self.dir_of("hugetlb") {
            for h in limits {
                fsio::write(
                    d,
                    &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                    &convert::v1_limit(h.limit()),
                )?;
            }
            return Ok(());
        }
        let u = self.unified.as_ref().filter(|u| {
            fsio::read_opt(&u.mount, "cgroup.controllers")
                .ok()
                .flatten()
                .is_some_and(|c| c.split_whitespace().any(|x| x == "hugetlb"))
        });
        let Some(u) = u else {
            return Err(CgroupError::Unsupported {
                what: "linux.resources.hugepageLimits".into(),
                reason: "no hugetlb controller on this host (neither v1 nor in the cgroup2 mount)"
                    .into(),
            });
        };
        u.enable_controllers(&["hugetlb"])?;
        for h in limits {
            fsio::write(
                &u.dir,
                &format!("hugetlb.{}.max", h.page_size()),
                &convert::v2_limit(h.limit()),
            )?;
        }
        Ok(())
    }
}

/// CFS period then quota; if the kernel refuses the period (the current quota does not
/// fit it), quota first and period again, as runc does.
fn cfs(d: &Path, quota: Option<i64>, period: Option<u64>) -> Result<()> {
    let q = quota.map(convert::v1_limit);
    match (period, q) {
        (Some(p), q) => {
            if let Err(e) = fsio::write(d, "cpu.cfs_period_us", &p.to_string()) {
                let Some(q) = &q else { return Err(e) };
                fsio::write(d, "cpu.cfs_quota_us", q)?;
                fsio::write(d, "cpu.cfs_period_us", &p.to_string())?;
                return Ok(());
            }
            if let Some(q) = q {
                fsio::write(d, "cpu.cfs_quota_us", &q)?;
            }
        }
        (None, Some(q)) => fsio::write(d, "cpu.cfs_quota_us", &q)?,
        (None, None) => {}
    }
    Ok(())
}

/// Memory. `swap` is the OCI memory+swap total, which is exactly v1's
/// `memory.memsw.limit_in_bytes`; the kernel requires memsw >= limit at every moment, so
/// when the limits grow memsw is written first, otherwise the limit first.
fn memory(d: &Path, m: &LinuxMemory, w: &mut Vec<Warning>) -> Result<()> {
    let limit = m.limit().filter(|l| *l != 0);
    let mut swap = m.swap().filter(|s| *s != 0);
    // An unlimited memory limit without a swap value means unlimited swap too; otherwise
    // the old memsw limit would keep memory capped (runc does the same).
    if limit == Some(-1) && swap.is_none() && fsio::exists(d, "memory.memsw.limit_in_bytes") {
        swap = Some(-1);
    }
    if let (Some(true), Some(l)) = (m.check_before_update(), limit) {
        let usage = fsio::read_u64(d, "memory.usage_in_bytes")?;
        if l > 0 && (l as u64) < usage {
            return Err(CgroupError::Invalid {
                field: "memory.limit".into(),
                value: l.to_string(),
                reason: format!("below current usage {usage} (checkBeforeUpdate): raise the limit"),
            });
        }
    }
    match (limit, swap) {
        (limit, Some(s)) => {
            if !fsio::exists(d, "memory.memsw.limit_in_bytes") {
                return Err(CgroupError::Unsupported {
                    what: "linux.resources.memory.swap".into(),
                    reason: "memory.memsw.limit_in_bytes is missing: boot with swapaccount=1 or drop the swap limit".into(),
                });
            }
            if let (Some(l), true) = (limit, s > 0) {
                if l < 0 || s < l {
                    return Err(CgroupError::Invalid {
                        field: "memory.swap".into(),
                        value: s.to_string(),
                        reason: format!("memory+swap must be >= the memory limit {l}"),
                    });
                }
            }
            let cur = fsio::read_u64(d, "memory.limit_in_bytes")?;
            let grow = s < 0 || cur < s as u64;
            if grow {
                fsio::write(d, "memory.memsw.limit_in_bytes", &convert::v1_limit(s))?;
            }
            if let Some(l) = limit {
                fsio::write(d, "memory.limit_in_bytes", &convert::v1_limit(l))?;
            }
            if !grow {
                fsio::write(d, "memory.memsw.limit_in_bytes", &convert::v1_limit(s))?;
            }
        }
        (Some(l), None) => fsio::write(d, "memory.limit_in_bytes", &convert::v1_limit(l))?,
        (None, None) => {}
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        fsio::write(d, "memory.soft_limit_in_bytes", &convert::v1_limit(r))?;
    }
    #[allow(deprecated)] // `kernel` is deprecated in the spec; it is still accepted input
    let kernel = m.kernel();
    for (field, file, v) in [
        ("memory.kernel", "memory.kmem.limit_in_bytes", kernel),
        (
            "memory.kernelTCP",
            "memory.kmem.tcp.limit_in_bytes",
            m.kernel_tcp(),
        ),
    ] {
        let Some(v) = v.filter(|v| *v != 0) else {
            continue;
        };
        // Kernel memory limits are obsolete (5.4): newer kernels refuse them or accept the
        // write and ignore it, so the value is read back. Either is reported rather than
        // failing the container, as runc does.
        let value = convert::v1_limit(v);
        match fsio::write(d, file, &value).and_then(|()| fsio::read(d, file)) {
            Err(e) => warn(w, field, format!("not applied: {e}")),
            Ok(back) if v >= 0 && back.trim() != value => warn(
                w,
                field,
                format!(
                    "{file}={value}: ignored by this kernel (reads back {})",
                    back.trim()
                ),
            ),
            Ok(_) => {}
        }
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::Invalid {
                field: "memory.swappiness".into(),
                value: s.to_string(),
                reason: "must be 0..=100".into(),
            });
        }
        fsio::write(d, "memory.swappiness", &s.to_string())?;
    }
    if let Some(off) = m.disable_oom_killer() {
        fsio::write(d, "memory.oom_control", if off { "1" } else { "0" })?;
    }
    if let Some(h) = m.use_hierarchy() {
        if let Err(e) = fsio::write(d, "memory.use_hierarchy", if h { "1" } else { "0" }) {
            warn(w, "memory.useHierarchy", format!("not applied: {e}"));
        }
    }
    Ok(())
}

/// blkio: CFQ's `blkio.weight` files, or BFQ's `blkio.bfq.weight` on kernels without CFQ.
fn blkio(d: &Path, b: &LinuxBlockIo, w: &mut Vec<Warning>) -> Result<()> {
    let prefix = if !fsio::exists(d, "blkio.weight") && fsio::exists(d, "blkio.bfq.weight") {
        "blkio.bfq."
    } else {
        "blkio."
    };
    if let Some(v) = b.weight().filter(|v| *v != 0) {
        fsio::write(d, &format!("{prefix}weight"), &v.to_string())?;
    }
    if let Some(v) = b.leaf_weight().filter(|v| *v != 0) {
        if fsio::exists(d, "blkio.leaf_weight") {
            fsio::write(d, "blkio.leaf_weight", &v.to_string())?;
        } else {
            warn(
                w,
                "blockIO.leafWeight",
                "blkio.leaf_weight is absent on this kernel: ignored".into(),
            );
        }
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(v) = wd.weight() {
            fsio::write(
                d,
                &format!("{prefix}weight_device"),
                &format!("{}:{} {v}", wd.major(), wd.minor()),
            )?;
        }
        if let Some(v) = wd.leaf_weight() {
            let line = format!("{}:{} {v}", wd.major(), wd.minor());
            if fsio::exists(d, "blkio.leaf_weight_device") {
                fsio::write(d, "blkio.leaf_weight_device", &line)?;
            } else {
                warn(
                    w,
                    "blockIO.weightDevice.leafWeight",
                    "blkio.leaf_weight_device is absent: ignored".into(),
                );
            }
        }
    }
    let lists = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, list) in lists {
        for t in list.iter().flatten() {
            fsio::write(
                d,
                file,
                &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture, read};
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn memory_cpu_pids_land_in_v1_files() {
        let (_t, m) = fixture();
        let w = m
            .apply(&res(
                r#"{"memory":{"limit":104857600,"swap":209715200,"reservation":52428800,"swappiness":10,
                              "disableOOMKiller":true,"kernel":1048576},
                    "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","mems":"0","idle":1},
                    "pids":{"limit":64}}"#,
            ))
            .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(read(&m, "memory", "memory.limit_in_bytes"), "104857600");
        assert_eq!(
            read(&m, "memory", "memory.memsw.limit_in_bytes"),
            "209715200"
        );
        assert_eq!(read(&m, "memory", "memory.soft_limit_in_bytes"), "52428800");
        assert_eq!(read(&m, "memory", "memory.swappiness"), "10");
        assert_eq!(read(&m, "memory", "memory.oom_control"), "1");
        assert_eq!(read(&m, "memory", "memory.kmem.limit_in_bytes"), "1048576");
        assert_eq!(read(&m, "cpu", "cpu.shares"), "512");
        assert_eq!(read(&m, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&m, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&m, "cpu", "cpu.idle"), "1");
        assert_eq!(read(&m, "cpuset", "cpuset.cpus"), "0");
        assert_eq!(read(&m, "pids", "pids.max"), "64");
    }

    #[test]
    fn unlimited_and_blkio_and_devices() {
        let (_t, m) = fixture();
        m.apply(&res(
            r#"{"memory":{"limit":-1},"pids":{"limit":-1},"cpu":{"quota":-1},
                "blockIO":{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":500}],
                           "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
                           "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]},
                "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#,
        ))
        .unwrap();
        assert_eq!(read(&m, "memory", "memory.limit_in_bytes"), "-1");
        assert_eq!(read(&m, "memory", "memory.memsw.limit_in_bytes"), "-1");
        assert_eq!(read(&m, "pids", "pids.max"), "max");
        assert_eq!(read(&m, "cpu", "cpu.cfs_quota_us"), "-1");
        assert_eq!(read(&m, "blkio", "blkio.weight"), "300");
        assert_eq!(read(&m, "blkio", "blkio.weight_device"), "8:0 500");
        assert_eq!(
            read(&m, "blkio", "blkio.throttle.read_bps_device"),
            "8:0 1048576"
        );
        assert_eq!(
            read(&m, "blkio", "blkio.throttle.write_iops_device"),
            "8:16 100"
        );
        assert_eq!(read(&m, "devices", "devices.allow"), "c 1:3 rwm");
        assert_eq!(read(&m, "devices", "devices.deny"), "a");
    }

    #[test]
    fn hybrid_hugetlb_goes_to_unified() {
        let (t, m) = fixture();
        let u = m.unified.as_ref().unwrap();
        std::fs::write(t.path().join("unified/cgroup.controllers"), "hugetlb\n").unwrap();
        std::fs::write(t.path().join("unified/cgroup.subtree_control"), "").unwrap();
        std::fs::write(t.path().join("unified/pelagos/cgroup.subtree_control"), "").unwrap();
        std::fs::write(u.dir.join("hugetlb.2MB.max"), "").unwrap();
        m.apply(&res(
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#,
        ))
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(u.dir.join("hugetlb.2MB.max")).unwrap(),
            "4194304"
        );
        assert_eq!(
            std::fs::read_to_string(t.path().join("unified/cgroup.subtree_control")).unwrap(),
            "+hugetlb"
        );
    }

    #[test]
    fn errors_name_field_or_file() {
        let (_t, m) = fixture();
        let e = m
            .apply(&res(r#"{"memory":{"limit":200,"swap":100}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory.swap"), "{e}");
        let e = m
            .apply(&res(r#"{"unified":{"memory.high":"1"}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unified") && e.contains("v1"), "{e}");
        let e = m
            .apply(&res(r#"{"network":{"classID":1}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("net_cls") && e.contains("network.classID"),
            "{e}"
        );
        let e = m
            .apply(&res(r#"{"memory":{"swappiness":101}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("swappiness=101"), "{e}");
    }
}
