//! The special forms: how each one starts (`eval_special`) and how its pending frames
//! continue when a sub-expression's value arrives.

use crate::error::{Error, ErrorKind, Result};
use crate::interp::Interp;
use crate::machine::{name_closure, Ctl, Machine, K};
use crate::pos::Pos;
use crate::symbol::{self as sy, Symbol};
use crate::value::{list_from, Closure, Condition, Env, EnvFrame, Pair, Value};
use std::cell::RefCell;
use std::rc::Rc;

fn form_args(name: &str, p: &Pair) -> Result<Vec<Value>> {
    p.cdr
        .list_to_vec()
        .ok_or_else(|| Error::syntax(format!("{name}: improper form")))
}

fn expect_sym(what: &str, v: &Value) -> Result<Symbol> {
    match v {
        Value::Sym(s) => Ok(*s),
        other => Err(Error::syntax(format!(
            "{what}: expected a symbol, got {}",
            crate::machine::clip(other)
        ))),
    }
}

/// Start evaluating the special form `(s . args)`.
/// The operands of a form as a slice-friendly vector.
fn operands(s: Symbol, p: &Pair) -> Result<Vec<Value>> {
    form_args(&s.name(), p)
}

/// Start evaluating the special form `(s . args)`.
pub(crate) fn eval_special(
    m: &mut Machine,
    it: &mut Interp,
    s: Symbol,
    p: &Rc<Pair>,
    env: Env,
) -> Result<Ctl> {
    let pos = m.pos;
    match s {
        sy::QUOTE => match operands(s, p)?.as_slice() {
            [x] => Ok(Ctl::Ret(x.clone())),
            _ => Err(Error::syntax("quote: expected exactly one datum")),
        },
        sy::QUASIQUOTE => match operands(s, p)?.as_slice() {
            [x] => Ok(Ctl::Eval(crate::quasi::expand(it, x)?, env)),
            _ => Err(Error::syntax("quasiquote: expected exactly one template")),
        },
        sy::IF => {
            let bad = || Error::syntax("if: expected (if test then [else])");
            let Value::Pair(a) = &p.cdr else {
                return Err(bad());
            };
            let Value::Pair(b) = &a.cdr else {
                return Err(bad());
            };
            let alt = match &b.cdr {
                Value::Nil => None,
                Value::Pair(c) if matches!(c.cdr, Value::Nil) => Some(c.car.clone()),
                _ => return Err(bad()),
            };
            m.push(
                it,
                K::If {
                    conseq: b.car.clone(),
                    alt,
                    env: env.clone(),
                },
            )?;
            Ok(Ctl::Eval(a.car.clone(), env))
        }
        sy::DEFINE => define_form(m, it, p, env),
        sy::SET => match operands(s, p)?.as_slice() {
            [target, x] => {
                let sym = expect_sym("set!", target)?;
                m.push(
                    it,
                    K::Set {
                        sym,
                        env: env.clone(),
                        pos,
                    },
                )?;
                Ok(Ctl::Eval(x.clone(), env))
            }
            _ => Err(Error::syntax("set!: expected (set! name expr)")),
        },
        sy::LAMBDA => {
            let Value::Pair(rest) = &p.cdr else {
                return Err(Error::syntax("lambda: expected (lambda params body...)"));
            };
            Ok(Ctl::Ret(make_closure(
                &rest.car,
                rest.cdr.clone(),
                env,
                false,
            )?))
        }
        sy::BEGIN => m.eval_body(it, p.cdr.clone(), env),
        sy::AND => continue_and(m, it, p.cdr.clone(), env),
        sy::OR => continue_or(m, it, p.cdr.clone(), env),
        sy::WHEN | sy::UNLESS | sy::CASE => test_form(m, it, s, p, env),
        sy::COND => start_cond(m, it, p.cdr.clone(), env, None, pos),
        sy::LET => let_form(m, it, p, env),
        sy::LET_STAR | sy::LETREC | sy::LETREC_STAR => sequential_let(m, it, s, p, env),
        sy::DO => Ok(Ctl::Eval(desugar_do(p)?, env)),
        sy::DEFINE_MACRO | sy::DEFMACRO => macro_form(it, s, p, &env),
        sy::GUARD => guard_form(m, it, p, env, pos),
        _ => Err(Error::syntax(format!("{}: not usable here", s.name()))),
    }
}

/// `when`, `unless` and `case`: evaluate the first operand, then decide.
fn test_form(m: &mut Machine, it: &Interp, s: Symbol, p: &Pair, env: Env) -> Result<Ctl> {
    let Value::Pair(rest) = &p.cdr else {
        let name = s.name();
        return Err(Error::syntax(format!("{name}: expected ({name} expr ...)")));
    };
    let k = if s == sy::CASE {
        K::Case {
            clauses: rest.cdr.clone(),
            env: env.clone(),
        }
    } else {
        K::When {
            body: rest.cdr.clone(),
            env: env.clone(),
            unless: s == sy::UNLESS,
        }
    };
    m.push(it, k)?;
    Ok(Ctl::Eval(rest.car.clone(), env))
}

/// `let*`, `letrec` and `letrec*`: one new frame, inits evaluated in it in order
/// (`letrec` pre-binds every name so the inits can refer to each other).
fn sequential_let(m: &mut Machine, it: &Interp, s: Symbol, p: &Pair, env: Env) -> Result<Ctl> {
    let name = s.name();
    let Value::Pair(rest) = &p.cdr else {
        return Err(Error::syntax(format!(
            "{name}: expected ({name} (bindings...) body...)"
        )));
    };
    let names = binding_names(&name, &rest.car)?;
    let pre = if s == sy::LET_STAR {
        Vec::new()
    } else {
        names.iter().map(|n| (*n, Value::Void)).collect()
    };
    let frame = EnvFrame::new(pre, env);
    continue_bind(m, it, frame, rest.car.clone(), rest.cdr.clone())
}

/// `(guard (var clause...) body...)`: the body runs above a `Guard` frame that errors
/// unwind to.
fn guard_form(m: &mut Machine, it: &Interp, p: &Pair, env: Env, pos: Pos) -> Result<Ctl> {
    let Value::Pair(rest) = &p.cdr else {
        return Err(Error::syntax(
            "guard: expected (guard (var clause...) body...)",
        ));
    };
    let Value::Pair(spec) = &rest.car else {
        return Err(Error::syntax("guard: expected (var clause...) after guard"));
    };
    let var = expect_sym("guard", &spec.car)?;
    m.push(
        it,
        K::Guard {
            var,
            clauses: spec.cdr.clone(),
            env: env.clone(),
            pos,
        },
    )?;
    m.eval_body(it, rest.cdr.clone(), env)
}

/// Parse a parameter list: `(a b)`, `(a . rest)` or `args`.
fn parse_params(v: &Value) -> Result<(Vec<Symbol>, Option<Symbol>)> {
    let mut params = Vec::new();
    let mut cur = v;
    loop {
        match cur {
            Value::Nil => return Ok((params, None)),
            Value::Sym(s) => return Ok((params, Some(*s))),
            Value::Pair(p) => {
                let s = expect_sym("lambda parameter", &p.car)?;
                if params.contains(&s) {
                    return Err(Error::syntax(format!(
                        "lambda: duplicate parameter {}",
                        s.name()
                    )));
                }
                params.push(s);
                cur = &p.cdr;
            }
            other => {
                return Err(Error::syntax(format!(
                    "lambda: bad parameter list {}",
                    crate::machine::clip(other)
                )))
            }
        }
    }
}

fn make_closure(params: &Value, body: Value, env: Env, is_macro: bool) -> Result<Value> {
    let (params, rest) = parse_params(params)?;
    if body.list_to_vec().is_none() {
        return Err(Error::syntax("lambda: body must be a proper list"));
    }
    let c = Closure::new(params, rest, body, env);
    Ok(if is_macro {
        Value::Macro(c)
    } else {
        Value::Closure(c)
    })
}

fn define_form(m: &mut Machine, it: &mut Interp, p: &Pair, env: Env) -> Result<Ctl> {
    let Value::Pair(rest) = &p.cdr else {
        return Err(Error::syntax(
            "define: expected (define name expr) or (define (name params...) body...)",
        ));
    };
    match &rest.car {
        Value::Sym(s) => match rest.cdr.list_to_vec().as_deref() {
            Some([]) => {
                define(it, *s, Value::Void, &env);
                Ok(Ctl::Ret(Value::Void))
            }
            Some([x]) => {
                m.push(
                    it,
                    K::Define {
                        sym: *s,
                        env: env.clone(),
                    },
                )?;
                Ok(Ctl::Eval(x.clone(), env))
            }
            _ => Err(Error::syntax("define: expected (define name expr)")),
        },
        Value::Pair(sig) => {
            let name = expect_sym("define", &sig.car)?;
            let f = make_closure(&sig.cdr, rest.cdr.clone(), env.clone(), false)?;
            name_closure(&f, name);
            define(it, name, f, &env);
            Ok(Ctl::Ret(Value::Void))
        }
        other => Err(Error::syntax(format!(
            "define: cannot define {}",
            crate::machine::clip(other)
        ))),
    }
}

fn macro_form(it: &mut Interp, s: Symbol, p: &Pair, env: &Env) -> Result<Ctl> {
    let args = form_args(&s.name(), p)?;
    let (name, params, body) = if s == sy::DEFMACRO {
        // (defmacro name params body...)
        let [name, params, ..] = args.as_slice() else {
            return Err(Error::syntax(
                "defmacro: expected (defmacro name params body...)",
            ));
        };
        (
            expect_sym("defmacro", name)?,
            params.clone(),
            list_from(args[2..].to_vec()),
        )
    } else {
        // (define-macro (name . params) body...)
        let Some(Value::Pair(sig)) = args.first() else {
            return Err(Error::syntax(
                "define-macro: expected (define-macro (name params...) body...)",
            ));
        };
        (
            expect_sym("define-macro", &sig.car)?,
            sig.cdr.clone(),
            list_from(args[1..].to_vec()),
        )
    };
    let mac = make_closure(&params, body, env.clone(), true)?;
    name_closure(&mac, name);
    define(it, name, mac, env);
    Ok(Ctl::Ret(Value::Void))
}

/// Bind `sym` in the innermost frame (or globally).
pub(crate) fn define(it: &mut Interp, sym: Symbol, v: Value, env: &Env) {
    name_closure(&v, sym);
    match env {
        Some(frame) => frame.define(sym, v),
        None => {
            it.globals.insert(sym, v);
        }
    }
}

/// Assign an existing binding.
pub(crate) fn set(it: &mut Interp, sym: Symbol, mut v: Value, env: &Env) -> Result<()> {
    let mut cur = env;
    while let Some(frame) = cur {
        match frame.set(sym, v) {
            Ok(old) => {
                drop(old);
                return Ok(());
            }
            Err(back) => v = back,
        }
        cur = &frame.parent;
    }
    match it.globals.get_mut(&sym) {
        Some(slot) => {
            *slot = v;
            Ok(())
        }
        None => Err(Error::new(ErrorKind::Unbound(sym.name().to_string()))),
    }
}

pub(crate) fn continue_and(m: &mut Machine, it: &Interp, rest: Value, env: Env) -> Result<Ctl> {
    match rest {
        Value::Nil => Ok(Ctl::Ret(Value::Bool(true))),
        Value::Pair(p) if matches!(p.cdr, Value::Nil) => Ok(Ctl::Eval(p.car.clone(), env)),
        Value::Pair(p) => {
            m.push(
                it,
                K::And {
                    rest: p.cdr.clone(),
                    env: env.clone(),
                },
            )?;
            Ok(Ctl::Eval(p.car.clone(), env))
        }
        _ => Err(Error::syntax("and: improper form")),
    }
}

pub(crate) fn continue_or(m: &mut Machine, it: &Interp, rest: Value, env: Env) -> Result<Ctl> {
    match rest {
        Value::Nil => Ok(Ctl::Ret(Value::Bool(false))),
        Value::Pair(p) if matches!(p.cdr, Value::Nil) => Ok(Ctl::Eval(p.car.clone(), env)),
        Value::Pair(p) => {
            m.push(
                it,
                K::Or {
                    rest: p.cdr.clone(),
                    env: env.clone(),
                },
            )?;
            Ok(Ctl::Eval(p.car.clone(), env))
        }
        _ => Err(Error::syntax("or: improper form")),
    }
}

/// Evaluate `cond` clauses; with `reraise`, this is a `guard` handler that re-raises the
/// condition when no clause applies.
pub(crate) fn start_cond(
    m: &mut Machine,
    it: &Interp,
    clauses: Value,
    env: Env,
    reraise: Option<Value>,
    pos: Pos,
) -> Result<Ctl> {
    let p = match clauses {
        Value::Nil => {
            return match reraise {
                Some(c) => Err(raise_error(c)),
                None => Ok(Ctl::Ret(Value::Void)),
            }
        }
        Value::Pair(p) => p,
        _ => return Err(Error::syntax("cond: improper clause list")),
    };
    let Value::Pair(clause) = &p.car else {
        return Err(Error::syntax("cond: each clause must be (test body...)"));
    };
    if matches!(clause.car, Value::Sym(sy::ELSE)) {
        return m.eval_body(it, clause.cdr.clone(), env);
    }
    m.push(
        it,
        K::Cond {
            body: clause.cdr.clone(),
            rest: p.cdr.clone(),
            env: env.clone(),
            reraise,
            pos,
        },
    )?;
    Ok(Ctl::Eval(clause.car.clone(), env))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn resume_cond(
    m: &mut Machine,
    it: &Interp,
    v: Value,
    body: Value,
    rest: Value,
    env: Env,
    reraise: Option<Value>,
    pos: Pos,
) -> Result<Ctl> {
    if !v.is_true() {
        return start_cond(m, it, rest, env, reraise, pos);
    }
    match &body {
        Value::Nil => Ok(Ctl::Ret(v)),
        Value::Pair(b) if matches!(b.car, Value::Sym(sy::ARROW)) => {
            let Value::Pair(f) = &b.cdr else {
                return Err(Error::syntax("cond: expected (test => procedure)"));
            };
            m.push(it, K::CondArrow { val: v, pos })?;
            Ok(Ctl::Eval(f.car.clone(), env))
        }
        _ => m.eval_body(it, body, env),
    }
}

pub(crate) fn resume_case(
    m: &mut Machine,
    it: &mut Interp,
    key: Value,
    clauses: Value,
    env: Env,
) -> Result<Ctl> {
    let clauses = clauses
        .list_to_vec()
        .ok_or_else(|| Error::syntax("case: improper clause list"))?;
    for c in clauses {
        let Value::Pair(c) = c else {
            return Err(Error::syntax(
                "case: each clause must be ((datum...) body...)",
            ));
        };
        if matches!(c.car, Value::Sym(sy::ELSE)) {
            return m.eval_body(it, c.cdr.clone(), env);
        }
        let data = c
            .car
            .list_to_vec()
            .ok_or_else(|| Error::syntax("case: clause data must be a list"))?;
        for d in &data {
            if crate::builtins::equal(it, d, &key)? {
                return m.eval_body(it, c.cdr.clone(), env);
            }
        }
    }
    Ok(Ctl::Ret(Value::Void))
}

fn binding_names(form: &str, bindings: &Value) -> Result<Vec<Symbol>> {
    let list = bindings
        .list_to_vec()
        .ok_or_else(|| Error::syntax(format!("{form}: bindings must be a list")))?;
    list.iter()
        .map(|b| match b {
            Value::Pair(p) => expect_sym(form, &p.car),
            other => expect_sym(form, other),
        })
        .collect()
}

/// The init expression of a binding `(name expr)`, `(name)` or `name`.
fn binding_init(b: &Value) -> Result<(Symbol, Option<Value>)> {
    match b {
        Value::Sym(s) => Ok((*s, None)),
        Value::Pair(p) => {
            let s = expect_sym("let", &p.car)?;
            match &p.cdr {
                Value::Nil => Ok((s, None)),
                Value::Pair(x) if matches!(x.cdr, Value::Nil) => Ok((s, Some(x.car.clone()))),
                _ => Err(Error::syntax("let: binding must be (name expr)")),
            }
        }
        other => Err(Error::syntax(format!(
            "let: bad binding {}",
            crate::machine::clip(other)
        ))),
    }
}

fn let_form(m: &mut Machine, it: &mut Interp, p: &Pair, env: Env) -> Result<Ctl> {
    let Value::Pair(rest) = &p.cdr else {
        return Err(Error::syntax("let: expected (let (bindings...) body...)"));
    };
    if let Value::Sym(name) = rest.car {
        return named_let(name, &rest.cdr, env);
    }
    continue_let(
        m,
        it,
        Vec::new(),
        Vec::new(),
        rest.car.clone(),
        rest.cdr.clone(),
        env,
    )
}

/// `(let name ((v init)...) body...)` is `((letrec ((name (lambda (v...) body...))) name) init...)`.
fn named_let(name: Symbol, rest: &Value, env: Env) -> Result<Ctl> {
    let Value::Pair(r) = rest else {
        return Err(Error::syntax(
            "let: expected (let name (bindings...) body...)",
        ));
    };
    let bindings = r
        .car
        .list_to_vec()
        .ok_or_else(|| Error::syntax("let: bindings must be a list"))?;
    let mut vars = Vec::new();
    let mut inits = Vec::new();
    for b in &bindings {
        let (s, init) = binding_init(b)?;
        vars.push(Value::Sym(s));
        inits.push(init.unwrap_or(Value::Void));
    }
    let (params, rest) = parse_params(&list_from(vars))?;
    if r.cdr.list_to_vec().is_none() {
        return Err(Error::syntax("let: body must be a proper list"));
    }
    // The loop procedure binds its own name in each call frame instead of living in a
    // frame it captures: no reference cycle, so finished loops are freed.
    let c = Closure::new_self_named(params, rest, r.cdr.clone(), env.clone(), name);
    Ok(Ctl::Eval(
        Value::cons_at(Value::Closure(c), list_from(inits), r.pos),
        env,
    ))
}

pub(crate) fn continue_let(
    m: &mut Machine,
    it: &mut Interp,
    mut names: Vec<Symbol>,
    mut vals: Vec<Value>,
    rest: Value,
    body: Value,
    env: Env,
) -> Result<Ctl> {
    let mut rest = rest;
    loop {
        match rest {
            Value::Nil => {
                let frame = EnvFrame::from_parts(names, vals, env);
                return m.eval_body(it, body, Some(frame));
            }
            Value::Pair(p) => {
                let (s, init) = binding_init(&p.car)?;
                names.push(s);
                match init {
                    None => vals.push(Value::Void),
                    Some(x) => {
                        m.push(
                            it,
                            K::Let {
                                names,
                                vals,
                                rest: p.cdr.clone(),
                                body,
                                env: env.clone(),
                            },
                        )?;
                        return Ok(Ctl::Eval(x, env));
                    }
                }
                rest = p.cdr.clone();
            }
            _ => return Err(Error::syntax("let: bindings must be a list")),
        }
    }
}

/// Continue `let*`/`letrec` bindings: each init is evaluated in `frame` and bound there.
pub(crate) fn continue_bind(
    m: &mut Machine,
    it: &Interp,
    frame: Rc<EnvFrame>,
    rest: Value,
    body: Value,
) -> Result<Ctl> {
    let mut rest = rest;
    loop {
        match rest {
            Value::Nil => return m.eval_body(it, body, Some(frame)),
            Value::Pair(p) => {
                let (s, init) = binding_init(&p.car)?;
                match init {
                    None => frame.define(s, Value::Void),
                    Some(x) => {
                        let env = Some(frame.clone());
                        m.push(
                            it,
                            K::Bind {
                                frame,
                                sym: s,
                                rest: p.cdr.clone(),
                                body,
                            },
                        )?;
                        return Ok(Ctl::Eval(x, env));
                    }
                }
                rest = p.cdr.clone();
            }
            _ => return Err(Error::syntax("let*: bindings must be a list")),
        }
    }
}

/// `(do ((var init step)...) (test res...) body...)` as a named let.
fn desugar_do(p: &Pair) -> Result<Value> {
    let args = form_args("do", p)?;
    let [specs, exit, body @ ..] = args.as_slice() else {
        return Err(Error::syntax(
            "do: expected (do ((var init step)...) (test result...) body...)",
        ));
    };
    let specs = specs
        .list_to_vec()
        .ok_or_else(|| Error::syntax("do: variable specs must be a list"))?;
    let mut bindings = Vec::new();
    let mut steps = Vec::new();
    for s in &specs {
        let parts = s
            .list_to_vec()
            .ok_or_else(|| Error::syntax("do: each spec must be (var init [step])"))?;
        match parts.as_slice() {
            [v, init] => {
                expect_sym("do", v)?;
                bindings.push(list_from(vec![v.clone(), init.clone()]));
                steps.push(v.clone());
            }
            [v, init, step] => {
                expect_sym("do", v)?;
                bindings.push(list_from(vec![v.clone(), init.clone()]));
                steps.push(step.clone());
            }
            _ => return Err(Error::syntax("do: each spec must be (var init [step])")),
        }
    }
    let Value::Pair(exit) = exit else {
        return Err(Error::syntax("do: expected (test result...) clause"));
    };
    let again = Value::cons(Value::Sym(sy::DO_LOOP), list_from(steps));
    let mut body: Vec<Value> = body.to_vec();
    body.push(again);
    let result = Value::cons(Value::Sym(sy::BEGIN), exit.cdr.clone());
    let iff = list_from(vec![
        Value::Sym(sy::IF),
        exit.car.clone(),
        result,
        Value::cons(Value::Sym(sy::BEGIN), list_from(body)),
    ]);
    Ok(Value::cons_at(
        Value::Sym(sy::LET),
        list_from(vec![Value::Sym(sy::DO_LOOP), list_from(bindings), iff]),
        p.pos,
    ))
}

/// The object `guard` binds for an error: the raised value, or a condition describing a
/// runtime error.
pub(crate) fn condition_of(e: &Error) -> Value {
    if let Some(v) = &e.payload {
        return v.clone();
    }
    Value::Condition(Rc::new(Condition {
        message: e.message(),
        irritants: Value::Nil,
        pos: RefCell::new(e.pos.clone()),
    }))
}

/// The error that raising `v` produces.
pub(crate) fn raise_error(v: Value) -> Error {
    let (kind, pos) = match &v {
        Value::Condition(c) => (ErrorKind::User(condition_text(c)), c.pos.borrow().clone()),
        other => (ErrorKind::Raised(crate::machine::clip(other)), None),
    };
    Error {
        kind,
        pos,
        payload: Some(v),
    }
}

/// A condition's message followed by its irritants, as `error` reports it.
pub(crate) fn condition_text(c: &Condition) -> String {
    let mut s = c.message.clone();
    let mut cur = &c.irritants;
    while let Value::Pair(p) = cur {
        s.push(' ');
        s.push_str(&crate::machine::clip(&p.car));
        cur = &p.cdr;
    }
    s
}
