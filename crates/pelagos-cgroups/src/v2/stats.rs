//! Statistics from cgroup v2 files, converted to the runc-shaped [`Stats`].

use std::path::Path;

use super::V2Manager;
use crate::error::Result;
use crate::fsio;
use crate::stats::{parse_io_stat, read_cpuset, HugetlbStats, MemoryEntry, Stats};

impl V2Manager {
    /// Reads cpu, memory, pids, io and hugetlb statistics; absent controllers give zeros.
    pub fn stats(&self) -> Result<Stats> {
        let d = self.dir.as_path();
        let mut s = Stats::default();
        if let Some(t) = fsio::read_opt(d, "cpu.stat")? {
            let k = |key| fsio::keyed(&t, key).unwrap_or(0);
            s.cpu.usage.total = k("usage_usec") * 1000;
            s.cpu.usage.user = k("user_usec") * 1000;
            s.cpu.usage.kernel = k("system_usec") * 1000;
            s.cpu.throttling.periods = k("nr_periods");
            s.cpu.throttling.throttled_periods = k("nr_throttled");
            s.cpu.throttling.throttled_time = k("throttled_usec") * 1000;
        }
        s.cpuset = read_cpuset(d)?;
        memory(d, &mut s)?;
        s.pids.current = fsio::read_u64_opt(d, "pids.current")?.unwrap_or(0);
        s.pids.limit = match fsio::read_u64_opt(d, "pids.max")? {
            Some(u64::MAX) | None => 0,
            Some(v) => v,
        };
        if let Some(t) = fsio::read_opt(d, "io.stat")? {
            s.blkio = parse_io_stat(&t);
        }
        for size in fsio::hugetlb_sizes(d, ".current") {
            let f = |suffix: &str| format!("hugetlb.{size}.{suffix}");
            let failcnt = fsio::read_opt(d, &f("events"))?
                .and_then(|t| fsio::keyed(&t, "max"))
                .unwrap_or(0);
            let h = HugetlbStats {
                usage: fsio::read_u64_opt(d, &f("current"))?.unwrap_or(0),
                max: 0,
                failcnt,
            };
            s.hugetlb.insert(size, h);
        }
        Ok(s)
    }
}

/// Memory: `swap` follows v1 memsw semantics (memory + swap) as runc reports it.
fn memory(d: &Path, s: &mut Stats) -> Result<()> {
    let Some(current) = fsio::read_u64_opt(d, "memory.current")? else {
        return Ok(());
    };
    let events = fsio::read_opt(d, "memory.events")?.unwrap_or_default();
    s.memory.usage = MemoryEntry {
        limit: fsio::read_u64_opt(d, "memory.max")?.unwrap_or(u64::MAX),
        usage: current,
        max: fsio::read_u64_opt(d, "memory.peak")?.unwrap_or(0),
        failcnt: fsio::keyed(&events, "max").unwrap_or(0),
    };
    if let Some(swap) = fsio::read_u64_opt(d, "memory.swap.current")? {
        let swap_max = fsio::read_u64_opt(d, "memory.swap.max")?.unwrap_or(u64::MAX);
        let mem_max = s.memory.usage.limit;
        s.memory.swap = MemoryEntry {
            limit: if swap_max == u64::MAX || mem_max == u64::MAX {
                u64::MAX
            } else {
                swap_max + mem_max
            },
            usage: swap + current,
            max: 0,
            failcnt: 0,
        };
    }
    if let Some(t) = fsio::read_opt(d, "memory.stat")? {
        s.memory.raw = fsio::parse_flat_keyed(&t).into_iter().collect();
        s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;

    #[test]
    fn stats_from_v2_files() {
        let (_t, m) = fixture();
        let w = |f: &str, v: &str| std::fs::write(m.dir.join(f), v).unwrap();
        w("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n");
        w("memory.current", "4096\n");
        w("memory.max", "max\n");
        w("memory.peak", "8192\n");
        w("memory.events", "low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\n");
        w("memory.swap.current", "0\n");
        w("memory.swap.max", "max\n");
        w("memory.stat", "anon 100\nfile 200\n");
        w("pids.current", "3\n");
        w("pids.max", "64\n");
        w(
            "io.stat",
            "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
        );
        w("hugetlb.2MB.current", "0\n");
        w("hugetlb.2MB.events", "max 1\n");
        let s = m.stats().unwrap();
        assert_eq!(s.cpu.usage.total, 1_500_000);
        assert_eq!(s.cpu.usage.kernel, 500_000);
        assert_eq!(s.cpu.throttling.throttled_time, 20_000);
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.memory.usage.max, 8192);
        assert_eq!(s.memory.usage.failcnt, 2);
        assert_eq!(s.memory.swap.usage, 4096);
        assert_eq!(s.memory.cache, 200);
        assert_eq!(s.pids.current, 3);
        assert_eq!(s.pids.limit, 64);
        assert_eq!(s.blkio.io_service_bytes_recursive[1].value, 20);
        assert_eq!(s.hugetlb["2MB"].failcnt, 1);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["memory"]["raw"]["file"], 200);
    }
}
