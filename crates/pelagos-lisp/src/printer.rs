//! Printing values as text: `write` (readable, strings quoted) and `display` (raw).
//!
//! The printer walks values with an explicit work stack, so arbitrarily deep data prints
//! without recursion, and it stops at a byte limit so an exponentially shared structure
//! cannot produce unbounded output.

use crate::value::Value;
use std::fmt::Write as _;

/// How strings and symbols are rendered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Readable: strings quoted and escaped, odd symbols in `|bars|`.
    Write,
    /// Human: strings and symbols as their raw text.
    Display,
}

/// Printing stopped because the output would exceed the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLong;

enum Task<'a> {
    Val(&'a Value),
    Rest(&'a Value),
    Text(&'static str),
}

/// Print `v` in `mode`, failing with `TooLong` once the text exceeds `max_len` bytes.
/// `work` counts visited nodes so callers can charge them to the step budget.
pub fn print(v: &Value, mode: Mode, max_len: usize, work: &mut u64) -> Result<String, TooLong> {
    let mut out = String::new();
    let mut stack = vec![Task::Val(v)];
    while let Some(t) = stack.pop() {
        *work += 1;
        match t {
            Task::Text(s) => out.push_str(s),
            Task::Val(v) => print_one(v, mode, &mut out, &mut stack),
            Task::Rest(v) => match v {
                Value::Nil => out.push(')'),
                Value::Pair(p) => {
                    out.push(' ');
                    stack.push(Task::Rest(&p.cdr));
                    stack.push(Task::Val(&p.car));
                }
                other => {
                    out.push_str(" . ");
                    stack.push(Task::Text(")"));
                    stack.push(Task::Val(other));
                }
            },
        }
        if out.len() > max_len {
            return Err(TooLong);
        }
    }
    Ok(out)
}

/// Print for diagnostics and `Display`: readable, cut at 64 KiB with `...`.
pub fn write_string(v: &Value) -> String {
    let mut work = 0;
    print(v, Mode::Write, 1 << 16, &mut work).unwrap_or_else(|TooLong| "...".to_string())
}

fn quote_prefix(v: &Value) -> Option<(&'static str, &Value)> {
    let Value::Pair(p) = v else { return None };
    let Value::Sym(s) = p.car else { return None };
    let Value::Pair(rest) = &p.cdr else {
        return None;
    };
    if !matches!(rest.cdr, Value::Nil) {
        return None;
    }
    let prefix = match &*s.name() {
        "quote" => "'",
        "quasiquote" => "`",
        "unquote" => ",",
        "unquote-splicing" => ",@",
        _ => return None,
    };
    Some((prefix, &rest.car))
}

fn print_one<'a>(v: &'a Value, mode: Mode, out: &mut String, stack: &mut Vec<Task<'a>>) {
    match v {
        Value::Nil => out.push_str("()"),
        Value::Void => out.push_str("#<void>"),
        Value::Bool(true) => out.push_str("#t"),
        Value::Bool(false) => out.push_str("#f"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::Str(s) => match mode {
            Mode::Display => out.push_str(s.as_str()),
            Mode::Write => write_escaped(s.as_str(), '"', out),
        },
        Value::Sym(s) => {
            let name = s.name();
            if mode == Mode::Write && !is_plain_symbol(&name) {
                write_escaped(&name, '|', out);
            } else {
                out.push_str(&name);
            }
        }
        Value::Keyword(s) => {
            out.push(':');
            out.push_str(&s.name());
        }
        Value::Pair(p) => {
            if let Some((prefix, inner)) = quote_prefix(v) {
                out.push_str(prefix);
                stack.push(Task::Val(inner));
            } else {
                out.push('(');
                stack.push(Task::Rest(&p.cdr));
                stack.push(Task::Val(&p.car));
            }
        }
        Value::Closure(c) => match c.name() {
            Some(n) => {
                let _ = write!(out, "#<procedure {}>", n.name());
            }
            None => out.push_str("#<procedure>"),
        },
        Value::Macro(c) => match c.name() {
            Some(n) => {
                let _ = write!(out, "#<macro {}>", n.name());
            }
            None => out.push_str("#<macro>"),
        },
        Value::Native(n) => {
            let _ = write!(out, "#<procedure {}>", n.name);
        }
        Value::Prim(p) => {
            let _ = write!(out, "#<procedure {}>", p.name());
        }
        Value::Table(t) => {
            let _ = write!(out, "#<hash-table {}>", t.map.borrow().len());
        }
        Value::Condition(c) => {
            let _ = write!(out, "#<condition {}>", c.message);
        }
        Value::Host(h) => {
            let _ = write!(out, "#<{}>", h.type_name);
        }
    }
}

/// Floats print so that reading them back gives the same float.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "+nan.0".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+inf.0" } else { "-inf.0" }.to_string()
    } else {
        format!("{f:?}")
    }
}

fn write_escaped(s: &str, quote: char, out: &mut String) {
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:x};", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Whether a symbol name reads back as the same symbol without `|bars|`.
pub fn is_plain_symbol(name: &str) -> bool {
    let Some(first) = name.chars().next() else {
        return false;
    };
    if first == '#' || first == ':' || name == "." {
        return false;
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "()[]\"';`,|".contains(c))
    {
        return false;
    }
    crate::reader::parse_number(name).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{list_from, list_with_tail};

    fn w(v: &Value) -> String {
        write_string(v)
    }

    #[test]
    fn atoms() {
        assert_eq!(w(&Value::Int(-5)), "-5");
        assert_eq!(w(&Value::Float(1.0)), "1.0");
        assert_eq!(w(&Value::Float(f64::INFINITY)), "+inf.0");
        assert_eq!(w(&Value::Bool(true)), "#t");
        assert_eq!(w(&Value::str("a\"b\n")), "\"a\\\"b\\n\"");
        assert_eq!(w(&Value::sym("abc")), "abc");
        assert_eq!(w(&Value::sym("a b")), "|a b|");
        assert_eq!(w(&Value::sym("12")), "|12|");
        assert_eq!(w(&Value::keyword("image")), ":image");
        assert_eq!(w(&Value::Nil), "()");
    }

    #[test]
    fn lists_dotted_and_quotes() {
        let l = list_from(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(w(&l), "(1 2)");
        let d = list_with_tail(vec![Value::Int(1)], Value::Int(2));
        assert_eq!(w(&d), "(1 . 2)");
        let q = list_from(vec![Value::sym("quote"), Value::sym("x")]);
        assert_eq!(w(&q), "'x");
    }

    #[test]
    fn display_is_raw() {
        let mut work = 0;
        let s = print(&Value::str("hi"), Mode::Display, 100, &mut work).unwrap();
        assert_eq!(s, "hi");
    }

    #[test]
    fn deep_and_long_output_is_bounded() {
        let mut v = Value::Nil;
        for _ in 0..200_000 {
            v = list_from(vec![v]);
        }
        let mut work = 0;
        assert_eq!(
            print(&v, Mode::Write, 1 << 30, &mut work).unwrap().len(),
            400_002
        );
        assert_eq!(print(&v, Mode::Write, 10, &mut work), Err(TooLong));
    }
}
