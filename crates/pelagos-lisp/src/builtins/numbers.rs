//! Numbers: 64-bit integers (overflow is an error, never a wrap) and floats; mixing the
//! two gives a float.

use super::{def, int_arg, type_err, Builtin};
use crate::error::{Error, Result};
use crate::interp::Interp;
use crate::printer::format_float;
use crate::value::Value;

#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
    fn value(self) -> Value {
        match self {
            Num::I(i) => Value::Int(i),
            Num::F(f) => Value::Float(f),
        }
    }
}

fn num(name: &str, v: &Value) -> Result<Num> {
    match v {
        Value::Int(i) => Ok(Num::I(*i)),
        Value::Float(f) => Ok(Num::F(*f)),
        other => Err(type_err(name, "a number", other)),
    }
}

fn overflow(name: &str) -> Error {
    Error::eval(format!("{name}: integer overflow"))
}

fn arith(
    name: &str,
    a: Num,
    b: Num,
    op: fn(i64, i64) -> Option<i64>,
    fop: fn(f64, f64) -> f64,
) -> Result<Num> {
    match (a, b) {
        (Num::I(x), Num::I(y)) => op(x, y).map(Num::I).ok_or_else(|| overflow(name)),
        _ => Ok(Num::F(fop(a.f(), b.f()))),
    }
}

fn add(_: &mut Interp, args: Vec<Value>) -> Result<Value> {
    let mut acc = Num::I(0);
    for a in &args {
        acc = arith("+", acc, num("+", a)?, i64::checked_add, |x, y| x + y)?;
    }
    Ok(acc.value())
}

fn mul(_: &mut Interp, args: Vec<Value>) -> Result<Value> {
    let mut acc = Num::I(1);
    for a in &args {
        acc = arith("*", acc, num("*", a)?, i64::checked_mul, |x, y| x * y)?;
    }
    Ok(acc.value())
}

fn sub(_: &mut Interp, args: Vec<Value>) -> Result<Value> {
    let first = num("-", &args[0])?;
    if args.len() == 1 {
        return arith("-", Num::I(0), first, i64::checked_sub, |x, y| x - y).map(Num::value);
    }
    let mut acc = first;
    for a in &args[1..] {
        acc = arith("-", acc, num("-", a)?, i64::checked_sub, |x, y| x - y)?;
    }
    Ok(acc.value())
}

fn div2(a: Num, b: Num) -> Result<Num> {
    match (a, b) {
        (Num::I(_), Num::I(0)) => Err(Error::eval("/: division by zero")),
        (Num::I(x), Num::I(y)) => {
            if x.checked_rem(y) == Some(0) {
                x.checked_div(y).map(Num::I).ok_or_else(|| overflow("/"))
            } else {
                Ok(Num::F(x as f64 / y as f64))
            }
        }
        _ => Ok(Num::F(a.f() / b.f())),
    }
}

fn div(_: &mut Interp, args: Vec<Value>) -> Result<Value> {
    let first = num("/", &args[0])?;
    if args.len() == 1 {
        return div2(Num::I(1), first).map(Num::value);
    }
    let mut acc = first;
    for a in &args[1..] {
        acc = div2(acc, num("/", a)?)?;
    }
    Ok(acc.value())
}

fn int_div(name: &str, args: &[Value], op: fn(i64, i64) -> Option<i64>) -> Result<Value> {
    let a = int_arg(name, &args[0])?;
    let b = int_arg(name, &args[1])?;
    if b == 0 {
        return Err(Error::eval(format!("{name}: division by zero")));
    }
    op(a, b).map(Value::Int).ok_or_else(|| overflow(name))
}

fn quotient(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    int_div("quotient", &a, i64::checked_div)
}
fn remainder(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    int_div("remainder", &a, i64::checked_rem)
}
fn modulo(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    int_div("modulo", &a, |x, y| {
        let r = x.checked_rem(y)?;
        Some(if r != 0 && (r < 0) != (y < 0) {
            r + y
        } else {
            r
        })
    })
}

fn abs(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match num("abs", &a[0])? {
        Num::I(i) => i
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| overflow("abs")),
        Num::F(f) => Ok(Value::Float(f.abs())),
    }
}

fn extremum(name: &str, args: &[Value], is_min: bool) -> Result<Value> {
    let mut best = num(name, &args[0])?;
    let mut any_float = matches!(best, Num::F(_));
    for a in &args[1..] {
        let n = num(name, a)?;
        any_float |= matches!(n, Num::F(_));
        let ord = match (n, best) {
            (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
            _ => n.f().partial_cmp(&best.f()),
        };
        if ord
            == Some(if is_min {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            })
        {
            best = n;
        }
    }
    Ok(if any_float {
        Value::Float(best.f())
    } else {
        best.value()
    })
}

fn min(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    extremum("min", &a, true)
}
fn max(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    extremum("max", &a, false)
}

fn expt(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match (num("expt", &a[0])?, num("expt", &a[1])?) {
        (Num::I(b), Num::I(e)) if e >= 0 => {
            let e = u32::try_from(e).map_err(|_| overflow("expt"))?;
            b.checked_pow(e)
                .map(Value::Int)
                .ok_or_else(|| overflow("expt"))
        }
        (b, e) => Ok(Value::Float(b.f().powf(e.f()))),
    }
}

fn compare(name: &str, args: &[Value], ok: fn(std::cmp::Ordering) -> bool) -> Result<Value> {
    let mut prev = num(name, &args[0])?;
    let mut result = true;
    for a in &args[1..] {
        let n = num(name, a)?;
        let ord = match (prev, n) {
            (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
            _ => prev.f().partial_cmp(&n.f()),
        };
        result &= ord.is_some_and(ok);
        prev = n;
    }
    Ok(Value::Bool(result))
}

fn num_eq(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    compare("=", &a, |o| o.is_eq())
}
fn lt(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    compare("<", &a, |o| o.is_lt())
}
fn gt(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    compare(">", &a, |o| o.is_gt())
}
fn le(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    compare("<=", &a, |o| o.is_le())
}
fn ge(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    compare(">=", &a, |o| o.is_ge())
}

fn sign_test(name: &str, v: &Value, t: fn(f64) -> bool) -> Result<Value> {
    Ok(Value::Bool(t(num(name, v)?.f())))
}
fn is_zero(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    sign_test("zero?", &a[0], |x| x == 0.0)
}
fn is_positive(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    sign_test("positive?", &a[0], |x| x > 0.0)
}
fn is_negative(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    sign_test("negative?", &a[0], |x| x < 0.0)
}
fn is_even(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(int_arg("even?", &a[0])? % 2 == 0))
}
fn is_odd(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(int_arg("odd?", &a[0])? % 2 != 0))
}

fn number_to_string(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let radix = match a.get(1) {
        Some(r) => int_arg("number->string", r)?,
        None => 10,
    };
    match (num("number->string", &a[0])?, radix) {
        (Num::F(f), 10) => Ok(Value::string(format_float(f))),
        (Num::I(i), 10) => Ok(Value::string(i.to_string())),
        (Num::I(i), 2 | 8 | 16) => {
            let mag = i.unsigned_abs();
            let digits = match radix {
                2 => format!("{mag:b}"),
                8 => format!("{mag:o}"),
                _ => format!("{mag:x}"),
            };
            Ok(Value::string(if i < 0 {
                format!("-{digits}")
            } else {
                digits
            }))
        }
        _ => Err(Error::eval(format!(
            "number->string: unsupported radix {radix} (use 2, 8, 10 or 16, integers only)"
        ))),
    }
}

fn string_to_number(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = super::str_arg("string->number", &a[0])?;
    Ok(match crate::reader::parse_number(s.trim()) {
        Some(Ok(v)) => v,
        _ => Value::Bool(false),
    })
}

fn to_float(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Float(num("exact->inexact", &a[0])?.f()))
}

fn to_int(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match num("inexact->exact", &a[0])? {
        Num::I(i) => Ok(Value::Int(i)),
        Num::F(f) if f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&f) => {
            Ok(Value::Int(f as i64))
        }
        Num::F(f) => Err(Error::eval(format!(
            "inexact->exact: {} has no exact integer value",
            format_float(f)
        ))),
    }
}

fn rounding(name: &str, v: &Value, op: fn(f64) -> f64) -> Result<Value> {
    match num(name, v)? {
        Num::I(i) => Ok(Value::Int(i)),
        Num::F(f) => Ok(Value::Float(op(f))),
    }
}
fn floor(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    rounding("floor", &a[0], f64::floor)
}
fn ceiling(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    rounding("ceiling", &a[0], f64::ceil)
}
fn round(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    rounding("round", &a[0], f64::round_ties_even)
}
fn truncate(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    rounding("truncate", &a[0], f64::trunc)
}

fn sqrt(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let n = num("sqrt", &a[0])?;
    let r = n.f().sqrt();
    if let Num::I(i) = n {
        if i >= 0 && r.fract() == 0.0 && (r as i64).checked_mul(r as i64) == Some(i) {
            return Ok(Value::Int(r as i64));
        }
    }
    Ok(Value::Float(r))
}

fn is_number(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(matches!(a[0], Value::Int(_) | Value::Float(_))))
}
fn is_integer(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(match a[0] {
        Value::Int(_) => true,
        Value::Float(f) => f.is_finite() && f.fract() == 0.0,
        _ => false,
    }))
}
fn is_float(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(matches!(a[0], Value::Float(_))))
}

pub(super) fn install(it: &mut Interp) {
    let table: &[(&str, usize, Option<usize>, Builtin)] = &[
        ("+", 0, None, add),
        ("*", 0, None, mul),
        ("-", 1, None, sub),
        ("/", 1, None, div),
        ("quotient", 2, Some(2), quotient),
        ("remainder", 2, Some(2), remainder),
        ("modulo", 2, Some(2), modulo),
        ("abs", 1, Some(1), abs),
        ("min", 1, None, min),
        ("max", 1, None, max),
        ("expt", 2, Some(2), expt),
        ("=", 1, None, num_eq),
        ("<", 1, None, lt),
        (">", 1, None, gt),
        ("<=", 1, None, le),
        (">=", 1, None, ge),
        ("zero?", 1, Some(1), is_zero),
        ("positive?", 1, Some(1), is_positive),
        ("negative?", 1, Some(1), is_negative),
        ("even?", 1, Some(1), is_even),
        ("odd?", 1, Some(1), is_odd),
        ("number->string", 1, Some(2), number_to_string),
        ("string->number", 1, Some(1), string_to_number),
        ("exact->inexact", 1, Some(1), to_float),
        ("inexact", 1, Some(1), to_float),
        ("inexact->exact", 1, Some(1), to_int),
        ("exact", 1, Some(1), to_int),
        ("floor", 1, Some(1), floor),
        ("ceiling", 1, Some(1), ceiling),
        ("round", 1, Some(1), round),
        ("truncate", 1, Some(1), truncate),
        ("sqrt", 1, Some(1), sqrt),
        ("number?", 1, Some(1), is_number),
        ("integer?", 1, Some(1), is_integer),
        ("float?", 1, Some(1), is_float),
    ];
    for (name, min, max, f) in table {
        def(it, name, *min, *max, *f);
    }
}
