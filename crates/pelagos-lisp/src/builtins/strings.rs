//! Strings (indices count characters, not bytes), symbols, keywords and `format`.

use super::{def, index_arg, list_arg, str_arg, type_err, Builtin};
use crate::error::{Error, Result};
use crate::heap::STR_BYTES;
use crate::interp::Interp;
use crate::printer::{print, Mode, TooLong};
use crate::symbol::Symbol;
use crate::value::{list_from, Value};

/// A new string, checked against the allocation budget first.
fn new_string(it: &mut Interp, s: String) -> Result<Value> {
    it.reserve(s.len() + STR_BYTES)?;
    it.charge(s.len() as u64 / 64)?;
    Ok(Value::string(s))
}

/// Render a value for `display` (`Mode::Display`) or `write`, bounded by the allocation
/// budget and charged to the step budget.
pub(crate) fn render(it: &mut Interp, v: &Value, mode: Mode) -> Result<String> {
    let room = it
        .limits
        .max_heap_bytes
        .saturating_sub(crate::heap::live_bytes());
    let mut work = 0;
    let r = print(v, mode, room, &mut work);
    it.charge(work / 4)?;
    r.map_err(|TooLong| Error::new(crate::error::ErrorKind::Alloc))
}

fn string_append(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let mut total = 0usize;
    for v in &a {
        total = total.saturating_add(str_arg("string-append", v)?.len());
    }
    it.reserve(total + STR_BYTES)?;
    let mut s = String::with_capacity(total);
    for v in &a {
        s.push_str(v.as_str().unwrap_or_default());
    }
    new_string(it, s)
}

fn substring(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = str_arg("substring", &a[0])?;
    let len = s.chars().count();
    let start = index_arg("substring", &a[1])?;
    let end = a.get(2).map_or(Ok(len), |v| index_arg("substring", v))?;
    if start > end || end > len {
        return Err(Error::eval(format!(
            "substring: range {start}..{end} out of bounds for a string of length {len}"
        )));
    }
    let sub: String = s.chars().skip(start).take(end - start).collect();
    new_string(it, sub)
}

fn string_length(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Int(
        str_arg("string-length", &a[0])?.chars().count() as i64
    ))
}

fn string_upcase(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = str_arg("string-upcase", &a[0])?;
    it.reserve(s.len().saturating_mul(2))?;
    let s = s.to_uppercase();
    new_string(it, s)
}

fn string_downcase(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = str_arg("string-downcase", &a[0])?;
    it.reserve(s.len().saturating_mul(2))?;
    let s = s.to_lowercase();
    new_string(it, s)
}

/// `(string-split s [sep])`: split on `sep`, or on runs of whitespace without it.
fn string_split(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = str_arg("string-split", &a[0])?;
    let count = match a.get(1) {
        None => s.split_whitespace().count(),
        Some(sep) => match str_arg("string-split", sep)? {
            "" => s.chars().count(),
            sep => s.matches(sep).count() + 1,
        },
    };
    it.reserve(
        count
            .saturating_mul(STR_BYTES + crate::heap::PAIR_BYTES)
            .saturating_add(s.len()),
    )?;
    let parts: Vec<String> = match a.get(1) {
        None => s.split_whitespace().map(str::to_string).collect(),
        Some(sep) => {
            let sep = str_arg("string-split", sep)?;
            if sep.is_empty() {
                s.chars().map(String::from).collect()
            } else {
                s.split(sep).map(str::to_string).collect()
            }
        }
    };
    it.reserve(parts.len() * (STR_BYTES + crate::heap::PAIR_BYTES) + s.len())?;
    it.charge(parts.len() as u64)?;
    Ok(list_from(parts.into_iter().map(Value::string).collect()))
}

/// `(string-join list [sep])`, `sep` defaulting to a space.
fn string_join(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let items = list_arg(it, "string-join", &a[0])?;
    let sep = a.get(1).map_or(Ok(" "), |v| str_arg("string-join", v))?;
    let mut total = 0usize;
    for v in &items {
        total = total.saturating_add(str_arg("string-join", v)?.len() + sep.len());
    }
    it.reserve(total + STR_BYTES)?;
    let strs: Vec<&str> = items
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect();
    new_string(it, strs.join(sep))
}

/// `(string-contains s needle)`: the character index of the first match, or `#f`.
fn string_contains(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = str_arg("string-contains", &a[0])?;
    let needle = str_arg("string-contains", &a[1])?;
    it.charge(s.len() as u64 / 64)?;
    Ok(match s.find(needle) {
        Some(b) => Value::Int(s[..b].chars().count() as i64),
        None => Value::Bool(false),
    })
}

fn string_prefix(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let p = str_arg("string-prefix?", &a[0])?;
    Ok(Value::Bool(
        str_arg("string-prefix?", &a[1])?.starts_with(p),
    ))
}

fn string_suffix(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let p = str_arg("string-suffix?", &a[0])?;
    Ok(Value::Bool(str_arg("string-suffix?", &a[1])?.ends_with(p)))
}

fn string_trim(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = str_arg("string-trim", &a[0])?.trim().to_string();
    new_string(it, s)
}

/// `(string-replace s from to)`: every occurrence of `from` replaced.
fn string_replace(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let s = str_arg("string-replace", &a[0])?;
    let from = str_arg("string-replace", &a[1])?;
    let to = str_arg("string-replace", &a[2])?;
    if from.is_empty() {
        return Err(Error::eval("string-replace: the pattern must not be empty"));
    }
    let n = s.matches(from).count();
    it.reserve(s.len().saturating_add(n.saturating_mul(to.len())))?;
    let r = s.replace(from, to);
    new_string(it, r)
}

fn str_compare(name: &str, a: &[Value], ok: fn(std::cmp::Ordering) -> bool) -> Result<Value> {
    let mut result = true;
    for w in a.windows(2) {
        result &= ok(str_arg(name, &w[0])?.cmp(str_arg(name, &w[1])?));
    }
    if let [only] = a {
        str_arg(name, only)?;
    }
    Ok(Value::Bool(result))
}
fn string_eq(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    str_compare("string=?", &a, |o| o.is_eq())
}
fn string_lt(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    str_compare("string<?", &a, |o| o.is_lt())
}
fn string_gt(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    str_compare("string>?", &a, |o| o.is_gt())
}

fn string_to_symbol(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Sym(Symbol::new(str_arg("string->symbol", &a[0])?)))
}

fn symbol_to_string(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match &a[0] {
        Value::Sym(s) => new_string(it, s.name().to_string()),
        other => Err(type_err("symbol->string", "a symbol", other)),
    }
}

fn string_to_keyword(_: &mut Interp, a: Vec<Value>) -> Result<Value> {
    Ok(Value::Keyword(Symbol::new(str_arg(
        "string->keyword",
        &a[0],
    )?)))
}

fn keyword_to_string(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    match &a[0] {
        Value::Keyword(s) => new_string(it, s.name().to_string()),
        other => Err(type_err("keyword->string", "a keyword", other)),
    }
}

/// Expand `~a` (display), `~s` (write), `~%` (newline) and `~~` in `fmt`.
pub(crate) fn format_str(it: &mut Interp, name: &str, fmt: &str, args: &[Value]) -> Result<String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(d @ ('a' | 'A' | 's' | 'S')) => {
                let Some(v) = args.next() else {
                    return Err(Error::eval(format!(
                        "{name}: too few arguments for format string {fmt:?}"
                    )));
                };
                let mode = if d.eq_ignore_ascii_case(&'a') {
                    Mode::Display
                } else {
                    Mode::Write
                };
                out.push_str(&render(it, v, mode)?);
            }
            Some('%' | 'n') => out.push('\n'),
            Some('~') => out.push('~'),
            Some(o) => {
                return Err(Error::eval(format!(
                    "{name}: unknown format directive ~{o}"
                )))
            }
            None => return Err(Error::eval(format!("{name}: format string ends with ~"))),
        }
        it.reserve(out.len())?;
    }
    if args.next().is_some() {
        return Err(Error::eval(format!(
            "{name}: too many arguments for format string {fmt:?}"
        )));
    }
    Ok(out)
}

/// `(format fmt arg...)` returns a string; `(format #f fmt ...)` too; `(format #t fmt ...)`
/// writes it to the output.
fn format(it: &mut Interp, a: Vec<Value>) -> Result<Value> {
    let (dest, rest) = match &a[0] {
        Value::Bool(b) => (Some(*b), &a[1..]),
        _ => (None, &a[..]),
    };
    let Some(fmt) = rest.first() else {
        return Err(Error::eval("format: missing format string"));
    };
    let fmt = str_arg("format", fmt)?.to_string();
    let s = format_str(it, "format", &fmt, &rest[1..])?;
    if dest == Some(true) {
        it.write_out(&s)?;
        return Ok(Value::Void);
    }
    new_string(it, s)
}

pub(super) fn install(it: &mut Interp) {
    let table: &[(&str, usize, Option<usize>, Builtin)] = &[
        ("string-append", 0, None, string_append),
        ("substring", 2, Some(3), substring),
        ("string-length", 1, Some(1), string_length),
        ("string-upcase", 1, Some(1), string_upcase),
        ("string-downcase", 1, Some(1), string_downcase),
        ("string-split", 1, Some(2), string_split),
        ("string-join", 1, Some(2), string_join),
        ("string-contains", 2, Some(2), string_contains),
        ("string-prefix?", 2, Some(2), string_prefix),
        ("string-suffix?", 2, Some(2), string_suffix),
        ("string-trim", 1, Some(1), string_trim),
        ("string-replace", 3, Some(3), string_replace),
        ("string=?", 1, None, string_eq),
        ("string<?", 1, None, string_lt),
        ("string>?", 1, None, string_gt),
        ("string->symbol", 1, Some(1), string_to_symbol),
        ("symbol->string", 1, Some(1), symbol_to_string),
        ("string->keyword", 1, Some(1), string_to_keyword),
        ("keyword->string", 1, Some(1), keyword_to_string),
        ("format", 1, None, format),
    ];
    for (name, min, max, f) in table {
        def(it, name, *min, *max, *f);
    }
}
