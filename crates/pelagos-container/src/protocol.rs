//! The typed protocol between the runtime (parent) and the container init (child).
//!
//! Transport: an `AF_UNIX`/`SOCK_SEQPACKET` pair created before clone (both ends
//! close-on-exec, so the parent sees end-of-file when the child execs). Every message is
//! one fixed-size [`Msg`] record; `Continue` may carry the state JSON after the header;
//! `Pty` carries the PTY master as `SCM_RIGHTS`.
//!
//! | when                         | who sends        | message    | payload / fd            |
//! |------------------------------|------------------|------------|-------------------------|
//! | after clone, new user ns     | parent -> child  | `Continue` | (id maps written)       |
//! | before pivot, if hooks       | child -> parent  | `Hooks`    |                         |
//! | after createRuntime hooks    | parent -> child  | `Continue` | state JSON              |
//! | terminal, no console socket  | child -> parent  | `Pty`      | PTY master fd           |
//! | seccomp with listenerPath    | child -> parent  | `SeccompFd`| notify fd (-> listener) |
//! | setup done                   | child -> parent  | `Ready`    |                         |
//! | any step fails               | child -> parent  | `Error`    | step, errno, index      |
//! | exec succeeded               | (kernel)         | EOF        |                         |
//!
//! `start` talks to the waiting init over a second, listening socket in the state dir:
//! it connects and sends the state JSON; the init runs startContainer hooks and execs.
//! An `Error` record or EOF comes back on that connection.

/// Message kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    Continue = 1,
    Hooks = 2,
    Ready = 3,
    Error = 4,
    Pty = 5,
    SeccompFd = 6,
}

/// One protocol record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg {
    pub kind: Kind,
    /// For `Error`: the [`crate::init::Step`] number.
    pub step: u32,
    /// For `Error`: the errno (0 when `detail` says more).
    pub errno: i32,
    /// For `Error`: which item of the step (mount index, path index, ...).
    pub index: u32,
    /// For `Error`: extra detail, e.g. a hook's exit status.
    pub detail: i32,
}

/// Size of an encoded [`Msg`].
pub const MSG_LEN: usize = 20;

impl Msg {
    /// A record with no error fields.
    pub const fn simple(kind: Kind) -> Self {
        Msg {
            kind,
            step: 0,
            errno: 0,
            index: 0,
            detail: 0,
        }
    }

    /// Encode into a fixed buffer (no allocation).
    pub fn encode(&self) -> [u8; MSG_LEN] {
        let mut b = [0u8; MSG_LEN];
        b[0..4].copy_from_slice(&(self.kind as u32).to_le_bytes());
        b[4..8].copy_from_slice(&self.step.to_le_bytes());
        b[8..12].copy_from_slice(&self.errno.to_le_bytes());
        b[12..16].copy_from_slice(&self.index.to_le_bytes());
        b[16..20].copy_from_slice(&self.detail.to_le_bytes());
        b
    }

    /// Decode a record; `None` if malformed.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < MSG_LEN {
            return None;
        }
        let u = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let kind = match u(0) {
            1 => Kind::Continue,
            2 => Kind::Hooks,
            3 => Kind::Ready,
            4 => Kind::Error,
            5 => Kind::Pty,
            6 => Kind::SeccompFd,
            _ => return None,
        };
        Some(Msg {
            kind,
            step: u(4),
            errno: u(8) as i32,
            index: u(12),
            detail: u(16) as i32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let m = Msg {
            kind: Kind::Error,
            step: 7,
            errno: 13,
            index: 2,
            detail: -1,
        };
        assert_eq!(Msg::decode(&m.encode()), Some(m));
        assert_eq!(Msg::decode(&[9, 0, 0, 0]), None);
        let mut bad = m.encode();
        bad[0] = 99;
        assert_eq!(Msg::decode(&bad), None);
    }
}
