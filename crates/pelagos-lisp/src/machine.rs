//! The evaluator: an explicit-continuation machine.
//!
//! Evaluation never recurses on the Rust stack: pending work is a `K` frame on a heap
//! vector, so tail calls (a call evaluated with nothing pushed) run in constant space and
//! non-tail recursion is bounded by `Limits::max_depth`, checked on every push. Errors
//! unwind that vector to the nearest `guard` frame.

use crate::error::{Error, ErrorKind, Result};
use crate::forms;
use crate::hof::{self, Hof};
use crate::interp::{arity_text, Interp};
use crate::pos::Pos;
use crate::printer::write_string;
use crate::symbol::Symbol;
use crate::value::{list_from, Closure, Env, EnvFrame, Value};
use std::rc::Rc;

/// Re-entrant runs (a native calling back into the evaluator) allowed at once; each costs
/// Rust stack, so they are capped well below what the stack holds.
const MAX_NESTED_RUNS: usize = 64;

/// What the machine does next.
pub(crate) enum Ctl {
    /// Evaluate an expression in an environment.
    Eval(Value, Env),
    /// Return a value to the innermost frame.
    Ret(Value),
    /// Apply a procedure to evaluated arguments (the position is the call's).
    Apply(Value, Vec<Value>, Pos),
}

/// A pending piece of work: what to do with the value being computed.
pub(crate) enum K {
    If {
        conseq: Value,
        alt: Option<Value>,
        env: Env,
    },
    Seq {
        rest: Value,
        env: Env,
    },
    Op {
        args: Value,
        env: Env,
        pos: Pos,
    },
    Args {
        f: Value,
        vals: Vec<Value>,
        rest: Value,
        env: Env,
        pos: Pos,
    },
    Define {
        sym: Symbol,
        env: Env,
    },
    Set {
        sym: Symbol,
        env: Env,
        pos: Pos,
    },
    And {
        rest: Value,
        env: Env,
    },
    Or {
        rest: Value,
        env: Env,
    },
    Cond {
        body: Value,
        rest: Value,
        env: Env,
        reraise: Option<Value>,
        pos: Pos,
    },
    CondArrow {
        val: Value,
        pos: Pos,
    },
    Case {
        clauses: Value,
        env: Env,
    },
    When {
        body: Value,
        env: Env,
        unless: bool,
    },
    Let {
        names: Vec<Symbol>,
        vals: Vec<Value>,
        rest: Value,
        body: Value,
        env: Env,
    },
    Bind {
        frame: Rc<EnvFrame>,
        sym: Symbol,
        rest: Value,
        body: Value,
    },
    Guard {
        var: Symbol,
        clauses: Value,
        env: Env,
        pos: Pos,
    },
    Expand {
        env: Env,
    },
    Hof(Box<Hof>),
}

/// One run of the machine (an entry from the host or a re-entrant call from a native).
pub(crate) struct Machine {
    stack: Vec<K>,
    base: usize,
    /// The position of the innermost form being evaluated, for errors.
    pub(crate) pos: Pos,
}

impl Machine {
    /// Run from `start` until the value is returned past the bottom frame.
    pub(crate) fn run(it: &mut Interp, start: Ctl) -> Result<Value> {
        if it.nested_runs >= MAX_NESTED_RUNS {
            return Err(Error::new(ErrorKind::Depth));
        }
        it.nested_runs += 1;
        let mut m = Machine {
            stack: Vec::new(),
            base: it.depth_in_use,
            pos: Pos::NONE,
        };
        let r = m.run_loop(it, start);
        it.nested_runs -= 1;
        it.depth_in_use = m.base;
        // Frames may hold the last references to large structures: release them here,
        // through the non-recursive drop, before returning.
        m.stack.clear();
        r
    }

    fn run_loop(&mut self, it: &mut Interp, mut ctl: Ctl) -> Result<Value> {
        loop {
            let next = match ctl {
                Ctl::Eval(x, env) => self.eval(it, x, env),
                Ctl::Ret(v) => match self.stack.pop() {
                    None => return Ok(v),
                    Some(k) => self.resume(it, k, v),
                },
                Ctl::Apply(f, args, pos) => self.apply(it, f, args, pos),
            };
            ctl = match next {
                Ok(c) => c,
                Err(e) => self.recover(it, e)?,
            };
        }
    }

    /// Push a frame, enforcing the depth budget.
    pub(crate) fn push(&mut self, it: &Interp, k: K) -> Result<()> {
        if self.base + self.stack.len() >= it.limits.max_depth {
            return Err(Error::new(ErrorKind::Depth));
        }
        self.stack.push(k);
        Ok(())
    }

    /// Count one step; check the step, heap and time budgets.
    pub(crate) fn tick(&mut self, it: &mut Interp) -> Result<()> {
        it.steps += 1;
        if it.steps > it.limits.max_steps {
            return Err(Error::new(ErrorKind::Steps));
        }
        if it.steps & 63 == 0 {
            it.reserve(0)?;
            if it.steps & 4095 == 0 {
                if let Some(t) = it.limits.timeout {
                    if it.started.elapsed() > t {
                        return Err(Error::new(ErrorKind::Timeout));
                    }
                }
            }
        }
        Ok(())
    }

    /// Turn an error into a `guard` handler run, or give it up.
    fn recover(&mut self, it: &mut Interp, e: Error) -> Result<Ctl> {
        let e = e.at(self.pos);
        if let (Some(Value::Condition(c)), Some(p)) = (&e.payload, &e.pos) {
            // `error` does not know where it was called; the first position seen sticks,
            // so a re-raise from a handler still points at the original call.
            c.pos.borrow_mut().get_or_insert_with(|| p.clone());
        }
        if e.is_budget() {
            return Err(e);
        }
        while let Some(k) = self.stack.pop() {
            if let K::Guard {
                var,
                clauses,
                env,
                pos,
            } = k
            {
                let cond = forms::condition_of(&e);
                let frame = EnvFrame::new(vec![(var, cond.clone())], env);
                self.pos = pos;
                return forms::start_cond(self, it, clauses, Some(frame), Some(cond), pos);
            }
        }
        Err(e)
    }

    /// Look a variable up.
    pub(crate) fn lookup(it: &Interp, sym: Symbol, env: &Env) -> Result<Value> {
        let mut cur = env;
        while let Some(frame) = cur {
            if let Some(v) = frame.get(sym) {
                return Ok(v);
            }
            cur = &frame.parent;
        }
        it.globals
            .get(&sym)
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::Unbound(sym.name().to_string())))
    }

    fn eval(&mut self, it: &mut Interp, x: Value, env: Env) -> Result<Ctl> {
        let p = match x {
            Value::Sym(s) => return Ok(Ctl::Ret(Self::lookup(it, s, &env)?)),
            Value::Pair(p) => p,
            other => return Ok(Ctl::Ret(other)),
        };
        self.tick(it)?;
        if p.pos.is_known() {
            self.pos = p.pos;
        }
        let pos = self.pos;
        match &p.car {
            Value::Sym(s) if s.is_special_form() => forms::eval_special(self, it, *s, &p, env),
            Value::Sym(s) => match Self::lookup(it, *s, &env)? {
                Value::Macro(m) => {
                    let args = p
                        .cdr
                        .list_to_vec()
                        .ok_or_else(|| Error::syntax("macro call: improper argument list"))?;
                    self.push(it, K::Expand { env })?;
                    Ok(Ctl::Apply(Value::Closure(m), args, pos))
                }
                f => self.eval_args(it, f, args_vec(&p.cdr), p.cdr.clone(), env, pos),
            },
            Value::Pair(_) => {
                self.push(
                    it,
                    K::Op {
                        args: p.cdr.clone(),
                        env: env.clone(),
                        pos,
                    },
                )?;
                Ok(Ctl::Eval(p.car.clone(), env))
            }
            other => self.eval_args(it, other.clone(), args_vec(&p.cdr), p.cdr.clone(), env, pos),
        }
    }

    /// Evaluate the remaining arguments `rest` of a call, then apply `f`.
    fn eval_args(
        &mut self,
        it: &mut Interp,
        f: Value,
        mut vals: Vec<Value>,
        rest: Value,
        env: Env,
        pos: Pos,
    ) -> Result<Ctl> {
        // Walk the argument list by reference: `rest` keeps it alive, so no reference
        // count moves per argument.
        let mut cur: &Value = &rest;
        loop {
            let p = match cur {
                Value::Nil => return Ok(Ctl::Apply(f, vals, pos)),
                Value::Pair(p) => p,
                _ => return Err(Error::syntax("improper argument list in call")),
            };
            match &p.car {
                Value::Sym(s) => vals.push(Self::lookup(it, *s, &env).map_err(|e| e.at(p.pos))?),
                Value::Pair(_) => {
                    let arg = p.car.clone();
                    let next = p.cdr.clone();
                    self.push(
                        it,
                        K::Args {
                            f,
                            vals,
                            rest: next,
                            env: env.clone(),
                            pos,
                        },
                    )?;
                    return Ok(Ctl::Eval(arg, env));
                }
                other => vals.push(other.clone()),
            }
            cur = &p.cdr;
        }
    }

    /// Evaluate a body (a list of expressions), the last one in tail position.
    pub(crate) fn eval_body(&mut self, it: &Interp, body: Value, env: Env) -> Result<Ctl> {
        match body {
            Value::Nil => Ok(Ctl::Ret(Value::Void)),
            Value::Pair(p) => {
                if matches!(p.cdr, Value::Nil) {
                    return Ok(Ctl::Eval(p.car.clone(), env));
                }
                self.push(
                    it,
                    K::Seq {
                        rest: p.cdr.clone(),
                        env: env.clone(),
                    },
                )?;
                Ok(Ctl::Eval(p.car.clone(), env))
            }
            _ => Err(Error::syntax("body must be a proper list of expressions")),
        }
    }

    fn apply(&mut self, it: &mut Interp, f: Value, args: Vec<Value>, pos: Pos) -> Result<Ctl> {
        self.tick(it)?;
        match f {
            Value::Closure(c) => self.apply_closure(it, &c, args, pos),
            Value::Native(n) => {
                let given = args.len();
                if given < n.min || n.max.is_some_and(|m| given > m) {
                    return Err(Error::eval(format!(
                        "{}: expected {} arguments, got {given}",
                        n.name,
                        arity_text(n.min, n.max)
                    ))
                    .at(pos));
                }
                it.depth_in_use = self.base + self.stack.len();
                (n.f)(it, args).map(Ctl::Ret).map_err(|e| e.at(pos))
            }
            Value::Prim(p) => hof::apply_prim(self, it, p, args, pos).map_err(|e| e.at(pos)),
            other => Err(Error::eval(format!("not a procedure: {}", clip(&other))).at(pos)),
        }
    }

    fn apply_closure(
        &mut self,
        it: &mut Interp,
        c: &Rc<Closure>,
        args: Vec<Value>,
        pos: Pos,
    ) -> Result<Ctl> {
        let n = c.params.len();
        if args.len() < n || (c.rest.is_none() && args.len() > n) {
            let name = c
                .name()
                .map_or_else(|| "#<procedure>".to_string(), |s| s.name().to_string());
            let max = if c.rest.is_some() { None } else { Some(n) };
            return Err(Error::eval(format!(
                "{name}: expected {} arguments, got {}",
                arity_text(n, max),
                args.len()
            ))
            .at(pos));
        }
        let mut vals = args;
        if let Some(_r) = c.rest {
            let rest: Vec<Value> = vals.split_off(n);
            it.reserve(rest.len() * crate::heap::PAIR_BYTES)?;
            vals.push(list_from(rest));
        }
        if c.self_name.is_some() {
            vals.push(Value::Closure(c.clone()));
        }
        let env = Some(EnvFrame::with_names(
            c.frame_names.clone(),
            vals,
            c.env.clone(),
        ));
        self.eval_body(it, c.body.clone(), env)
    }

    fn resume(&mut self, it: &mut Interp, k: K, v: Value) -> Result<Ctl> {
        match k {
            K::If { conseq, alt, env } => Ok(if v.is_true() {
                Ctl::Eval(conseq, env)
            } else {
                alt.map_or(Ctl::Ret(Value::Void), |a| Ctl::Eval(a, env))
            }),
            K::Seq { rest, env } => self.eval_body(it, rest, env),
            K::Op { args, env, pos } => {
                let vals = args_vec(&args);
                self.eval_args(it, v, vals, args, env, pos)
            }
            K::Args {
                f,
                mut vals,
                rest,
                env,
                pos,
            } => {
                vals.push(v);
                self.eval_args(it, f, vals, rest, env, pos)
            }
            K::Define { sym, env } => {
                forms::define(it, sym, v, &env);
                Ok(Ctl::Ret(Value::Void))
            }
            K::Set { sym, env, pos } => forms::set(it, sym, v, &env)
                .map(|()| Ctl::Ret(Value::Void))
                .map_err(|e| e.at(pos)),
            K::And { rest, env } => {
                if v.is_true() {
                    forms::continue_and(self, it, rest, env)
                } else {
                    Ok(Ctl::Ret(v))
                }
            }
            K::Or { rest, env } => {
                if v.is_true() {
                    Ok(Ctl::Ret(v))
                } else {
                    forms::continue_or(self, it, rest, env)
                }
            }
            K::Cond {
                body,
                rest,
                env,
                reraise,
                pos,
            } => forms::resume_cond(self, it, v, body, rest, env, reraise, pos),
            K::CondArrow { val, pos } => Ok(Ctl::Apply(v, vec![val], pos)),
            K::Case { clauses, env } => forms::resume_case(self, it, v, clauses, env),
            K::When { body, env, unless } => {
                if v.is_true() != unless {
                    self.eval_body(it, body, env)
                } else {
                    Ok(Ctl::Ret(Value::Void))
                }
            }
            K::Let {
                names,
                mut vals,
                rest,
                body,
                env,
            } => {
                vals.push(v);
                forms::continue_let(self, it, names, vals, rest, body, env)
            }
            K::Bind {
                frame,
                sym,
                rest,
                body,
            } => {
                name_closure(&v, sym);
                frame.define(sym, v);
                forms::continue_bind(self, it, frame, rest, body)
            }
            K::Guard { .. } => Ok(Ctl::Ret(v)),
            K::Expand { env } => Ok(Ctl::Eval(v, env)),
            K::Hof(h) => hof::resume(self, it, h, v),
        }
    }
}

/// An argument vector with room for every argument of the call, so evaluating them
/// never regrows it.
fn args_vec(args: &Value) -> Vec<Value> {
    let mut n = 0;
    let mut cur = args;
    while let Value::Pair(p) = cur {
        n += 1;
        cur = &p.cdr;
    }
    Vec::with_capacity(n)
}

/// Give an anonymous closure the name it is being bound to, for messages.
pub(crate) fn name_closure(v: &Value, sym: Symbol) {
    if let Value::Closure(c) | Value::Macro(c) = v {
        let mut n = c.name.borrow_mut();
        if n.is_none() {
            *n = Some(sym);
        }
    }
}

/// A value printed for an error message, cut short.
pub(crate) fn clip(v: &Value) -> String {
    let s = write_string(v);
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod size_tests {
    /// The hot loop moves these by value; keep them small.
    #[test]
    fn hot_types_stay_small() {
        assert_eq!(std::mem::size_of::<crate::Value>(), 16);
        assert!(std::mem::size_of::<super::K>() <= 96);
        assert!(std::mem::size_of::<super::Ctl>() <= 64);
        assert!(std::mem::size_of::<crate::Result<super::Ctl>>() <= 80);
    }
}
