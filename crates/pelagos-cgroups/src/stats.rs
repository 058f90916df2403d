//! Resource statistics shaped like the `data` object of runc's `events --stats` JSON, so
//! tools that parse runc's output read ours unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// All statistics of one cgroup (the `data` of a `{"type":"stats"}` event).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// CPUs and memory nodes the group may use.
    pub cpuset: CpusetStats,
    /// Memory usage and limits.
    pub memory: MemoryStats,
    /// Process count.
    pub pids: PidsStats,
    /// Block I/O counters.
    pub blkio: BlkioStats,
    /// Per page size (`2MB`...).
    pub hugetlb: BTreeMap<String, HugetlbStats>,
    /// Intel RDT is not managed here; present (empty) because runc always emits it.
    pub intel_rdt: BTreeMap<String, serde_json::Value>,
    /// Network interfaces are not cgroup data; `null` as in runc without them.
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

/// The cpuset of the group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpusetStats {
    /// CPUs (`cpuset.cpus` or `cpuset.cpus.effective`), expanded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// Memory nodes, expanded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
}

/// CPU statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Consumed CPU time.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU (v1 `cpuacct.usage_percpu`; empty on v2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU in kernel mode (v1 `cpuacct.usage_percpu_sys`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU in user mode (v1 `cpuacct.usage_percpu_user`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Time in kernel mode.
    pub kernel: u64,
    /// Time in user mode.
    pub user: u64,
}

/// CFS throttling counters (time in nanoseconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    /// Enforcement periods elapsed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the group was throttled.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total throttled time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// One memory counter set; `limit` is `u64::MAX` when unlimited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// The limit.
    pub limit: u64,
    /// Current usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (when the kernel records it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Memory statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Page cache bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory plus swap (v1 memsw semantics; on v2 computed as memory + swap).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 only).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat` as read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Process counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Processes and threads now.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// The limit; `0` when unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One block I/O counter for a device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The counter.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// Block I/O statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlkioStats {
    /// Bytes transferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations issued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// Huge page usage for one page size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HugetlbStats {
    /// Bytes in use.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak bytes (v1) .
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Allocation failures at the limit.
    pub failcnt: u64,
}

/// Expands a cpuset list such as `0-2,5` (unparsable parts are skipped).
pub(crate) fn parse_cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
            if b >= a && b - a < 4096 {
                out.extend(a..=b);
            }
        }
    }
    out
}

/// Reads the cpuset of `dir` (effective values preferred, as they are what applies).
pub(crate) fn read_cpuset(dir: &std::path::Path) -> crate::error::Result<CpusetStats> {
    let pick = |names: [&str; 2]| -> crate::error::Result<Vec<u16>> {
        for n in names {
            if let Some(t) = crate::fsio::read_opt(dir, n)? {
                if !t.trim().is_empty() {
                    return Ok(parse_cpu_list(&t));
                }
            }
        }
        Ok(Vec::new())
    };
    Ok(CpusetStats {
        cpus: pick(["cpuset.cpus.effective", "cpuset.cpus"])?,
        mems: pick(["cpuset.mems.effective", "cpuset.mems"])?,
    })
}

/// Parses `maj:min Op value` lines of v1 blkio files (`Total` lines are skipped).
pub(crate) fn parse_v1_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (maj, min) = f[0].split_once(':')?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f[1].to_owned(),
                value: f[2].parse().ok()?,
            })
        })
        .collect()
}

/// Parses v2 `io.stat` into (bytes, ios) entries with runc's op names.
pub(crate) fn parse_io_stat(text: &str) -> BlkioStats {
    let mut out = BlkioStats::default();
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut out.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut out.io_service_bytes_recursive, "Write"),
                "dbytes" => (&mut out.io_service_bytes_recursive, "Discard"),
                "rios" => (&mut out.io_serviced_recursive, "Read"),
                "wios" => (&mut out.io_serviced_recursive, "Write"),
                "dios" => (&mut out.io_serviced_recursive, "Discard"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_runc() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5;
        s.cpu.usage.percpu = vec![2, 3];
        s.memory.usage.limit = 10;
        s.pids.current = 1;
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu"]["usage"]["total"], 5);
        assert_eq!(v["cpu"]["usage"]["percpu"][1], 3);
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert!(v["cpu"]["throttling"].is_object());
        assert_eq!(v["memory"]["usage"]["limit"], 10);
        assert_eq!(v["memory"]["usage"]["failcnt"], 0);
        assert!(v["memory"]["kernelTCP"].is_object());
        assert_eq!(v["pids"]["current"], 1);
        assert!(v["blkio"].is_object() && v["hugetlb"].is_object());
        assert!(v["cpuset"].is_object() && v["intel_rdt"].is_object());
        assert!(v["network_interfaces"].is_null());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-2,5\n"), [0, 1, 2, 5]);
        assert_eq!(parse_cpu_list(""), Vec::<u16>::new());
        assert_eq!(parse_cpu_list("3-1,x,7"), [7]);
    }

    #[test]
    fn blkio_parsers() {
        let v1 = parse_v1_blkio("8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n");
        assert_eq!(v1.len(), 3);
        assert_eq!(
            v1[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        let v2 = parse_io_stat("8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
        assert_eq!(v2.io_service_bytes_recursive.len(), 3);
        assert_eq!(v2.io_serviced_recursive[1].value, 4);
        assert_eq!(v2.io_service_bytes_recursive[0].minor, 16);
    }
}
