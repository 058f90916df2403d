//! `CStringArray`: a NULL-terminated `char *[]` built before clone, used by `execve`.

use std::ffi::{CStr, CString};

/// Owned C strings plus the pointer array `execve` wants, prepared in the parent.
pub struct CStringArray {
    strings: Vec<CString>,
    ptrs: Vec<*const libc::c_char>,
}

impl CStringArray {
    /// Build from owned C strings.
    pub fn new(strings: Vec<CString>) -> Self {
        let mut ptrs: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CStringArray { strings, ptrs }
    }

    /// The strings.
    pub fn as_slice(&self) -> &[CString] {
        &self.strings
    }

    /// First element, if any.
    pub fn first(&self) -> Option<&CStr> {
        self.strings.first().map(|s| s.as_c_str())
    }

    pub(crate) fn as_ptr(&self) -> *const *const libc::c_char {
        self.ptrs.as_ptr()
    }
}

impl std::fmt::Debug for CStringArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.strings.iter()).finish()
    }
}

// The raw pointers point into `strings`, which the struct owns and never mutates.
#[allow(unsafe_code)]
unsafe impl Send for CStringArray {}
#[allow(unsafe_code)]
unsafe impl Sync for CStringArray {}
