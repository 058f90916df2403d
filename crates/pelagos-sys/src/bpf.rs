//! `bpf(2)` for cgroup programs: load an eBPF program, attach it to a cgroup directory,
//! list what is attached there, and detach. The instructions come ready-made (built in
//! pelagos-cgroups); this module only passes them to the kernel.
//!
//! Every `bpf_attr` variant is a `#[repr(C)]` struct laid out as in `<linux/bpf.h>`. The
//! kernel accepts an attr shorter than its own (the rest counts as zero) and refuses one
//! that is longer only when the extra bytes are not zero, so each struct stops after the
//! last field used here.

use crate::errno::{retry, Errno, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;

/// `BPF_F_ALLOW_MULTI`: the program runs beside those attached to ancestors and beside
/// other multi programs on the same cgroup.
pub const F_ALLOW_MULTI: u32 = 2;

/// Size of the verifier log asked for after a failed load.
const LOG_SIZE: usize = 64 * 1024;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct InfoByFdAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The first fields of `struct bpf_prog_info`; the kernel fills in as much as asked for.
#[repr(C)]
#[derive(Default)]
struct ProgInfoHead {
    prog_type: u32,
    id: u32,
}

/// `bpf(cmd, attr, sizeof attr)`, retried on `EINTR` (the verifier may be interrupted).
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> Result<libc::c_long> {
    let size = std::mem::size_of::<T>() as libc::c_long;
    // SAFETY: attr is a live, fully initialised repr(C) bpf_attr prefix of `size` bytes;
    // every pointer inside it points to memory that outlives the call.
    retry(|| unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) })
}

/// A failed `BPF_PROG_LOAD`: the errno and, when the verifier said why, its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The kernel's error.
    pub errno: Errno,
    /// The verifier log (empty when the kernel wrote none).
    pub log: String,
}

/// Loads `insns` (whole `struct bpf_insn`s, 8 bytes each) as a program of `prog_type`
/// under `license`. On failure the load is repeated with the verifier log on, so that the
/// error says which instruction the verifier refused.
pub fn prog_load(
    prog_type: u32,
    insns: &[u8],
    license: &CStr,
) -> std::result::Result<OwnedFd, LoadError> {
    if insns.is_empty() || !insns.len().is_multiple_of(8) {
        return Err(LoadError {
            errno: Errno(libc::EINVAL),
            log: format!(
                "{} bytes is not a whole number of instructions",
                insns.len()
            ),
        });
    }
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: (insns.len() / 8) as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    let errno = match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: BPF_PROG_LOAD returned a new program fd that nothing else owns.
        Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => e,
    };
    let mut log = vec![0u8; LOG_SIZE];
    attr.log_level = 1;
    attr.log_size = LOG_SIZE as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    if let Ok(fd) = bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: as above; the retry succeeded after a transient failure.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    }
    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
    Err(LoadError {
        errno,
        log: String::from_utf8_lossy(&log[..end]).trim_end().to_string(),
    })
}

/// `BPF_PROG_ATTACH` of `prog` to the cgroup directory `cgroup` for `attach_type`.
pub fn prog_attach(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// `BPF_PROG_DETACH` of `prog` (attached with [`F_ALLOW_MULTI`]) from `cgroup`.
pub fn prog_detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32) -> Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: 0,
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// The ids of the programs attached directly to `cgroup` for `attach_type` (not those
/// inherited from ancestors).
pub fn prog_query(cgroup: BorrowedFd<'_>, attach_type: u32) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // prog_cnt now says how many there are.
            Err(Errno(libc::ENOSPC)) if attr.prog_cnt as usize > ids.len() => {
                ids.resize(attr.prog_cnt as usize, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// An fd of the loaded program with id `id` (`BPF_PROG_GET_FD_BY_ID`).
pub fn prog_fd_by_id(id: u32) -> Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?;
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The id of the loaded program `prog` (`BPF_OBJ_GET_INFO_BY_FD`), as [`prog_query`]
/// lists it.
pub fn prog_id(prog: BorrowedFd<'_>) -> Result<u32> {
    let mut info = ProgInfoHead::default();
    let mut attr = InfoByFdAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfoHead>() as u32,
        info: &mut info as *mut ProgInfoHead as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(info.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layouts_match_linux_bpf_h() {
        use std::mem::{offset_of, size_of};
        assert_eq!(offset_of!(ProgLoadAttr, insns), 8);
        assert_eq!(offset_of!(ProgLoadAttr, license), 16);
        assert_eq!(offset_of!(ProgLoadAttr, log_level), 24);
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, prog_flags), 44);
        assert_eq!(size_of::<AttachAttr>(), 16);
        assert_eq!(offset_of!(QueryAttr, prog_ids), 16);
        assert_eq!(offset_of!(QueryAttr, prog_cnt), 24);
        assert_eq!(size_of::<GetFdByIdAttr>(), 12);
        assert_eq!(offset_of!(InfoByFdAttr, info), 8);
        assert_eq!(offset_of!(ProgInfoHead, id), 4);
    }

    #[test]
    fn partial_instructions_are_refused_before_the_kernel() {
        let e = prog_load(15, &[0u8; 12], c"GPL").unwrap_err();
        assert_eq!(e.errno, Errno(libc::EINVAL));
        assert!(e.log.contains("12 bytes"), "{}", e.log);
    }
}
