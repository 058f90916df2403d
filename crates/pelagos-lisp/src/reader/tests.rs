//! Reader tests: atoms, strings, lists, comments, positions, errors and limits.

use super::*;
use crate::pos::intern_file;
use crate::printer::write_string;

const BIG: usize = usize::MAX;

fn read1(s: &str) -> Value {
    let v = read_str(s, 0, 1000, BIG).unwrap();
    assert_eq!(v.len(), 1, "{s}");
    v.into_iter().next().unwrap()
}

fn read_err(s: &str) -> String {
    let f = intern_file("r.reml");
    read_str(s, f, 1000, BIG).unwrap_err().to_string()
}

#[test]
fn atoms() {
    assert_eq!(write_string(&read1("42")), "42");
    assert_eq!(write_string(&read1("-7")), "-7");
    assert_eq!(write_string(&read1("+7")), "7");
    assert_eq!(write_string(&read1("1.5")), "1.5");
    assert_eq!(write_string(&read1(".5")), "0.5");
    assert_eq!(write_string(&read1("1e3")), "1000.0");
    assert_eq!(write_string(&read1("#t")), "#t");
    assert_eq!(write_string(&read1("#false")), "#f");
    assert_eq!(write_string(&read1("foo-bar?")), "foo-bar?");
    assert_eq!(write_string(&read1("-")), "-");
    assert_eq!(write_string(&read1("...")), "...");
    assert_eq!(write_string(&read1(":image")), ":image");
    assert_eq!(write_string(&read1("|a b|")), "|a b|");
    assert_eq!(write_string(&read1("+inf.0")), "+inf.0");
}

#[test]
fn strings_with_escapes() {
    let v = read1(r#""a\nb\t\"q\" \\ \x41; é""#);
    assert_eq!(v.as_str().unwrap(), "a\nb\t\"q\" \\ A é");
}

#[test]
fn lists_dotted_and_quotes() {
    assert_eq!(write_string(&read1("(1 (2 3) . 4)")), "(1 (2 3) . 4)");
    assert_eq!(write_string(&read1("[a b]")), "(a b)");
    assert_eq!(write_string(&read1("'x")), "'x");
    assert_eq!(write_string(&read1("`(a ,b ,@c)")), "`(a ,b ,@c)");
    assert_eq!(write_string(&read1("(a . (b c))")), "(a b c)");
}

#[test]
fn comments() {
    let v = read_str(
        "; line\n1 #| block #| nested |# |# 2 #;(skipped) 3",
        0,
        100,
        BIG,
    )
    .unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(write_string(&read1("(a #;b c)")), "(a c)");
}

#[test]
fn positions_on_pairs() {
    let v = read1("\n  (foo\n   bar)");
    let Value::Pair(p) = &v else { panic!() };
    assert_eq!((p.pos.line, p.pos.col), (2, 3));
    let Value::Pair(q) = &p.cdr else { panic!() };
    assert_eq!((q.pos.line, q.pos.col), (3, 4));
}

#[test]
fn errors_are_positioned() {
    assert_eq!(read_err("(a\n  \"abc"), "r.reml:2:3: unterminated string");
    assert_eq!(
        read_err("  )"),
        "r.reml:1:3: unexpected ')' with no open list"
    );
    assert_eq!(
        read_err("(a (b)"),
        "r.reml:1:1: unclosed '(': missing ')' before end of input"
    );
    assert!(read_err("(a]").starts_with("r.reml:1:3: mismatched ']'"));
    assert_eq!(read_err("(. a)"), "r.reml:1:2: unexpected '.'");
    assert_eq!(read_err("(a . )"), "r.reml:1:6: missing datum after '.'");
    assert_eq!(
        read_err("(a . b c)"),
        "r.reml:1:8: more than one datum after '.'"
    );
    assert_eq!(read_err("#x"), "r.reml:1:1: unknown syntax '#x'");
    assert_eq!(read_err("\"\\q\""), "r.reml:1:2: unknown escape '\\q'");
    assert!(read_err("'").contains("unexpected end of input"));
    assert_eq!(
        read_err("x #| open"),
        "r.reml:1:3: unterminated block comment"
    );
}

#[test]
fn invalid_utf8() {
    let f = intern_file("u.reml");
    let e = read_bytes(b"(a\n b \xff)", f, 100, BIG).unwrap_err();
    assert_eq!(e.to_string(), "u.reml:2:4: invalid utf-8 in source");
}

#[test]
fn huge_numbers_are_errors() {
    let digits = "9".repeat(10_000_000);
    let e = read_err(&digits);
    assert!(
        e.starts_with("r.reml:1:1: integer literal out of range"),
        "{e}"
    );
    assert!(e.len() < 200);
    assert!(read_err("1e999").contains("float literal out of range"));
    assert_eq!(
        write_string(&read1("9223372036854775807")),
        "9223372036854775807"
    );
    assert!(read_err("9223372036854775808").contains("out of range"));
}

#[test]
fn deep_nesting_is_depth_exceeded() {
    let src = "(".repeat(1_000_000);
    assert_eq!(read_err(&src), "r.reml:1:1001: depth exceeded");
    let q = "'".repeat(1_000_000);
    assert!(read_err(&q).ends_with("depth exceeded"));
    let ok = format!("{}{}", "(".repeat(999), ")".repeat(999));
    assert!(read_str(&ok, 0, 1000, BIG).is_ok());
}

#[test]
fn heap_limit_applies_to_literals() {
    let src = format!("\"{}\"", "x".repeat(1 << 20));
    let e = read_str(&src, 0, 100, 1000).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Alloc);
}

#[test]
fn number_shapes() {
    for s in ["1", "-1", "1.", ".1", "1e5", "1.5E-3", "-0.0"] {
        assert!(parse_number(s).is_some(), "{s}");
    }
    for s in ["-", "+", ".", "1a", "e5", "1e", "--1", "1.2.3"] {
        assert!(parse_number(s).is_none(), "{s}");
    }
}

#[test]
fn shebang_and_bom_are_skipped() {
    let v = read_str("#!/usr/bin/env pelagos lisp\n(a)", 0, 100, BIG).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].pos().line, 2);
    let v = read_str("\u{feff}(b)", 0, 100, BIG).unwrap();
    assert_eq!(write_string(&v[0]), "(b)");
    assert!(read_str("(a) #!x", 0, 100, BIG).is_err());
}

#[test]
fn flat_lists_of_atoms_are_bounded_by_the_heap_budget() {
    let src = format!("({})", "a ".repeat(2_000_000));
    let e = read_str(&src, 0, 100, 8 << 20).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Alloc);
    let top = "1 ".repeat(2_000_000);
    assert_eq!(
        read_str(&top, 0, 100, 8 << 20).unwrap_err().kind,
        ErrorKind::Alloc
    );
}
