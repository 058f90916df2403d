//! `state`: the OCI state document with the live status.

use super::Container;
use pelagos_spec::{OciState, Status};

impl Container {
    /// The OCI state with the live status (pid 0 once stopped, as runc prints it).
    pub fn oci_state(&self) -> OciState {
        let mut s = self.state.oci.clone();
        s.status = self.status();
        if s.status == Status::Stopped {
            s.pid = 0;
        }
        s
    }

    /// The state as JSON bytes (hook stdin).
    pub fn state_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.oci_state()).unwrap_or_default()
    }
}
