//! Device cgroup rules: the v1 `devices.allow` / `devices.deny` writes for an OCI
//! `linux.resources.devices` list, with runc's default-deny-then-allow semantics.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{CgroupError, Result};

/// One line for `devices.allow` (`allow == true`) or `devices.deny`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceWrite {
    /// Target file: `devices.allow` or `devices.deny`.
    pub file: &'static str,
    /// The rule text, e.g. `c 1:3 rwm` or `a`.
    pub line: String,
}

/// The writes that make a fresh v1 devices cgroup match `rules`.
///
/// The cgroup starts from deny-all (`a` to `devices.deny`), then each rule is written in
/// order, so later rules override earlier ones as in the OCI spec. A rule for all devices
/// with full `rwm` access resets the list (`a`); with partial access it is expanded into a
/// char and a block rule, because the kernel treats `a` as "everything" regardless of
/// the access given.
pub fn v1_writes(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceWrite>> {
    let mut out = vec![DeviceWrite {
        file: "devices.deny",
        line: "a".into(),
    }];
    for r in rules {
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let access = normalize_access(r.access().as_deref().unwrap_or("rwm"))?;
        let num = |n: Option<i64>| -> Result<String> {
            match n {
                None | Some(-1) => Ok("*".into()),
                Some(v) if v >= 0 => Ok(v.to_string()),
                Some(v) => Err(CgroupError::Invalid {
                    field: "devices".into(),
                    value: v.to_string(),
                    reason: "major/minor must be >= 0 or omitted for any".into(),
                }),
            }
        };
        let (maj, min) = (num(r.major())?, num(r.minor())?);
        let typ = r.typ().unwrap_or(LinuxDeviceType::A);
        match typ {
            LinuxDeviceType::A if maj == "*" && min == "*" && access == "rwm" => {
                out.push(DeviceWrite {
                    file,
                    line: "a".into(),
                });
            }
            LinuxDeviceType::A => {
                for t in ["c", "b"] {
                    out.push(DeviceWrite {
                        file,
                        line: format!("{t} {maj}:{min} {access}"),
                    });
                }
            }
            LinuxDeviceType::U | LinuxDeviceType::C => {
                out.push(DeviceWrite {
                    file,
                    line: format!("c {maj}:{min} {access}"),
                });
            }
            LinuxDeviceType::B => out.push(DeviceWrite {
                file,
                line: format!("b {maj}:{min} {access}"),
            }),
            // FIFOs are not subject to the device cgroup.
            LinuxDeviceType::P => {}
        }
    }
    // The same line twice in a row changes nothing the second time (typically the reset
    // followed by the config's own deny-all).
    out.dedup();
    Ok(out)
}

/// Keeps `r`, `w`, `m` in canonical order; rejects other letters.
fn normalize_access(a: &str) -> Result<String> {
    if a.is_empty() || a.bytes().any(|b| !matches!(b, b'r' | b'w' | b'm')) {
        return Err(CgroupError::Invalid {
            field: "devices.access".into(),
            value: a.into(),
            reason: "expected a combination of r, w and m".into(),
        });
    }
    Ok(['r', 'w', 'm'].iter().filter(|c| a.contains(**c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn default_deny_then_rules_in_order() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"wr"},
                {"allow":true,"type":"b","major":8,"minor":0,"access":"r"},
                {"allow":false,"type":"a","major":5,"access":"m"},
                {"allow":true,"type":"p"}]"#,
        );
        let w: Vec<(&str, String)> = v1_writes(&r)
            .unwrap()
            .into_iter()
            .map(|d| (d.file, d.line))
            .collect();
        assert_eq!(
            w,
            [
                ("devices.deny", "a".to_string()),
                ("devices.allow", "c 1:3 rwm".into()),
                ("devices.allow", "c 136:* rw".into()),
                ("devices.allow", "b 8:0 r".into()),
                ("devices.deny", "c 5:* m".into()),
                ("devices.deny", "b 5:* m".into()),
            ]
        );
    }

    #[test]
    fn bad_access_rejected() {
        let r = rules(r#"[{"allow":true,"access":"rx"}]"#);
        assert!(v1_writes(&r)
            .unwrap_err()
            .to_string()
            .contains("devices.access"));
    }
}
