//! A minimal test runner for suites that share one expensive fixture.
//!
//! The fixture starts once; every selected case runs against it (a panic counts as a
//! failure); the fixture is dropped - and so cleaned up - before the summary line
//! `N passed, N failed, N skipped`. When the fixture cannot start, every case is
//! printed as skipped with the reason, and with `CI=true` (or `1`) that is a failure.
//! A case that cannot run here returns [`skip`]: it is printed and counted as skipped,
//! and under CI counted as failed. The first argument that is not an option filters
//! cases by substring.

use std::panic::AssertUnwindSafe;

/// One case: `Err(reason)` on failure.
pub type Case<F> = fn(&F) -> Result<(), String>;

/// Marks a case's error as a skip.
const SKIP: &str = "\0skip: ";

/// What a case returns when it cannot run here (a tool missing); `reason` is printed.
pub fn skip(reason: &str) -> Result<(), String> {
    Err(format!("{SKIP}{reason}"))
}

/// Run `cases` against the fixture `start` makes; exits non-zero on failure. `ci`: every
/// case must run (the caller reads `CI`), so a skip fails the run.
pub fn run<F>(cases: &[(&str, Case<F>)], ci: bool, start: impl FnOnce() -> Result<F, String>) {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let selected: Vec<&(&str, Case<F>)> = cases
        .iter()
        .filter(|(n, _)| filter.as_ref().is_none_or(|f| n.contains(f.as_str())))
        .collect();
    let fixture = match start() {
        Ok(f) => f,
        Err(why) => {
            for (n, _) in &selected {
                println!("test {n} ... SKIPPED ({why})");
            }
            println!("0 passed, 0 failed, {} skipped", selected.len());
            if ci {
                eprintln!("CI=true: the fixture must start: {why}");
                std::process::exit(1);
            }
            return;
        }
    };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, case) in &selected {
        match std::panic::catch_unwind(AssertUnwindSafe(|| case(&fixture))) {
            Ok(Ok(())) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Ok(Err(msg)) if msg.starts_with(SKIP) && !ci => {
                skipped += 1;
                println!("test {name} ... SKIPPED ({})", &msg[SKIP.len()..]);
            }
            Ok(Err(msg)) => {
                failed += 1;
                println!("test {name} ... FAILED: {}", msg.trim_start_matches(SKIP));
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED (panicked)");
            }
        }
    }
    drop(fixture);
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// `Ok(())` when `cond` holds, else `Err(msg)`.
pub fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg.into())
    }
}
