//! End-to-end tests of `pelagos lisp` and `pelagos repl`: the corpus of .reml programs in
//! crates/pelagos-lisp/tests/corpus (each `name.reml` with the exact stdout in `name.out`
//! and, for failing programs, the exact stderr in `name.err`), plus generated hostile
//! inputs too large to keep in the repository.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn pelagos() -> &'static str {
    env!("CARGO_BIN_EXE_pelagos")
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pelagos-lisp/tests/corpus")
}

/// Run `pelagos lisp FILE` in `dir`, checking the 10 s bound.
fn run_lisp(dir: &Path, file: &str) -> Output {
    let start = Instant::now();
    let out = Command::new(pelagos())
        .args(["lisp", file])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run pelagos");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{file} took {:?}",
        start.elapsed()
    );
    out
}

/// A temporary directory removed on drop, also when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("pelagos-lisp-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create tempdir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn corpus_programs_give_expected_output() {
    let dir = corpus_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".reml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus too small: {files:?}");
    let mut failures = Vec::new();
    for f in &files {
        let stem = f.trim_end_matches(".reml");
        let want_out =
            std::fs::read_to_string(dir.join(format!("{stem}.out"))).expect("expected .out file");
        let want_err = std::fs::read_to_string(dir.join(format!("{stem}.err"))).ok();
        let out = run_lisp(&dir, f);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stdout != want_out {
            failures.push(format!("{f}: stdout {stdout:?}, want {want_out:?}"));
        }
        match &want_err {
            Some(e) => {
                if out.status.success() || stderr != *e {
                    failures.push(format!(
                        "{f}: status {}, stderr {stderr:?}, want {e:?}",
                        out.status
                    ));
                }
            }
            None => {
                if !out.status.success() || !stderr.is_empty() {
                    failures.push(format!("{f}: status {}, stderr {stderr:?}", out.status));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exit_sets_the_status() {
    let out = run_lisp(&corpus_dir(), "exit_status.reml");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "partial output\n");
    assert!(out.stderr.is_empty());
}

#[test]
fn million_parens_is_depth_exceeded() {
    let tmp = TempDir::new("parens");
    std::fs::write(tmp.0.join("parens.reml"), "(".repeat(1_000_000)).expect("write");
    let out = run_lisp(&tmp.0, "parens.reml");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "parens.reml:1:1001: depth exceeded\n"
    );
}

#[test]
fn ten_million_digit_integer_is_a_positioned_error() {
    let tmp = TempDir::new("bigint");
    let src = format!("(display 1)\n  {}\n", "7".repeat(10_000_000));
    std::fs::write(tmp.0.join("big.reml"), src).expect("write");
    let out = run_lisp(&tmp.0, "big.reml");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("big.reml:2:3: integer literal out of range"),
        "{err}"
    );
    assert!(err.len() < 200);
}

#[test]
fn hundred_megabyte_string_literal_is_handled() {
    let tmp = TempDir::new("bigstr");
    let mut f = std::fs::File::create(tmp.0.join("s.reml")).expect("create");
    f.write_all(b"(display (string-length \"").expect("write");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        f.write_all(&chunk).expect("write");
    }
    f.write_all(b"\"))").expect("write");
    drop(f);
    let out = run_lisp(&tmp.0, "s.reml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        (100u64 << 20).to_string()
    );
}

#[test]
fn invalid_utf8_and_missing_file_are_errors() {
    let tmp = TempDir::new("utf8");
    std::fs::write(tmp.0.join("bad.reml"), b"(display \"ok\")\n(\xc3\x28)").expect("write");
    let out = run_lisp(&tmp.0, "bad.reml");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "bad.reml:2:2: invalid utf-8 in source\n"
    );
    let out = run_lisp(&tmp.0, "missing.reml");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("missing.reml: cannot read"));
}

#[test]
fn budget_flags_override_defaults() {
    let tmp = TempDir::new("flags");
    std::fs::write(tmp.0.join("loop.reml"), "(let loop ((i 0)) (loop (+ i 1)))").expect("write");
    let out = Command::new(pelagos())
        .args(["lisp", "--max-steps", "1000", "loop.reml"])
        .current_dir(&tmp.0)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("loop.reml:1:") && err.ends_with(": step budget exceeded\n"),
        "{err}"
    );
    let out = Command::new(pelagos())
        .args([
            "lisp",
            "--max-steps",
            "1000000000000",
            "--timeout",
            "0.2",
            "loop.reml",
        ])
        .current_dir(&tmp.0)
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("time budget exceeded\n"));
}

fn repl(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(pelagos())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn repl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("repl output")
}

#[test]
fn repl_prints_results_and_survives_errors() {
    let input = "(+ 1 2)\n(define x 5)\n(* x 2)\n(car '())\n(list 1\n  2)\n(display \"hi\")\n";
    for args in [&["repl"][..], &["lisp"][..]] {
        let out = repl(args, input);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n10\n(1 2)\nhi");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "<repl:4>:1:1: car: expected a pair, got ()\n"
        );
    }
}

#[test]
fn endless_source_is_cut_at_the_heap_budget() {
    let out = Command::new(pelagos())
        .args(["lisp", "--max-heap-mib", "8", "/dev/zero"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "/dev/zero:1:1: allocation budget exceeded\n"
    );
}
