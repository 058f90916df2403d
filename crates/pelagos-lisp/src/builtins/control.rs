//! Predicates, output (`display`, `write`, `newline`, `logf`), errors and conditions
//! (`error`, `errorf`, `raise`), and the host-facing `env`, `sleep`, `gensym`.

use super::strings::{format_str, render};
use super::{def, eq, equal, eqv, str_arg, type_err, Builtin};
use crate::error::{Error, Result};
use crate::forms::{condition_text, raise_error};
use crate::interp::Interp;
use crate::printer::Mode;
use crate::symbol::Symbol;
use crate::value::{list_from, Condition, Value};
use std::rc::Rc;
use std::time::Duration;

fn pred(a: &[Value], f: fn(&Value) -> bool) -> Result<Value> {
    Ok(Value::Bool(f(&a[0])))
}

fn is_null(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Nil))
}
fn is_pair(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Pair(_)))
}
fn is_list(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let mut cur = &a[0];
    let mut n = 0u64;
    loop {
        match cur {
            Value::Nil => {
                it.charge(n / 4)?;
                return Ok(Value::Bool(true));
            }
            Value::Pair(p) => {
                n += 1;
                cur = &p.cdr;
            }
            _ => return Ok(Value::Bool(false)),
        }
    }
}
fn is_symbol(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Sym(_)))
}
fn is_string(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Str(_)))
}
fn is_boolean(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Bool(_)))
}
fn is_procedure(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, Value::is_procedure)
}
fn is_keyword(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Keyword(_)))
}
fn not(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| !v.is_true())
}
fn is_eq(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(eq(&a[0], &a[1])))
}
fn is_eqv(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(eqv(&a[0], &a[1])))
}
fn is_equal(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(equal(it, &a[0], &a[1])?))
}
fn symbol_eq(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    for v in &a {
        if !matches!(v, Value::Sym(_)) {
            return Err(type_err("symbol=?", "a symbol", v));
        }
    }
    Ok(Value::Bool(a.windows(2).all(|w| eq(&w[0], &w[1]))))
}

fn display(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = render(it, &a[0], Mode::Display)?;
    it.write_out(&s)?;
    Ok(Value::Void)
}
fn write(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = render(it, &a[0], Mode::Write)?;
    it.write_out(&s)?;
    Ok(Value::Void)
}
fn newline(it: &mut Interp, _: Vec<Value>) -> Result<Value> {
    it.write_out("\n")?;
    Ok(Value::Void)
}

/// `(logf fmt arg...)`: a formatted line on the error stream.
fn logf(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let fmt = str_arg("logf", &a[0])?.to_string();
    let mut s = format_str(it, "logf", &fmt, &a[1..])?;
    s.push('\n');
    it.write_err(&s)?;
    Ok(Value::Void)
}

fn condition(message: String, irritants: Value) -> Value {
    Value::Condition(Rc::new(Condition {
        message,
        irritants,
        pos: std::cell::RefCell::new(None),
    }))
}

/// `(error message irritant...)`: raise a condition.
fn error(it: &mut Interp, mut a: Vec<Value>) -> Result<Value> {
    let msg = match &a[0] {
        Value::Str(s) => s.as_str().to_string(),
        other => render(it, other, Mode::Display)?,
    };
    a.remove(0);
    Err(raise_error(condition(msg, list_from(a))))
}

/// `(errorf fmt arg...)`: raise a condition with a formatted message.
fn errorf(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let fmt = str_arg("errorf", &a[0])?.to_string();
    let msg = format_str(it, "errorf", &fmt, &a[1..])?;
    Err(raise_error(condition(msg, Value::Nil)))
}

fn raise(_: &mut Interp, mut a: Vec<Value>) -> Result<Value> {
    Err(raise_error(a.pop().unwrap_or_default()))
}

fn is_condition(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Condition(_)))
}

fn condition_message(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match &a[0] {
        Value::Condition(c) => Ok(Value::str(&c.message)),
        other => Err(type_err("error-object-message", "a condition", other)),
    }
}

fn condition_irritants(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match &a[0] {
        Value::Condition(c) => Ok(c.irritants.clone()),
        other => Err(type_err("error-object-irritants", "a condition", other)),
    }
}

/// A human-readable text for any raised object.
fn report_string(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match &a[0] {
        Value::Condition(c) => Ok(Value::string(condition_text(c))),
        other => Ok(Value::string(render(it, other, Mode::Display)?)),
    }
}

/// `(env NAME [default])`: an environment variable, the default, or `#f`.
fn env(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let name = str_arg("env", &a[0])?;
    Ok(match it.env_var(name) {
        Some(v) => Value::string(v),
        None => a.get(1).cloned().unwrap_or(Value::Bool(false)),
    })
}

/// `(sleep seconds)`, charged to the sleep budget.
fn sleep(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let secs = match a[0] {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        ref other => return Err(type_err("sleep", "a number of seconds", other)),
    };
    if !(0.0..=1e9).contains(&secs) {
        return Err(Error::eval(format!(
            "sleep: {secs} is not a valid number of seconds"
        )));
    }
    it.sleep(Duration::from_secs_f64(secs))?;
    Ok(Value::Void)
}

/// `(gensym [prefix])`: a fresh symbol no program text can spell.
fn gensym(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let prefix = match a.first() {
        Some(v) => str_arg("gensym", v)?.to_string(),
        None => "g".to_string(),
    };
    it.gensyms += 1;
    Ok(Value::Sym(Symbol::new(&format!(" {prefix}{}", it.gensyms))))
}

/// `(exit [code])`: stop the program; `guard` cannot catch it. `#t`/no code is 0, `#f` 1.
fn exit(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let code = match a.first() {
        None | Some(Value::Bool(true)) => 0,
        Some(Value::Bool(false)) => 1,
        Some(Value::Int(i)) => i32::try_from(*i).unwrap_or(1),
        Some(other) => return Err(type_err("exit", "an integer or boolean", other)),
    };
    Err(Error::new(crate::error::ErrorKind::Exit(code)))
}

fn void(_: &mut Interp, _: Vec<Value>) -> Result<Value> {
    Ok(Value::Void)
}

fn is_host(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    pred(&a, |v| matches!(v, Value::Host(_)))
}

pub(super) fn install(it: &mut Interp) {
    let table: &[(&str, usize, Option<usize>, Builtin)] = &[
        ("null?", 1, Some(1), is_null),
        ("pair?", 1, Some(1), is_pair),
        ("list?", 1, Some(1), is_list),
        ("symbol?", 1, Some(1), is_symbol),
        ("string?", 1, Some(1), is_string),
        ("boolean?", 1, Some(1), is_boolean),
        ("procedure?", 1, Some(1), is_procedure),
        ("keyword?", 1, Some(1), is_keyword),
        ("host-value?", 1, Some(1), is_host),
        ("not", 1, Some(1), not),
        ("eq?", 2, Some(2), is_eq),
        ("eqv?", 2, Some(2), is_eqv),
        ("equal?", 2, Some(2), is_equal),
        ("symbol=?", 1, None, symbol_eq),
        ("display", 1, Some(1), display),
        ("write", 1, Some(1), write),
        ("newline", 0, Some(0), newline),
        ("logf", 1, None, logf),
        ("error", 1, None, error),
        ("errorf", 1, None, errorf),
        ("raise", 1, Some(1), raise),
        ("condition?", 1, Some(1), is_condition),
        ("error-object?", 1, Some(1), is_condition),
        ("error-object-message", 1, Some(1), condition_message),
        ("error-object-irritants", 1, Some(1), condition_irritants),
        ("condition/report-string", 1, Some(1), report_string),
        ("env", 1, Some(2), env),
        ("sleep", 1, Some(1), sleep),
        ("gensym", 0, Some(1), gensym),
        ("void", 0, None, void),
        ("exit", 0, Some(1), exit),
    ];
    for (name, min, max, f) in table {
        def(it, name, *min, *max, *f);
    }
}
