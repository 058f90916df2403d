//! Statistics from cgroup v1 controller files, in the runc-shaped [`Stats`].

use std::path::Path;

use super::V1Manager;
use crate::error::Result;
use crate::fsio;
use crate::stats::{parse_v1_blkio, read_cpuset, HugetlbStats, MemoryEntry, Stats};

/// `cpuacct.stat` counts in USER_HZ ticks, which Linux fixes at 100 per second.
const NS_PER_TICK: u64 = 10_000_000;

impl V1Manager {
    /// Reads cpu, memory, pids, blkio and hugetlb statistics; absent controllers give zeros.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        if let Some(d) = self.dir_of("cpuacct") {
            s.cpu.usage.total = fsio::read_u64_opt(d, "cpuacct.usage")?.unwrap_or(0);
            if let Some(t) = fsio::read_opt(d, "cpuacct.usage_percpu")? {
                s.cpu.usage.percpu = t
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect();
            }
            let list = |f: &str| -> Result<Vec<u64>> {
                Ok(fsio::read_opt(d, f)?
                    .map(|t| {
                        t.split_whitespace()
                            .filter_map(|v| v.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default())
            };
            s.cpu.usage.percpu_kernel = list("cpuacct.usage_percpu_sys")?;
            s.cpu.usage.percpu_user = list("cpuacct.usage_percpu_user")?;
            if let Some(t) = fsio::read_opt(d, "cpuacct.stat")? {
                s.cpu.usage.user = fsio::keyed(&t, "user").unwrap_or(0) * NS_PER_TICK;
                s.cpu.usage.kernel = fsio::keyed(&t, "system").unwrap_or(0) * NS_PER_TICK;
            }
        }
        if let Some(d) = self.dir_of("cpu") {
            if let Some(t) = fsio::read_opt(d, "cpu.stat")? {
                s.cpu.throttling.periods = fsio::keyed(&t, "nr_periods").unwrap_or(0);
                s.cpu.throttling.throttled_periods = fsio::keyed(&t, "nr_throttled").unwrap_or(0);
                s.cpu.throttling.throttled_time = fsio::keyed(&t, "throttled_time").unwrap_or(0);
            }
        }
        if let Some(d) = self.dir_of("cpuset") {
            s.cpuset = read_cpuset(d)?;
        }
        if let Some(d) = self.dir_of("memory") {
            memory(d, &mut s)?;
        }
        if let Some(d) = self.dir_of("pids") {
            s.pids.current = fsio::read_u64_opt(d, "pids.current")?.unwrap_or(0);
            s.pids.limit = match fsio::read_u64_opt(d, "pids.max")? {
                Some(u64::MAX) | None => 0,
                Some(v) => v,
            };
        }
        if let Some(d) = self.dir_of("blkio") {
            s.blkio.io_service_bytes_recursive = blkio_list(d, "io_service_bytes")?;
            s.blkio.io_serviced_recursive = blkio_list(d, "io_serviced")?;
        }
        if let Some(d) = self.dir_of("hugetlb") {
            for size in fsio::hugetlb_sizes(d, ".limit_in_bytes") {
                let f = |x: &str| format!("hugetlb.{size}.{x}");
                let h = HugetlbStats {
                    usage: fsio::read_u64_opt(d, &f("usage_in_bytes"))?.unwrap_or(0),
                    max: fsio::read_u64_opt(d, &f("max_usage_in_bytes"))?.unwrap_or(0),
                    failcnt: fsio::read_u64_opt(d, &f("failcnt"))?.unwrap_or(0),
                };
                s.hugetlb.insert(size, h);
            }
        } else if let Some(u) = &self.unified {
            s.hugetlb = u.stats()?.hugetlb;
        }
        Ok(s)
    }
}

fn entry(d: &Path, prefix: &str) -> Result<MemoryEntry> {
    let f = |x: &str| format!("{prefix}{x}");
    Ok(MemoryEntry {
        limit: fsio::read_u64_opt(d, &f("limit_in_bytes"))?.unwrap_or(0),
        usage: fsio::read_u64_opt(d, &f("usage_in_bytes"))?.unwrap_or(0),
        max: fsio::read_u64_opt(d, &f("max_usage_in_bytes"))?.unwrap_or(0),
        failcnt: fsio::read_u64_opt(d, &f("failcnt"))?.unwrap_or(0),
    })
}

fn memory(d: &Path, s: &mut Stats) -> Result<()> {
    s.memory.usage = entry(d, "memory.")?;
    s.memory.swap = entry(d, "memory.memsw.")?;
    s.memory.kernel = entry(d, "memory.kmem.")?;
    s.memory.kernel_tcp = entry(d, "memory.kmem.tcp.")?;
    if let Some(t) = fsio::read_opt(d, "memory.stat")? {
        s.memory.raw = fsio::parse_flat_keyed(&t).into_iter().collect();
        let raw = &s.memory.raw;
        s.memory.cache = raw
            .get("total_cache")
            .or_else(|| raw.get("cache"))
            .copied()
            .unwrap_or(0);
    }
    Ok(())
}

/// BFQ's recursive counters when the kernel has them and they are non-empty, else the
/// throttle layer's, which count every I/O of the group.
fn blkio_list(d: &Path, what: &str) -> Result<Vec<crate::stats::BlkioEntry>> {
    for f in [
        format!("blkio.bfq.{what}_recursive"),
        format!("blkio.{what}_recursive"),
        format!("blkio.throttle.{what}_recursive"),
        format!("blkio.throttle.{what}"),
    ] {
        if let Some(t) = fsio::read_opt(d, &f)? {
            let v = parse_v1_blkio(&t);
            if !v.is_empty() {
                return Ok(v);
            }
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;

    #[test]
    fn stats_from_v1_files() {
        let (_t, m) = fixture();
        let w =
            |c: &str, f: &str, v: &str| std::fs::write(m.dir_of(c).unwrap().join(f), v).unwrap();
        w("cpuacct", "cpuacct.usage", "3000\n");
        w("cpuacct", "cpuacct.usage_percpu", "1000 2000 \n");
        w("cpuacct", "cpuacct.stat", "user 2\nsystem 1\n");
        w(
            "cpu",
            "cpu.stat",
            "nr_periods 5\nnr_throttled 2\nthrottled_time 777\n",
        );
        w("memory", "memory.usage_in_bytes", "4096\n");
        w("memory", "memory.max_usage_in_bytes", "8192\n");
        w("memory", "memory.failcnt", "1\n");
        for f in ["memory.memsw.limit_in_bytes", "memory.kmem.limit_in_bytes"] {
            w("memory", f, "9223372036854771712\n");
        }
        w(
            "memory",
            "memory.stat",
            "cache 10\nrss 20\ntotal_cache 30\n",
        );
        w("pids", "pids.current", "2\n");
        w("pids", "pids.max", "max\n");
        w(
            "blkio",
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 512\n8:0 Write 0\nTotal 512\n",
        );
        let s = m.stats().unwrap();
        assert_eq!(s.cpu.usage.total, 3000);
        assert_eq!(s.cpu.usage.percpu, [1000, 2000]);
        assert_eq!(s.cpu.usage.user, 20_000_000);
        assert_eq!(s.cpu.throttling.throttled_periods, 2);
        assert_eq!(s.memory.usage.limit, 9_223_372_036_854_771_712);
        assert_eq!(s.memory.usage.max, 8192);
        assert_eq!(s.memory.usage.failcnt, 1);
        assert_eq!(s.memory.cache, 30);
        assert_eq!(s.pids.current, 2);
        assert_eq!(s.pids.limit, 0);
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
    }
}
