//! Pairs and lists: constructors, accessors (`car` ... `cddddr`), `length`, `append`,
//! `reverse`, searching, `iota` and `sort`. Work on long lists is charged to the step
//! budget and new cells are checked against the allocation budget before they are made.

use super::{def, eq, equal, eqv, index_arg, int_arg, list_arg, type_err, Builtin};
use crate::error::{Error, Result};
use crate::heap::PAIR_BYTES;
use crate::interp::Interp;
use crate::value::{list_from, list_with_tail, Value};

fn cons(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let mut a = a.into_iter();
    let car = a.next().unwrap_or_default();
    let cdr = a.next().unwrap_or_default();
    Ok(Value::cons(car, cdr))
}

fn list(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    it.reserve(a.len() * PAIR_BYTES)?;
    Ok(list_from(a))
}

/// Follow a `c[ad]+r` path, applied right to left.
fn cxr(name: &str, v: &Value) -> Result<Value> {
    let path = &name[1..name.len() - 1];
    let mut cur = v.clone();
    for op in path.chars().rev() {
        let Value::Pair(p) = &cur else {
            return Err(type_err(name, "a pair", v));
        };
        cur = if op == 'a' {
            p.car.clone()
        } else {
            p.cdr.clone()
        };
    }
    Ok(cur)
}

fn length(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Int(list_arg(it, "length", &a[0])?.len() as i64))
}

fn append(it: &mut Interp, mut a: Vec<Value>) -> Result<Value> {
    let Some(tail) = a.pop() else {
        return Ok(Value::Nil);
    };
    let mut items = Vec::new();
    for l in &a {
        items.extend(list_arg(it, "append", l)?);
    }
    it.reserve(items.len() * PAIR_BYTES)?;
    Ok(list_with_tail(items, tail))
}

fn reverse(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let items = list_arg(it, "reverse", &a[0])?;
    it.reserve(items.len() * PAIR_BYTES)?;
    Ok(items
        .into_iter()
        .fold(Value::Nil, |acc, v| Value::cons(v, acc)))
}

fn list_tail_of(it: &mut Interp, name: &str, l: &Value, k: usize) -> Result<Value> {
    it.charge(k as u64 / 4)?;
    let mut cur = l.clone();
    for _ in 0..k {
        let Value::Pair(p) = &cur else {
            return Err(Error::eval(format!("{name}: index {k} out of range")));
        };
        let next = p.cdr.clone();
        cur = next;
    }
    Ok(cur)
}

fn list_ref(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let k = index_arg("list-ref", &a[1])?;
    match list_tail_of(it, "list-ref", &a[0], k)? {
        Value::Pair(p) => Ok(p.car.clone()),
        _ => Err(Error::eval(format!("list-ref: index {k} out of range"))),
    }
}

fn list_tail(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let k = index_arg("list-tail", &a[1])?;
    list_tail_of(it, "list-tail", &a[0], k)
}

fn last_pair(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let mut cur = a[0].clone();
    loop {
        let Value::Pair(p) = &cur else {
            return Err(type_err("last-pair", "a non-empty list", &a[0]));
        };
        if !matches!(p.cdr, Value::Pair(_)) {
            return Ok(cur);
        }
        let next = p.cdr.clone();
        cur = next;
    }
}

#[derive(Clone, Copy)]
enum Cmp {
    Eq,
    Eqv,
    Equal,
}

fn same(it: &mut Interp, cmp: Cmp, a: &Value, b: &Value) -> Result<bool> {
    Ok(match cmp {
        Cmp::Eq => eq(a, b),
        Cmp::Eqv => eqv(a, b),
        Cmp::Equal => equal(it, a, b)?,
    })
}

fn member_by(it: &mut Interp, name: &str, cmp: Cmp, a: &[Value]) -> Result<Value> {
    let mut cur = a[1].clone();
    loop {
        match &cur {
            Value::Pair(p) => {
                it.charge(1)?;
                if same(it, cmp, &a[0], &p.car)? {
                    return Ok(cur);
                }
                let next = p.cdr.clone();
                cur = next;
            }
            Value::Nil => return Ok(Value::Bool(false)),
            _ => return Err(type_err(name, "a proper list", &a[1])),
        }
    }
}

fn assoc_by(it: &mut Interp, name: &str, cmp: Cmp, a: &[Value]) -> Result<Value> {
    let mut cur = &a[1];
    loop {
        match cur {
            Value::Pair(p) => {
                it.charge(1)?;
                let Value::Pair(entry) = &p.car else {
                    return Err(type_err(name, "an association list of pairs", &a[1]));
                };
                if same(it, cmp, &a[0], &entry.car)? {
                    return Ok(p.car.clone());
                }
                cur = &p.cdr;
            }
            Value::Nil => return Ok(Value::Bool(false)),
            _ => return Err(type_err(name, "a proper list", &a[1])),
        }
    }
}

fn member(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    member_by(it, "member", Cmp::Equal, &a)
}
fn memv(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    member_by(it, "memv", Cmp::Eqv, &a)
}
fn memq(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    member_by(it, "memq", Cmp::Eq, &a)
}
fn assoc(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    assoc_by(it, "assoc", Cmp::Equal, &a)
}
fn assv(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    assoc_by(it, "assv", Cmp::Eqv, &a)
}
fn assq(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    assoc_by(it, "assq", Cmp::Eq, &a)
}

fn iota(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let n = index_arg("iota", &a[0])?;
    let start = a.get(1).map_or(Ok(0), |v| int_arg("iota", v))?;
    let step = a.get(2).map_or(Ok(1), |v| int_arg("iota", v))?;
    it.reserve(n.saturating_mul(PAIR_BYTES))?;
    it.charge(n as u64 / 4)?;
    let mut items = Vec::with_capacity(n);
    let mut x = start;
    for _ in 0..n {
        items.push(Value::Int(x));
        x = x
            .checked_add(step)
            .ok_or_else(|| Error::eval("iota: integer overflow"))?;
    }
    Ok(list_from(items))
}

fn list_copy(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let items = list_arg(it, "list-copy", &a[0])?;
    it.reserve(items.len() * PAIR_BYTES)?;
    Ok(list_from(items))
}

/// `(sort list less?)`: stable merge sort; `less?` may be any procedure.
fn sort(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let items = list_arg(it, "sort", &a[0])?;
    let less = a[1].clone();
    if !less.is_procedure() {
        return Err(type_err("sort", "a procedure", &less));
    }
    it.reserve(items.len() * PAIR_BYTES * 2)?;
    let mut v = items;
    let mut buf = Vec::with_capacity(v.len());
    let mut width = 1;
    while width < v.len() {
        let mut i = 0;
        while i < v.len() {
            let mid = (i + width).min(v.len());
            let end = (i + 2 * width).min(v.len());
            let (mut l, mut r) = (i, mid);
            while l < mid && r < end {
                // Take from the right only when it is strictly less: keeps the sort stable.
                if it.call(&less, vec![v[r].clone(), v[l].clone()])?.is_true() {
                    buf.push(v[r].clone());
                    r += 1;
                } else {
                    buf.push(v[l].clone());
                    l += 1;
                }
            }
            buf.extend_from_slice(&v[l..mid]);
            buf.extend_from_slice(&v[r..end]);
            i = end;
        }
        std::mem::swap(&mut v, &mut buf);
        buf.clear();
        width *= 2;
    }
    Ok(list_from(v))
}

fn pred_arg(name: &str, v: &Value) -> Result<Value> {
    if v.is_procedure() {
        Ok(v.clone())
    } else {
        Err(type_err(name, "a procedure", v))
    }
}

/// `(any pred list)`: the first true `(pred x)`, or `#f`.
fn any(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let f = pred_arg("any", &a[0])?;
    for x in list_arg(it, "any", &a[1])? {
        let r = it.call(&f, vec![x])?;
        if r.is_true() {
            return Ok(r);
        }
    }
    Ok(Value::Bool(false))
}

/// `(every pred list)`: `#f` at the first false `(pred x)`, else the last result (`#t`
/// for an empty list).
fn every(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let f = pred_arg("every", &a[0])?;
    let mut last = Value::Bool(true);
    for x in list_arg(it, "every", &a[1])? {
        last = it.call(&f, vec![x])?;
        if !last.is_true() {
            return Ok(last);
        }
    }
    Ok(last)
}

/// `(remove pred list)`: the elements for which `pred` is false.
fn remove(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let f = pred_arg("remove", &a[0])?;
    let mut keep = Vec::new();
    for x in list_arg(it, "remove", &a[1])? {
        if !it.call(&f, vec![x.clone()])?.is_true() {
            keep.push(x);
        }
    }
    it.reserve(keep.len() * PAIR_BYTES)?;
    Ok(list_from(keep))
}

/// `(reduce f initial list)`: `(f x acc)` left to right starting from the first element;
/// `initial` for an empty list.
fn reduce(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let f = pred_arg("reduce", &a[0])?;
    let mut items = list_arg(it, "reduce", &a[2])?.into_iter();
    let Some(mut acc) = items.next() else {
        return Ok(a[1].clone());
    };
    for x in items {
        acc = it.call(&f, vec![x, acc])?;
    }
    Ok(acc)
}

/// `(delete x list)`: the elements not `equal?` to `x`.
fn delete(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let mut keep = Vec::new();
    for x in list_arg(it, "delete", &a[1])? {
        if !equal(it, &a[0], &x)? {
            keep.push(x);
        }
    }
    it.reserve(keep.len() * PAIR_BYTES)?;
    Ok(list_from(keep))
}

/// `(last list)`: the last element of a non-empty list.
fn last(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match last_pair(it, a)? {
        Value::Pair(p) => Ok(p.car.clone()),
        other => Ok(other),
    }
}

pub(super) fn install(it: &mut Interp) {
    let table: &[(&str, usize, Option<usize>, Builtin)] = &[
        ("cons", 2, Some(2), cons),
        ("list", 0, None, list),
        ("length", 1, Some(1), length),
        ("append", 0, None, append),
        ("reverse", 1, Some(1), reverse),
        ("list-ref", 2, Some(2), list_ref),
        ("list-tail", 2, Some(2), list_tail),
        ("last-pair", 1, Some(1), last_pair),
        ("member", 2, Some(2), member),
        ("memv", 2, Some(2), memv),
        ("memq", 2, Some(2), memq),
        ("assoc", 2, Some(2), assoc),
        ("assv", 2, Some(2), assv),
        ("assq", 2, Some(2), assq),
        ("iota", 1, Some(3), iota),
        ("list-copy", 1, Some(1), list_copy),
        ("sort", 2, Some(2), sort),
        ("any", 2, Some(2), any),
        ("every", 2, Some(2), every),
        ("remove", 2, Some(2), remove),
        ("reduce", 3, Some(3), reduce),
        ("delete", 2, Some(2), delete),
        ("last", 1, Some(1), last),
    ];
    for (name, min, max, f) in table {
        def(it, name, *min, *max, *f);
    }
    for path in cxr_paths() {
        let name = format!("c{path}r");
        let n2 = name.clone();
        it.define_native(&name, 1, Some(1), move |_, a| cxr(&n2, &a[0]));
    }
}

/// `a`, `d`, `aa` ... `dddd`: the accessors `car` to `cddddr`.
fn cxr_paths() -> Vec<String> {
    let mut out = vec!["a".to_string(), "d".to_string()];
    let mut level = out.clone();
    for _ in 2..=4 {
        level = level
            .iter()
            .flat_map(|p| [format!("a{p}"), format!("d{p}")])
            .collect();
        out.extend(level.iter().cloned());
    }
    out
}
