//! containerd (placeholder).
use super::EngineCase;
pub fn cases() -> Vec<EngineCase> {
    Vec::new()
}
