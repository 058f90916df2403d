//! Tests of the evaluator through the public API: special forms, errors, budgets, host API.

use super::*;
use std::cell::RefCell;
use std::rc::Rc;

/// A writer the test can read back.
#[derive(Clone, Default)]
pub(crate) struct Sink(pub(crate) Rc<RefCell<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

pub(crate) fn interp() -> (Interp, Sink, Sink) {
    let mut it = Interp::new();
    let out = Sink::default();
    let err = Sink::default();
    it.set_output(Box::new(out.clone()));
    it.set_error_output(Box::new(err.clone()));
    (it, out, err)
}

/// Evaluate and return the written form of the last value.
pub(crate) fn ev(src: &str) -> String {
    let (mut it, _, _) = interp();
    match it.eval_str(src, "t.reml") {
        Ok(v) => v.to_string(),
        Err(e) => panic!("{src}: {e}"),
    }
}

/// Evaluate and return the error text.
pub(crate) fn ev_err(src: &str) -> String {
    let (mut it, _, _) = interp();
    match it.eval_str(src, "t.reml") {
        Ok(v) => panic!("{src}: expected an error, got {v}"),
        Err(e) => e.to_string(),
    }
}

/// Evaluate and return what the program printed.
pub(crate) fn out(src: &str) -> String {
    let (mut it, out, _) = interp();
    if let Err(e) = it.eval_str(src, "t.reml") {
        panic!("{src}: {e}");
    }
    out.text()
}

#[test]
fn smoke() {
    assert_eq!(ev("(+ 1 2)"), "3");
    assert_eq!(ev("(define (f x) (* x 2)) (f 21)"), "42");
    assert_eq!(out("(display \"hi\") (newline) (write \"q\")"), "hi\n\"q\"");
}
