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

#[test]
fn quote_forms() {
    assert_eq!(ev("'(a b . c)"), "(a b . c)");
    assert_eq!(ev("(quote x)"), "x");
    assert_eq!(ev("''x"), "'x");
    assert!(ev_err("(quote)").contains("quote: expected exactly one datum"));
}

#[test]
fn quasiquote_forms() {
    assert_eq!(ev("(define x 5) `(a ,x ,@(list 1 2) c)"), "(a 5 1 2 c)");
    assert_eq!(ev("(define x 5) `(a . ,x)"), "(a . 5)");
    assert_eq!(ev("`(1 `(2 ,(3 ,(+ 1 3))))"), "(1 `(2 ,(3 4)))");
    assert_eq!(ev("`x"), "x");
    assert_eq!(ev("`(,@'() . tail)"), "tail");
    assert_eq!(ev("(define list 0) `(,list ,@'(1))"), "(0 1)");
}

#[test]
fn if_form() {
    assert_eq!(ev("(if #t 1 2)"), "1");
    assert_eq!(ev("(if #f 1 2)"), "2");
    assert_eq!(ev("(if '() 1 2)"), "1");
    assert_eq!(ev("(if #f 1)"), "#<void>");
    assert!(ev_err("(if)").contains("if: expected"));
}

#[test]
fn cond_form() {
    assert_eq!(ev("(cond (#f 1) ((= 1 1) 2) (else 3))"), "2");
    assert_eq!(ev("(cond (#f 1) (else 3))"), "3");
    assert_eq!(
        ev("(cond ((assv 2 '((1 . a) (2 . b))) => cdr) (else 0))"),
        "b"
    );
    assert_eq!(ev("(cond (5))"), "5");
    assert_eq!(ev("(cond (#f 1))"), "#<void>");
}

#[test]
fn case_form() {
    assert_eq!(ev("(case 3 ((1 2) 'low) ((3 4) 'mid) (else 'high))"), "mid");
    assert_eq!(ev("(case 'x ((a) 1) (else 2))"), "2");
    assert_eq!(ev("(case \"s\" ((\"s\") 1) (else 2))"), "1");
    assert_eq!(ev("(case 9 ((1) 1))"), "#<void>");
}

#[test]
fn when_unless() {
    assert_eq!(ev("(when (> 2 1) 'a 'b)"), "b");
    assert_eq!(ev("(when #f 'a)"), "#<void>");
    assert_eq!(ev("(unless #f 'a)"), "a");
    assert_eq!(ev("(unless #t 'a)"), "#<void>");
}

#[test]
fn and_or() {
    assert_eq!(ev("(and)"), "#t");
    assert_eq!(ev("(and 1 2 3)"), "3");
    assert_eq!(ev("(and 1 #f 3)"), "#f");
    assert_eq!(ev("(or)"), "#f");
    assert_eq!(ev("(or #f 2 (car '()))"), "2");
}

#[test]
fn begin_define_set() {
    assert_eq!(ev("(begin 1 2 3)"), "3");
    assert_eq!(ev("(begin)"), "#<void>");
    assert_eq!(ev("(define x 1) (set! x (+ x 1)) x"), "2");
    assert_eq!(ev("(define (f . xs) xs) (f 1 2)"), "(1 2)");
    assert_eq!(ev("(define (f) (define y 3) (set! y 4) y) (f)"), "4");
    assert!(ev_err("(set! nope 1)").ends_with("unbound variable: nope"));
    assert_eq!(ev("(define f (lambda () 1)) f"), "#<procedure f>");
}

#[test]
fn lambda_and_closures() {
    assert_eq!(ev("((lambda (x y) (+ x y)) 1 2)"), "3");
    assert_eq!(ev("((lambda args args) 1 2)"), "(1 2)");
    assert_eq!(ev("((lambda (a . r) r) 1 2 3)"), "(2 3)");
    assert_eq!(
        ev("(define (adder n) (lambda (x) (+ x n))) ((adder 3) 4)"),
        "7"
    );
    assert_eq!(
        ev("(define (counter) (let ((n 0)) (lambda () (set! n (+ n 1)) n))) (define c (counter)) (c) (c)"),
        "2"
    );
    assert!(ev_err("(lambda (a a) a)").contains("duplicate parameter"));
    assert!(ev_err("((lambda (x) x))").contains("expected 1 arguments, got 0"));
}

#[test]
fn let_forms() {
    assert_eq!(ev("(let ((x 1) (y 2)) (+ x y))"), "3");
    assert_eq!(ev("(let ((x 1)) (let ((x 2) (y x)) y))"), "1");
    assert_eq!(ev("(let* ((x 1) (y (+ x 1))) y)"), "2");
    assert_eq!(
        ev("(letrec ((ev? (lambda (n) (if (= n 0) #t (od? (- n 1))))) (od? (lambda (n) (if (= n 0) #f (ev? (- n 1)))))) (ev? 100))"),
        "#t"
    );
    assert_eq!(ev("(letrec* ((a 1) (b (+ a 1))) b)"), "2");
    assert_eq!(
        ev("(let loop ((i 0) (acc '())) (if (= i 3) acc (loop (+ i 1) (cons i acc))))"),
        "(2 1 0)"
    );
    assert_eq!(ev("(let () 5)"), "5");
}

#[test]
fn do_loop() {
    assert_eq!(ev("(do ((i 0 (+ i 1)) (s 0 (+ s i))) ((= i 5) s))"), "10");
    assert_eq!(out("(do ((i 0 (+ i 1))) ((= i 3)) (display i))"), "012");
    assert_eq!(ev("(do ((i 0 (+ i 1)) (j 10)) ((= i 2) j))"), "10");
}

#[test]
fn macros() {
    assert_eq!(
        ev("(define-macro (swap! a b) (let ((t (gensym))) `(let ((,t ,a)) (set! ,a ,b) (set! ,b ,t)))) (define x 1) (define y 2) (swap! x y) (list x y)"),
        "(2 1)"
    );
    assert_eq!(
        ev("(defmacro my-if (c a b) `(cond (,c ,a) (else ,b))) (my-if #f 1 2)"),
        "2"
    );
    assert_eq!(ev("(defmacro inc! (v . by) `(set! ,v (+ ,v ,(if (null? by) 1 (car by))))) (define n 5) (inc! n) (inc! n 10) n"), "16");
}

#[test]
fn guard_and_raise() {
    assert_eq!(
        ev("(guard (e (#t (list 'caught e))) (raise 'oops))"),
        "(caught oops)"
    );
    assert_eq!(
        ev("(guard (e ((string? e) 's) ((symbol? e) 'y)) (raise 'x))"),
        "y"
    );
    assert_eq!(
        ev("(guard (e ((error-object? e) (error-object-message e))) (error \"bad thing\" 1 2))"),
        "\"bad thing\""
    );
    assert_eq!(
        ev("(guard (e (#t (error-object-irritants e))) (error \"bad\" 1 \"two\"))"),
        "(1 \"two\")"
    );
    assert_eq!(
        ev("(guard (e (#t (condition/report-string e))) (car 5))"),
        "\"car: expected a pair, got 5\""
    );
    assert_eq!(
        ev("(guard (e ((symbol? e) 'inner)) (guard (e2 ((string? e2) 'no)) (raise 'z)))"),
        "inner"
    );
    assert_eq!(ev("(guard (e (else 'any)) (undefined-var))"), "any");
    assert_eq!(
        ev("(guard (e ((assq 'a e) => cdr) ((assq 'b e))) (raise (list (cons 'a 42))))"),
        "42"
    );
    assert_eq!(ev("(define (f) (guard (e (#t 'h)) 1)) (f)"), "1");
    assert!(ev_err("(guard (e ((string? e) 1)) (raise 'unhandled))")
        .ends_with("uncaught exception: unhandled"));
    assert_eq!(
        ev_err("(guard (e (#f 1))\n  (error \"custom failure\" 'x))"),
        "t.reml:2:3: custom failure x"
    );
}

#[test]
fn budgets_are_not_catchable() {
    let (mut it, _, _) = interp();
    it.set_limits(Limits {
        max_steps: 10_000,
        ..Limits::default()
    });
    let e = it
        .eval_str("(guard (e (#t 'caught)) (let loop () (loop)))", "t.reml")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Steps);
}

#[test]
fn apply_and_eval() {
    assert_eq!(ev("(apply + 1 2 '(3 4))"), "10");
    assert_eq!(ev("(apply list '())"), "()");
    assert_eq!(ev("(eval '(+ 1 2))"), "3");
    assert_eq!(ev("(eval (list 'define 'zz 9)) zz"), "9");
    assert!(ev_err("(apply + 1)").contains("apply: expected a list"));
}

#[test]
fn error_positions() {
    assert_eq!(
        ev_err("(define x 1)\n(car x)"),
        "t.reml:2:1: car: expected a pair, got 1"
    );
    assert_eq!(
        ev_err("(list 1\n   undefined-thing)"),
        "t.reml:2:4: unbound variable: undefined-thing"
    );
    assert_eq!(
        ev_err("(+ 1 \"a\")"),
        "t.reml:1:1: +: expected a number, got \"a\""
    );
    assert_eq!(
        ev_err("(define (f x) (g x))\n(f 1)"),
        "t.reml:1:15: unbound variable: g"
    );
    assert_eq!(ev_err("(5 3)"), "t.reml:1:1: not a procedure: 5");
    assert_eq!(
        ev_err("  (error \"boom\" 'a \"b\")"),
        "t.reml:1:3: boom a \"b\""
    );
    assert_eq!(
        ev_err("(errorf \"bad ~a: ~s\" 'x \"y\")"),
        "t.reml:1:1: bad x: \"y\""
    );
    assert_eq!(
        ev_err("(car)"),
        "t.reml:1:1: car: expected 1 arguments, got 0"
    );
    assert_eq!(
        ev_err("(map car '(1))"),
        "t.reml:1:1: car: expected a pair, got 1"
    );
    assert_eq!(ev_err("(raise 42)"), "t.reml:1:1: uncaught exception: 42");
    assert_eq!(
        ev_err("(quotient 1 0)"),
        "t.reml:1:1: quotient: division by zero"
    );
    assert_eq!(
        ev_err("(* 9223372036854775807 2)"),
        "t.reml:1:1: *: integer overflow"
    );
}

#[test]
fn tail_calls_run_in_constant_space() {
    let (mut it, _, _) = interp();
    it.set_limits(Limits {
        max_depth: 100,
        ..Limits::default()
    });
    let before = crate::heap::live_bytes();
    let v = it
        .eval_str(
            "(define (loop i acc) (if (= i 0) acc (loop (- i 1) (+ acc 1)))) (loop 1000000 0)",
            "t.reml",
        )
        .unwrap();
    assert_eq!(v.to_string(), "1000000");
    // Frames of finished iterations are released: the heap is back near where it started.
    assert!(crate::heap::live_bytes() < before + 64 * 1024);
    let v = it
        .eval_str(
            "(let lp ((i 0)) (cond ((< i 1000000) (lp (+ i 1))) (else i)))",
            "t.reml",
        )
        .unwrap();
    assert_eq!(v.to_string(), "1000000");
    let v = it
        .eval_str("(do ((i 0 (+ i 1))) ((= i 1000000) 'done))", "t.reml")
        .unwrap();
    assert_eq!(v.to_string(), "done");
    let v = it
        .eval_str("(define (a n) (when (> n 0) (b (- n 1)))) (define (b n) (and #t (a n))) (a 1000000) 'ok", "t.reml")
        .unwrap();
    assert_eq!(v.to_string(), "ok");
}

#[test]
fn step_budget() {
    let (mut it, _, _) = interp();
    it.set_limits(Limits {
        max_steps: 100_000,
        ..Limits::default()
    });
    let e = it.eval_str("(define (f) (f))\n(f)", "t.reml").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Steps);
    assert!(e.to_string().starts_with("t.reml:1:"), "{e}");
    assert_eq!(
        e.to_string().rsplit(": ").next(),
        Some("step budget exceeded")
    );
}

#[test]
fn default_budget_stops_infinite_loop() {
    let e = ev_err("(define (f) (f)) (f)");
    assert!(e.ends_with("step budget exceeded"), "{e}");
}

#[test]
fn depth_budget() {
    let e = ev_err("(define (f n) (+ 1 (f n))) (f 1)");
    assert!(e.ends_with("depth exceeded"), "{e}");
    let e = ev_err("(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (f 1000000)");
    assert!(e.ends_with("depth exceeded"), "{e}");
    assert_eq!(
        ev("(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (f 50000)"),
        "50000"
    );
}

/// Evaluate under `limits` and return the error text.
fn ev_err_limited(limits: Limits, src: &str) -> String {
    let (mut it, _, _) = interp();
    it.set_limits(limits);
    match it.eval_str(src, "t.reml") {
        Ok(v) => panic!("{src}: expected an error, got {v}"),
        Err(e) => e.to_string(),
    }
}

fn small_heap() -> Limits {
    Limits {
        max_heap_bytes: 8 << 20,
        ..Limits::default()
    }
}

#[test]
fn allocation_budget() {
    let ev_err = |s| ev_err_limited(small_heap(), s);
    let e = ev_err("(define (grow l) (grow (cons l l))) (grow '())");
    assert!(
        e.ends_with("allocation budget exceeded") || e.ends_with("step budget exceeded"),
        "{e}"
    );
    let e = ev_err("(define (dbl s) (dbl (string-append s s))) (dbl \"x\")");
    assert!(e.ends_with("allocation budget exceeded"), "{e}");
    let e = ev_err("(define (f l) (f (cons 1 l))) (f '())");
    assert!(e.ends_with("allocation budget exceeded"), "{e}");
    let e = ev_err("(iota 1000000000)");
    assert!(e.ends_with("allocation budget exceeded"), "{e}");
    let e = ev_err(
        "(define (dbl l n) (if (= n 0) l (dbl (append l l) (- n 1)))) (length (dbl '(1) 40))",
    );
    assert!(e.ends_with("allocation budget exceeded"), "{e}");
}

#[test]
fn exponential_structures_are_bounded() {
    let ev_err = |s: &str| {
        ev_err_limited(
            Limits {
                max_steps: 2_000_000,
                ..small_heap()
            },
            s,
        )
    };
    let src = "(define (bomb x n) (if (= n 0) x (bomb (cons x x) (- n 1)))) (define b (bomb 1 80))";
    let e = ev_err(&format!("{src} (display b)"));
    assert!(e.ends_with("budget exceeded"), "{e}");
    let e = ev_err(&format!("{src} (equal? b (bomb 1 80))"));
    assert!(e.ends_with("step budget exceeded"), "{e}");
}

#[test]
fn sleep_budget() {
    let (mut it, _, _) = interp();
    it.set_limits(Limits {
        max_sleep: std::time::Duration::from_millis(30),
        ..Limits::default()
    });
    assert!(it.eval_str("(sleep 0.01)", "t.reml").is_ok());
    let e = it
        .eval_str("(let loop () (sleep 0.01) (loop))", "t.reml")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Sleep);
    let e = it.eval_str("(sleep 100000)", "t.reml").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Sleep);
}

#[test]
fn timeout_budget() {
    let (mut it, _, _) = interp();
    it.set_limits(Limits {
        timeout: Some(std::time::Duration::from_millis(50)),
        max_steps: u64::MAX,
        ..Limits::default()
    });
    let e = it.eval_str("(let loop () (loop))", "t.reml").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
}

#[test]
fn host_natives_with_keywords() {
    let (mut it, _, _) = interp();
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s2 = seen.clone();
    it.define_native_kw(
        "service",
        1,
        Some(1),
        &["image", "ports"],
        move |_, pos, kw| {
            let name = pos[0].as_str().unwrap_or("?").to_string();
            let image = kw.get("image").map(|v| v.to_string()).unwrap_or_default();
            let ports = kw.get("ports").map(|v| v.to_string()).unwrap_or_default();
            s2.borrow_mut().push(format!("{name} {image} {ports}"));
            Ok(Value::host("service", name))
        },
    );
    let v = it
        .eval_str("(service \"db\" :image \"x\" :ports '(1 2))", "t.reml")
        .unwrap();
    assert_eq!(v.as_host::<String>().map(String::as_str), Some("db"));
    assert_eq!(v.to_string(), "#<service>");
    assert_eq!(seen.borrow().as_slice(), ["db \"x\" (1 2)"]);
    let e = it
        .eval_str("(service \"db\" :bogus 1)", "t.reml")
        .unwrap_err();
    assert!(
        e.to_string().contains("service: unknown keyword :bogus"),
        "{e}"
    );
    let e = it
        .eval_str("(service \"db\" :image)", "t.reml")
        .unwrap_err();
    assert!(e.to_string().contains("needs a value"), "{e}");
    let e = it.eval_str("(service)", "t.reml").unwrap_err();
    assert!(
        e.to_string()
            .contains("expected 1 positional arguments, got 0"),
        "{e}"
    );
    let e = it
        .eval_str("(service \"a\" :image 1 :image 2)", "t.reml")
        .unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
}

#[test]
fn host_calls_back_into_closures() {
    let (mut it, _, _) = interp();
    let hooks: Rc<RefCell<Vec<Value>>> = Rc::default();
    let h2 = hooks.clone();
    it.define_native("on-start", 1, Some(1), move |_, a| {
        h2.borrow_mut().push(a[0].clone());
        Ok(Value::Void)
    });
    it.eval_str(
        "(define n 0) (on-start (lambda (x) (set! n (+ n x)) n))",
        "t.reml",
    )
    .unwrap();
    let hook = hooks.borrow()[0].clone();
    assert_eq!(
        it.call(&hook, vec![Value::Int(5)]).unwrap().to_string(),
        "5"
    );
    assert_eq!(
        it.call(&hook, vec![Value::Int(2)]).unwrap().to_string(),
        "7"
    );
    let e = it.call(&hook, vec![]).unwrap_err();
    assert!(e.to_string().contains("expected 1 arguments"));
    // A native calling back into the evaluator.
    it.define_native("twice", 1, Some(1), |it, a| {
        let f = a[0].clone();
        let x = it.call(&f, vec![Value::Int(1)])?;
        it.call(&f, vec![x])
    });
    assert_eq!(
        it.eval_str("(twice (lambda (x) (* x 10)))", "t.reml")
            .unwrap()
            .to_string(),
        "100"
    );
    assert_eq!(it.lookup("n").unwrap().to_string(), "7");
}

#[test]
fn reentrant_recursion_is_bounded() {
    let (mut it, _, _) = interp();
    it.define_native("call", 1, Some(1), |it, a| it.call(&a[0], vec![]));
    let e = it
        .eval_str("(define (f) (call f)) (f)", "t.reml")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Depth);
}

#[test]
fn results_and_values() {
    let (mut it, _, _) = interp();
    let all = it.eval_str_all("1 (+ 1 1) 'three", "t.reml").unwrap();
    assert_eq!(
        all.iter().map(Value::to_string).collect::<Vec<_>>(),
        ["1", "2", "three"]
    );
    it.define("answer", Value::Int(42));
    assert_eq!(it.eval_str("answer", "t.reml").unwrap().to_string(), "42");
    assert!(it.usage().steps < 10);
    let form = crate::value::list_from(vec![Value::sym("+"), Value::Int(1), Value::Int(2)]);
    assert_eq!(it.eval_value(form).unwrap().to_string(), "3");
}

#[test]
fn eval_file_reports_file_positions() {
    let dir = std::env::temp_dir().join(format!("reml-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _c = Cleanup(dir.clone());
    let f = dir.join("prog.reml");
    std::fs::write(&f, "(display 1)\n  (car '())\n").unwrap();
    let (mut it, out, _) = interp();
    let e = it.eval_file(&f).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:2:3: car: expected a pair, got ()", f.display())
    );
    assert_eq!(out.text(), "1");
    let missing = it.eval_file(&dir.join("nope.reml")).unwrap_err();
    assert!(missing.to_string().contains("cannot read"));
}

#[test]
fn env_lookup_is_injectable() {
    let (mut it, _, _) = interp();
    it.set_env_lookup(Box::new(|k| (k == "HOME").then(|| "/home/x".to_string())));
    assert_eq!(
        it.eval_str("(env \"HOME\")", "t.reml").unwrap().to_string(),
        "\"/home/x\""
    );
    assert_eq!(
        it.eval_str("(env \"NOPE\")", "t.reml").unwrap().to_string(),
        "#f"
    );
    assert_eq!(
        it.eval_str("(env \"NOPE\" \"d\")", "t.reml")
            .unwrap()
            .to_string(),
        "\"d\""
    );
}

#[test]
fn logf_goes_to_error_stream() {
    let (mut it, out, err) = interp();
    it.eval_str(
        "(logf \"starting ~a (~s)\" 'db \"x\") (display 1)",
        "t.reml",
    )
    .unwrap();
    assert_eq!(err.text(), "starting db (\"x\")\n");
    assert_eq!(out.text(), "1");
}

#[test]
fn finished_named_let_and_do_loops_are_freed() {
    let (mut it, _, _) = interp();
    it.eval_str(
        "(define (sum l) (let loop ((l l) (acc 0)) (if (null? l) acc (loop (cdr l) (+ acc (car l))))))",
        "t.reml",
    )
    .unwrap();
    let before = crate::heap::live_bytes();
    let v = it
        .eval_str(
            "(do ((i 0 (+ i 1)) (t 0 (+ t (sum '(1 2 3))))) ((= i 100000) t))",
            "t.reml",
        )
        .unwrap();
    assert_eq!(v.to_string(), "600000");
    assert!(crate::heap::live_bytes() < before + 64 * 1024);
    assert_eq!(ev("(let loop ((loop 5)) loop)"), "5");
    assert_eq!(ev("(define f (let loop ((i 0)) (lambda () i))) (f)"), "0");
}
