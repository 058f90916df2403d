//! Capability names to kernel numbers, and the five capability sets as bit masks.

use std::str::FromStr;

/// The five capability sets of a process, bit `n` standing for capability `n`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// The kernel number of a capability name (`CAP_SYS_ADMIN`, case-insensitive, the
/// `CAP_` prefix optional); `None` for names this build does not know.
pub fn cap_number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    caps::Capability::from_str(&full)
        .ok()
        .map(|c| u32::from(c.index()))
}

/// Turn a list of names into a mask; unknown names and capabilities above `last_cap`
/// (unsupported by the running kernel) are skipped and reported in `skipped`.
pub(crate) fn mask_of(names: &[String], last_cap: u32, skipped: &mut Vec<String>) -> u64 {
    let mut mask = 0u64;
    for n in names {
        match cap_number(n) {
            Some(bit) if bit <= last_cap && bit < 64 => mask |= 1u64 << bit,
            _ => {
                if !skipped.contains(n) {
                    skipped.push(n.clone());
                }
            }
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("sys_admin"), Some(21));
        assert_eq!(cap_number("CAP_NOPE"), None);
        let mut skipped = vec![];
        let m = mask_of(
            &["CAP_KILL".into(), "CAP_NOPE".into(), "CAP_BPF".into()],
            38,
            &mut skipped,
        );
        assert_eq!(m, 1 << 5, "CAP_BPF (39) is above last_cap 38");
        assert_eq!(skipped, vec!["CAP_NOPE".to_string(), "CAP_BPF".to_string()]);
    }
}
