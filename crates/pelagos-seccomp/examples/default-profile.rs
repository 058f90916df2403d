//! Prints the built-in default profile as OCI `linux.seccomp` JSON, for a container holding
//! the capabilities named on the command line (`CAP_SYS_ADMIN`...), so that other runtimes
//! can be given the same filter (bench/start-latency.sh does). Run with `cargo run -p
//! pelagos-seccomp --example default-profile -- [CAP...]`.

use oci_spec::runtime::{Capabilities, Capability};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut caps = Capabilities::new();
    for name in std::env::args().skip(1) {
        let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
            .map_err(|e| format!("{name:?} is not a capability such as CAP_SYS_ADMIN: {e}"))?;
        caps.insert(cap);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&pelagos_seccomp::default_profile(&caps))?
    );
    Ok(())
}
