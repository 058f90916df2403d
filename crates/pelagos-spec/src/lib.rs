//! pelagos-spec
