//! Writing `linux.resources` to cgroup v2 interface files, converting the v1-shaped OCI
//! values (see `convert`).

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::devices::{DeviceFilter, Kernel};
use super::V2Manager;
use crate::convert;
use crate::devices_bpf;
use crate::error::{CgroupError, Result};
use crate::fsio;
use crate::manager::Warning;

fn warn(out: &mut Vec<Warning>, field: &str, message: &str) {
    out.push(Warning {
        field: field.into(),
        message: message.into(),
    });
}

impl V2Manager {
    /// Applies every set field of `r`; see the crate README for the v1 -> v2 mapping.
    /// Device rules become an eBPF program attached to the directory, replacing the
    /// previous one.
    pub fn apply(&self, r: &LinuxResources) -> Result<Vec<Warning>> {
        self.apply_with(r, &Kernel)
    }

    /// [`apply`](Self::apply) with the device filter installed by `devices`.
    pub(crate) fn apply_with(
        &self,
        r: &LinuxResources,
        devices: &dyn DeviceFilter,
    ) -> Result<Vec<Warning>> {
        let mut w = Vec::new();
        let d = self.dir.as_path();
        if let Some(m) = r.memory() {
            memory(d, m, &mut w)?;
        }
        if let Some(c) = r.cpu() {
            cpu(d, c)?;
        }
        if let Some(p) = r.pids() {
            if p.limit() != 0 {
                fsio::write(d, "pids.max", &convert::v2_limit(p.limit()))?;
            }
        }
        if let Some(b) = r.block_io() {
            io(d, b, &mut w)?;
        }
        for h in r.hugepage_limits().iter().flatten() {
            convert::check_page_size(h.page_size())?;
            fsio::write(
                d,
                &format!("hugetlb.{}.max", h.page_size()),
                &convert::v2_limit(h.limit()),
            )?;
        }
        for (dev, l) in r.rdma().iter().flatten() {
            fsio::write(
                d,
                "rdma.max",
                &rdma_line(dev, l.hca_handles(), l.hca_objects())?,
            )?;
        }
        if r.network().is_some() {
            warn(
                &mut w,
                "network",
                "net_cls/net_prio do not exist on cgroup v2: ignored",
            );
        }
        if let Some(rules) = r.devices().as_deref().filter(|d| !d.is_empty()) {
            devices.install(d, devices_bpf::filter(rules)?.as_deref())?;
        }
        self.unified(r)?;
        Ok(w)
    }

    /// `linux.resources.unified`: validated keys written as given, after the typed fields
    /// so that they can override them (as the OCI spec says).
    fn unified(&self, r: &LinuxResources) -> Result<()> {
        let Some(map) = r.unified() else {
            return Ok(());
        };
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for k in keys {
            convert::check_unified_key(k)?;
            fsio::write(&self.dir, k, &map[k])?;
        }
        Ok(())
    }
}

fn memory(d: &Path, m: &LinuxMemory, w: &mut Vec<Warning>) -> Result<()> {
    let limit = m.limit().filter(|l| *l != 0);
    if let (Some(true), Some(l)) = (m.check_before_update(), limit) {
        let usage = fsio::read_u64(d, "memory.current")?;
        if l > 0 && (l as u64) < usage {
            return Err(CgroupError::Invalid {
                field: "memory.limit".into(),
                value: l.to_string(),
                reason: format!("below current usage {usage} (checkBeforeUpdate): raise the limit"),
            });
        }
    }
    if let Some(l) = limit {
        fsio::write(d, "memory.max", &convert::v2_limit(l))?;
    }
    if let Some(swap) = convert::swap_to_v2(m.swap().filter(|s| *s != 0), limit)? {
        if !fsio::exists(d, "memory.swap.max") {
            if swap != "max" {
                return Err(CgroupError::Unsupported {
                    what: "linux.resources.memory.swap".into(),
                    reason: "memory.swap.max is missing: the kernel has no swap accounting (CONFIG_MEMCG_SWAP)".into(),
                });
            }
        } else {
            fsio::write(d, "memory.swap.max", &swap)?;
        }
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        fsio::write(d, "memory.low", &convert::v2_limit(r))?;
    }
    #[allow(deprecated)] // `kernel` is deprecated in the spec; it is still accepted input
    let kernel = m.kernel();
    if kernel.is_some() || m.kernel_tcp().is_some() {
        warn(
            w,
            "memory.kernel",
            "kernel memory limits do not exist on cgroup v2: ignored",
        );
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::Invalid {
                field: "memory.swappiness".into(),
                value: s.to_string(),
                reason: "must be 0..=100".into(),
            });
        }
        warn(
            w,
            "memory.swappiness",
            "no per-cgroup swappiness on cgroup v2: ignored",
        );
    }
    if m.disable_oom_killer() == Some(true) {
        warn(
            w,
            "memory.disableOOMKiller",
            "the OOM killer cannot be disabled per cgroup on v2: ignored",
        );
    }
    Ok(())
}

fn cpu(d: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        fsio::write(d, "cpu.weight", &convert::shares_to_weight(s).to_string())?;
    }
    if let Some(line) = convert::cpu_max(
        c.quota().filter(|q| *q != 0),
        c.period().filter(|p| *p != 0),
    ) {
        fsio::write(d, "cpu.max", &line)?;
    }
    if let Some(b) = c.burst() {
        fsio::write(d, "cpu.max.burst", &b.to_string())?;
    }
    if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
        return Err(CgroupError::Unsupported {
            what: "linux.resources.cpu.realtimeRuntime/realtimePeriod".into(),
            reason: "realtime CPU bandwidth has no cgroup v2 interface: remove these fields".into(),
        });
    }
    if let Some(i) = c.idle() {
        fsio::write(d, "cpu.idle", &i.to_string())?;
    }
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        fsio::write(d, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        fsio::write(d, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// blockIO on v2: BFQ's `io.bfq.weight` takes the v1 range directly; otherwise the weight
/// is converted for `io.weight`. Throttles become `io.max` lines.
fn io(d: &Path, b: &LinuxBlockIo, w: &mut Vec<Warning>) -> Result<()> {
    let bfq = fsio::exists(d, "io.bfq.weight");
    if let Some(wt) = b.weight().filter(|v| *v != 0) {
        if bfq {
            fsio::write(d, "io.bfq.weight", &wt.to_string())?;
        } else {
            let v = convert::blkio_weight_to_io_weight(u64::from(wt));
            fsio::write(d, "io.weight", &format!("default {v}"))?;
        }
    }
    if b.leaf_weight().is_some() {
        warn(
            w,
            "blockIO.leafWeight",
            "no leaf weight on cgroup v2: ignored",
        );
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(wt) = wd.weight() {
            let (file, v) = if bfq {
                ("io.bfq.weight", u64::from(wt))
            } else {
                (
                    "io.weight",
                    convert::blkio_weight_to_io_weight(u64::from(wt)),
                )
            };
            fsio::write(d, file, &format!("{}:{} {v}", wd.major(), wd.minor()))?;
        }
        if wd.leaf_weight().is_some() {
            warn(
                w,
                "blockIO.weightDevice.leafWeight",
                "no leaf weight on cgroup v2: ignored",
            );
        }
    }
    let lists = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, list) in lists {
        for t in list.iter().flatten() {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            fsio::write(
                d,
                "io.max",
                &format!("{}:{} {key}={rate}", t.major(), t.minor()),
            )?;
        }
    }
    Ok(())
}

/// An `rdma.max` line; the device name is checked as it becomes part of the value.
pub(crate) fn rdma_line(dev: &str, handles: Option<u32>, objects: Option<u32>) -> Result<String> {
    if dev.is_empty() || dev.contains(char::is_whitespace) || dev.contains('/') {
        return Err(CgroupError::Invalid {
            field: "rdma".into(),
            value: dev.into(),
            reason: "expected an RDMA device name".into(),
        });
    }
    let f = |v: Option<u32>| v.map_or("max".to_string(), |n| n.to_string());
    Ok(format!(
        "{dev} hca_handle={} hca_object={}",
        f(handles),
        f(objects)
    ))
}

#[cfg(test)]
mod tests {
    use super::super::devices::tests::Recorder;
    use super::super::tests::{fixture, read};
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn memory_cpu_pids_land_in_v2_files() {
        let (_t, m) = fixture();
        let w = m
            .apply(&res(
                r#"{"memory":{"limit":104857600,"swap":209715200,"reservation":52428800,"swappiness":10},
                    "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0","mems":"0","idle":0},
                    "pids":{"limit":64}}"#,
            ))
            .unwrap();
        assert_eq!(read(&m, "memory.max"), "104857600");
        assert_eq!(read(&m, "memory.swap.max"), "104857600");
        assert_eq!(read(&m, "memory.low"), "52428800");
        assert_eq!(read(&m, "cpu.weight"), "39");
        assert_eq!(read(&m, "cpu.max"), "50000 100000");
        assert_eq!(read(&m, "cpu.idle"), "0");
        assert_eq!(read(&m, "cpuset.cpus"), "0");
        assert_eq!(read(&m, "pids.max"), "64");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].to_string().contains("swappiness"));
    }

    #[test]
    fn unlimited_values_are_max() {
        let (_t, m) = fixture();
        m.apply(&res(
            r#"{"memory":{"limit":-1},"pids":{"limit":-1},"cpu":{"quota":-1}}"#,
        ))
        .unwrap();
        assert_eq!(read(&m, "memory.max"), "max");
        assert_eq!(read(&m, "memory.swap.max"), "max");
        assert_eq!(read(&m, "pids.max"), "max");
        assert_eq!(read(&m, "cpu.max"), "max 100000");
    }

    #[test]
    fn io_hugetlb_rdma_unified() {
        let (_t, m) = fixture();
        m.apply(&res(
            r#"{"blockIO":{"weight":1000,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":2097152}],
                "rdma":{"mlx5_1":{"hcaHandles":3}},
                "unified":{"memory.high":"50000000"}}"#,
        ))
        .unwrap();
        assert_eq!(read(&m, "io.weight"), "default 10000");
        assert_eq!(read(&m, "io.max"), "8:0 rbps=1048576");
        assert_eq!(read(&m, "hugetlb.2MB.max"), "2097152");
        assert_eq!(read(&m, "rdma.max"), "mlx5_1 hca_handle=3 hca_object=max");
        assert_eq!(read(&m, "memory.high"), "50000000");
    }

    #[test]
    fn rejections_name_the_field() {
        let (_t, m) = fixture();
        let e = m
            .apply(&res(r#"{"unified":{"../../etc/passwd":"x"}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unified.") && e.contains("path separators"),
            "{e}"
        );
        let e = m
            .apply(&res(r#"{"cpu":{"realtimeRuntime":1000}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("realtime"), "{e}");
        let e = m
            .apply(&res(r#"{"memory":{"swap":100}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory.swap"), "{e}");
        let e = m
            .apply(&res(r#"{"unified":{"memory.nonexistent":"1"}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("memory.nonexistent=1") && e.contains("ENOENT"),
            "{e}"
        );
        let e = m
            .apply(&res(
                r#"{"hugepageLimits":[{"pageSize":"2MB/../x","limit":1}]}"#,
            ))
            .unwrap_err();
        assert!(e.to_string().contains("pageSize"), "{e}");
    }

    #[test]
    fn devices_become_a_program_on_the_directory() {
        let (_t, m) = fixture();
        let rec = Recorder::default();
        let w = m
            .apply_with(
                &res(r#"{"devices":[{"allow":false,"access":"rwm"},
                    {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#),
                &rec,
            )
            .unwrap();
        assert!(w.is_empty(), "{w:?}");
        // Allow-all needs no program; no device field leaves the filter alone.
        m.apply_with(&res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#), &rec)
            .unwrap();
        m.apply_with(&res(r#"{"pids":{"limit":5}}"#), &rec).unwrap();
        let calls = rec.0.borrow();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].0, m.dir);
        let expected = devices_bpf::filter(
            &res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#)
            .devices()
            .clone()
            .unwrap(),
        )
        .unwrap();
        assert_eq!(calls[0].1, expected);
        assert_eq!(calls[1], (m.dir.clone(), None));
        let e = m
            .apply_with(&res(r#"{"devices":[{"allow":true,"access":"x"}]}"#), &rec)
            .unwrap_err();
        assert!(e.to_string().contains("devices.access=x"), "{e}");
    }
}
