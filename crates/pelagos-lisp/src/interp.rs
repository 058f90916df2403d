//! The interpreter: global environment, budgets, output streams and the host API
//! (register natives and values, evaluate strings and files, call back into closures).

use crate::error::{Error, ErrorKind, Result};
use crate::heap;
use crate::limits::Limits;
use crate::machine::{Ctl, Machine};
use crate::pos::{intern_file, Pos};
use crate::reader;
use crate::symbol::Symbol;
use crate::value::{Native, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The global environment, indexed by symbol id (symbols are dense small integers, so
/// a vector beats hashing on the hottest path of the evaluator).
#[derive(Default)]
pub(crate) struct Globals(Vec<Option<Value>>);

impl Globals {
    pub(crate) fn get(&self, s: &Symbol) -> Option<&Value> {
        self.0.get(s.0 as usize).and_then(Option::as_ref)
    }
    pub(crate) fn get_mut(&mut self, s: &Symbol) -> Option<&mut Value> {
        self.0.get_mut(s.0 as usize).and_then(Option::as_mut)
    }
    pub(crate) fn insert(&mut self, s: Symbol, v: Value) {
        let i = s.0 as usize;
        if i >= self.0.len() {
            self.0.resize(i + 1, None);
        }
        self.0[i] = Some(v);
    }
}

/// Keyword arguments given to a keyword-aware native: `(service "db" :image "x")`.
#[derive(Default)]
pub struct Kwargs {
    map: BTreeMap<String, Value>,
}

impl Kwargs {
    /// The value given for `key` (without colon), if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// The keys given, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Whether no keyword was given.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Environment-variable lookup used by `(env NAME)`; injectable so hosts and tests
/// decide what a program may see.
pub type EnvLookup = dyn Fn(&str) -> Option<String>;

/// What one entry used of its budgets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Steps taken.
    pub steps: u64,
    /// Time spent in `sleep`.
    pub slept: Duration,
}

/// A .reml interpreter.
pub struct Interp {
    pub(crate) globals: Globals,
    pub(crate) limits: Limits,
    pub(crate) steps: u64,
    pub(crate) slept: Duration,
    pub(crate) started: Instant,
    pub(crate) depth_in_use: usize,
    pub(crate) nested_runs: usize,
    pub(crate) gensyms: u64,
    pub(crate) qq: Option<crate::quasi::QqProcs>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    env_lookup: Box<EnvLookup>,
}

impl Default for Interp {
    fn default() -> Self {
        Self::new()
    }
}

impl Interp {
    /// An interpreter with the standard library and default limits, writing to stdout
    /// and stderr and reading the process environment.
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// An interpreter with the standard library and the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        let mut it = Interp {
            globals: Globals::default(),
            limits,
            steps: 0,
            slept: Duration::ZERO,
            started: Instant::now(),
            depth_in_use: 0,
            nested_runs: 0,
            gensyms: 0,
            qq: None,
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
            env_lookup: Box::new(|_| None),
        };
        crate::builtins::install(&mut it);
        it
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Change the limits.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Budget use of the last (or current) entry.
    pub fn usage(&self) -> Usage {
        Usage {
            steps: self.steps,
            slept: self.slept,
        }
    }

    /// Where `display`, `write` and `newline` go.
    pub fn set_output(&mut self, w: Box<dyn Write>) {
        self.out = w;
    }

    /// Where `logf` goes.
    pub fn set_error_output(&mut self, w: Box<dyn Write>) {
        self.err = w;
    }

    /// How `(env NAME)` reads a variable. By default a program sees no environment: the
    /// host decides what to expose.
    pub fn set_env_lookup(&mut self, f: Box<EnvLookup>) {
        self.env_lookup = f;
    }

    /// Flush both output streams.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::new(ErrorKind::Io(format!("flushing output: {e}"))))?;
        self.err
            .flush()
            .map_err(|e| Error::new(ErrorKind::Io(format!("flushing error output: {e}"))))
    }

    /// Bind a global variable.
    pub fn define(&mut self, name: &str, value: Value) {
        self.globals.insert(Symbol::new(name), value);
    }

    /// The value of a global variable.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        self.globals.get(&Symbol::new(name)).cloned()
    }

    /// The names of all global variables (builtins and definitions), sorted.
    pub fn global_names(&self) -> Vec<String> {
        let mut names: Vec<String> = (0..self.globals.0.len())
            .filter(|&i| self.globals.0[i].is_some())
            .map(|i| Symbol(i as u32).name().to_string())
            .collect();
        names.sort();
        names
    }

    /// Register a native procedure taking `min..=max` arguments (`max` `None` = any).
    pub fn define_native<F>(&mut self, name: &str, min: usize, max: Option<usize>, f: F)
    where
        F: Fn(&mut Interp, Vec<Value>) -> Result<Value> + 'static,
    {
        let native = Native {
            name: name.to_string(),
            min,
            max,
            f: Box::new(f),
        };
        self.define(name, Value::Native(Rc::new(native)));
    }

    /// Register a native taking positional arguments followed by `:key value` pairs; keys
    /// outside `keys` and keys without a value are errors naming the procedure.
    pub fn define_native_kw<F>(
        &mut self,
        name: &str,
        min: usize,
        max: Option<usize>,
        keys: &[&str],
        f: F,
    ) where
        F: Fn(&mut Interp, Vec<Value>, Kwargs) -> Result<Value> + 'static,
    {
        let allowed: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let pname = name.to_string();
        self.define_native(name, 0, None, move |it, args| {
            let (pos, kw) = split_keywords(&pname, args, &allowed)?;
            if pos.len() < min || max.is_some_and(|m| pos.len() > m) {
                return Err(Error::eval(format!(
                    "{pname}: expected {} positional arguments, got {}",
                    arity_text(min, max),
                    pos.len()
                )));
            }
            f(it, pos, kw)
        });
    }

    /// Evaluate every form of `src` (named `name` in positions); the last value.
    pub fn eval_str(&mut self, src: &str, name: &str) -> Result<Value> {
        Ok(self.eval_str_all(src, name)?.pop().unwrap_or(Value::Void))
    }

    /// Evaluate every form of `src`; the value of each top-level form.
    pub fn eval_str_all(&mut self, src: &str, name: &str) -> Result<Vec<Value>> {
        let file = intern_file(name);
        let forms = reader::read_str(
            src,
            file,
            self.limits.max_nesting,
            self.limits.max_heap_bytes,
        )?;
        self.eval_forms(forms)
    }

    /// Read and evaluate a file; the last value.
    pub fn eval_file(&mut self, path: &Path) -> Result<Value> {
        let name = path.display().to_string();
        let bytes = read_limited(path, self.limits.max_heap_bytes)
            .map_err(|e| Error::new(ErrorKind::Io(format!("{name}: cannot read: {e}"))))?;
        let Some(bytes) = bytes else {
            return Err(Error::new(ErrorKind::Alloc).at(Pos {
                file: intern_file(&name),
                line: 1,
                col: 1,
            }));
        };
        let file = intern_file(&name);
        let forms = reader::read_bytes(
            &bytes,
            file,
            self.limits.max_nesting,
            self.limits.max_heap_bytes,
        )?;
        drop(bytes);
        Ok(self.eval_forms(forms)?.pop().unwrap_or(Value::Void))
    }

    /// Evaluate already-read forms in order under one budget.
    pub fn eval_forms(&mut self, forms: Vec<Value>) -> Result<Vec<Value>> {
        self.begin_entry();
        let mut out = Vec::with_capacity(forms.len());
        for form in forms {
            out.push(Machine::run(self, Ctl::Eval(form, None))?);
        }
        Ok(out)
    }

    /// Evaluate one form (a value used as code).
    pub fn eval_value(&mut self, form: Value) -> Result<Value> {
        self.begin_entry();
        Machine::run(self, Ctl::Eval(form, None))
    }

    /// Apply a procedure (closure, native or primitive) to arguments: the way hosts call
    /// back into hooks. Natives may call this too; nested calls share the budgets.
    pub fn call(&mut self, f: &Value, args: Vec<Value>) -> Result<Value> {
        self.begin_entry();
        Machine::run(self, Ctl::Apply(f.clone(), args, Pos::NONE))
    }

    /// Start fresh budgets unless this is a nested entry from a native.
    fn begin_entry(&mut self) {
        if self.nested_runs == 0 {
            self.steps = 0;
            self.slept = Duration::ZERO;
            self.started = Instant::now();
            self.depth_in_use = 0;
        }
    }

    /// Charge `n` steps of work done by a builtin.
    pub fn charge(&mut self, n: u64) -> Result<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            return Err(Error::new(ErrorKind::Steps));
        }
        Ok(())
    }

    /// Fail if allocating about `bytes` more would exceed the allocation budget.
    pub fn reserve(&self, bytes: usize) -> Result<()> {
        if heap::live_bytes().saturating_add(bytes) > self.limits.max_heap_bytes {
            return Err(Error::new(ErrorKind::Alloc));
        }
        Ok(())
    }

    /// Write program output (`display`).
    pub(crate) fn write_out(&mut self, s: &str) -> Result<()> {
        // Output costs steps by size, so a loop printing a huge string cannot run long
        // on a handful of steps.
        self.charge(s.len() as u64 / 16)?;
        self.out
            .write_all(s.as_bytes())
            .map_err(|e| Error::new(ErrorKind::Io(format!("writing output: {e}"))))
    }

    /// Write a log line (`logf`).
    pub(crate) fn write_err(&mut self, s: &str) -> Result<()> {
        self.charge(s.len() as u64 / 16)?;
        self.err
            .write_all(s.as_bytes())
            .and_then(|()| self.err.flush())
            .map_err(|e| Error::new(ErrorKind::Io(format!("writing error output: {e}"))))
    }

    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        (self.env_lookup)(name)
    }

    /// Sleep, charged to the sleep budget.
    pub(crate) fn sleep(&mut self, d: Duration) -> Result<()> {
        let total = self.slept.saturating_add(d);
        if total > self.limits.max_sleep {
            return Err(Error::new(ErrorKind::Sleep));
        }
        if let Some(t) = self.limits.timeout {
            if self.started.elapsed().saturating_add(d) > t {
                return Err(Error::new(ErrorKind::Timeout));
            }
        }
        self.slept = total;
        std::thread::sleep(d);
        Ok(())
    }
}

/// The file's bytes, or `None` if it is larger than `limit` (a source bigger than the
/// allocation budget cannot be a sensible program, and `/dev/zero` never ends).
fn read_limited(path: &Path, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut buf = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    std::fs::File::open(path)?.take(cap).read_to_end(&mut buf)?;
    Ok((buf.len() <= limit).then_some(buf))
}

/// `"expected 2"`, `"2 to 3"`, `"at least 1"`.
pub(crate) fn arity_text(min: usize, max: Option<usize>) -> String {
    match max {
        Some(m) if m == min => format!("{min}"),
        Some(m) => format!("{min} to {m}"),
        None => format!("at least {min}"),
    }
}

/// Split `args` into positional arguments and `:key value` pairs.
fn split_keywords(
    name: &str,
    args: Vec<Value>,
    allowed: &[String],
) -> Result<(Vec<Value>, Kwargs)> {
    let mut pos = Vec::new();
    let mut kw = Kwargs::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let Value::Keyword(k) = a else {
            if !kw.is_empty() {
                return Err(Error::eval(format!(
                    "{name}: positional argument {a} after keyword arguments"
                )));
            }
            pos.push(a);
            continue;
        };
        let key = k.name().to_string();
        if !allowed.contains(&key) {
            return Err(Error::eval(format!(
                "{name}: unknown keyword :{key} (expected one of {})",
                allowed
                    .iter()
                    .map(|k| format!(":{k}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
        let Some(v) = it.next() else {
            return Err(Error::eval(format!("{name}: keyword :{key} needs a value")));
        };
        if kw.map.insert(key.clone(), v).is_some() {
            return Err(Error::eval(format!("{name}: keyword :{key} given twice")));
        }
    }
    Ok((pos, kw))
}

#[cfg(test)]
pub(crate) mod tests;
