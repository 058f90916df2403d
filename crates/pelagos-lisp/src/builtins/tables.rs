//! Hash tables keyed by atoms (strings, symbols, keywords, integers, booleans).

use super::{def, list_arg, type_err, Builtin};
use crate::error::{Error, Result};
use crate::heap;
use crate::interp::Interp;
use crate::machine::clip;
use crate::value::{list_from, Key, Table, Value};
use std::rc::Rc;

fn table<'a>(name: &str, v: &'a Value) -> Result<&'a Rc<Table>> {
    match v {
        Value::Table(t) => Ok(t),
        other => Err(type_err(name, "a hash table", other)),
    }
}

fn key(name: &str, v: &Value) -> Result<Key> {
    Key::from_value(v).ok_or_else(|| {
        Error::eval(format!(
            "{name}: a key must be a string, symbol, keyword, integer or boolean, got {}",
            clip(v)
        ))
    })
}

fn new_table() -> Value {
    heap::alloc(64);
    Value::Table(Rc::new(Table::default()))
}

fn insert(it: &Interp, t: &Table, k: Key, v: Value) -> Result<()> {
    it.reserve(k.bytes())?;
    let bytes = k.bytes();
    if let Some(old) = t.map.borrow_mut().insert(k, v) {
        drop(old);
    } else {
        heap::alloc(bytes);
    }
    Ok(())
}

fn make_hash_table(_: &mut Interp, _: Vec<Value>) -> Result<Value> {
    Ok(new_table())
}

fn set(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-set!", &a[0])?;
    insert(it, t, key("hash-table-set!", &a[1])?, a[2].clone())?;
    Ok(Value::Void)
}

fn get(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-ref", &a[0])?;
    let k = key("hash-table-ref", &a[1])?;
    let found = t.map.borrow().get(&k).cloned();
    match (found, a.get(2)) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.clone()),
        (None, None) => Err(Error::eval(format!(
            "hash-table-ref: no key {}",
            clip(&a[1])
        ))),
    }
}

fn get_default(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-ref/default", &a[0])?;
    let k = key("hash-table-ref/default", &a[1])?;
    let found = t.map.borrow().get(&k).cloned();
    Ok(found.unwrap_or_else(|| a[2].clone()))
}

fn contains(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-contains?", &a[0])?;
    let k = key("hash-table-contains?", &a[1])?;
    let found = t.map.borrow().contains_key(&k);
    Ok(Value::Bool(found))
}

fn delete(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-delete!", &a[0])?;
    let k = key("hash-table-delete!", &a[1])?;
    let old = t.map.borrow_mut().remove(&k);
    if old.is_some() {
        heap::release(k.bytes());
    }
    drop(old);
    Ok(Value::Void)
}

fn count(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-count", &a[0])?;
    let n = t.map.borrow().len();
    Ok(Value::Int(n as i64))
}

fn listing(it: &mut Interp, name: &str, v: &Value, f: fn(&Key, &Value) -> Value) -> Result<Value> {
    let t = table(name, v)?;
    let items: Vec<Value> = t.map.borrow().iter().map(|(k, v)| f(k, v)).collect();
    it.charge(items.len() as u64)?;
    it.reserve(items.len() * heap::PAIR_BYTES * 2)?;
    Ok(list_from(items))
}

fn keys(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    listing(it, "hash-table-keys", &a[0], |k, _| k.to_value())
}
fn values(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    listing(it, "hash-table-values", &a[0], |_, v| v.clone())
}
fn to_alist(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    listing(it, "hash-table->alist", &a[0], |k, v| {
        Value::cons(k.to_value(), v.clone())
    })
}

fn from_alist(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let items = list_arg(it, "alist->hash-table", &a[0])?;
    let t = new_table();
    let Value::Table(tt) = &t else { return Ok(t) };
    for item in items {
        let Value::Pair(p) = &item else {
            return Err(type_err(
                "alist->hash-table",
                "an association list of pairs",
                &a[0],
            ));
        };
        insert(it, tt, key("alist->hash-table", &p.car)?, p.cdr.clone())?;
    }
    Ok(t)
}

/// `(hash-table-update! t key proc [default])`: store `(proc old)`.
fn update(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-update!", &a[0])?.clone();
    let k = key("hash-table-update!", &a[1])?;
    let old = t.map.borrow().get(&k).cloned();
    let old = match (old, a.get(3)) {
        (Some(v), _) => v,
        (None, Some(d)) => d.clone(),
        (None, None) => {
            return Err(Error::eval(format!(
                "hash-table-update!: no key {}",
                clip(&a[1])
            )))
        }
    };
    let new = it.call(&a[2], vec![old])?;
    insert(it, &t, k, new)?;
    Ok(Value::Void)
}

/// `(hash-table-walk t proc)`: call `(proc key value)` for every entry, in key order.
fn walk(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let t = table("hash-table-walk", &a[0])?;
    let entries: Vec<(Value, Value)> = t
        .map
        .borrow()
        .iter()
        .map(|(k, v)| (k.to_value(), v.clone()))
        .collect();
    it.charge(entries.len() as u64)?;
    for (k, v) in entries {
        it.call(&a[1], vec![k, v])?;
    }
    Ok(Value::Void)
}

fn is_table(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(matches!(a[0], Value::Table(_))))
}

pub(super) fn install(it: &mut Interp) {
    let table: &[(&str, usize, Option<usize>, Builtin)] = &[
        ("make-hash-table", 0, Some(1), make_hash_table),
        ("hash-table?", 1, Some(1), is_table),
        ("hash-table-set!", 3, Some(3), set),
        ("hash-table-ref", 2, Some(3), get),
        ("hash-table-ref/default", 3, Some(3), get_default),
        ("hash-table-contains?", 2, Some(2), contains),
        ("hash-table-delete!", 2, Some(2), delete),
        ("hash-table-count", 1, Some(1), count),
        ("hash-table-keys", 1, Some(1), keys),
        ("hash-table-values", 1, Some(1), values),
        ("hash-table->alist", 1, Some(1), to_alist),
        ("alist->hash-table", 1, Some(1), from_alist),
        ("hash-table-update!", 3, Some(4), update),
        ("hash-table-walk", 2, Some(2), walk),
    ];
    for (name, min, max, f) in table {
        def(it, name, *min, *max, *f);
    }
}
