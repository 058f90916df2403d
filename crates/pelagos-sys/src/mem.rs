//! Memory advice for the runtime's own code pages.

/// Turn off read-around ("fault-around") for this executable's code, so a short-lived CLI
/// maps only the code pages it actually runs instead of 64 KiB around each: peak RSS drops
/// to what is used. One `madvise`; errors are ignored (it is only advice).
pub fn advise_random_code() {
    extern "C" {
        static __executable_start: u8;
        static etext: u8;
    }
    // SAFETY: the linker defines both symbols around the executable's text; only their
    // addresses are taken.
    unsafe {
        let start = std::ptr::addr_of!(__executable_start) as usize;
        let end = std::ptr::addr_of!(etext) as usize;
        let page = 4096usize;
        let start = start & !(page - 1);
        if end > start {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
        }
    }
}
