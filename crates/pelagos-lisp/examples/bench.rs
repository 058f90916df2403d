//! Steps per second of the evaluator on a fib / loop / list-heavy program.
//!
//! Run with `cargo run --release -p pelagos-lisp --example bench [FILE.reml]`; with a
//! file, that file is measured under the default limits instead.

use pelagos_lisp::{Interp, Limits};
use std::time::Instant;

const PROGRAMS: &[(&str, &str)] = &[
    ("fib 25 (non-tail recursion)", "(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 25)"),
    ("tail loop 10^6", "(let loop ((i 0) (acc 0)) (if (= i 1000000) acc (loop (+ i 1) (+ acc i))))"),
    (
        "lists: map/filter/fold over 10^5, 10 times",
        "(define xs (iota 100000))
         (define (round n acc)
           (if (= n 0) acc
               (round (- n 1) (+ acc (fold-left + 0 (filter even? (map (lambda (x) (* x 3)) xs)))))))
         (round 10 0)",
    ),
    (
        "strings and tables",
        "(define t (make-hash-table))
         (do ((i 0 (+ i 1))) ((= i 50000) (hash-table-count t))
           (hash-table-set! t (string-append \"k\" (number->string (modulo i 1000))) i))",
    ),
];

fn main() {
    if let Some(path) = std::env::args().nth(1) {
        let mut it = Interp::new();
        let t = Instant::now();
        let result = it.eval_file(std::path::Path::new(&path));
        let secs = t.elapsed().as_secs_f64();
        let steps = it.usage().steps;
        println!(
            "{path}: {steps} steps in {secs:.3} s, {:.2} M steps/s: {}",
            steps as f64 / secs / 1e6,
            match result {
                Ok(v) => v.to_string(),
                Err(e) => e.to_string(),
            }
        );
        return;
    }
    let limits = Limits {
        max_steps: u64::MAX,
        ..Limits::default()
    };
    let mut total_steps = 0u64;
    let mut total_secs = 0f64;
    for (name, src) in PROGRAMS {
        let mut it = Interp::with_limits(limits.clone());
        let t = Instant::now();
        let result = it.eval_str(src, "bench.reml");
        let secs = t.elapsed().as_secs_f64();
        let steps = it.usage().steps;
        total_steps += steps;
        total_secs += secs;
        match result {
            Ok(v) => println!(
                "{name:45} {steps:>11} steps {secs:>7.3} s {:>8.2} M steps/s  => {v}",
                steps as f64 / secs / 1e6
            ),
            Err(e) => println!("{name:45} error: {e}"),
        }
    }
    println!(
        "{:45} {total_steps:>11} steps {total_secs:>7.3} s {:>8.2} M steps/s",
        "total",
        total_steps as f64 / total_secs / 1e6
    );
}
