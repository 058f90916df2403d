//! Kernel behaviour of compiled filters, no container needed: each test re-runs this
//! binary as a child process that loads a compiled program with `seccomp(2)` (through
//! seccompiler's safe loader, which takes exactly our `struct sock_filter` bytes), tries a
//! list of syscalls, and prints one `probe=result` line per syscall for the parent to check.
//!
//! The binary has its own harness (`harness = false`, libtest-mimic) so that the child mode
//! is decided before any test runs. Tests that cannot run here (seccomp filters not
//! loadable, user namespaces unavailable) are reported as ignored with the reason printed,
//! and counted; with `CI=true` they fail instead.

mod probe;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode};

use libtest_mimic::{Arguments, Failed, Trial};

use oci_spec::runtime::{Capabilities, Capability};
use pelagos_seccomp::{compile, compile_cached, default_profile, parse_profile, CompiledFilter};

/// Set in the child: path of the program to load, or `none` for an unfiltered control run.
const ENV_PROGRAM: &str = "PELAGOS_SECCOMP_CHILD";
/// Set in the child: comma-separated probe names.
const ENV_PROBES: &str = "PELAGOS_SECCOMP_PROBES";
/// Set in the child: a scratch directory the probes may write in.
const ENV_SCRATCH: &str = "PELAGOS_SECCOMP_SCRATCH";

type Results = BTreeMap<String, String>;

/// What a test needs from the host, checked once before the tests run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Loading a seccomp filter in a child process.
    Seccomp,
    /// That and `unshare(CLONE_NEWUSER)` working without a filter.
    SeccompAndUserns,
}

/// What a child run produced.
struct Run {
    status: std::process::ExitStatus,
    results: Results,
    stdout: String,
    stderr: String,
}

/// Runs `probes` in a child with `filter` loaded (`None`: no filter). The child is waited
/// for, so none outlives the test.
fn spawn_child(filter: Option<&CompiledFilter>, probes: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let program = match filter {
        Some(f) => {
            let p = dir.path().join("filter.bpf");
            std::fs::write(&p, &f.bpf).unwrap();
            p.display().to_string()
        }
        None => "none".to_owned(),
    };
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .env(ENV_PROGRAM, program)
        .env(ENV_PROBES, probes.join(","))
        .env(ENV_SCRATCH, &scratch)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let results = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Run {
        status: out.status,
        results,
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`spawn_child`], for runs that must exit normally; returns `probe -> result`.
fn run_child(filter: Option<&CompiledFilter>, probes: &[&str]) -> Results {
    let run = spawn_child(filter, probes);
    assert!(
        run.status.success(),
        "child failed: {}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    run.results
}

/// Runs the probes of `expected` in a child and checks each result.
fn expect(filter: Option<&CompiledFilter>, expected: &[(&str, &str)]) {
    let probes: Vec<&str> = expected.iter().map(|(p, _)| *p).collect();
    let got = run_child(filter, &probes);
    assert_eq!(got.get("load").map(String::as_str), Some("ok"), "{got:?}");
    for (probe, want) in expected {
        assert_eq!(
            got.get(*probe).map(String::as_str),
            Some(*want),
            "probe {probe}: {got:?}"
        );
    }
}

fn blocked_syscall_returns_configured_errno() {
    let profile = parse_profile(
        br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
        "test",
    )
    .unwrap();
    expect(None, &[("getcwd", "ok"), ("mkdir", "ok")]);
    let f = compile(&profile).unwrap();
    expect(
        Some(&f),
        &[
            ("getcwd", "errno:38"),
            ("mkdir", "errno:1"),
            ("file_io", "ok"),
        ],
    )
}

fn argument_filters_select_by_value() {
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {{"names":["personality"],"action":"SCMP_ACT_ERRNO",
              "args":[{{"index":0,"value":4294967295,"op":"SCMP_CMP_NE"}}]}},
            {{"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,
              "args":[{{"index":0,"value":{vsock},"op":"SCMP_CMP_EQ"}}]}},
            {{"names":["unshare"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
              "args":[{{"index":0,"value":{user},"valueTwo":{user},"op":"SCMP_CMP_MASKED_EQ"}}]}}]}}"#,
        vsock = libc::AF_VSOCK,
        user = libc::CLONE_NEWUSER,
    );
    let f = compile(&parse_profile(json.as_bytes(), "test").unwrap()).unwrap();
    expect(
        Some(&f),
        &[
            ("personality_query", "ok"),
            ("personality_linux32", "errno:1"),
            ("socket_unix", "ok"),
            ("socket_vsock", "errno:97"),
            ("unshare_user", "errno:13"),
        ],
    )
}

fn kill_process_action_kills_with_sigsys() {
    use std::os::unix::process::ExitStatusExt;
    let profile = parse_profile(
        br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getcwd"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        "test",
    )
    .unwrap();
    let run = spawn_child(Some(&compile(&profile).unwrap()), &["file_io", "getcwd"]);
    assert_eq!(
        run.results.get("load").map(String::as_str),
        Some("ok"),
        "{}",
        run.stdout
    );
    assert_eq!(run.status.signal(), Some(libc::SIGSYS), "{}", run.status);
    assert_eq!(run.results.get("file_io").map(String::as_str), Some("ok"));
    assert!(
        !run.results.contains_key("getcwd"),
        "getcwd returned: {}",
        run.stdout
    );
}

fn default_profile_without_capabilities() {
    let cache = tempfile::tempdir().unwrap();
    let profile = default_profile(&Capabilities::new());
    let cold = compile_cached(&profile, cache.path()).unwrap();
    // The second call decodes the cache entry: load exactly those bytes.
    let hit = compile_cached(&profile, cache.path()).unwrap();
    assert_eq!(hit, cold);
    expect(
        Some(&hit),
        &[
            ("file_io", "ok"),
            ("getcwd", "ok"),
            ("mkdir", "ok"),
            ("spawn", "ok"),
            ("socket_unix", "ok"),
            ("socket_vsock", "errno:1"),
            ("unshare_user", "errno:1"),
            ("personality_query", "ok"),
            ("personality_norandom", "errno:1"),
            ("personality_linux32", "ok"),
        ],
    )
}

fn default_profile_with_sys_admin_allows_namespaces() {
    let f = compile(&default_profile(&[Capability::SysAdmin].into())).unwrap();
    expect(
        Some(&f),
        &[("unshare_user", "ok"), ("spawn", "ok"), ("file_io", "ok")],
    )
}

/// Drops every syscall numbered `first` or higher from the default profile, as if it had
/// been written before those syscalls existed.
fn default_profile_older_than(first: i32) -> oci_spec::runtime::LinuxSeccomp {
    let mut p = default_profile(&Capabilities::new());
    let mut rules = p.syscalls().clone().unwrap_or_default();
    for r in &mut rules {
        let names = r
            .names()
            .iter()
            .filter(|n| {
                libseccomp::ScmpSyscall::from_name(n).is_ok_and(|s| s.as_raw_syscall() < first)
            })
            .cloned()
            .collect();
        r.set_names(names);
    }
    rules.retain(|r| !r.names().is_empty());
    p.set_syscalls(Some(rules));
    p
}

fn newer_syscalls_fail_with_enosys_so_libc_falls_back() {
    let faccessat2 = libseccomp::ScmpSyscall::from_name("faccessat2")
        .expect("libseccomp knows faccessat2")
        .as_raw_syscall();
    let f = compile(&default_profile_older_than(faccessat2)).unwrap();
    expect(
        Some(&f),
        &[("faccessat", "ok"), ("spawn", "ok"), ("file_io", "ok")],
    )
}

/// Why tests needing `needs` cannot run here, if they cannot.
fn skip_reason(needs: Needs) -> Option<String> {
    let allow_all = parse_profile(br#"{"defaultAction":"SCMP_ACT_ALLOW"}"#, "probe").ok()?;
    let run = spawn_child(compile(&allow_all).ok().as_ref(), &["unshare_user"]);
    if run.results.get("load").map(String::as_str) != Some("ok") {
        return Some(format!(
            "cannot load a seccomp filter here: {}",
            run.stdout.trim()
        ));
    }
    let userns = run.results.get("unshare_user").map(String::as_str);
    if needs == Needs::SeccompAndUserns && userns != Some("ok") {
        return Some(format!(
            "unshare(CLONE_NEWUSER) fails without a filter: {userns:?}"
        ));
    }
    None
}

/// `(name, needs, fn)` triples from function names, so a test cannot run under a wrong name.
macro_rules! named {
    ($($needs:ident $f:ident),* $(,)?) => {
        [$((stringify!($f), Needs::$needs, $f as fn())),*]
    };
}

fn main() -> ExitCode {
    if let Ok(program) = std::env::var(ENV_PROGRAM) {
        let probes = std::env::var(ENV_PROBES).unwrap_or_default();
        let scratch = std::env::var(ENV_SCRATCH).unwrap_or_default();
        probe::child_main(&program, &probes, Path::new(&scratch));
        return ExitCode::SUCCESS;
    }
    let args = Arguments::from_args();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let tests = named![
        Seccomp blocked_syscall_returns_configured_errno,
        Seccomp argument_filters_select_by_value,
        Seccomp kill_process_action_kills_with_sigsys,
        Seccomp default_profile_without_capabilities,
        Seccomp newer_syscalls_fail_with_enosys_so_libc_falls_back,
        SeccompAndUserns default_profile_with_sys_admin_allows_namespaces,
    ];
    let reasons = [Needs::Seccomp, Needs::SeccompAndUserns].map(|n| (n, skip_reason(n)));
    let mut skipped = 0;
    let trials = tests
        .into_iter()
        .map(|(name, needs, body)| {
            let skip = reasons
                .iter()
                .find(|(n, _)| *n == needs)
                .and_then(|(_, r)| r.clone());
            match skip {
                Some(why) if ci => Trial::test(name, move || {
                    Err(Failed::from(format!("cannot run in CI: {why}")))
                }),
                Some(why) => {
                    skipped += 1;
                    eprintln!("SKIP {name}: {why}");
                    Trial::test(name, move || Err(Failed::from(format!("skipped: {why}"))))
                        .with_ignored_flag(true)
                }
                None => Trial::test(name, move || {
                    body();
                    Ok(())
                }),
            }
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if skipped > 0 {
        eprintln!("filter_behaviour: {skipped} test(s) skipped (shown as ignored); reasons above");
    }
    conclusion.exit_code()
}
