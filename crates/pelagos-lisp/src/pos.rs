//! Source positions: a compact `Pos` carried by every pair the reader builds, and the
//! per-thread table of file names it points into.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// A compact source position: an index into the thread's file table, line and column
/// (both 1-based). Line 0 means "unknown" (data built at run time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Index into the file table.
    pub file: u32,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
}

impl Pos {
    /// The unknown position.
    pub const NONE: Pos = Pos {
        file: 0,
        line: 0,
        col: 0,
    };

    /// Whether this position points into a source.
    pub fn is_known(self) -> bool {
        self.line != 0
    }

    /// Resolve the file index into a printable position.
    pub fn resolve(self) -> Option<SrcPos> {
        if !self.is_known() {
            return None;
        }
        Some(SrcPos {
            file: file_name(self.file),
            line: self.line,
            col: self.col,
        })
    }
}

/// A resolved, printable position: `file:line:col`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrcPos {
    /// The file (or pseudo-file such as `<string>`) name.
    pub file: Rc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for SrcPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

thread_local! {
    static FILES: RefCell<Vec<Rc<str>>> = RefCell::new(vec![Rc::from("<unknown>")]);
}

/// Register a file name and return its index (names are deduplicated).
pub fn intern_file(name: &str) -> u32 {
    FILES
        .try_with(|f| {
            let mut f = f.borrow_mut();
            if let Some(i) = f.iter().position(|n| &**n == name) {
                return i as u32;
            }
            f.push(Rc::from(name));
            (f.len() - 1) as u32
        })
        .unwrap_or(0)
}

fn file_name(idx: u32) -> Rc<str> {
    FILES
        .try_with(|f| f.borrow().get(idx as usize).cloned())
        .ok()
        .flatten()
        .unwrap_or_else(|| Rc::from("<unknown>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_deduplicated_and_resolved() {
        let a = intern_file("a.reml");
        let b = intern_file("a.reml");
        assert_eq!(a, b);
        let p = Pos {
            file: a,
            line: 3,
            col: 7,
        };
        assert_eq!(p.resolve().unwrap().to_string(), "a.reml:3:7");
        assert!(Pos::NONE.resolve().is_none());
    }
}
