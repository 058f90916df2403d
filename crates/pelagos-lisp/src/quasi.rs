//! Quasiquote: a template is rewritten into calls of `cons`/`list`/`append` natives held
//! by the interpreter (so redefining those names cannot break it), then evaluated.

use crate::error::{Error, ErrorKind, Result};
use crate::interp::Interp;
use crate::symbol as sy;
use crate::value::{list_from, Value};

/// The procedures expanded templates call, captured when the library is installed.
#[derive(Clone)]
pub(crate) struct QqProcs {
    pub(crate) list: Value,
    pub(crate) append: Value,
}

/// Expand `(quasiquote tmpl)` into an expression.
pub(crate) fn expand(it: &Interp, tmpl: &Value) -> Result<Value> {
    let procs = it
        .qq
        .clone()
        .ok_or_else(|| Error::eval("quasiquote: library not installed"))?;
    qq(&procs, tmpl, 1, 0, it.limits.max_nesting)
}

fn quoted(v: Value) -> Value {
    list_from(vec![Value::Sym(sy::QUOTE), v])
}

/// `Some(x)` if `v` is `(tag x)`.
fn tagged(v: &Value, tag: crate::symbol::Symbol) -> Option<Value> {
    let Value::Pair(p) = v else { return None };
    if !matches!(p.car, Value::Sym(s) if s == tag) {
        return None;
    }
    let Value::Pair(rest) = &p.cdr else {
        return None;
    };
    matches!(rest.cdr, Value::Nil).then(|| rest.car.clone())
}

fn qq(procs: &QqProcs, v: &Value, level: usize, depth: usize, max: usize) -> Result<Value> {
    if depth > max {
        return Err(Error::new(ErrorKind::Depth));
    }
    if let Some(x) = tagged(v, sy::UNQUOTE) {
        if level == 1 {
            return Ok(x);
        }
        let inner = qq(procs, &x, level - 1, depth + 1, max)?;
        return Ok(list_from(vec![
            procs.list.clone(),
            quoted(Value::Sym(sy::UNQUOTE)),
            inner,
        ]));
    }
    if let Some(x) = tagged(v, sy::QUASIQUOTE) {
        let inner = qq(procs, &x, level + 1, depth + 1, max)?;
        return Ok(list_from(vec![
            procs.list.clone(),
            quoted(Value::Sym(sy::QUASIQUOTE)),
            inner,
        ]));
    }
    let Value::Pair(_) = v else {
        return Ok(match v {
            Value::Sym(_) | Value::Nil | Value::Pair(_) => quoted(v.clone()),
            other => other.clone(),
        });
    };
    // Walk the spine iteratively; only elements recurse.
    let mut segments = vec![procs.append.clone()];
    let mut cur = v.clone();
    loop {
        match &cur {
            Value::Nil => break,
            Value::Pair(p) if tagged(&cur, sy::UNQUOTE).is_none() => {
                match tagged(&p.car, sy::UNQUOTE_SPLICING) {
                    Some(x) if level == 1 => segments.push(x),
                    _ => {
                        let el = qq(procs, &p.car, level, depth + 1, max)?;
                        segments.push(list_from(vec![procs.list.clone(), el]));
                    }
                }
                let next = p.cdr.clone();
                cur = next;
            }
            // A dotted tail, including `(a . ,b)`.
            _ => {
                segments.push(qq(procs, &cur, level, depth + 1, max)?);
                break;
            }
        }
    }
    Ok(list_from(segments))
}
