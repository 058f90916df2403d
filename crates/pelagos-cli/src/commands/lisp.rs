//! `pelagos lisp FILE` and `pelagos repl`: run .reml programs under the interpreter's
//! budgets. Only what the program writes reaches stdout; errors go to stderr as
//! `file:line:col: message` with a non-zero exit status.

use pelagos_lisp::{ErrorKind, Interp, Limits, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pelagos lisp`.
#[derive(clap::Args)]
pub struct LispArgs {
    /// The .reml file to evaluate; without it an interactive REPL starts.
    pub file: Option<PathBuf>,
    /// Evaluation step budget (default: the interpreter's).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Non-tail recursion depth budget.
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Live heap budget in MiB.
    #[arg(long)]
    pub max_heap_mib: Option<usize>,
    /// Wall-clock budget of a file run in seconds (0 = none); the REPL has none.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_SECS)]
    pub timeout: f64,
}

/// A file run stops after this long even if its step budget is not yet spent (a loaded
/// machine runs fewer steps per second).
const DEFAULT_TIMEOUT_SECS: f64 = 9.0;

/// Exit status of a program that failed (read error, runtime error or budget).
const EXIT_ERROR: u8 = 1;

/// Evaluation runs on its own thread with a roomy stack: the evaluator does not recurse
/// on program depth, but native code it calls back into does a little.
const EVAL_STACK: usize = 64 << 20;

impl LispArgs {
    fn limits(&self) -> Limits {
        let mut l = Limits::default();
        if let Some(s) = self.max_steps {
            l.max_steps = s;
        }
        if let Some(d) = self.max_depth {
            l.max_depth = d;
        }
        if let Some(h) = self.max_heap_mib {
            l.max_heap_bytes = h.saturating_mul(1 << 20);
        }
        if self.timeout.is_finite() && self.timeout > 0.0 {
            l.timeout = Some(Duration::from_secs_f64(self.timeout.min(1e9)));
        }
        l
    }
}

/// Evaluate a file, or start the REPL.
pub fn run(args: LispArgs) -> ExitCode {
    let mut limits = args.limits();
    match args.file {
        Some(path) => on_eval_thread(move || run_file(path, limits)),
        None => {
            limits.timeout = None;
            on_eval_thread(move || run_repl(limits))
        }
    }
}

/// The interactive REPL.
pub fn repl() -> ExitCode {
    on_eval_thread(|| run_repl(Limits::default()))
}

fn on_eval_thread(f: impl FnOnce() -> ExitCode + Send + 'static) -> ExitCode {
    match std::thread::Builder::new()
        .name("reml".into())
        .stack_size(EVAL_STACK)
        .spawn(f)
    {
        Ok(h) => h.join().unwrap_or(ExitCode::from(EXIT_ERROR)),
        Err(e) => {
            eprintln!("pelagos lisp: cannot start the evaluator thread: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run_file(path: PathBuf, limits: Limits) -> ExitCode {
    let mut it = Interp::with_limits(limits);
    it.set_env_lookup(Box::new(crate::config::env_var));
    it.set_output(Box::new(std::io::BufWriter::new(std::io::stdout())));
    let result = it.eval_file(&path);
    // Program output first, so it precedes the error message on a shared terminal.
    let flushed = it.flush();
    match result.and(flushed) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) if matches!(e.kind, ErrorKind::Exit(_)) => exit_code(&e.kind),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The status `(exit code)` asked for, clamped to what a process can return.
fn exit_code(kind: &ErrorKind) -> ExitCode {
    match kind {
        ErrorKind::Exit(c) => ExitCode::from(u8::try_from(*c).unwrap_or(EXIT_ERROR)),
        _ => ExitCode::from(EXIT_ERROR),
    }
}

/// Whether a read error only means "the expression continues on the next line".
fn is_incomplete(kind: &ErrorKind) -> bool {
    matches!(kind, ErrorKind::Read(m) if m.starts_with("unclosed")
        || m.starts_with("unterminated string")
        || m.starts_with("unterminated block comment")
        || m.starts_with("unexpected end of input"))
}

fn run_repl(limits: Limits) -> ExitCode {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("pelagos repl: cannot start line editing: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut it = Interp::with_limits(limits);
    it.set_env_lookup(Box::new(crate::config::env_var));
    let mut pending = String::new();
    let mut entry = 0u32;
    loop {
        let prompt = if pending.is_empty() {
            "reml> "
        } else {
            "  ... "
        };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pelagos repl: reading input: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
        };
        pending.push_str(&line);
        pending.push('\n');
        entry += 1;
        let name = format!("<repl:{entry}>");
        let max_nesting = it.limits().max_nesting;
        let max_heap = it.limits().max_heap_bytes;
        let file = pelagos_lisp::intern_file(&name);
        let forms = match pelagos_lisp::read_str(&pending, file, max_nesting, max_heap) {
            Ok(forms) => forms,
            Err(e) if is_incomplete(&e.kind) => continue,
            Err(e) => {
                eprintln!("{e}");
                pending.clear();
                continue;
            }
        };
        let _ = editor.add_history_entry(pending.trim_end());
        pending.clear();
        for form in forms {
            match it.eval_value(form) {
                Ok(Value::Void) => {}
                Ok(v) => println!("{v}"),
                Err(e) if matches!(e.kind, ErrorKind::Exit(_)) => {
                    let _ = it.flush();
                    return exit_code(&e.kind);
                }
                Err(e) => {
                    eprintln!("{e}");
                    break;
                }
            }
        }
        let _ = it.flush();
        let _ = std::io::stdout().flush();
    }
}
