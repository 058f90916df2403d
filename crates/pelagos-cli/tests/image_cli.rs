//! End-to-end tests of `pelagos image ...` against the fixture registries.
//!
//! A custom harness (registries start once, stop by PID at the end); cases that
//! cannot run are skipped visibly, and with `CI=true` that is a failure.

#[path = "image_cli/archive.rs"]
mod archive;
#[path = "image_cli/bundle_cmds.rs"]
mod bundle_cmds;
#[path = "image_cli/podman.rs"]
mod podman;
#[path = "image_cli/registry.rs"]
mod registry;
#[path = "image_cli/store_cmds.rs"]
mod store_cmds;

use pelagos_testsupport::harness::ensure;
use pelagos_testsupport::registry::Fixture;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const CASES: &[(&str, pelagos_testsupport::harness::Case<Fixture>)] = &[
    ("pull_ls_inspect_tag_rm", pull_ls_inspect_tag_rm),
    ("pull_errors_exit_125", pull_errors_exit_125),
    ("password_stdin_and_ca", password_stdin_and_ca),
    ("platform_flag", platform_flag),
    (
        "sigkill_during_pull_then_repull",
        sigkill_during_pull_then_repull,
    ),
    ("tls_token_and_broken_layers", tls_token_and_broken_layers),
    ("save_rm_load_round_trip", archive::save_rm_load_round_trip),
    (
        "load_rejects_broken_archives",
        archive::load_rejects_broken_archives,
    ),
    (
        "podman_archives_both_ways",
        podman::podman_archives_both_ways,
    ),
    ("history_table_and_json", store_cmds::history_table_and_json),
    (
        "prune_dangling_and_unused",
        store_cmds::prune_dangling_and_unused,
    ),
    ("check_finds_corruption", store_cmds::check_finds_corruption),
    ("bundle_create_run_rm", bundle_cmds::bundle_create_run_rm),
    (
        "bundle_rm_relative_and_symlinked",
        bundle_cmds::bundle_rm_relative_and_symlinked,
    ),
    (
        "save_errors_and_global_root",
        store_cmds::save_errors_and_global_root,
    ),
];

/// `CI=true` or `CI=1`: every case must run.
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn main() {
    let all: Vec<(&str, Case)> = CASES.iter().chain(registry::CASES).copied().collect();
    pelagos_testsupport::harness::run(&all, ci(), Fixture::start);
}

type Case = pelagos_testsupport::harness::Case<Fixture>;

fn pelagos(root: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    pelagos_bytes(root, args, stdin.map(str::as_bytes))
}

fn pelagos_env(root: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    pelagos_cmd(root, args, stdin.map(str::as_bytes), env)
}

fn pelagos_bytes(root: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    pelagos_cmd(root, args, stdin, &[])
}

/// Runs `pelagos args...` with the data root, Docker config and user config dirs below
/// `root` (saved logins and registries configs of the host stay out), plus `env`, feeding
/// `stdin` from a thread (an archive may be larger than the pipe buffer).
fn pelagos_cmd(root: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pelagos"));
    cmd.args(args)
        .env("PELAGOS_ROOT", root)
        .env("DOCKER_CONFIG", root.join("docker-config"))
        .env("XDG_CONFIG_HOME", root.join("xdg-config"))
        .env_remove("PELAGOS_REGISTRIES_CONFIG")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn pelagos");
    let feeder = match (stdin, child.stdin.take()) {
        (Some(s), Some(mut pipe)) => {
            let data = s.to_vec();
            Some(std::thread::spawn(move || {
                use std::io::Write;
                // The command may stop reading early (an error); that is its verdict.
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let out = child.wait_with_output().expect("wait pelagos");
    if let Some(h) = feeder {
        let _ = h.join();
    }
    out
}

/// Pulls `name` from the anonymous fixture registry; returns the full reference.
fn pull(f: &Fixture, root: &Path, name: &str) -> Result<String, String> {
    let r = format!("{}/{name}", f.anon);
    ok(
        &pelagos(root, &["image", "pull", "-q", "--insecure", &r], None),
        &format!("pull {r}"),
    )?;
    Ok(r)
}

/// The command failed with exit code 125; returns its stderr.
fn fails(o: &Output, what: &str) -> Result<String, String> {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    ensure(
        o.status.code() == Some(125),
        format!("{what}: want exit 125, got {:?}: {err}", o.status.code()),
    )?;
    println!("    {what}: {}", err.trim_end());
    Ok(err)
}

fn ok(o: &Output, what: &str) -> Result<String, String> {
    ensure(
        o.status.success(),
        format!(
            "{what}: exit {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        ),
    )?;
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn store_of(root: &Path) -> pelagos_image::Store {
    pelagos_image::Store::open(&root.join("images")).expect("open store")
}

fn pull_ls_inspect_tag_rm(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let r = format!("{}/busybox:latest", f.anon);
    let out = ok(
        &pelagos(t.path(), &["image", "pull", "-q", "--insecure", &r], None),
        "pull",
    )?;
    ensure(
        out.trim() == f.digest("busybox:latest"),
        format!("pull -q printed {out:?}"),
    )?;
    let ls = ok(
        &pelagos(t.path(), &["image", "ls", "--format", "json"], None),
        "ls",
    )?;
    let rows: serde_json::Value =
        serde_json::from_str(&ls).map_err(|e| format!("ls json: {e}: {ls}"))?;
    ensure(
        rows.as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["reference"] == r.as_str()),
        format!("ls: {ls}"),
    )?;
    let table = ok(&pelagos(t.path(), &["image", "ls"], None), "ls table")?;
    ensure(
        table.contains("REPOSITORY") && table.contains("busybox"),
        table.clone(),
    )?;
    ok(
        &pelagos(t.path(), &["image", "tag", &r, "local/copy:v1"], None),
        "tag",
    )?;
    let insp = ok(
        &pelagos(t.path(), &["image", "inspect", "local/copy:v1"], None),
        "inspect",
    )?;
    let v: serde_json::Value = serde_json::from_str(&insp).map_err(|e| e.to_string())?;
    ensure(
        v[0]["ManifestDigest"] == f.digest("busybox:latest")
            && v[0]["RepoTags"].as_array().is_some_and(|a| a.len() == 2),
        insp.clone(),
    )?;
    ok(
        &pelagos(t.path(), &["image", "rm", "local/copy:v1"], None),
        "rm tag",
    )?;
    let s = store_of(t.path());
    ensure(
        s.images().map_err(|e| e.to_string())?.len() == 1,
        "image removed while still referenced",
    )?;
    ok(&pelagos(t.path(), &["image", "rm", &r], None), "rm")?;
    ensure(
        s.images().map_err(|e| e.to_string())?.is_empty(),
        "image record left",
    )?;
    let layers = std::fs::read_dir(t.path().join("images/layers/sha256"))
        .map_err(|e| e.to_string())?
        .count();
    ensure(layers == 0, format!("{layers} layers left after rm"))?;
    let problems = s.check().map_err(|e| e.to_string())?;
    ensure(problems.is_empty(), format!("{problems:?}"))
}

fn pull_errors_exit_125(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let r = format!("{}/busybox:nope", f.anon);
    let o = pelagos(t.path(), &["image", "pull", "--insecure", &r], None);
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(
        o.status.code() == Some(125) && err.contains("manifest unknown") && err.contains(&r),
        format!("{:?}: {err}", o.status.code()),
    )?;
    let o = pelagos(t.path(), &["image", "pull", "Not/Valid"], None);
    ensure(
        o.status.code() == Some(125)
            && String::from_utf8_lossy(&o.stderr).contains("invalid image reference"),
        "invalid reference accepted",
    )?;
    let o = pelagos(t.path(), &["image", "inspect", "nosuch"], None);
    ensure(
        o.status.code() == Some(125)
            && String::from_utf8_lossy(&o.stderr).contains("no such image: nosuch"),
        "inspect of a missing image",
    )
}

fn password_stdin_and_ca(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let r = format!("{}/busybox:latest", f.basic);
    let ca = f.ca().display().to_string();
    let args = [
        "image",
        "pull",
        "--ca-file",
        &ca,
        "--username",
        "testuser",
        "--password-stdin",
        &r,
    ];
    ok(
        &pelagos(t.path(), &args, Some("testpassword\n")),
        "pull with password",
    )?;
    let o = pelagos(t.path(), &args, Some("wrong\n"));
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(
        o.status.code() == Some(125) && err.contains("authentication failed"),
        err.to_string(),
    )
}

fn platform_flag(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let r = format!("{}/multiarch:latest", f.anon);
    ok(
        &pelagos(
            t.path(),
            &[
                "image",
                "pull",
                "--insecure",
                "--platform",
                "linux/arm64",
                &r,
            ],
            None,
        ),
        "pull arm64",
    )?;
    let insp = ok(
        &pelagos(t.path(), &["image", "inspect", &r], None),
        "inspect",
    )?;
    ensure(
        insp.contains("\"Platform\": \"linux/arm64/v8\""),
        insp.clone(),
    )?;
    let o = pelagos(
        t.path(),
        &[
            "image",
            "pull",
            "--insecure",
            &format!("{}/multiarch:no-match", f.anon),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(
        o.status.code() == Some(125)
            && err.contains("available platforms: linux/s390x, linux/ppc64le"),
        err.to_string(),
    )
}

fn sigkill_during_pull_then_repull(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let r = format!("{}/layers:latest", f.anon);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pelagos"))
        .args(["image", "pull", "--insecure", &r])
        .env("PELAGOS_ROOT", t.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = false;
    for l in lines.by_ref() {
        if l.map_err(|e| e.to_string())?.contains("downloading") {
            seen = true;
            break;
        }
    }
    // SIGKILL: no cleanup code runs in the puller.
    child.kill().map_err(|e| e.to_string())?;
    child.wait().map_err(|e| e.to_string())?;
    ensure(seen, "pull never started downloading")?;
    let s = store_of(t.path());
    for img in s.images().map_err(|e| e.to_string())? {
        for l in &img.layers {
            ensure(
                s.has_layer(&l.diff_id),
                "an image was recorded without its layers",
            )?;
        }
    }
    ok(
        &pelagos(t.path(), &["image", "pull", "--insecure", &r], None),
        "re-pull",
    )?;
    archive::consistent(t.path(), 1)
}

fn tls_token_and_broken_layers(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let ca = f.ca().display().to_string();
    ok(
        &pelagos(
            t.path(),
            &[
                "image",
                "pull",
                "--ca-file",
                &ca,
                &format!("{}/busybox:latest", f.tls),
            ],
            None,
        ),
        "tls pull",
    )?;
    let private = format!("{}/private/busybox:latest", f.token);
    let o = pelagos(t.path(), &["image", "pull", "--insecure", &private], None);
    ensure(
        o.status.code() == Some(125) && String::from_utf8_lossy(&o.stderr).contains("unauthorized"),
        "anonymous private pull",
    )?;
    let args = [
        "image",
        "pull",
        "--insecure",
        "-u",
        "testuser",
        "--password-stdin",
        &private,
    ];
    ok(
        &pelagos(t.path(), &args, Some("testpassword")),
        "token pull with creds",
    )?;
    let digest = f.expected("corrupt-layer-digest.txt");
    let r = format!("{}/broken/corrupt-layer:latest", f.anon);
    let o = pelagos(t.path(), &["image", "pull", "--insecure", &r], None);
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(
        o.status.code() == Some(125)
            && err.contains(digest.trim())
            && err.contains(&r)
            && err.contains("digest mismatch"),
        err.to_string(),
    )?;
    let problems = store_of(t.path()).check().map_err(|e| e.to_string())?;
    ensure(problems.is_empty(), format!("{problems:?}"))
}
