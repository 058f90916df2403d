//! `pelagos-runtime`: the runc-compatible OCI runtime command line.

#[path = "../runtime/mod.rs"]
mod runtime;

fn main() -> std::process::ExitCode {
    runtime::main()
}
