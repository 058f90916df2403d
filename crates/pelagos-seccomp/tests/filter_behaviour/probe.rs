//! The child side of the behaviour tests: load a program, run named syscall probes, print
//! `name=ok` or `name=errno:N` per probe.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;

use nix::sched::CloneFlags;
use nix::sys::personality::Persona;
use nix::sys::socket::{AddressFamily, SockFlag, SockType};

/// Converts the exported bytes back into the records seccompiler's loader takes.
fn program(bytes: &[u8]) -> Vec<seccompiler::sock_filter> {
    bytes
        .chunks_exact(8)
        .map(|c| seccompiler::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

fn io(r: std::io::Result<()>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("errno:{}", e.raw_os_error().unwrap_or(-1)),
    }
}

fn nix(r: nix::Result<()>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("errno:{}", e as i32),
    }
}

/// Ordinary file work a container does all the time.
fn file_io(dir: &Path) -> std::io::Result<()> {
    let a = dir.join("a.txt");
    std::fs::File::create(&a)?.write_all(b"hello")?;
    let b = dir.join("b.txt");
    std::fs::rename(&a, &b)?;
    let mut s = String::new();
    std::fs::File::open(&b)?.read_to_string(&mut s)?;
    if s != "hello" || std::fs::metadata(&b)?.len() != 5 {
        return Err(std::io::Error::other("content mismatch"));
    }
    std::fs::read_dir(dir)?.count();
    std::fs::remove_file(&b)
}

fn run(name: &str, scratch: &Path) -> String {
    match name {
        "getcwd" => io(std::env::current_dir().map(drop)),
        "mkdir" => io(std::fs::create_dir(scratch.join("made"))),
        "file_io" => io(file_io(scratch)),
        "spawn" => io(Command::new("/bin/true").status().and_then(|s| {
            s.success()
                .then_some(())
                .ok_or_else(|| std::io::Error::other("true failed"))
        })),
        "socket_unix" => io(UnixDatagram::unbound().map(drop)),
        "socket_vsock" => nix(nix::sys::socket::socket(
            AddressFamily::Vsock,
            SockType::Stream,
            SockFlag::empty(),
            None,
        )
        .map(drop)),
        // glibc tries faccessat2 first and falls back to faccessat only on ENOSYS.
        "faccessat" => nix(nix::unistd::faccessat(
            std::fs::File::open(scratch).expect("open the scratch directory"),
            "file_io_probe",
            nix::unistd::AccessFlags::F_OK,
            nix::fcntl::AtFlags::empty(),
        )
        .or_else(|e| {
            if e == nix::errno::Errno::ENOENT {
                Ok(())
            } else {
                Err(e)
            }
        })),
        "unshare_user" => nix(nix::sched::unshare(CloneFlags::CLONE_NEWUSER)),
        "personality_query" => nix(nix::sys::personality::get().map(drop)),
        "personality_norandom" => {
            nix(nix::sys::personality::set(Persona::ADDR_NO_RANDOMIZE).map(drop))
        }
        "personality_linux32" => {
            nix(nix::sys::personality::set(Persona::from_bits_retain(0x8)).map(drop))
        }
        other => format!("unknown probe {other}"),
    }
}

/// Entry point of the child process.
pub fn child_main(program_path: &str, probes: &str, scratch: &Path) {
    // Probes that kill the child with SIGSYS must not leave core files behind.
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
        .expect("disable core dumps");
    let load = if program_path == "none" {
        "ok".to_owned()
    } else {
        let bytes = std::fs::read(program_path).expect("read the compiled program");
        match seccompiler::apply_filter(&program(&bytes)) {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("failed: {e}"),
        }
    };
    println!("load={load}");
    if load != "ok" {
        return;
    }
    for name in probes.split(',').filter(|p| !p.is_empty()) {
        let result = run(name, scratch);
        println!("{name}={result}");
        // A probe may kill the process next; what was printed must already be out.
        std::io::stdout().flush().expect("flush stdout");
    }
}
