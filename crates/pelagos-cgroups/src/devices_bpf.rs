//! The cgroup v2 device filter as data: an eBPF `BPF_PROG_TYPE_CGROUP_DEVICE` program
//! compiled from OCI device rules. This module only produces the instructions (and checks
//! them with a small interpreter in its tests); `v2::devices` loads and attaches them.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! where `access_type = (access << 16) | type`. Rules are evaluated like the v1 device
//! list: start from deny-all, later rules override earlier ones. The program therefore
//! checks rules from last to first and returns the verdict of the first that matches; a
//! rule for every device with `rwm` decides everything before it, so emission stops there.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{CgroupError, Result};

/// `bpf_attr.prog_type` for the program (`BPF_PROG_TYPE_CGROUP_DEVICE`).
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `bpf_attr.attach_type` for `BPF_PROG_ATTACH` on the cgroup fd (`BPF_CGROUP_DEVICE`).
pub const ATTACH_TYPE_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: attach beside programs of ancestors, as runc and crun do.
pub const F_ALLOW_MULTI: u32 = 2;
/// The license string the program is loaded with. The kernel asks for a GPL-compatible
/// license only from programs that call GPL-only helpers; this one calls no helper at all.
pub const LICENSE: &std::ffi::CStr = c"Apache-2.0";

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Offset (memory access or jump).
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The 8 bytes of the instruction in the host's layout of `struct bpf_insn`.
    pub fn to_bytes(self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.src << 4) | (self.dst & 0xf)
        } else {
            (self.dst << 4) | (self.src & 0xf)
        };
        let off = self.off.to_ne_bytes();
        let imm = self.imm.to_ne_bytes();
        [
            self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }
}

// Opcodes used (class | op | source).
const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND_K: u8 = 0x57; // dst &= imm
const RSH_K: u8 = 0x77; // dst >>= imm
const MOV_X: u8 = 0xbf; // dst = src
const MOV_K: u8 = 0xb7; // dst = imm
const JNE_K: u8 = 0x55; // if dst != imm goto pc + 1 + off
const JNE_X: u8 = 0x5d; // if dst != src goto pc + 1 + off
const EXIT: u8 = 0x95;

/// The program bytes for `rules`, ready for `bpf_attr.insns`, or `None` when they allow every access to every device
/// (no filter is needed then).
pub fn filter(rules: &[LinuxDeviceCgroup]) -> Result<Option<Vec<u8>>> {
    let p = program(rules)?;
    if p.len() == PROLOGUE_LEN + 2 && p[PROLOGUE_LEN].imm == 1 {
        return Ok(None);
    }
    Ok(Some(p.into_iter().flat_map(Insn::to_bytes).collect()))
}

/// How many instructions load the context before the first rule.
const PROLOGUE_LEN: usize = 6;

/// Compiles `rules` into the filter program.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut p = vec![
        Insn::new(LDX_W, 2, 1, 0, 0),
        Insn::new(AND_K, 2, 0, 0, 0xffff),
        Insn::new(LDX_W, 3, 1, 0, 0),
        Insn::new(RSH_K, 3, 0, 0, 16),
        Insn::new(LDX_W, 4, 1, 4, 0),
        Insn::new(LDX_W, 5, 1, 8, 0),
    ];
    let mut default_allow = false;
    for r in rules.iter().rev() {
        let m = Match::of(r)?;
        if m.everything() {
            default_allow = r.allow();
            break;
        }
        if m.typ == Some(0) {
            continue; // FIFOs: never subject to the device cgroup
        }
        p.extend(m.block(r.allow()));
    }
    p.push(Insn::new(MOV_K, 0, 0, 0, i32::from(default_allow)));
    p.push(Insn::new(EXIT, 0, 0, 0, 0));
    Ok(p)
}

/// What a rule matches: `None` fields match anything.
struct Match {
    typ: Option<i32>,
    access: i32,
    major: Option<i32>,
    minor: Option<i32>,
}

impl Match {
    fn of(r: &LinuxDeviceCgroup) -> Result<Match> {
        let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
            LinuxDeviceType::P => Some(0),
        };
        let mut access = 0;
        for c in r.access().as_deref().unwrap_or("rwm").chars() {
            access |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => {
                    return Err(CgroupError::Invalid {
                        field: "devices.access".into(),
                        value: r.access().clone().unwrap_or_default(),
                        reason: "expected a combination of r, w and m".into(),
                    })
                }
            };
        }
        let num = |n: Option<i64>| -> Result<Option<i32>> {
            match n {
                None | Some(-1) => Ok(None),
                Some(v) => i32::try_from(v)
                    .ok()
                    .filter(|v| *v >= 0)
                    .map(Some)
                    .ok_or_else(|| CgroupError::Invalid {
                        field: "devices".into(),
                        value: v.to_string(),
                        reason: "major/minor must be a 32-bit number >= 0 or omitted for any"
                            .into(),
                    }),
            }
        };
        Ok(Match {
            typ,
            access,
            major: num(r.major())?,
            minor: num(r.minor())?,
        })
    }

    fn everything(&self) -> bool {
        self.typ.is_none() && self.major.is_none() && self.minor.is_none() && self.access == 7
    }

    /// The checks of one rule; each failed check jumps past the block's verdict.
    fn block(&self, allow: bool) -> Vec<Insn> {
        let mut checks: Vec<Insn> = Vec::new();
        if let Some(t) = self.typ {
            checks.push(Insn::new(JNE_K, 2, 0, 0, t));
        }
        if self.access != 7 {
            // Match only if every requested access bit is allowed by the rule.
            checks.push(Insn::new(MOV_X, 1, 3, 0, 0));
            checks.push(Insn::new(AND_K, 1, 0, 0, self.access));
            checks.push(Insn::new(JNE_X, 1, 3, 0, 0));
        }
        if let Some(m) = self.major {
            checks.push(Insn::new(JNE_K, 4, 0, 0, m));
        }
        if let Some(m) = self.minor {
            checks.push(Insn::new(JNE_K, 5, 0, 0, m));
        }
        checks.push(Insn::new(MOV_K, 0, 0, 0, i32::from(allow)));
        checks.push(Insn::new(EXIT, 0, 0, 0, 0));
        let len = checks.len();
        for (i, insn) in checks.iter_mut().enumerate() {
            if insn.code == JNE_K || insn.code == JNE_X {
                // Land on the first instruction after this block.
                insn.off = (len - i - 1) as i16;
            }
        }
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program the way the kernel would for one device access.
    fn run(p: &[Insn], typ: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((access as u32) << 16) | typ as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                LDX_W => {
                    assert_eq!(s, 1, "loads only from the context");
                    r[d] = u64::from(ctx[i.off as usize / 4]);
                }
                AND_K => r[d] &= i.imm as u64,
                RSH_K => r[d] >>= i.imm,
                MOV_X => r[d] = r[s],
                MOV_K => r[d] = i.imm as u64,
                JNE_K if r[d] != i.imm as u64 => pc += i.off as usize,
                JNE_X if r[d] != r[s] => pc += i.off as usize,
                JNE_K | JNE_X => {}
                EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn runc_like_rule_list() {
        let p = program(&rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"rw"},
                {"allow":true,"type":"b","major":8,"minor":0,"access":"r"},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#,
        ))
        .unwrap();
        let (c, b) = (DEV_CHAR, DEV_BLOCK);
        assert_eq!(run(&p, c, ACC_READ, 1, 3), 1, "/dev/null read");
        assert_eq!(run(&p, c, ACC_MKNOD, 1, 3), 1, "/dev/null mknod");
        assert_eq!(run(&p, c, ACC_WRITE, 1, 3), 0, "later deny of write wins");
        assert_eq!(run(&p, c, ACC_READ | ACC_WRITE, 136, 5), 1, "pty");
        assert_eq!(run(&p, c, ACC_MKNOD, 136, 5), 0, "pty mknod not allowed");
        assert_eq!(run(&p, b, ACC_READ, 8, 0), 1);
        assert_eq!(run(&p, b, ACC_WRITE, 8, 0), 0);
        assert_eq!(run(&p, b, ACC_READ, 1, 3), 0, "type matters");
        assert_eq!(run(&p, c, ACC_READ, 10, 200), 0, "default deny");
    }

    #[test]
    fn allow_all_then_deny_some() {
        let p = program(&rules(
            r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"b","major":8}]"#,
        ))
        .unwrap();
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 200), 1);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 1), 0);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 9, 1), 1);
    }

    #[test]
    fn allow_all_needs_no_filter() {
        assert!(filter(&rules(r#"[{"allow":true,"access":"rwm"}]"#))
            .unwrap()
            .is_none());
        let deny_first = rules(r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c"}]"#);
        assert!(filter(&deny_first).unwrap().is_some());
        assert!(filter(&[]).unwrap().is_some(), "no rules: deny all");
    }

    #[test]
    fn empty_rules_deny_everything_and_bytes_are_whole_insns() {
        let p = program(&[]).unwrap();
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 0);
        let bytes = filter(&[]).unwrap().unwrap();
        assert_eq!(bytes.len(), p.len() * 8);
        assert_eq!(bytes[bytes.len() - 8], EXIT);
        assert!(program(&rules(r#"[{"allow":true,"major":-5}]"#)).is_err());
    }
}
