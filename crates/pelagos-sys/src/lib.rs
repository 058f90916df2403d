//! pelagos-sys
