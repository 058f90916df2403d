//! End-to-end tests: real containers from a busybox bundle, run through every runtime in the
//! list (runc as the oracle, pelagos-runtime), plus a differential harness comparing the two.
//!
//! Tests that cannot run here (not root, a runtime or busybox missing) are reported as
//! ignored with the reason printed, and counted; with `CI=true` they fail instead, because CI
//! must run everything. `PELAGOS_E2E_RUNTIMES=runc,pelagos` picks runtimes for local use.

mod churn;
mod cli;
mod differential;
mod engines;
mod errors;
mod events;
mod exec;
mod hooks;
mod hostile;
mod isolation;
mod lifecycle;
mod namespaces;
mod seams;
mod support;
mod terminal;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};

use support::{bundle::BUSYBOX, Case, Only, Runtime};

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let runtimes = runtimes();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let mut trials = Vec::new();
    let mut skipped = Vec::new();

    for (module, cases) in modules() {
        for c in cases {
            for rt in &runtimes {
                if c.only == Only::Pelagos && !rt.is_pelagos() {
                    continue;
                }
                let name = format!("{module}::{}::{}", c.name, rt.name);
                let skip = skip_reason(rt);
                let body = c.run;
                let rt2 = rt.clone();
                trials.push(make_trial(name, skip, ci, &mut skipped, move || body(&rt2)));
            }
        }
    }
    for c in engines::cases() {
        for rt in &runtimes {
            let name = format!("engines::{}::{}", c.name, rt.name);
            let skip = skip_reason(rt).or_else(|| engines::skip_reason(c.engine));
            let (body, rt2) = (c.run, rt.clone());
            trials.push(make_trial(name, skip, ci, &mut skipped, move || body(&rt2)));
        }
    }
    let (oracle, pelagos) = (runtimes[0].clone(), runtimes[1].clone());
    for (name, body) in differential::cases() {
        let name = format!("differential::{name}");
        let skip = skip_reason(&oracle).or_else(|| skip_reason(&pelagos));
        let (o, p) = (oracle.clone(), pelagos.clone());
        trials.push(make_trial(name, skip, ci, &mut skipped, move || {
            body(&o, &p)
        }));
    }

    // Only skips among the tests the name filter selected are worth a line.
    skipped.retain(|(name, _)| selected(&args, name));
    for (name, why) in &skipped {
        eprintln!("SKIP {name}: {why}");
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if !skipped.is_empty() {
        eprintln!(
            "e2e: {} test(s) skipped (shown as ignored); reasons above",
            skipped.len()
        );
    }
    conclusion.exit_code()
}

/// Whether the command line's name filter and `--skip`s select `name`.
fn selected(args: &Arguments, name: &str) -> bool {
    let by_filter = match &args.filter {
        None => true,
        Some(f) if args.exact => name == f,
        Some(f) => name.contains(f.as_str()),
    };
    by_filter
        && !args.skip.iter().any(|s| {
            if args.exact {
                name == s
            } else {
                name.contains(s.as_str())
            }
        })
}

/// A trial; skipped ones are ignored (or, in CI, fail with the reason).
fn make_trial(
    name: String,
    skip: Option<String>,
    ci: bool,
    skipped: &mut Vec<(String, String)>,
    body: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
) -> Trial {
    match skip {
        Some(why) if ci && !why.starts_with("excluded") => Trial::test(name, move || {
            Err(Failed::from(format!("cannot run in CI: {why}")))
        }),
        Some(why) => {
            skipped.push((name.clone(), why.clone()));
            Trial::test(name, move || Err(Failed::from(format!("skipped: {why}"))))
                .with_ignored_flag(true)
        }
        None => Trial::test(name, move || {
            body().map_err(|e| Failed::from(format!("{e:#}")))
        }),
    }
}

/// Every module's test table.
fn modules() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("isolation", isolation::cases()),
        ("namespaces", namespaces::cases()),
        ("lifecycle", lifecycle::cases()),
        ("cli", cli::cases()),
        ("churn", churn::cases()),
        ("errors", errors::cases()),
        ("exec", exec::cases()),
        ("events", events::cases()),
        ("hooks", hooks::cases()),
        ("seams", seams::cases()),
        ("terminal", terminal::cases()),
        ("hostile", hostile::cases()),
    ]
}

/// runc (the oracle) then pelagos-runtime.
fn runtimes() -> Vec<Runtime> {
    let runc = which("runc").unwrap_or_else(|| PathBuf::from("/usr/sbin/runc"));
    let pelagos = std::env::var_os("PELAGOS_E2E_PELAGOS_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_pelagos-runtime")),
        PathBuf::from,
    );
    vec![
        Runtime {
            name: "runc",
            bin: runc,
            default_root: "/run/runc",
        },
        Runtime {
            name: "pelagos",
            bin: pelagos,
            default_root: "/run/pelagos-runtime",
        },
    ]
}

/// Why tests for `rt` cannot run here, if they cannot.
fn skip_reason(rt: &Runtime) -> Option<String> {
    if let Ok(list) = std::env::var("PELAGOS_E2E_RUNTIMES") {
        if !list.split(',').any(|n| n.trim() == rt.name) {
            return Some(format!("excluded by PELAGOS_E2E_RUNTIMES={list}"));
        }
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root (namespaces, mounts)".into());
    }
    if !Path::new(BUSYBOX).exists() {
        return Some(format!("{BUSYBOX} missing: apt-get install busybox-static"));
    }
    if !rt.bin.exists() {
        return Some(format!("{} missing", rt.bin.display()));
    }
    None
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}
