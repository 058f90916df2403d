//! The .reml language: reader, evaluator and standard library.
