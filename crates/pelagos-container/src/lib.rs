//! pelagos-container
