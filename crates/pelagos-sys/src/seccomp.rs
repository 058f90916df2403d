//! Loading a prebuilt seccomp BPF program (compiled in the parent, loaded by the init).

use crate::errno::{check, Result};
use std::os::fd::{FromRawFd, OwnedFd};

/// One classic-BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl SockFilter {
    /// Decode a program from its raw bytes (8 bytes per instruction, native endian);
    /// `None` if the length is not a multiple of 8.
    pub fn program_from_bytes(bytes: &[u8]) -> Option<Vec<SockFilter>> {
        if !bytes.len().is_multiple_of(8) {
            return None;
        }
        Some(
            bytes
                .chunks_exact(8)
                .map(|c| SockFilter {
                    code: u16::from_ne_bytes([c[0], c[1]]),
                    jt: c[2],
                    jf: c[3],
                    k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
                })
                .collect(),
        )
    }
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;

/// Install `program` with `seccomp(SECCOMP_SET_MODE_FILTER, flags)`. With
/// [`FLAG_NEW_LISTENER`] the kernel returns a notification fd. The caller must have
/// `no_new_privs` set or `CAP_SYS_ADMIN`. Allocation-free.
pub fn set_filter(program: &[SockFilter], flags: u32) -> Result<Option<OwnedFd>> {
    let prog = SockFprog {
        len: program.len() as u16,
        filter: program.as_ptr(),
    };
    // SAFETY: prog points to `len` valid instructions that outlive the call.
    let r =
        check(unsafe { libc::syscall(libc::SYS_seccomp, 1u32, flags, &prog as *const SockFprog) })?;
    if flags & FLAG_NEW_LISTENER != 0 && r > 0 {
        // SAFETY: the kernel returned a fresh listener fd.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        let bytes = [0x06, 0, 0, 0, 0, 0, 0xff, 0x7f];
        let p = SockFilter::program_from_bytes(&bytes).unwrap();
        assert_eq!(
            p,
            vec![SockFilter {
                code: 6,
                jt: 0,
                jf: 0,
                k: 0x7fff_0000
            }]
        );
        assert!(SockFilter::program_from_bytes(&bytes[..5]).is_none());
    }
}
