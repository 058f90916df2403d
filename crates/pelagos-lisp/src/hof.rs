//! Primitives that run inside the evaluator loop: `apply`, `eval` and the higher-order
//! list procedures. Each call of the user's procedure is an ordinary `Apply` with a `Hof`
//! frame waiting for its value, so none of them re-enters the evaluator on the Rust stack.

use crate::error::{Error, Result};
use crate::heap;
use crate::interp::Interp;
use crate::machine::{clip, Ctl, Machine, K};
use crate::pos::Pos;
use crate::value::{list_from, Prim, Value};

/// The state of a running `map`/`for-each`/`filter`/`fold-*`.
pub(crate) struct Hof {
    kind: Prim,
    f: Value,
    cols: Vec<Vec<Value>>,
    i: usize,
    n: usize,
    acc: Vec<Value>,
    fold: Value,
    pos: Pos,
    charged: usize,
}

impl Drop for Hof {
    fn drop(&mut self) {
        heap::release(self.charged);
    }
}

fn list_arg(it: &mut Interp, name: &str, v: &Value) -> Result<Vec<Value>> {
    let items = v
        .list_to_vec()
        .ok_or_else(|| Error::eval(format!("{name}: expected a list, got {}", clip(v))))?;
    it.charge(items.len() as u64)?;
    Ok(items)
}

/// Start a primitive.
pub(crate) fn apply_prim(
    m: &mut Machine,
    it: &mut Interp,
    p: Prim,
    mut args: Vec<Value>,
    pos: Pos,
) -> Result<Ctl> {
    let name = p.name();
    let min = match p {
        Prim::Apply | Prim::Eval => 1,
        Prim::Map | Prim::ForEach | Prim::Filter => 2,
        Prim::FoldLeft | Prim::FoldRight => 3,
    };
    if args.len() < min
        || (matches!(p, Prim::Filter) && args.len() != 2)
        || (matches!(p, Prim::Eval) && args.len() > 2)
    {
        return Err(Error::eval(format!(
            "{name}: wrong number of arguments ({})",
            args.len()
        )));
    }
    match p {
        Prim::Eval => {
            args.truncate(1);
            let x = args.pop().unwrap_or_default();
            Ok(Ctl::Eval(x, None))
        }
        Prim::Apply => {
            let f = args.remove(0);
            if let Some(last) = args.pop() {
                let spread = list_arg(it, "apply", &last)?;
                args.extend(spread);
            }
            Ok(Ctl::Apply(f, args, pos))
        }
        _ => {
            let mut it_args = args.into_iter();
            let f = it_args.next().unwrap_or_default();
            if !f.is_procedure() {
                return Err(Error::eval(format!(
                    "{name}: expected a procedure, got {}",
                    clip(&f)
                )));
            }
            let fold = if matches!(p, Prim::FoldLeft | Prim::FoldRight) {
                it_args.next().unwrap_or_default()
            } else {
                Value::Void
            };
            let mut cols = Vec::new();
            for l in it_args {
                cols.push(list_arg(it, name, &l)?);
            }
            let n = cols.iter().map(Vec::len).min().unwrap_or(0);
            let charged = cols
                .iter()
                .map(|c| c.len() * heap::VALUE_BYTES * 2)
                .sum::<usize>();
            it.reserve(charged)?;
            heap::alloc(charged);
            let h = Hof {
                kind: p,
                f,
                cols,
                i: 0,
                n,
                acc: Vec::new(),
                fold,
                pos,
                charged,
            };
            next(m, it, Box::new(h))
        }
    }
}

fn next(m: &mut Machine, it: &mut Interp, mut h: Box<Hof>) -> Result<Ctl> {
    if h.i >= h.n {
        let out = match h.kind {
            Prim::Map | Prim::Filter => {
                it.reserve(h.acc.len() * heap::PAIR_BYTES)?;
                list_from(std::mem::take(&mut h.acc))
            }
            Prim::FoldLeft | Prim::FoldRight => std::mem::take(&mut h.fold),
            _ => Value::Void,
        };
        return Ok(Ctl::Ret(out));
    }
    let idx = if h.kind == Prim::FoldRight {
        h.n - 1 - h.i
    } else {
        h.i
    };
    let mut args: Vec<Value> = Vec::with_capacity(h.cols.len() + 1);
    if h.kind == Prim::FoldLeft {
        args.push(h.fold.clone());
    }
    args.extend(h.cols.iter().map(|c| c[idx].clone()));
    if h.kind == Prim::FoldRight {
        args.push(h.fold.clone());
    }
    h.i += 1;
    let (f, pos) = (h.f.clone(), h.pos);
    m.push(it, K::Hof(h))?;
    Ok(Ctl::Apply(f, args, pos))
}

/// A call of the user's procedure returned `v`.
pub(crate) fn resume(m: &mut Machine, it: &mut Interp, mut h: Box<Hof>, v: Value) -> Result<Ctl> {
    match h.kind {
        Prim::Map => h.acc.push(v),
        Prim::Filter if v.is_true() => {
            let item = h.cols[0][h.i - 1].clone();
            h.acc.push(item);
        }
        Prim::FoldLeft | Prim::FoldRight => h.fold = v,
        _ => {}
    }
    next(m, it, h)
}
