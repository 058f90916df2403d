//! Terminal support: `create` with `process.terminal` and `--console-socket` (the test
//! receives the PTY master over SCM_RIGHTS and reads the container's output through it), and
//! a foreground `run` with a terminal under a pseudo-terminal made by `script(1)`.

use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

use crate::support::runtime::run_captured;
use crate::support::{case, expect_contains, expect_eq, Bundle, Case, Container, Runtime};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("console_socket", console_socket),
        case("run_foreground", run_foreground),
    ]
}

/// Accepts one connection on `listener` and returns the fd sent with SCM_RIGHTS.
fn receive_fd(listener: &UnixListener) -> Result<OwnedFd> {
    let (stream, _) = listener.accept().context("accept on console socket")?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut buf = [0u8; 4096];
    recvmsg(
        &stream,
        &mut [IoSliceMut::new(&mut buf)],
        &mut cmsg,
        RecvFlags::CMSG_CLOEXEC,
    )
    .context("recvmsg on console socket")?;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    bail!("console socket message carried no file descriptor")
}

/// Reads `f` until EOF/EIO (all slave ends closed) in a thread; gives up after `timeout`.
fn read_until_closed(mut f: File, timeout: Duration) -> Result<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
    });
    rx.recv_timeout(timeout)
        .context("PTY master was not closed in time (container still holds the slave?)")
}

fn console_socket(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .terminal(true)
        .sh("echo hello-tty; tty; exit 0");
    let c = Container::new(rt, b)?;
    let sock = c.scratch().join("console.sock");
    let listener = UnixListener::bind(&sock)?;
    let (tx, rx) = mpsc::channel();
    let l2 = listener.try_clone()?;
    std::thread::spawn(move || {
        let _ = tx.send(receive_fd(&l2));
    });
    let (bundle, s) = (c.bundle.path_str(), sock.display().to_string());
    c.create_with(&["create", "--bundle", &bundle, "--console-socket", &s, &c.id])?
        .ok()?;
    let master = match rx.recv_timeout(crate::support::SETTLE) {
        Ok(r) => r?,
        Err(_) => {
            // Unblock the accepting thread so it does not outlive the test.
            let _ = std::os::unix::net::UnixStream::connect(&sock);
            bail!("no PTY master arrived on the console socket");
        }
    };
    expect_eq("status", c.status()?, "created".into())?;
    c.start()?.ok()?;
    let out = read_until_closed(File::from(master), crate::support::SETTLE)?;
    expect_contains("terminal output", &out, "hello-tty")?;
    expect_contains("tty(1) inside", &out, "/dev/pts/0")?;
    c.wait_status("stopped", crate::support::SETTLE)?;
    c.delete()?.ok()?;
    Ok(())
}

/// `run` with `terminal: true` in the foreground needs a controlling terminal; `script`
/// provides one, as an interactive shell would.
fn run_foreground(rt: &Runtime) -> Result<()> {
    let c = Container::new(
        rt,
        Bundle::busybox()?
            .terminal(true)
            .sh("echo hello-tty; tty; exit 5"),
    )?;
    c.bundle.write()?;
    let root = c.root().context("private root")?.display().to_string();
    let inner = format!(
        "{} --root {root} run --bundle {} {}",
        rt.bin.display(),
        c.bundle.path_str(),
        c.id
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &inner, "/dev/null"]);
    let o = run_captured(cmd)?;
    expect_contains(&o.describe(), &o.stdout, "hello-tty")?;
    expect_contains("tty(1) inside", &o.stdout, "/dev/pts/")?;
    expect_eq(
        &format!("exit code through the terminal: {}", o.describe()),
        o.code,
        Some(5),
    )
}
