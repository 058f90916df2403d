//! Handing the seccomp user-notification fd to the agent at `listenerPath`, as the OCI
//! runtime spec describes: one connection per container process, carrying the container
//! process state as JSON with the fd attached (`SCM_RIGHTS`), closed right after.
//!
//! This runs in the runtime (host side), not in the container init: the init gets the fd
//! from `seccomp(SECCOMP_SET_MODE_FILTER, flags | NEW_LISTENER, ...)` and passes it to the
//! runtime over the sync socket, because `listenerPath` is a host path.

use oci_spec::runtime::{ContainerProcessState, State, SECCOMP_FD_NAME};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use std::io::{IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

use crate::compile::{CompiledFilter, FIELD_ROOT};
use crate::error::{Result, SeccompError};

/// The container process state the agent receives: `fds` is `["seccompFd"]` (the one fd
/// attached), `metadata` is `listenerMetadata`, `state` the container's state (`status`
/// `creating` while the init waits, as runc reports it).
pub fn listener_state(filter: &CompiledFilter, pid: i32, state: &State) -> ContainerProcessState {
    let mut s = ContainerProcessState::default();
    s.set_version(state.version().clone())
        .set_fds(vec![SECCOMP_FD_NAME.to_owned()])
        .set_pid(pid)
        .set_metadata(filter.listener_metadata.clone())
        .set_state(state.clone());
    s
}

/// Connects to `filter.listener_path`, sends [`listener_state`] with `notify_fd` attached,
/// and closes the connection. `pid` is the container process as the runtime sees it.
pub fn send_to_listener(
    filter: &CompiledFilter,
    notify_fd: BorrowedFd<'_>,
    pid: i32,
    state: &State,
) -> Result<()> {
    let Some(path) = filter.listener_path.as_deref() else {
        return Err(SeccompError::field(
            format!("{FIELD_ROOT}.listenerPath"),
            "the filter has no listener: nothing uses SCMP_ACT_NOTIFY",
        ));
    };
    let json = serde_json::to_vec(&listener_state(filter, pid, state)).map_err(|e| {
        SeccompError::io(
            path,
            std::io::Error::other(format!("encode the process state: {e}")),
        )
    })?;
    let fail = |e: std::io::Error| SeccompError::io(path, e);
    let mut stream = UnixStream::connect(path).map_err(fail)?;
    let sent = send_with_fd(&stream, &json, notify_fd).map_err(fail)?;
    // A stream socket may take less than the whole message; the fd travelled with the
    // first byte, the rest follows plainly.
    stream.write_all(&json[sent..]).map_err(fail)?;
    stream.flush().map_err(fail)
}

fn send_with_fd(stream: &UnixStream, data: &[u8], fd: BorrowedFd<'_>) -> std::io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(std::io::Error::other(
            "no room for the fd in the control message",
        ));
    }
    Ok(rustix::net::sendmsg(
        stream,
        &[IoSlice::new(data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::{IoSliceMut, Read, Seek};
    use std::os::unix::net::UnixListener;
    use std::path::Path;

    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

    fn filter(path: Option<&Path>) -> CompiledFilter {
        CompiledFilter {
            bpf: vec![0; 8],
            flags: crate::FLAG_NEW_LISTENER,
            listener_path: path.map(Path::to_path_buf),
            listener_metadata: Some("meta=1".into()),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn agent_receives_state_and_fd() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        let agent = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let n = rustix::net::recvmsg(
                &conn,
                &mut [IoSliceMut::new(&mut buf)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )
            .unwrap()
            .bytes;
            let mut fds = Vec::new();
            for msg in control.drain() {
                if let RecvAncillaryMessage::ScmRights(rights) = msg {
                    fds.extend(rights);
                }
            }
            let mut rest = Vec::new();
            (&conn).read_to_end(&mut rest).unwrap();
            buf.truncate(n);
            buf.extend(rest);
            (buf, fds)
        });
        // Any fd stands in for the notification fd: a memfd with known content.
        let memfd =
            rustix::fs::memfd_create("notify-stand-in", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        File::from(memfd.try_clone().unwrap())
            .write_all(b"it is me")
            .unwrap();
        let mut state = State::default();
        state.set_id("c1".into()).set_version("1.2.0".into());
        let f = filter(Some(&sock));
        send_to_listener(&f, std::os::fd::AsFd::as_fd(&memfd), 4242, &state).unwrap();
        let (json, fds) = agent.join().unwrap();
        let got: ContainerProcessState = serde_json::from_slice(&json).unwrap();
        assert_eq!(got, listener_state(&f, 4242, &state));
        assert_eq!(got.fds(), &vec!["seccompFd".to_owned()]);
        assert_eq!(got.metadata().as_deref(), Some("meta=1"));
        assert_eq!(fds.len(), 1);
        let mut received = File::from(fds.into_iter().next().unwrap());
        received.rewind().unwrap();
        let mut s = String::new();
        received.read_to_string(&mut s).unwrap();
        assert_eq!(s, "it is me");
    }

    #[test]
    fn errors_name_the_socket_or_the_field() {
        let memfd = rustix::fs::memfd_create("x", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        let state = State::default();
        let fd = std::os::fd::AsFd::as_fd(&memfd);
        let e = send_to_listener(&filter(None), fd, 1, &state).unwrap_err();
        assert!(
            e.to_string().starts_with("linux.seccomp.listenerPath:"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nobody-listens.sock");
        let e = send_to_listener(&filter(Some(&missing)), fd, 1, &state).unwrap_err();
        assert!(
            e.to_string().starts_with(&missing.display().to_string()),
            "{e}"
        );
    }
}
