//! Interned symbols. Names live in a per-thread table so a symbol is a `u32` that compares
//! in one instruction; the special-form names are interned first so the evaluator can
//! dispatch on a fixed id.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// An interned symbol (also used for keyword names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(pub(crate) u32);

/// Names interned at fixed ids, in this order. The special forms come first, up to
/// `SPECIAL_FORM_COUNT`; the rest are auxiliary syntax the evaluator recognises.
const FIXED: &[&str] = &[
    "quote",
    "quasiquote",
    "if",
    "cond",
    "case",
    "when",
    "unless",
    "and",
    "or",
    "begin",
    "define",
    "set!",
    "lambda",
    "let",
    "let*",
    "letrec",
    "letrec*",
    "do",
    "define-macro",
    "defmacro",
    "guard",
    // Not special forms:
    "unquote",
    "unquote-splicing",
    "else",
    "=>",
    " do-loop",
];

/// How many of the fixed names are special forms.
pub(crate) const SPECIAL_FORM_COUNT: u32 = 21;

macro_rules! fixed {
    ($($name:ident = $id:expr),* $(,)?) => {
        $(#[allow(missing_docs)] pub(crate) const $name: Symbol = Symbol($id);)*
    };
}

fixed! {
    QUOTE = 0, QUASIQUOTE = 1, IF = 2, COND = 3, CASE = 4, WHEN = 5, UNLESS = 6, AND = 7,
    OR = 8, BEGIN = 9, DEFINE = 10, SET = 11, LAMBDA = 12, LET = 13, LET_STAR = 14,
    LETREC = 15, LETREC_STAR = 16, DO = 17, DEFINE_MACRO = 18, DEFMACRO = 19, GUARD = 20,
    UNQUOTE = 21, UNQUOTE_SPLICING = 22, ELSE = 23, ARROW = 24, DO_LOOP = 25,
}

struct Interner {
    names: Vec<Rc<str>>,
    ids: HashMap<Rc<str>, u32>,
}

impl Interner {
    fn new() -> Self {
        let mut i = Interner {
            names: Vec::new(),
            ids: HashMap::new(),
        };
        for name in FIXED {
            i.intern(name);
        }
        i
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let rc: Rc<str> = Rc::from(name);
        // Interned names are never freed: charge them to the live-heap counter for good.
        crate::heap::alloc(name.len() + 112);
        let id = self.names.len() as u32;
        self.names.push(rc.clone());
        self.ids.insert(rc, id);
        id
    }
}

thread_local! {
    static INTERNER: RefCell<Interner> = RefCell::new(Interner::new());
}

impl Symbol {
    /// Intern a name.
    pub fn new(name: &str) -> Symbol {
        Symbol(
            INTERNER
                .try_with(|i| i.borrow_mut().intern(name))
                .unwrap_or(0),
        )
    }

    /// The symbol's name.
    pub fn name(self) -> Rc<str> {
        INTERNER
            .try_with(|i| i.borrow().names.get(self.0 as usize).cloned())
            .ok()
            .flatten()
            .unwrap_or_else(|| Rc::from("?"))
    }

    /// Whether the symbol names a special form.
    pub(crate) fn is_special_form(self) -> bool {
        self.0 < SPECIAL_FORM_COUNT
    }
}

/// How many symbols the thread has interned.
#[cfg(test)]
pub(crate) fn interned_count() -> usize {
    INTERNER.try_with(|i| i.borrow().names.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ids_match_names() {
        assert_eq!(Symbol::new("quote"), QUOTE);
        assert_eq!(Symbol::new("guard"), GUARD);
        assert_eq!(Symbol::new("=>"), ARROW);
        assert_eq!(Symbol::new(" do-loop"), DO_LOOP);
        assert!(GUARD.is_special_form());
        assert!(!ELSE.is_special_form());
        assert_eq!(FIXED.len(), 26);
    }

    #[test]
    fn interning_is_stable() {
        let a = Symbol::new("hello-world");
        assert_eq!(a, Symbol::new("hello-world"));
        assert_eq!(&*a.name(), "hello-world");
        assert!(interned_count() > FIXED.len());
    }
}
