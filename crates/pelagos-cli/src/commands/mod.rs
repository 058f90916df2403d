//! One module per `pelagos` verb: parse arguments into a library call and format the result.

pub mod image;
pub mod lisp;
pub mod login;
pub mod push;
pub mod registry_args;
pub mod runtime;
