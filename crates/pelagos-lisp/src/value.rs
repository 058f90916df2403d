//! Values of the language and the heap objects behind them.
//!
//! Pairs and strings are immutable, so list structure can never form a cycle; every pair
//! the reader builds remembers where its element started in the source.

use crate::error::Result;
use crate::heap::{self, Garbage};
use crate::interp::Interp;
use crate::pos::Pos;
use crate::symbol::Symbol;
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A value.
#[derive(Clone, Default)]
pub enum Value {
    /// The empty list `()`.
    #[default]
    Nil,
    /// The unspecified value (result of `define`, `display`...); prints as nothing in the REPL.
    Void,
    /// `#t` / `#f`.
    Bool(bool),
    /// A 64-bit integer; arithmetic overflow is an error.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// An immutable string.
    Str(Rc<LStr>),
    /// A symbol.
    Sym(Symbol),
    /// A self-evaluating `:keyword`.
    Keyword(Symbol),
    /// A pair (cons cell).
    Pair(Rc<Pair>),
    /// A procedure written in the language.
    Closure(Rc<Closure>),
    /// A macro: a procedure applied to the unevaluated form.
    Macro(Rc<Closure>),
    /// A procedure provided by Rust.
    Native(Rc<Native>),
    /// A procedure built into the evaluator loop (`apply`, `map`, ...).
    Prim(Prim),
    /// A mutable hash table keyed by atoms.
    Table(Rc<Table>),
    /// A condition object made by `error`/`errorf` or a caught runtime error.
    Condition(Rc<Condition>),
    /// An opaque host value (handle).
    Host(Rc<HostObj>),
}

/// A cons cell with the source position of its element (of the opening paren for the
/// first cell of a list read from source).
pub struct Pair {
    /// The first element.
    pub car: Value,
    /// The rest.
    pub cdr: Value,
    /// Where the element (or list) started, `Pos::NONE` for pairs built at run time.
    pub pos: Pos,
}

impl Drop for Pair {
    fn drop(&mut self) {
        heap::release(heap::PAIR_BYTES);
        let a = std::mem::take(&mut self.car);
        let d = std::mem::take(&mut self.cdr);
        heap::dispose([Garbage::Value(a), Garbage::Value(d)]);
    }
}

/// An immutable string (accounted on the heap).
pub struct LStr(Box<str>);

impl LStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for LStr {
    fn drop(&mut self) {
        heap::release(heap::STR_BYTES + self.0.len());
    }
}

/// The names of a frame: shared with the closure for call frames (no copy per call),
/// owned once a `define` adds one.
enum Names {
    Shared(Rc<[Symbol]>),
    Owned(Vec<Symbol>),
}

impl Names {
    fn as_slice(&self) -> &[Symbol] {
        match self {
            Names::Shared(s) => s,
            Names::Owned(v) => v,
        }
    }
}

struct FrameData {
    names: Names,
    vals: Vec<Value>,
}

/// An environment frame: local bindings (parallel name and value vectors; the first
/// binding of a name wins) and the enclosing frame (`None` = globals).
pub struct EnvFrame {
    data: RefCell<FrameData>,
    pub(crate) parent: Env,
}

/// A lexical environment; `None` is the global environment of the interpreter.
pub type Env = Option<Rc<EnvFrame>>;

impl EnvFrame {
    /// A new frame with `vars` whose parent is `parent`.
    pub(crate) fn new(vars: Vec<(Symbol, Value)>, parent: Env) -> Rc<EnvFrame> {
        let (names, vals): (Vec<Symbol>, Vec<Value>) = vars.into_iter().unzip();
        Self::build(Names::Owned(names), vals, parent)
    }

    /// A frame binding `names[i]` to `vals[i]`.
    pub(crate) fn from_parts(names: Vec<Symbol>, vals: Vec<Value>, parent: Env) -> Rc<EnvFrame> {
        Self::build(Names::Owned(names), vals, parent)
    }

    /// A call frame: `vals[i]` is bound to `names[i]`.
    pub(crate) fn with_names(names: Rc<[Symbol]>, vals: Vec<Value>, parent: Env) -> Rc<EnvFrame> {
        Self::build(Names::Shared(names), vals, parent)
    }

    fn build(names: Names, vals: Vec<Value>, parent: Env) -> Rc<EnvFrame> {
        heap::alloc(heap::FRAME_BYTES + vals.len() * heap::BINDING_BYTES);
        Rc::new(EnvFrame {
            data: RefCell::new(FrameData { names, vals }),
            parent,
        })
    }

    /// The value bound to `sym` in this frame.
    pub(crate) fn get(&self, sym: Symbol) -> Option<Value> {
        let d = self.data.borrow();
        let i = d.names.as_slice().iter().position(|s| *s == sym)?;
        d.vals.get(i).cloned()
    }

    /// Assign `sym` if this frame binds it; the old value is returned for dropping
    /// outside the borrow.
    pub(crate) fn set(&self, sym: Symbol, val: Value) -> Result<Value, Value> {
        let mut d = self.data.borrow_mut();
        match d.names.as_slice().iter().position(|s| *s == sym) {
            Some(i) if i < d.vals.len() => Ok(std::mem::replace(&mut d.vals[i], val)),
            _ => Err(val),
        }
    }

    /// Bind or rebind `sym` in this frame.
    pub(crate) fn define(&self, sym: Symbol, val: Value) {
        let old = match self.set(sym, val) {
            Ok(old) => old,
            Err(val) => {
                heap::alloc(heap::BINDING_BYTES);
                let mut d = self.data.borrow_mut();
                if let Names::Shared(s) = &d.names {
                    d.names = Names::Owned(s.to_vec());
                }
                if let Names::Owned(v) = &mut d.names {
                    v.push(sym);
                }
                d.vals.push(val);
                Value::Nil
            }
        };
        drop(old);
    }
}

impl Drop for EnvFrame {
    fn drop(&mut self) {
        let vals = std::mem::take(&mut self.data.get_mut().vals);
        heap::release(heap::FRAME_BYTES + vals.len() * heap::BINDING_BYTES);
        let parent = self.parent.take().map(Garbage::Env);
        heap::dispose(vals.into_iter().map(Garbage::Value).chain(parent));
    }
}

/// A closure: parameters, body and captured environment.
pub struct Closure {
    pub(crate) name: RefCell<Option<Symbol>>,
    pub(crate) params: Vec<Symbol>,
    pub(crate) rest: Option<Symbol>,
    pub(crate) body: Value,
    pub(crate) env: Env,
    /// A name bound to the closure itself in every call frame (named `let`).
    pub(crate) self_name: Option<Symbol>,
    /// The names of a call frame: parameters, then the rest parameter, then `self_name`.
    pub(crate) frame_names: Rc<[Symbol]>,
}

fn frame_names(params: &[Symbol], rest: Option<Symbol>, self_name: Option<Symbol>) -> Rc<[Symbol]> {
    params
        .iter()
        .copied()
        .chain(rest)
        .chain(self_name)
        .collect()
}

impl Closure {
    pub(crate) fn new_self_named(
        params: Vec<Symbol>,
        rest: Option<Symbol>,
        body: Value,
        env: Env,
        name: Symbol,
    ) -> Rc<Closure> {
        heap::alloc(heap::CLOSURE_BYTES + params.len() * 4);
        Rc::new(Closure {
            name: RefCell::new(Some(name)),
            frame_names: frame_names(&params, rest, Some(name)),
            params,
            rest,
            body,
            env,
            self_name: Some(name),
        })
    }

    pub(crate) fn new(
        params: Vec<Symbol>,
        rest: Option<Symbol>,
        body: Value,
        env: Env,
    ) -> Rc<Closure> {
        heap::alloc(heap::CLOSURE_BYTES + params.len() * 4);
        Rc::new(Closure {
            name: RefCell::new(None),
            frame_names: frame_names(&params, rest, None),
            params,
            rest,
            body,
            env,
            self_name: None,
        })
    }

    /// The name given by `define`, if any.
    pub fn name(&self) -> Option<Symbol> {
        *self.name.borrow()
    }
}

impl Drop for Closure {
    fn drop(&mut self) {
        heap::release(heap::CLOSURE_BYTES + self.params.len() * 4);
        let body = std::mem::take(&mut self.body);
        let env = self.env.take().map(Garbage::Env);
        heap::dispose(std::iter::once(Garbage::Value(body)).chain(env));
    }
}

/// The Rust signature of a native procedure.
pub type NativeFn = dyn Fn(&mut Interp, Vec<Value>) -> Result<Value>;

/// A procedure implemented in Rust.
pub struct Native {
    pub(crate) name: String,
    pub(crate) min: usize,
    pub(crate) max: Option<usize>,
    pub(crate) f: Box<NativeFn>,
}

impl Native {
    /// The name it was registered under.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Procedures that need the evaluator loop itself (they call procedures in tail position
/// or many times), so they never re-enter the evaluator on the Rust stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prim {
    /// `(apply f arg... list)`
    Apply,
    /// `(map f list...)`
    Map,
    /// `(for-each f list...)`
    ForEach,
    /// `(filter pred list)`
    Filter,
    /// `(fold-left f init list...)`
    FoldLeft,
    /// `(fold-right f init list...)`
    FoldRight,
    /// `(eval expr)` in the global environment.
    Eval,
}

impl Prim {
    /// The global name of the primitive.
    pub fn name(self) -> &'static str {
        match self {
            Prim::Apply => "apply",
            Prim::Map => "map",
            Prim::ForEach => "for-each",
            Prim::Filter => "filter",
            Prim::FoldLeft => "fold-left",
            Prim::FoldRight => "fold-right",
            Prim::Eval => "eval",
        }
    }
}

/// A hash-table key: tables are keyed by atoms compared by value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// `#t`/`#f`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A symbol.
    Sym(Symbol),
    /// A keyword.
    Keyword(Symbol),
}

impl Key {
    /// The key for a value, if it can be one.
    pub fn from_value(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Str(s) => Key::Str(s.as_str().to_string()),
            Value::Sym(s) => Key::Sym(*s),
            Value::Keyword(s) => Key::Keyword(*s),
            _ => return None,
        })
    }

    /// The key as a value.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::Str(s) => Value::str(s),
            Key::Sym(s) => Value::Sym(*s),
            Key::Keyword(s) => Value::Keyword(*s),
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        match self {
            Key::Str(s) => 64 + s.len(),
            _ => 64,
        }
    }
}

/// A mutable hash table (ordered by key, so listings are deterministic).
#[derive(Default)]
pub struct Table {
    pub(crate) map: RefCell<BTreeMap<Key, Value>>,
}

impl Drop for Table {
    fn drop(&mut self) {
        let map = std::mem::take(self.map.get_mut());
        heap::release(64);
        heap::dispose(map.into_iter().map(|(k, v)| {
            heap::release(k.bytes());
            Garbage::Value(v)
        }));
    }
}

/// A condition: what `error` raises and what `guard` binds for runtime errors.
pub struct Condition {
    pub(crate) message: String,
    pub(crate) irritants: Value,
    pub(crate) pos: RefCell<Option<crate::pos::SrcPos>>,
}

impl Drop for Condition {
    fn drop(&mut self) {
        let irr = std::mem::take(&mut self.irritants);
        heap::dispose([Garbage::Value(irr)]);
    }
}

/// An opaque value owned by the host, e.g. a handle to a service.
pub struct HostObj {
    pub(crate) type_name: String,
    pub(crate) value: Box<dyn Any>,
}

impl Value {
    /// A new string value.
    pub fn str(s: &str) -> Value {
        Value::string(s.to_string())
    }

    /// A new string value from an owned string.
    pub fn string(s: String) -> Value {
        heap::alloc(heap::STR_BYTES + s.len());
        Value::Str(Rc::new(LStr(s.into_boxed_str())))
    }

    /// A symbol value.
    pub fn sym(name: &str) -> Value {
        Value::Sym(Symbol::new(name))
    }

    /// A keyword value (`name` without the colon).
    pub fn keyword(name: &str) -> Value {
        Value::Keyword(Symbol::new(name))
    }

    /// A new pair.
    pub fn cons(car: Value, cdr: Value) -> Value {
        Value::cons_at(car, cdr, Pos::NONE)
    }

    /// A new pair with a source position.
    pub fn cons_at(car: Value, cdr: Value, pos: Pos) -> Value {
        heap::alloc(heap::PAIR_BYTES);
        Value::Pair(Rc::new(Pair { car, cdr, pos }))
    }

    /// An opaque host value with a type name used when printing (`#<db-handle>`).
    pub fn host<T: Any>(type_name: &str, value: T) -> Value {
        Value::Host(Rc::new(HostObj {
            type_name: type_name.to_string(),
            value: Box::new(value),
        }))
    }

    /// The host value inside, if this is a host value of type `T`.
    pub fn as_host<T: Any>(&self) -> Option<&T> {
        match self {
            Value::Host(h) => h.value.downcast_ref::<T>(),
            _ => None,
        }
    }

    /// Everything except `#f` is true.
    pub fn is_true(&self) -> bool {
        !matches!(self, Value::Bool(false))
    }

    /// Whether the value can be applied.
    pub fn is_procedure(&self) -> bool {
        matches!(self, Value::Closure(_) | Value::Native(_) | Value::Prim(_))
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The integer inside, if this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The elements of a proper list, or `None` for an improper list or non-list.
    pub fn list_to_vec(&self) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        let mut cur = self;
        loop {
            match cur {
                Value::Nil => return Some(out),
                Value::Pair(p) => {
                    out.push(p.car.clone());
                    cur = &p.cdr;
                }
                _ => return None,
            }
        }
    }

    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "empty list",
            Value::Void => "unspecified",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Sym(_) => "symbol",
            Value::Keyword(_) => "keyword",
            Value::Pair(_) => "pair",
            Value::Closure(_) | Value::Native(_) | Value::Prim(_) => "procedure",
            Value::Macro(_) => "macro",
            Value::Table(_) => "hash table",
            Value::Condition(_) => "condition",
            Value::Host(_) => "host value",
        }
    }

    /// The source position of a pair read from source.
    pub fn pos(&self) -> Pos {
        match self {
            Value::Pair(p) => p.pos,
            _ => Pos::NONE,
        }
    }
}

/// A proper list of `items`.
pub fn list_from(items: Vec<Value>) -> Value {
    list_with_tail(items, Value::Nil)
}

/// A list of `items` ending in `tail` (a dotted list unless `tail` is a list).
pub fn list_with_tail(items: Vec<Value>, tail: Value) -> Value {
    items
        .into_iter()
        .rev()
        .fold(tail, |acc, v| Value::cons(v, acc))
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::printer::write_string(self))
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::printer::write_string(self))
    }
}
