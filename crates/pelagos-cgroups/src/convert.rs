//! Value conversions between the OCI resource model (shaped after cgroup v1) and the
//! cgroup v2 interface files. Each function documents the formula it implements.

use crate::error::{CgroupError, Result};

/// Default CFS period (µs) used when a quota is given without a period.
pub const DEFAULT_CPU_PERIOD_US: u64 = 100_000;

/// v1 `cpu.shares` (2..=262144) to v2 `cpu.weight` (1..=10000).
///
/// `weight = 1 + ((shares - 2) * 9999) / 262142`, the linear mapping runc, crun and
/// youki have used since cgroup v2 support began: it maps the v1 range onto the v2 range
/// end to end (2 -> 1, 262144 -> 10000). The v1 default 1024 becomes 39, not the v2
/// default 100, which is why newer runc releases moved to a curve; the linear form is
/// kept here because it is what existing tools read back. `0` means unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// v1 `blkio.weight` (10..=1000) to v2 `io.weight` (1..=10000):
/// `1 + (weight - 10) * 9999 / 990` (runc's mapping). `0` means unset.
pub fn blkio_weight_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = weight.clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

/// The OCI `memory.swap` (memory + swap, as v1 `memory.memsw.limit_in_bytes`) to v2
/// `memory.swap.max` (swap alone): `swap - limit`.
///
/// `-1` is unlimited ("max"); `None` leaves the file alone. A swap value with an
/// unlimited memory limit and no swap means both unlimited, as runc treats it.
pub fn swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>> {
    let invalid = |reason: &str| CgroupError::Invalid {
        field: "memory.swap".into(),
        value: format!("{swap:?} (limit {limit:?})"),
        reason: reason.into(),
    };
    let limit = limit.unwrap_or(0);
    match swap {
        None | Some(0) if limit == -1 => Ok(Some("max".into())),
        None | Some(0) => Ok(None),
        Some(-1) => Ok(Some("max".into())),
        Some(s) if s < 0 => Err(invalid("must be -1 (unlimited) or a byte count")),
        Some(_) if limit == 0 || limit == -1 => Err(invalid(
            "a swap limit needs a memory limit: set memory.limit too",
        )),
        Some(s) if s < limit => Err(invalid("memory+swap must be >= the memory limit")),
        Some(s) => Ok(Some((s - limit).to_string())),
    }
}

/// A byte limit for v2 files: negative is "max".
pub fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// A byte limit for v1 files: negative is `-1` (unlimited).
pub fn v1_limit(v: i64) -> String {
    if v < 0 {
        "-1".into()
    } else {
        v.to_string()
    }
}

/// The v2 `cpu.max` line for an OCI quota/period pair, or `None` if neither is set.
/// A quota of `-1` or none is "max"; a missing period is the kernel default 100ms.
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let q = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".into(),
    };
    let p = period.filter(|p| *p > 0).unwrap_or(DEFAULT_CPU_PERIOD_US);
    Some(format!("{q} {p}"))
}

/// Checks a hugepage size such as `2MB` or `1GB` before it becomes part of a file name.
pub fn check_page_size(size: &str) -> Result<()> {
    let ok = !size.is_empty()
        && size.len() <= 8
        && size.bytes().all(|b| b.is_ascii_alphanumeric())
        && size.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(CgroupError::Invalid {
            field: "hugepageLimits.pageSize".into(),
            value: size.into(),
            reason: "expected a size such as 2MB or 1GB".into(),
        })
    }
}

/// Checks a `linux.resources.unified` key: `<controller>.<file>` with no path separator.
pub fn check_unified_key(key: &str) -> Result<()> {
    let invalid = |reason: &str| CgroupError::Invalid {
        field: format!("unified.{key}"),
        value: key.into(),
        reason: reason.into(),
    };
    if key.contains('/') || key.contains('\0') || key.starts_with('.') || key.contains("..") {
        return Err(invalid(
            "keys are cgroup file names: no path separators or '..'",
        ));
    }
    let Some((ctrl, file)) = key.split_once('.') else {
        return Err(invalid("expected <controller>.<file>, e.g. memory.high"));
    };
    let good = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    if !good(ctrl) || !good(file) {
        return Err(invalid("only letters, digits, '_' and '.' are allowed"));
    }
    if ctrl == "cgroup" && !matches!(file, "max.depth" | "max.descendants") {
        return Err(invalid(
            "cgroup.* files other than max.depth/max.descendants are managed by the runtime",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_weight_endpoints() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(1), 1);
    }

    #[test]
    fn blkio_weight_endpoints() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(
            swap_to_v2(Some(300), Some(100)).unwrap().as_deref(),
            Some("200")
        );
        assert_eq!(
            swap_to_v2(Some(100), Some(100)).unwrap().as_deref(),
            Some("0")
        );
        assert_eq!(
            swap_to_v2(Some(-1), Some(100)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(swap_to_v2(None, Some(-1)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_to_v2(None, Some(100)).unwrap(), None);
        assert!(swap_to_v2(Some(50), Some(100)).is_err());
        assert!(swap_to_v2(Some(50), None)
            .unwrap_err()
            .to_string()
            .contains("memory.swap"));
    }

    #[test]
    fn cpu_max_forms() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(50_000), None).unwrap(), "50000 100000");
        assert_eq!(cpu_max(Some(-1), Some(20_000)).unwrap(), "max 20000");
        assert_eq!(cpu_max(None, Some(20_000)).unwrap(), "max 20000");
    }

    #[test]
    fn keys_and_sizes() {
        check_page_size("2MB").unwrap();
        assert!(check_page_size("../x").is_err());
        assert!(check_page_size("").is_err());
        check_unified_key("memory.high").unwrap();
        check_unified_key("io.bfq.weight").unwrap();
        check_unified_key("cgroup.max.depth").unwrap();
        for k in [
            "../memory.max",
            "memory/max",
            "memory",
            "cgroup.procs",
            "a..b",
            "x.y z",
        ] {
            assert!(check_unified_key(k).is_err(), "{k}");
        }
    }
}
