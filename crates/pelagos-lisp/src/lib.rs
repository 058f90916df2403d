//! The .reml language: a small Scheme-like Lisp for pelagos compose files and deploy
//! scripts. It knows nothing about containers: hosts add procedures and opaque values
//! through [`Interp::define_native`], [`Interp::define_native_kw`] and [`Value::host`].
//!
//! Every evaluation runs under [`Limits`] (steps, depth, heap, nesting, sleep, time), so
//! a hostile program ends with a positioned error instead of exhausting the machine.
//!
//! The crate README follows (its examples are compiled as doctests).
#![doc = include_str!("../README.md")]

mod builtins;
mod error;
mod forms;
mod heap;
mod hof;
mod interp;
mod limits;
mod machine;
mod pos;
mod printer;
mod quasi;
mod reader;
mod symbol;
mod value;

pub use error::{Error, ErrorKind, Result};
pub use heap::live_bytes;
pub use interp::{EnvLookup, Interp, Kwargs, Usage};
pub use limits::Limits;
pub use pos::{intern_file, Pos, SrcPos};
pub use printer::{format_float, is_plain_symbol, print, Mode, TooLong};
pub use reader::{parse_number, read_bytes, read_str, Reader};
pub use symbol::Symbol;
pub use value::{list_from, list_with_tail, Env, Key, NativeFn, Prim, Value};
