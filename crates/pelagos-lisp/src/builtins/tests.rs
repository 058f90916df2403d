//! One or more tests per builtin, through the evaluator.

use crate::interp::tests::{ev, ev_err, out};

fn check(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        assert_eq!(ev(src), *want, "{src}");
    }
}

fn check_err(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        let e = ev_err(src);
        assert!(e.contains(want), "{src}: {e}");
    }
}

#[test]
fn arithmetic() {
    check(&[
        ("(+)", "0"),
        ("(+ 1 2 3)", "6"),
        ("(+ 1 2.5)", "3.5"),
        ("(- 5)", "-5"),
        ("(- 10 1 2)", "7"),
        ("(*)", "1"),
        ("(* 2 3 4)", "24"),
        ("(/ 10 2)", "5"),
        ("(/ 1 2)", "0.5"),
        ("(/ 2)", "0.5"),
        ("(/ 1.0 0)", "+inf.0"),
        ("(quotient 17 5)", "3"),
        ("(quotient -17 5)", "-3"),
        ("(remainder -17 5)", "-2"),
        ("(modulo -17 5)", "3"),
        ("(modulo 17 -5)", "-3"),
        ("(abs -4)", "4"),
        ("(abs -4.5)", "4.5"),
        ("(min 3 1 2)", "1"),
        ("(max 3 1 2)", "3"),
        ("(max 1 2.0)", "2.0"),
        ("(expt 2 10)", "1024"),
        ("(expt 2 -1)", "0.5"),
        ("(expt 2.0 0.5)", "1.4142135623730951"),
        ("(sqrt 16)", "4"),
        ("(sqrt 2)", "1.4142135623730951"),
        ("(floor 2.5)", "2.0"),
        ("(ceiling 2.1)", "3.0"),
        ("(round 2.5)", "2.0"),
        ("(truncate -2.7)", "-2.0"),
        ("(floor 3)", "3"),
        ("(exact->inexact 3)", "3.0"),
        ("(inexact->exact 3.0)", "3"),
        ("(exact 4.0)", "4"),
        ("(inexact 1)", "1.0"),
    ]);
    check_err(&[
        ("(/ 1 0)", "/: division by zero"),
        ("(remainder 1 0)", "remainder: division by zero"),
        ("(modulo 1 0)", "modulo: division by zero"),
        ("(+ 9223372036854775807 1)", "+: integer overflow"),
        ("(- -9223372036854775807 2)", "-: integer overflow"),
        ("(abs -9223372036854775808)", "abs: integer overflow"),
        (
            "(quotient -9223372036854775808 -1)",
            "quotient: integer overflow",
        ),
        ("(expt 10 100)", "expt: integer overflow"),
        ("(inexact->exact 1.5)", "no exact integer value"),
        ("(- 'a)", "-: expected a number, got a"),
    ]);
}

#[test]
fn comparisons() {
    check(&[
        ("(= 1 1 1)", "#t"),
        ("(= 1 1.0)", "#t"),
        ("(= 1 2)", "#f"),
        ("(< 1 2 3)", "#t"),
        ("(< 1 3 2)", "#f"),
        ("(> 3 2 1)", "#t"),
        ("(<= 1 1 2)", "#t"),
        ("(>= 2 2 3)", "#f"),
        ("(zero? 0)", "#t"),
        ("(zero? 0.0)", "#t"),
        ("(zero? 1)", "#f"),
        ("(positive? 2)", "#t"),
        ("(negative? -2)", "#t"),
        ("(even? 4)", "#t"),
        ("(odd? 4)", "#f"),
    ]);
    check_err(&[("(< 1 'x)", "<: expected a number")]);
}

#[test]
fn number_conversions() {
    check(&[
        ("(number->string 42)", "\"42\""),
        ("(number->string 2.5)", "\"2.5\""),
        ("(number->string 255 16)", "\"ff\""),
        ("(number->string -5 2)", "\"-101\""),
        ("(string->number \"42\")", "42"),
        ("(string->number \"-1.5e2\")", "-150.0"),
        ("(string->number \"abc\")", "#f"),
        ("(string->number \"99999999999999999999999\")", "#f"),
        ("(number? 1)", "#t"),
        ("(number? \"1\")", "#f"),
        ("(integer? 2)", "#t"),
        ("(integer? 2.0)", "#t"),
        ("(integer? 2.5)", "#f"),
        ("(float? 2.5)", "#t"),
    ]);
    check_err(&[("(number->string 1 7)", "unsupported radix")]);
}

#[test]
fn pairs_and_accessors() {
    check(&[
        ("(cons 1 2)", "(1 . 2)"),
        ("(cons 1 '(2))", "(1 2)"),
        ("(car '(1 2))", "1"),
        ("(cdr '(1 2))", "(2)"),
        ("(cadr '(1 2 3))", "2"),
        ("(cddr '(1 2 3))", "(3)"),
        ("(caar '((1) 2))", "1"),
        ("(cdar '((1 5) 2))", "(5)"),
        ("(caddr '(1 2 3))", "3"),
        ("(cdddr '(1 2 3 4))", "(4)"),
        ("(caadr '(1 (2) 3))", "2"),
        ("(cadddr '(1 2 3 4))", "4"),
        ("(cddddr '(1 2 3 4 5))", "(5)"),
        ("(caaaar '((((x)))))", "x"),
    ]);
    check_err(&[
        ("(car '())", "car: expected a pair, got ()"),
        ("(cdr 5)", "cdr: expected a pair, got 5"),
        ("(caddr '(1))", "caddr: expected a pair"),
    ]);
}

#[test]
fn all_cxr_accessors_exist() {
    let mut names = vec![];
    for len in 1..=4u32 {
        for bits in 0..(1u32 << len) {
            let path: String = (0..len)
                .map(|i| if bits >> i & 1 == 1 { 'd' } else { 'a' })
                .collect();
            names.push(format!("c{path}r"));
        }
    }
    assert_eq!(names.len(), 30);
    // A full binary tree four levels deep, so every path exists and leads somewhere
    // different.
    fn tree(depth: u32, next: &mut u32) -> String {
        if depth == 0 {
            *next += 1;
            return next.to_string();
        }
        let a = tree(depth - 1, next);
        let d = tree(depth - 1, next);
        format!("({a} . {d})")
    }
    let t = tree(4, &mut 0);
    for n in names {
        let path = &n[1..n.len() - 1];
        let mut nested = String::new();
        for c in path.chars() {
            nested.push_str(&format!("(c{c}r "));
        }
        nested.push('t');
        nested.push_str(&")".repeat(path.len()));
        let src = format!("(define t '{t}) (list (equal? ({n} t) {nested}) ({n} t))");
        let got = ev(&src);
        assert!(got.starts_with("(#t "), "{n}: {got}");
    }
}

#[test]
fn list_operations() {
    check(&[
        ("(list)", "()"),
        ("(list 1 2 3)", "(1 2 3)"),
        ("(length '(1 2 3))", "3"),
        ("(length '())", "0"),
        ("(append)", "()"),
        ("(append '(1) '(2 3) '() '(4))", "(1 2 3 4)"),
        ("(append '(1) 2)", "(1 . 2)"),
        ("(reverse '(1 2 3))", "(3 2 1)"),
        ("(list-ref '(a b c) 1)", "b"),
        ("(list-tail '(a b c) 2)", "(c)"),
        ("(last-pair '(1 2 3))", "(3)"),
        ("(list-copy '(1 2))", "(1 2)"),
        ("(iota 5)", "(0 1 2 3 4)"),
        ("(iota 3 1)", "(1 2 3)"),
        ("(iota 3 0 2)", "(0 2 4)"),
        ("(member 2 '(1 2 3))", "(2 3)"),
        ("(member \"b\" '(\"a\" \"b\"))", "(\"b\")"),
        ("(member 9 '(1 2))", "#f"),
        ("(memq 'c '(a b c))", "(c)"),
        ("(memv 2.0 '(1 2.0))", "(2.0)"),
        ("(assoc \"b\" '((\"a\" . 1) (\"b\" . 2)))", "(\"b\" . 2)"),
        ("(assq 'b '((a 1) (b 2)))", "(b 2)"),
        ("(assv 2 '((1 . x) (2 . y)))", "(2 . y)"),
        ("(assq 'z '((a 1)))", "#f"),
        ("(sort '(3 1 2) <)", "(1 2 3)"),
        ("(sort '(\"b\" \"a\") string<?)", "(\"a\" \"b\")"),
        (
            "(sort '((1 . a) (0 . b) (1 . c)) (lambda (x y) (< (car x) (car y))))",
            "((0 . b) (1 . a) (1 . c))",
        ),
    ]);
    check_err(&[
        ("(length '(1 . 2))", "length: expected a proper list"),
        ("(list-ref '(1) 5)", "list-ref: index 5 out of range"),
        ("(list-ref '(1) -1)", "index must be non-negative"),
        ("(append 1 '(2))", "append: expected a proper list"),
        ("(assq 'a '(1))", "assq: expected an association list"),
    ]);
}

#[test]
fn list_helpers_with_procedures() {
    check(&[
        ("(any odd? '(2 4 5))", "#t"),
        ("(any (lambda (x) (and (> x 2) (* x 10))) '(1 3 5))", "30"),
        ("(any odd? '())", "#f"),
        ("(every odd? '(1 3))", "#t"),
        ("(every odd? '(1 2))", "#f"),
        ("(every (lambda (x) x) '())", "#t"),
        ("(remove odd? '(1 2 3 4))", "(2 4)"),
        ("(reduce + 0 '(1 2 3))", "6"),
        ("(reduce + 0 '())", "0"),
        ("(reduce cons '() '(1 2 3))", "(3 2 . 1)"),
        ("(delete 2 '(1 2 3 2))", "(1 3)"),
        ("(last '(1 2 3))", "3"),
        ("(define acc '()) (hash-table-walk (alist->hash-table '((a . 1) (b . 2))) (lambda (k v) (set! acc (cons (list k v) acc)))) acc", "((b 2) (a 1))"),
    ]);
    check_err(&[
        ("(last '())", "last-pair: expected a non-empty list"),
        ("(any 1 '(1))", "any: expected a procedure"),
    ]);
}

#[test]
fn exit_is_not_catchable() {
    let (mut it, out, _) = crate::interp::tests::interp();
    let e = it
        .eval_str(
            "(display 1) (guard (e (#t 'caught)) (exit 3)) (display 2)",
            "t.reml",
        )
        .unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Exit(3));
    assert_eq!(out.text(), "1");
    for (src, code) in [("(exit)", 0), ("(exit #f)", 1), ("(exit 0)", 0)] {
        assert_eq!(
            it.eval_str(src, "t.reml").unwrap_err().kind,
            crate::ErrorKind::Exit(code)
        );
    }
}

#[test]
fn higher_order() {
    check(&[
        ("(map (lambda (x) (* x x)) '(1 2 3))", "(1 4 9)"),
        ("(map + '(1 2) '(10 20 30))", "(11 22)"),
        ("(map car '())", "()"),
        ("(filter odd? '(1 2 3 4 5))", "(1 3 5)"),
        ("(fold-left cons '() '(1 2 3))", "(((() . 1) . 2) . 3)"),
        ("(fold-right cons '() '(1 2 3))", "(1 2 3)"),
        ("(fold-left + 0 '(1 2) '(10 20))", "33"),
        ("(fold-right list 'z '(1 2) '(a b))", "(1 a (2 b z))"),
        ("(apply max '(3 9 2))", "9"),
    ]);
    assert_eq!(
        out("(for-each (lambda (x y) (display (+ x y))) '(1 2) '(10 20))"),
        "1122"
    );
    assert_eq!(ev("(length (map (lambda (x) x) (iota 200000)))"), "200000");
    check_err(&[
        ("(map 5 '(1))", "map: expected a procedure, got 5"),
        ("(for-each display 5)", "for-each: expected a list"),
        ("(filter odd?)", "filter: wrong number of arguments"),
    ]);
}

#[test]
fn strings() {
    check(&[
        ("(string-append \"a\" \"b\" \"c\")", "\"abc\""),
        ("(string-append)", "\"\""),
        ("(substring \"héllo\" 1 3)", "\"él\""),
        ("(substring \"hello\" 2)", "\"llo\""),
        ("(string-length \"héllo\")", "5"),
        ("(string-upcase \"abc\")", "\"ABC\""),
        ("(string-downcase \"ABC\")", "\"abc\""),
        (
            "(string-split \"a,b,,c\" \",\")",
            "(\"a\" \"b\" \"\" \"c\")",
        ),
        ("(string-split \"  a b  \")", "(\"a\" \"b\")"),
        ("(string-split \"ab\" \"\")", "(\"a\" \"b\")"),
        ("(string-join '(\"a\" \"b\") \", \")", "\"a, b\""),
        ("(string-join '(\"a\" \"b\"))", "\"a b\""),
        ("(string-contains \"hello\" \"ll\")", "2"),
        ("(string-contains \"hello\" \"z\")", "#f"),
        ("(string-prefix? \"he\" \"hello\")", "#t"),
        ("(string-suffix? \"lo\" \"hello\")", "#t"),
        ("(string-trim \"  x \")", "\"x\""),
        ("(string-replace \"a-b-c\" \"-\" \"+\")", "\"a+b+c\""),
        ("(string=? \"a\" \"a\")", "#t"),
        ("(string<? \"a\" \"b\")", "#t"),
        ("(string>? \"a\" \"b\")", "#f"),
        ("(string? \"x\")", "#t"),
    ]);
    check_err(&[
        ("(substring \"abc\" 2 1)", "out of bounds"),
        ("(substring \"abc\" 0 9)", "out of bounds"),
        (
            "(string-append \"a\" 1)",
            "string-append: expected a string, got 1",
        ),
        ("(string-join '(1))", "string-join: expected a string"),
    ]);
}

#[test]
fn format_directives() {
    check(&[
        (
            "(format \"~a + ~s = ~a~%\" \"x\" \"y\" 3)",
            "\"x + \\\"y\\\" = 3\\n\"",
        ),
        ("(format #f \"~~~a\" 'sym)", "\"~sym\""),
        ("(format \"~a\" '(1 \"two\"))", "\"(1 two)\""),
        ("(format \"~s\" '(1 \"two\"))", "\"(1 \\\"two\\\")\""),
    ]);
    assert_eq!(out("(format #t \"n=~a~%\" 5)"), "n=5\n");
    check_err(&[
        ("(format \"~a ~a\" 1)", "format: too few arguments"),
        ("(format \"~a\" 1 2)", "format: too many arguments"),
        ("(format \"~q\" 1)", "format: unknown format directive ~q"),
        ("(format 5)", "format: expected a string"),
    ]);
}

#[test]
fn predicates() {
    check(&[
        ("(null? '())", "#t"),
        ("(null? '(1))", "#f"),
        ("(pair? '(1))", "#t"),
        ("(pair? '())", "#f"),
        ("(list? '(1 2))", "#t"),
        ("(list? '(1 . 2))", "#f"),
        ("(symbol? 'a)", "#t"),
        ("(symbol? \"a\")", "#f"),
        ("(boolean? #f)", "#t"),
        ("(procedure? car)", "#t"),
        ("(procedure? map)", "#t"),
        ("(procedure? (lambda () 1))", "#t"),
        ("(procedure? 'car)", "#f"),
        ("(keyword? :a)", "#t"),
        ("(keyword? 'a)", "#f"),
        ("(host-value? 1)", "#f"),
        ("(not #f)", "#t"),
        ("(not 0)", "#f"),
        ("(eq? 'a 'a)", "#t"),
        ("(eq? '(1) '(1))", "#f"),
        ("(let ((x '(1))) (eq? x x))", "#t"),
        ("(eqv? 1.5 1.5)", "#t"),
        ("(eqv? \"a\" \"a\")", "#f"),
        ("(equal? '(1 (2 \"x\")) '(1 (2 \"x\")))", "#t"),
        ("(equal? '(1 2) '(1 3))", "#f"),
        ("(equal? 1 1.0)", "#f"),
    ]);
}

#[test]
fn symbols_and_keywords() {
    check(&[
        ("(symbol->string 'abc)", "\"abc\""),
        ("(string->symbol \"x y\")", "|x y|"),
        ("(eq? (string->symbol \"abc\") 'abc)", "#t"),
        ("(symbol=? 'a 'a 'a)", "#t"),
        ("(string->keyword \"port\")", ":port"),
        ("(keyword->string :port)", "\"port\""),
        (":self-evaluating", ":self-evaluating"),
        ("(symbol? (gensym))", "#t"),
        ("(eq? (gensym) (gensym))", "#f"),
    ]);
    check_err(&[(
        "(symbol->string \"a\")",
        "symbol->string: expected a symbol",
    )]);
}

#[test]
fn hash_tables() {
    check(&[
        ("(define t (make-hash-table)) (hash-table-set! t \"a\" 1) (hash-table-ref t \"a\")", "1"),
        ("(define t (make-hash-table)) (hash-table-ref t 'missing 0)", "0"),
        ("(define t (make-hash-table)) (hash-table-ref/default t :k 'd)", "d"),
        ("(define t (make-hash-table)) (hash-table-set! t 1 'x) (hash-table-contains? t 1)", "#t"),
        ("(define t (make-hash-table)) (hash-table-set! t 1 'x) (hash-table-delete! t 1) (hash-table-contains? t 1)", "#f"),
        ("(define t (make-hash-table)) (hash-table-set! t 'a 1) (hash-table-set! t 'a 2) (hash-table-count t)", "1"),
        ("(define t (alist->hash-table '((b . 2) (a . 1)))) (hash-table-keys t)", "(a b)"),
        ("(define t (alist->hash-table '((b . 2) (a . 1)))) (hash-table-values t)", "(1 2)"),
        ("(define t (alist->hash-table '((b . 2) (a . 1)))) (hash-table->alist t)", "((a . 1) (b . 2))"),
        ("(define t (make-hash-table)) (hash-table-update! t 'n (lambda (x) (+ x 1)) 0) (hash-table-update! t 'n (lambda (x) (+ x 1))) (hash-table-ref t 'n)", "2"),
        ("(hash-table? (make-hash-table))", "#t"),
        ("(hash-table? '())", "#f"),
    ]);
    check_err(&[
        (
            "(hash-table-ref (make-hash-table) 'x)",
            "hash-table-ref: no key x",
        ),
        (
            "(hash-table-set! (make-hash-table) '(1) 2)",
            "a key must be a string",
        ),
        ("(hash-table-count 5)", "expected a hash table"),
    ]);
}

#[test]
fn output_procedures() {
    assert_eq!(
        out("(display \"a\") (display 'b) (display 1.5) (display '(1 \"s\"))"),
        "ab1.5(1 s)"
    );
    assert_eq!(
        out("(write \"a\\n\") (write 'b) (write '(1 \"s\"))"),
        "\"a\\n\"b(1 \"s\")"
    );
    assert_eq!(out("(newline) (newline)"), "\n\n");
    assert_eq!(out("(display (if #f #f))"), "#<void>");
}

#[test]
fn errors_and_conditions() {
    check(&[
        ("(guard (e (#t (condition? e))) (error \"x\"))", "#t"),
        ("(guard (e (#t (error-object? e))) (raise 1))", "#f"),
        (
            "(guard (e (#t (error-object-message e))) (errorf \"n=~a\" 3))",
            "\"n=3\"",
        ),
        (
            "(guard (e (#t (condition/report-string e))) (error \"bad\" 'x 2))",
            "\"bad x 2\"",
        ),
        (
            "(guard (e (#t (condition/report-string e))) (raise 'sym))",
            "\"sym\"",
        ),
        ("(guard (e (#t e)) (raise '(1 2)))", "(1 2)"),
    ]);
    check_err(&[
        ("(error 'my-proc \"went wrong\")", "my-proc \"went wrong\""),
        ("(errorf \"~a\")", "errorf: too few arguments"),
        ("(error-object-message 5)", "expected a condition"),
    ]);
}

#[test]
fn env_sleep_void() {
    check(&[
        ("(string? (env \"PATH\" \"\"))", "#t"),
        ("(env \"PELAGOS_SURELY_UNSET_VARIABLE\")", "#f"),
        ("(sleep 0)", "#<void>"),
        ("(sleep 0.001)", "#<void>"),
        ("(void)", "#<void>"),
    ]);
    check_err(&[
        ("(sleep -1)", "not a valid number of seconds"),
        ("(sleep 'x)", "sleep: expected a number"),
    ]);
}

#[test]
fn every_builtin_is_exercised_by_a_test() {
    let it = crate::Interp::new();
    let sources = [include_str!("tests.rs"), include_str!("../interp/tests.rs")];
    let untested: Vec<String> = it
        .global_names()
        .into_iter()
        .filter(|n| {
            // The c[ad]+r accessors are checked one by one in all_cxr_accessors_exist.
            let is_cxr = n.len() > 2
                && n.starts_with('c')
                && n.ends_with('r')
                && n[1..n.len() - 1].chars().all(|c| c == 'a' || c == 'd');
            if is_cxr {
                return false;
            }
            let call = format!("({n} ");
            let call0 = format!("({n})");
            let arg = format!(" {n})");
            let arg2 = format!(" {n} ");
            !sources.iter().any(|s| {
                s.contains(&call) || s.contains(&call0) || s.contains(&arg) || s.contains(&arg2)
            })
        })
        .collect();
    assert!(untested.is_empty(), "builtins without a test: {untested:?}");
    assert!(it.global_names().len() > 150);
}
