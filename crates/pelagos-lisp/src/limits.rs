//! Safety budgets of one evaluation, set by the host.

use std::time::Duration;

/// Budgets that end a runaway program with a clear error instead of exhausting the
/// machine. Each entry from the host (`eval_str`, `eval_file`, `call`) starts with fresh
/// step, time and sleep budgets; the heap budget applies to live data at all times.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Evaluation steps (compound forms evaluated + procedure applications + work done by
    /// builtins on long inputs): "step budget exceeded".
    pub max_steps: u64,
    /// Pending (non-tail) evaluation frames, i.e. the depth of non-tail recursion:
    /// "depth exceeded". Tail calls do not count.
    pub max_depth: usize,
    /// Approximate live bytes of language data (pairs, strings, closures, frames,
    /// tables): "allocation budget exceeded".
    pub max_heap_bytes: usize,
    /// Nesting of source data (parens and quotes) the reader accepts, and of quasiquote
    /// templates: "depth exceeded".
    pub max_nesting: usize,
    /// Total time a program may spend in `sleep`: "sleep budget exceeded".
    pub max_sleep: Duration,
    /// Wall-clock budget of one entry, if any: "time budget exceeded".
    pub timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 30_000_000,
            max_depth: 100_000,
            max_heap_bytes: 256 << 20,
            max_nesting: 1_000,
            max_sleep: Duration::from_secs(5),
            timeout: None,
        }
    }
}

impl Limits {
    /// Small budgets for fuzzing and untrusted snippets.
    pub fn small() -> Self {
        Limits {
            max_steps: 200_000,
            max_depth: 2_000,
            max_heap_bytes: 16 << 20,
            max_nesting: 200,
            max_sleep: Duration::from_millis(10),
            timeout: Some(Duration::from_secs(2)),
        }
    }
}
