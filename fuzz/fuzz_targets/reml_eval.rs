//! Fuzz the .reml reader and evaluator together, budgets on: any input must end in a
//! value or an error, never a panic, a stack overflow or unbounded memory.
//!
//! `cargo +nightly fuzz run reml_eval -- -dict=fuzz/reml.dict -max_len=4096`

#![no_main]

use libfuzzer_sys::fuzz_target;
use pelagos_lisp::{read_bytes, Interp, Limits};
use std::io::Write;

struct Null;

impl Write for Null {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::small();
    let Ok(forms) = read_bytes(data, 0, limits.max_nesting, limits.max_heap_bytes) else {
        return;
    };
    let mut it = Interp::with_limits(limits);
    it.set_output(Box::new(Null));
    it.set_error_output(Box::new(Null));
    it.set_env_lookup(Box::new(|_| None));
    let _ = it.eval_forms(forms);
});
