//! Errors of reading and evaluation, each with the source position it arose at.

use crate::pos::SrcPos;
use crate::value::Value;
use std::fmt;

/// What went wrong.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// The source text is malformed (unterminated string, stray paren, bad number...).
    #[error("{0}")]
    Read(String),
    /// Nesting too deep: reader nesting, non-tail recursion or re-entrant host calls.
    #[error("depth exceeded")]
    Depth,
    /// The step (fuel) budget ran out.
    #[error("step budget exceeded")]
    Steps,
    /// The allocation budget ran out.
    #[error("allocation budget exceeded")]
    Alloc,
    /// The total time a program may spend in `sleep` ran out.
    #[error("sleep budget exceeded")]
    Sleep,
    /// The wall-clock budget ran out.
    #[error("time budget exceeded")]
    Timeout,
    /// A variable was used before being defined.
    #[error("unbound variable: {0}")]
    Unbound(String),
    /// A special form was used with the wrong shape.
    #[error("{0}")]
    Syntax(String),
    /// A runtime type, arity or range error.
    #[error("{0}")]
    Eval(String),
    /// `error`, `errorf` or a raised condition that nobody caught.
    #[error("{0}")]
    User(String),
    /// `raise` of a non-condition value that nobody caught.
    #[error("uncaught exception: {0}")]
    Raised(String),
    /// A host function failed.
    #[error("{0}")]
    Host(String),
    /// `(exit code)`: the program asked to stop with this status.
    #[error("exit {0}")]
    Exit(i32),
    /// Reading a source file or writing output failed.
    #[error("{0}")]
    Io(String),
}

/// An error with its position; displays as `file:line:col: message`.
#[derive(Clone)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where, when known.
    pub pos: Option<SrcPos>,
    /// The raised object, for `raise`/`error` conditions that `guard` can catch.
    pub(crate) payload: Option<Value>,
}

impl Error {
    /// An error without position (the evaluator adds the position of the current form).
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            pos: None,
            payload: None,
        }
    }

    /// A runtime error with a message, e.g. `car: expected a pair, got 5`.
    pub fn eval(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Eval(msg.into()))
    }

    /// A host-function failure with a message.
    pub fn host(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Host(msg.into()))
    }

    /// A syntax error with a message.
    pub(crate) fn syntax(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax(msg.into()))
    }

    /// Attach a position unless one is already known.
    pub fn at(mut self, pos: crate::pos::Pos) -> Self {
        if self.pos.is_none() {
            self.pos = pos.resolve();
        }
        self
    }

    /// Whether this error ends evaluation regardless of `guard` (budgets are not catchable,
    /// so a handler cannot keep a runaway program alive).
    pub fn is_budget(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Depth
                | ErrorKind::Steps
                | ErrorKind::Alloc
                | ErrorKind::Sleep
                | ErrorKind::Timeout
                | ErrorKind::Exit(_)
        )
    }

    /// The message without position.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(p) => write!(f, "{p}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({self})")
    }
}

impl std::error::Error for Error {}

/// Result of reading and evaluating.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pos::{intern_file, Pos};

    #[test]
    fn display_has_position_prefix() {
        let f = intern_file("t.reml");
        let e = Error::new(ErrorKind::Steps).at(Pos {
            file: f,
            line: 2,
            col: 5,
        });
        assert_eq!(e.to_string(), "t.reml:2:5: step budget exceeded");
        assert!(e.is_budget());
        assert_eq!(Error::eval("boom").to_string(), "boom");
        assert!(!Error::eval("x").is_budget());
    }
}
