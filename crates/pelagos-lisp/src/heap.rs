//! Heap accounting and non-recursive destruction.
//!
//! Every heap object of the language (pair, string, closure, environment frame, table)
//! adds its approximate size to a per-thread live-byte counter when built and subtracts
//! it when dropped; the evaluator compares the counter with the allocation budget.
//!
//! Dropping a million-long list (or a million-deep tree, or a chain of closures) with the
//! default recursive `Drop` would overflow the Rust stack, so container `Drop`s hand their
//! children to a per-thread work queue that the outermost drop drains in a loop.

use crate::value::{EnvFrame, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    static QUEUE: RefCell<Vec<Garbage>> = const { RefCell::new(Vec::new()) };
}

/// Approximate sizes charged per object (payload + reference-count header + malloc slack).
pub(crate) const PAIR_BYTES: usize = 80;
pub(crate) const STR_BYTES: usize = 48;
pub(crate) const FRAME_BYTES: usize = 80;
pub(crate) const BINDING_BYTES: usize = 24;
pub(crate) const CLOSURE_BYTES: usize = 128;
pub(crate) const VALUE_BYTES: usize = 16;

/// Something whose last reference is being dropped and whose children must be released
/// without recursion.
pub(crate) enum Garbage {
    Value(#[allow(dead_code, reason = "held only to be dropped")] Value),
    Env(#[allow(dead_code, reason = "held only to be dropped")] Rc<EnvFrame>),
}

/// Add `bytes` to the live counter.
pub(crate) fn alloc(bytes: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_add(bytes)));
}

/// Subtract `bytes` from the live counter.
pub(crate) fn release(bytes: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(bytes)));
}

/// Approximate live bytes of all language objects on this thread.
pub fn live_bytes() -> usize {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

/// Whether a value owns children that could make its drop recurse.
fn is_container(v: &Value) -> bool {
    matches!(
        v,
        Value::Pair(_)
            | Value::Closure(_)
            | Value::Macro(_)
            | Value::Table(_)
            | Value::Condition(_)
    )
}

/// Release `items` without recursing: nested drops enqueue, the outermost drains.
pub(crate) fn dispose(items: impl IntoIterator<Item = Garbage>) {
    let mut items = items.into_iter().filter(|g| match g {
        Garbage::Value(v) => is_container(v),
        Garbage::Env(_) => true,
    });
    let Some(first) = items.next() else { return };
    let draining = DRAINING.try_with(Cell::get).unwrap_or(true);
    if draining {
        // During thread teardown the queue may be gone; the items then drop in place.
        let _ = QUEUE.try_with(|q| {
            if let Ok(mut q) = q.try_borrow_mut() {
                q.push(first);
                q.extend(items);
            }
        });
        return;
    }
    let _ = DRAINING.try_with(|d| d.set(true));
    drop(first);
    for g in items {
        drop(g);
    }
    loop {
        let next = QUEUE
            .try_with(|q| q.try_borrow_mut().ok().and_then(|mut q| q.pop()))
            .ok()
            .flatten();
        match next {
            Some(g) => drop(g),
            None => break,
        }
    }
    let _ = DRAINING.try_with(|d| d.set(false));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::list_from;

    #[test]
    fn deep_structures_drop_without_overflow() {
        let mut v = Value::Nil;
        for _ in 0..1_000_000 {
            v = list_from(vec![v]);
        }
        drop(v);
        let mut l = Value::Nil;
        for i in 0..1_000_000 {
            l = Value::cons(Value::Int(i), l);
        }
        drop(l);
    }

    #[test]
    fn live_counter_goes_up_and_down() {
        let before = live_bytes();
        let l = list_from((0..1000).map(Value::Int).collect());
        assert!(live_bytes() >= before + 1000 * PAIR_BYTES);
        drop(l);
        assert_eq!(live_bytes(), before);
    }
}
