//! Property tests on the public API, driven by a small seeded generator so they are
//! reproducible and need no extra crates:
//! - reader/printer round trip: `read(write(v))` writes back identically;
//! - no input, valid or mangled, makes the reader or evaluator panic or overflow the
//!   stack when run under small budgets.

use pelagos_lisp::{read_bytes, read_str, Interp, Limits, Value};
use std::io::Write;

/// xorshift64*: tiny, deterministic, good enough to drive generators.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
    fn pick_ref<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

fn gen_string(r: &mut Rng) -> String {
    const CHARS: &[char] = &[
        'a', 'Z', ' ', '"', '\\', '|', '\n', '\t', '\r', '\0', '\x07', '\x1b', 'é', '漢', '😀',
        '(', ')', ';', '#', '\'', ':', '.', '0',
    ];
    (0..r.below(8)).map(|_| r.pick(CHARS)).collect()
}

fn gen_atom(r: &mut Rng) -> Value {
    match r.below(9) {
        0 => Value::Int(r.pick(&[0, 1, -1, i64::MAX, i64::MIN, 42])),
        1 => Value::Int(r.next() as i64),
        2 => {
            let f = f64::from_bits(r.next());
            Value::Float(if f.is_finite() { f } else { 0.5 })
        }
        3 => Value::Float(r.pick(&[
            0.0,
            -0.0,
            1e300,
            1e-300,
            0.1,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ])),
        4 => Value::string(gen_string(r)),
        5 => Value::sym(r.pick(&["a", "foo-bar", "+", "...", "->x", "a.b", "é"])),
        6 => Value::sym(&gen_string(r)),
        7 => Value::keyword(r.pick(&["image", "ports", "x1"])),
        _ => Value::Bool(r.below(2) == 0),
    }
}

fn gen_value(r: &mut Rng, depth: usize) -> Value {
    if depth == 0 || r.below(3) == 0 {
        return if r.below(10) == 0 {
            Value::Nil
        } else {
            gen_atom(r)
        };
    }
    let items: Vec<Value> = (0..r.below(5)).map(|_| gen_value(r, depth - 1)).collect();
    let tail = if r.below(4) == 0 && !items.is_empty() {
        gen_atom(r)
    } else {
        Value::Nil
    };
    let v = pelagos_lisp::list_with_tail(items, tail);
    if r.below(6) == 0 {
        let q = r.pick(&["quote", "quasiquote", "unquote", "unquote-splicing"]);
        return pelagos_lisp::list_from(vec![Value::sym(q), v]);
    }
    v
}

#[test]
fn reader_printer_round_trip() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..5000 {
        let v = gen_value(&mut r, 5);
        let text = v.to_string();
        let back = read_str(&text, 0, 1000, usize::MAX)
            .unwrap_or_else(|e| panic!("case {i}: {text:?}: {e}"));
        assert_eq!(back.len(), 1, "case {i}: {text:?}");
        assert_eq!(back[0].to_string(), text, "case {i}");
    }
}

/// Programs the mutator starts from: the corpus plus a few dense snippets.
fn seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "reml") {
                if let Ok(b) = std::fs::read(&f) {
                    out.push(b);
                }
            }
        }
    }
    for s in [
        "(define (f n) (if (< n 2) n (+ (f (- n 1)) (f (- n 2))))) (f 15)",
        "(let loop ((i 0)) (when (< i 100) (loop (+ i 1))))",
        "(guard (e (#t e)) (raise (list 1 2)))",
        "(defmacro m (x) `(list ,x ,@(list x))) (m 3)",
        "`(1 ,@(map (lambda (x) (* x x)) (iota 5)) . 2)",
        "(define t (make-hash-table)) (hash-table-set! t 'a 1) (hash-table->alist t)",
        "(format \"~a ~s~%\" (string-split \"a,b\" \",\") (string-append \"x\" \"y\"))",
        "(do ((i 0 (+ i 1))) ((= i 5)) (display i))",
        "(apply + (fold-left (lambda (a x) (cons x a)) '() (iota 10)))",
        "(case (car '(x)) ((x) 'yes) (else 'no))",
    ] {
        out.push(s.as_bytes().to_vec());
    }
    out
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    "(",
    ")",
    "'",
    "`",
    ",",
    ",@",
    " ",
    "\"",
    "#t",
    "#f",
    "1",
    "-5",
    "1.5",
    "1e308",
    "99999999999999999999",
    "x",
    "f",
    ":k",
    ".",
    "quote",
    "quasiquote",
    "if",
    "cond",
    "case",
    "when",
    "unless",
    "and",
    "or",
    "begin",
    "define",
    "set!",
    "lambda",
    "let",
    "let*",
    "letrec",
    "do",
    "define-macro",
    "defmacro",
    "guard",
    "raise",
    "error",
    "apply",
    "map",
    "for-each",
    "filter",
    "fold-left",
    "fold-right",
    "car",
    "cdr",
    "cons",
    "list",
    "append",
    "reverse",
    "length",
    "string-append",
    "format",
    "\"~a~s~%\"",
    "display",
    "eval",
    "else",
    "=>",
    "sort",
    "iota",
    "make-hash-table",
    "hash-table-set!",
    "string->symbol",
    "equal?",
    "+",
    "*",
    "-",
    "/",
    "expt",
    "sleep",
    "(f)",
    "(define (f) (f))",
    "(lambda x x)",
    "#;",
    "#|",
    "|#",
    "[",
    "]",
];

fn mutate(r: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = r.pick_ref(seeds).clone();
    for _ in 0..=r.below(3) {
        let at = r.below(b.len() + 1);
        match r.below(6) {
            0 if !b.is_empty() => {
                let end = (at + r.below(16)).min(b.len());
                b.drain(at.min(end)..end);
            }
            1 => {
                let t = r.pick(TOKENS).as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            2 if at < b.len() => b[at] = r.next() as u8,
            3 => {
                let other = r.pick_ref(seeds);
                let s = r.below(other.len() + 1);
                let e = (s + r.below(64)).min(other.len());
                b.splice(at..at, other[s..e].iter().copied());
            }
            4 => {
                let n = r.below(40);
                b.splice(at..at, std::iter::repeat_n(b'(', n));
            }
            _ => b.push(b')'),
        }
    }
    b
}

const HEADS: &[&str] = &[
    "if",
    "cond",
    "case",
    "when",
    "unless",
    "and",
    "or",
    "begin",
    "define",
    "set!",
    "lambda",
    "let",
    "let*",
    "letrec",
    "do",
    "guard",
    "quote",
    "quasiquote",
    "unquote",
    "define-macro",
    "raise",
    "error",
    "errorf",
    "apply",
    "map",
    "for-each",
    "filter",
    "fold-left",
    "fold-right",
    "car",
    "cdr",
    "cons",
    "list",
    "append",
    "reverse",
    "length",
    "list-ref",
    "member",
    "assoc",
    "string-append",
    "substring",
    "string-split",
    "string-join",
    "format",
    "display",
    "write",
    "eval",
    "sort",
    "iota",
    "make-hash-table",
    "hash-table-set!",
    "hash-table-ref",
    "equal?",
    "+",
    "-",
    "*",
    "/",
    "quotient",
    "expt",
    "<",
    "=",
    "number->string",
    "string->symbol",
    "f",
    "g",
    "x",
    "else",
    "cadr",
    "logf",
    "env",
    "abs",
    "min",
];
const ATOMS: &[&str] = &[
    "x",
    "y",
    "f",
    "g",
    "0",
    "1",
    "-1",
    "2.5",
    "9223372036854775807",
    "\"s\"",
    "\"~a\"",
    "'x",
    "'()",
    "'(1 2)",
    "#t",
    "#f",
    ":k",
    "else",
    "=>",
    "(lambda (x) x)",
    "car",
    "+",
    "e",
];

/// A syntactically valid random program: balanced lists of plausible heads and atoms.
fn gen_expr(r: &mut Rng, depth: usize, out: &mut String) {
    if depth == 0 || r.below(3) == 0 {
        out.push_str(r.pick(ATOMS));
        return;
    }
    out.push('(');
    out.push_str(r.pick(HEADS));
    for _ in 0..r.below(4) {
        out.push(' ');
        gen_expr(r, depth - 1, out);
    }
    out.push(')');
}

fn gen_program(r: &mut Rng) -> Vec<u8> {
    let mut s = String::from("(define x 1) (define (f . a) a) (define g car) ");
    for _ in 0..=r.below(5) {
        gen_expr(r, 6, &mut s);
        s.push('\n');
    }
    s.into_bytes()
}

fn token_soup(r: &mut Rng) -> Vec<u8> {
    let mut s = String::new();
    for _ in 0..r.below(60) {
        s.push_str(r.pick(TOKENS));
        s.push(' ');
    }
    s.into_bytes()
}

/// Discards output: the fuzzed programs print a lot.
struct Null;
impl Write for Null {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the program was read (and so evaluated).
fn run_one(src: &[u8]) -> bool {
    let limits = Limits::small();
    let Ok(forms) = read_bytes(src, 0, limits.max_nesting, limits.max_heap_bytes) else {
        return false;
    };
    {
        let mut it = Interp::with_limits(limits);
        it.set_output(Box::new(Null));
        it.set_error_output(Box::new(Null));
        it.set_env_lookup(Box::new(|_| None));
        // Errors are fine; panics and stack overflows are not.
        let _ = it.eval_forms(forms);
    }
    true
}

#[test]
fn random_and_mutated_programs_never_panic() {
    let seeds = seeds();
    // Longer local runs: REML_FUZZ_ITERATIONS=1000000 REML_FUZZ_SEED=7 cargo test ...
    let seed = std::env::var("REML_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xD1B5_4A32_D192_ED03);
    let iterations = std::env::var("REML_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut r = Rng(seed);
    let mut evaluated = 0;
    for _ in 0..iterations {
        let src = match r.below(4) {
            0 => token_soup(&mut r),
            1 => mutate(&mut r, &seeds),
            _ => gen_program(&mut r),
        };
        evaluated += usize::from(run_one(&src));
    }
    println!("{evaluated} of {iterations} generated programs were readable and evaluated");
    assert!(
        evaluated > iterations / 3,
        "the generator should mostly produce readable programs"
    );
}

#[test]
fn hostile_inputs_end_with_errors() {
    let hostile: &[(&str, &str)] = &[
        (&"(".repeat(1_000_000), "depth exceeded"),
        (&"'".repeat(1_000_000), "depth exceeded"),
        ("(define (f) (f)) (f)", "step budget exceeded"),
        ("(define (f n) (+ 1 (f n))) (f 0)", "depth exceeded"),
        ("(define (f l) (f (cons l l))) (f 1)", "budget exceeded"),
        (
            "(define (f s) (f (string-append s s s))) (f \"abc\")",
            "allocation budget exceeded",
        ),
        ("(let loop ((x '())) (loop (list x x)))", "budget exceeded"),
        ("(defmacro m () '(m)) (m)", "step budget exceeded"),
        ("(define (f x) (map f '(1))) (f 1)", "depth exceeded"),
        (
            "(define (f) (sort '(1 2) (lambda (a b) (f)))) (f)",
            "depth exceeded",
        ),
    ];
    for (src, want) in hostile {
        let mut it = Interp::with_limits(Limits::small());
        it.set_output(Box::new(Null));
        let e = it
            .eval_str(src, "h.reml")
            .expect_err(&src[..src.len().min(40)]);
        assert!(
            e.to_string().ends_with(want),
            "{}: {e}",
            &src[..src.len().min(40)]
        );
    }
}
