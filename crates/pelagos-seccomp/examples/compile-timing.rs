//! Measures what the default profile costs a container start: a cold libseccomp compile
//! against a cache hit. Run with `cargo run --release -p pelagos-seccomp --example
//! compile-timing`.

use std::time::{Duration, Instant};

use oci_spec::runtime::Capabilities;
use pelagos_seccomp::{compile, compile_cached, default_profile};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let caps = Capabilities::new();
    let profile = default_profile(&caps);
    let dir = tempfile::tempdir()?;
    let filter = compile_cached(&profile, dir.path())?;
    println!(
        "default profile: {} rules, {} BPF instructions, {} warnings",
        profile.syscalls().as_ref().map_or(0, Vec::len),
        filter.instructions(),
        filter.warnings.len()
    );
    let build = time(200, || default_profile(&caps));
    let cold = time(20, || compile(&profile));
    let hit = time(1000, || compile_cached(&profile, dir.path()));
    let hit_with_build = time(1000, || compile_cached(&default_profile(&caps), dir.path()));
    println!("build default_profile():              {build:?}");
    println!("compile (cold, libseccomp):           {cold:?}");
    println!("compile_cached (hit):                 {hit:?}");
    println!("default_profile() + compile_cached:   {hit_with_build:?}");
    Ok(())
}
