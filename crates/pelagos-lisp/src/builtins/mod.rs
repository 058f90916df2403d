//! The standard library: installs every builtin into a fresh interpreter, plus the
//! argument helpers and equality predicates the builtins share.

mod control;
mod lists;
mod numbers;
mod strings;
mod tables;

use crate::error::{Error, Result};
use crate::interp::Interp;
use crate::machine::clip;
use crate::value::{Prim, Value};
use std::rc::Rc;

/// The signature of a builtin.
pub(crate) type Builtin = fn(&mut Interp, Vec<Value>) -> Result<Value>;

/// Register builtin `name` taking `min..=max` arguments.
pub(crate) fn def(it: &mut Interp, name: &str, min: usize, max: Option<usize>, f: Builtin) {
    it.define_native(name, min, max, f);
}

/// Install the whole library.
pub(crate) fn install(it: &mut Interp) {
    for p in [
        Prim::Apply,
        Prim::Map,
        Prim::ForEach,
        Prim::Filter,
        Prim::FoldLeft,
        Prim::FoldRight,
        Prim::Eval,
    ] {
        it.define(p.name(), Value::Prim(p));
    }
    numbers::install(it);
    lists::install(it);
    strings::install(it);
    tables::install(it);
    control::install(it);
    let list = it.lookup("list").unwrap_or_default();
    let append = it.lookup("append").unwrap_or_default();
    it.qq = Some(crate::quasi::QqProcs { list, append });
}

/// `name: expected <what>, got <value>`.
pub(crate) fn type_err(name: &str, what: &str, v: &Value) -> Error {
    Error::eval(format!("{name}: expected {what}, got {}", clip(v)))
}

pub(crate) fn int_arg(name: &str, v: &Value) -> Result<i64> {
    v.as_int().ok_or_else(|| type_err(name, "an integer", v))
}

pub(crate) fn str_arg<'a>(name: &str, v: &'a Value) -> Result<&'a str> {
    v.as_str().ok_or_else(|| type_err(name, "a string", v))
}

/// A non-negative integer that fits `usize`.
pub(crate) fn index_arg(name: &str, v: &Value) -> Result<usize> {
    let i = int_arg(name, v)?;
    usize::try_from(i)
        .map_err(|_| Error::eval(format!("{name}: index must be non-negative, got {i}")))
}

/// The elements of a proper list argument, charged to the step budget.
pub(crate) fn list_arg(it: &mut Interp, name: &str, v: &Value) -> Result<Vec<Value>> {
    let items = v
        .list_to_vec()
        .ok_or_else(|| type_err(name, "a proper list", v))?;
    it.charge(items.len() as u64 / 4)?;
    Ok(items)
}

/// `eq?`: identity for heap objects, value for atoms.
pub(crate) fn eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) | (Value::Void, Value::Void) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Sym(x), Value::Sym(y)) | (Value::Keyword(x), Value::Keyword(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => Rc::ptr_eq(x, y),
        (Value::Pair(x), Value::Pair(y)) => Rc::ptr_eq(x, y),
        (Value::Closure(x), Value::Closure(y)) | (Value::Macro(x), Value::Macro(y)) => {
            Rc::ptr_eq(x, y)
        }
        (Value::Native(x), Value::Native(y)) => Rc::ptr_eq(x, y),
        (Value::Prim(x), Value::Prim(y)) => x == y,
        (Value::Table(x), Value::Table(y)) => Rc::ptr_eq(x, y),
        (Value::Condition(x), Value::Condition(y)) => Rc::ptr_eq(x, y),
        (Value::Host(x), Value::Host(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// `eqv?`: like `eq?` but numbers compare by value.
pub(crate) fn eqv(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => eq(a, b),
    }
}

/// `equal?`: structural equality, walked with an explicit stack; every node compared is
/// a step, so comparing huge shared structures ends with "step budget exceeded".
pub(crate) fn equal(it: &mut Interp, a: &Value, b: &Value) -> Result<bool> {
    let mut stack = vec![(a.clone(), b.clone())];
    let mut work = 0u64;
    let mut result = true;
    while let Some((x, y)) = stack.pop() {
        work += 1;
        if work & 0xFFF == 0 {
            it.charge(work)?;
            work = 0;
        }
        match (&x, &y) {
            (Value::Pair(p), Value::Pair(q)) => {
                if Rc::ptr_eq(p, q) {
                    continue;
                }
                stack.push((p.cdr.clone(), q.cdr.clone()));
                stack.push((p.car.clone(), q.car.clone()));
            }
            (Value::Str(s), Value::Str(t)) => {
                if s.as_str() != t.as_str() {
                    result = false;
                    break;
                }
            }
            _ => {
                if !eqv(&x, &y) {
                    result = false;
                    break;
                }
            }
        }
    }
    it.charge(work)?;
    Ok(result)
}

#[cfg(test)]
mod tests;
