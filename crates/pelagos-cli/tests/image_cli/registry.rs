//! `pelagos image push`, `pelagos login`/`logout`, saved credentials (Docker's
//! config.json and credential helpers) and the registries config, end to end against
//! the fixture registries.

use super::{ensure, ok, pelagos, pelagos_env, store_of, Case};
use pelagos_testsupport::registry::{dead_port, Fixture};
use std::path::{Path, PathBuf};
use std::process::Output;

pub const CASES: &[(&str, Case)] = &[
    (
        "push_round_trip_keeps_digests",
        push_round_trip_keeps_digests,
    ),
    ("push_auth_and_denied", push_auth_and_denied),
    (
        "push_index_with_all_platforms",
        push_index_with_all_platforms,
    ),
    (
        "login_logout_and_saved_logins",
        login_logout_and_saved_logins,
    ),
    ("login_token_and_bad_input", login_token_and_bad_input),
    ("credential_helpers", credential_helpers),
    (
        "registries_config_and_mirrors",
        registries_config_and_mirrors,
    ),
];

/// base64("testuser:testpassword")
const TEST_AUTH: &str = "dGVzdHVzZXI6dGVzdHBhc3N3b3Jk";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 125 and stderr containing every one of `want`.
fn fails_with(o: &Output, want: &[&str], what: &str) -> Result<(), String> {
    let err = stderr(o);
    println!("    {what}: {}", err.lines().last().unwrap_or(""));
    ensure(
        o.status.code() == Some(125) && want.iter().all(|w| err.contains(w)),
        format!("{what}: exit {:?}, stderr: {err}", o.status.code()),
    )
}

fn image_id(root: &Path, r: &str) -> Result<String, String> {
    let insp = ok(&pelagos(root, &["image", "inspect", r], None), "inspect")?;
    let v: serde_json::Value = serde_json::from_str(&insp).map_err(|e| e.to_string())?;
    v[0]["Id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no Id in {insp}"))
}

/// A fresh data root with `repo` pulled from the anonymous registry: (root, reference,
/// manifest digest).
fn pulled(f: &Fixture, repo: &str) -> Result<(tempfile::TempDir, String, String), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let src = format!("{}/{repo}", f.anon);
    let digest = ok(
        &pelagos(t.path(), &["image", "pull", "-q", "--insecure", &src], None),
        "pull",
    )?;
    Ok((t, src, digest.trim().to_string()))
}

fn push_round_trip_keeps_digests(f: &Fixture) -> Result<(), String> {
    let (t, src, digest) = pulled(f, "layers:latest")?;
    let root = t.path();
    let ca = f.ca().display().to_string();
    let id = image_id(root, &src)?;
    // Same registry: every blob is mounted from the repository it came from.
    let same = format!("{}/roundtrip/layers:v1", f.anon);
    ok(&pelagos(root, &["image", "tag", &src, &same], None), "tag")?;
    let o = pelagos(root, &["image", "push", "--insecure", &same], None);
    let out = ok(&o, "push same registry")?;
    ensure(
        stderr(&o).contains("0 blobs uploaded, 5 mounted")
            && out.trim() == format!("{}/roundtrip/layers@{digest}", f.anon),
        format!("push same registry: {out} {}", stderr(&o)),
    )?;
    // Another registry (TLS with a private CA): blobs are uploaded from the store.
    let other = format!("{}/roundtrip/other:v2", f.tls);
    let o = pelagos(
        root,
        &["image", "push", "--ca-file", &ca, &src, &other],
        None,
    );
    ok(&o, "push to the TLS registry")?;
    ensure(stderr(&o).contains("5 blobs uploaded"), stderr(&o))?;
    let o = pelagos(
        root,
        &["image", "push", "-q", "--ca-file", &ca, &src, &other],
        None,
    );
    ensure(
        ok(&o, "push again")?.trim() == digest && o.stderr.is_empty(),
        format!("push -q again: {}", stderr(&o)),
    )?;
    for r in [&src, &same] {
        ok(&pelagos(root, &["image", "rm", r], None), "rm")?;
    }
    ensure(
        store_of(root)
            .images()
            .map_err(|e| e.to_string())?
            .is_empty(),
        "image left after rm",
    )?;
    let back = ok(
        &pelagos(
            root,
            &["image", "pull", "-q", "--ca-file", &ca, &other],
            None,
        ),
        "pull back",
    )?;
    ensure(
        back.trim() == digest,
        format!("pulled back {back}, pushed {digest}"),
    )?;
    ensure(image_id(root, &other)? == id, "image id changed")?;
    let back = ok(
        &pelagos(root, &["image", "pull", "-q", "--insecure", &same], None),
        "pull back",
    )?;
    ensure(back.trim() == digest, format!("pulled back {back}"))?;
    let problems = store_of(root).check().map_err(|e| e.to_string())?;
    ensure(problems.is_empty(), format!("{problems:?}"))?;
    // An image id names no destination.
    let short = id.trim_start_matches("sha256:")[..12].to_string();
    let o = pelagos(root, &["image", "push", &short], None);
    fails_with(
        &o,
        &["is not a stored reference", "name the destination"],
        "push by id",
    )
}

fn push_index_with_all_platforms(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let ca = f.ca().display().to_string();
    let src = format!("{}/multiarch:docker", f.anon);
    let dest = format!("{}/pushed/multi:1", f.tls);
    let push = ["image", "push", "--ca-file", &ca, &src, &dest];
    let pull = |platform: &str| {
        let args = ["image", "pull", "--insecure", "--platform", platform, &src];
        ok(&pelagos(root, &args, None), platform).map(|_| ())
    };
    pull("linux/amd64")?;
    // One platform stored: the tag gets that platform's manifest.
    let o = pelagos(root, &push, None);
    ensure(
        ok(&o, "push one platform")?.contains("@sha256:") && !stderr(&o).contains("index"),
        stderr(&o),
    )?;
    pull("linux/arm64/v8")?;
    pull("linux/arm/v7")?;
    // Every platform stored: the index goes up with its bytes, so its digest holds.
    let o = pelagos(root, &push, None);
    let out = ok(&o, "push the index")?;
    ensure(
        out.trim() == format!("{}/pushed/multi@{}", f.tls, f.digest("multiarch:docker"))
            && stderr(&o).contains("with its index"),
        format!("{out} {}", stderr(&o)),
    )?;
    let fresh = tempfile::tempdir().map_err(|e| e.to_string())?;
    let args = [
        "image",
        "pull",
        "--ca-file",
        &ca,
        "--platform",
        "linux/arm/v7",
        &dest,
    ];
    ok(&pelagos(fresh.path(), &args, None), "pull a platform back")?;
    let insp = ok(
        &pelagos(fresh.path(), &["image", "inspect", &dest], None),
        "inspect",
    )?;
    ensure(
        insp.contains(f.digest("multiarch:docker")) && insp.contains("linux/arm/v7"),
        insp,
    )
}

fn push_auth_and_denied(f: &Fixture) -> Result<(), String> {
    let (t, src, digest) = pulled(f, "busybox:latest")?;
    let root = t.path();
    let ca = f.ca().display().to_string();
    let basic = format!("{}/pushed/bb:1", f.basic);
    let good = ["--ca-file", ca.as_str(), "--creds", "testuser:testpassword"];
    let push = |extra: &[&str], dest: &str, stdin: Option<&str>| {
        let mut args = vec!["image", "push"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[src.as_str(), dest]);
        pelagos(root, &args, stdin)
    };
    ok(&push(&good, &basic, None), "push with basic auth")?;
    let o = push(
        &["--ca-file", &ca, "--creds", "testuser:wrong"],
        &basic,
        None,
    );
    fails_with(&o, &["authentication failed", &basic], "wrong password")?;
    let o = push(&["--ca-file", &ca], &basic, None);
    fails_with(&o, &["unauthorized", "pelagos login"], "no credentials")?;
    let token = format!("{}/pushed/bb:1", f.token);
    let o = push(&["--insecure"], &token, None);
    fails_with(
        &o,
        &["unauthorized", "pull,push", &token],
        "anonymous push, pull-only token",
    )?;
    let o = push(&["--insecure", "--creds", "testuser:nope"], &token, None);
    fails_with(
        &o,
        &["authentication failed", "token server"],
        "token, wrong password",
    )?;
    ok(
        &push(
            &["--insecure", "-u", "testuser", "--password-stdin"],
            &token,
            Some("testpassword\n"),
        ),
        "push with a token",
    )?;
    let back = ok(
        &pelagos(root, &["image", "pull", "-q", "--insecure", &token], None),
        "pull back from the token registry",
    )?;
    ensure(back.trim() == digest.trim(), format!("{back} != {digest}"))?;
    let o = push(&["--insecure", "--creds", "nocolon"], &token, None);
    fails_with(&o, &["--creds takes USER:PASSWORD"], "bad --creds")
}

/// A fresh data root whose Docker config directory exists: (root, CA file, config.json).
fn with_docker_config(f: &Fixture) -> Result<(tempfile::TempDir, String, PathBuf), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    // `pelagos_env` points DOCKER_CONFIG here.
    let dir = t.path().join("docker-config");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok((t, f.ca().display().to_string(), dir.join("config.json")))
}

fn read_json(p: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// `pelagos login` of testuser to the basic-auth registry, password on stdin.
fn basic_login<'a>(f: &'a Fixture, ca: &'a str) -> Vec<&'a str> {
    vec![
        "login",
        "-u",
        "testuser",
        "--password-stdin",
        "--ca-file",
        ca,
        &f.basic,
    ]
}

fn login_logout_and_saved_logins(f: &Fixture) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let (t, ca, cfg) = with_docker_config(f)?;
    let root = t.path();
    let before = r#"{"psFormat":"table {{.ID}}","auths":{"other.example":{"auth":"eDp5"}}}"#;
    std::fs::write(&cfg, before).map_err(|e| e.to_string())?;
    let login = basic_login(f, &ca);
    let o = pelagos(root, &login, Some("wrong\n"));
    fails_with(
        &o,
        &["login to", "authentication failed"],
        "login, wrong password",
    )?;
    ensure(
        std::fs::read_to_string(&cfg).map_err(|e| e.to_string())? == before,
        "failed login changed config.json",
    )?;
    ok(&pelagos(root, &login, Some("testpassword\n")), "login")?;
    let mode = std::fs::metadata(&cfg)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    let v = read_json(&cfg)?;
    ensure(
        mode & 0o777 == 0o600
            && v["psFormat"] == "table {{.ID}}"
            && v["auths"]["other.example"]["auth"] == "eDp5"
            && v["auths"][f.basic.as_str()]["auth"] == TEST_AUTH,
        format!("mode {mode:o}, config {v}"),
    )?;
    let r = format!("{}/busybox:latest", f.basic);
    ok(
        &pelagos(root, &["image", "pull", "--ca-file", &ca, &r], None),
        "pull with the saved login",
    )?;
    let o = pelagos(root, &["logout", &f.basic], None);
    ensure(
        ok(&o, "logout").is_ok() && stderr(&o).contains("removed"),
        stderr(&o),
    )?;
    ensure(
        read_json(&cfg)?["auths"].get(f.basic.as_str()).is_none(),
        "logout left the entry",
    )?;
    let o = pelagos(root, &["image", "pull", "--ca-file", &ca, &r], None);
    fails_with(&o, &["unauthorized"], "pull after logout")?;
    // Keys written by other tools: with a scheme and docker's /v1/ suffix.
    let keyed = format!(
        r#"{{"auths":{{"https://{}/v1/":{{"auth":"{TEST_AUTH}"}}}}}}"#,
        f.basic
    );
    std::fs::write(&cfg, keyed).map_err(|e| e.to_string())?;
    ok(
        &pelagos(root, &["image", "pull", "--ca-file", &ca, &r], None),
        "pull with a /v1/ key",
    )?;
    Ok(())
}

fn login_token_and_bad_input(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    // Token registry: the saved login gets push access.
    let o = pelagos(
        root,
        &[
            "login",
            "-u",
            "testuser",
            "-p",
            "testpassword",
            "--insecure",
            &f.token,
        ],
        None,
    );
    ensure(
        ok(&o, "token login").is_ok() && stderr(&o).contains("--password-stdin"),
        stderr(&o),
    )?;
    let private = format!("{}/private/busybox:latest", f.token);
    ok(
        &pelagos(root, &["image", "pull", "--insecure", &private], None),
        "private pull",
    )?;
    let dest = format!("{}/private/pushed:1", f.token);
    ok(
        &pelagos(
            root,
            &["image", "push", "--insecure", &private, &dest],
            None,
        ),
        "push with saved login",
    )?;
    let o = pelagos(root, &["logout", "not a host"], None);
    fails_with(&o, &["invalid registry"], "logout of a bad name")?;
    let o = pelagos(root, &["login", "--password-stdin", &f.token], Some("x"));
    fails_with(&o, &["--username"], "login without a user")
}

fn credential_helpers(f: &Fixture) -> Result<(), String> {
    let (t, ca, cfg) = with_docker_config(f)?;
    let root = t.path();
    let store = root.join("helper-store.json");
    let path = format!(
        "{}:{}",
        f.scripts().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let store_s = store.display().to_string();
    let env = [
        ("PATH", path.as_str()),
        ("PELAGOS_TEST_CREDS_FILE", store_s.as_str()),
    ];
    let run = |args: &[&str], stdin: Option<&str>| pelagos_env(root, args, stdin, &env);
    // credHelpers: login stores through the helper, pull reads through it.
    std::fs::write(
        &cfg,
        format!(r#"{{"credHelpers":{{"{}":"pelagos-test"}}}}"#, f.basic),
    )
    .map_err(|e| e.to_string())?;
    let o = run(&basic_login(f, &ca), Some("testpassword"));
    ensure(
        ok(&o, "login via helper").is_ok() && stderr(&o).contains("docker-credential-pelagos-test"),
        stderr(&o),
    )?;
    let kept = read_json(&store)?;
    ensure(
        kept[f.basic.as_str()]["Secret"] == "testpassword"
            && read_json(&cfg)?.get("auths").is_none(),
        format!("helper store {kept}"),
    )?;
    let r = format!("{}/busybox:latest", f.basic);
    ok(
        &run(&["image", "pull", "--ca-file", &ca, &r], None),
        "pull via helper",
    )?;
    ok(&run(&["logout", &f.basic], None), "logout via helper")?;
    ensure(
        read_json(&store)?.get(f.basic.as_str()).is_none(),
        "helper still has it",
    )?;
    // credsStore: one helper for every registry.
    std::fs::write(
        &store,
        format!(
            r#"{{"{}":{{"Username":"testuser","Secret":"testpassword"}}}}"#,
            f.token
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(&cfg, r#"{"credsStore":"pelagos-test"}"#).map_err(|e| e.to_string())?;
    let private = format!("{}/private/busybox:latest", f.token);
    ok(
        &run(&["image", "pull", "--insecure", &private], None),
        "pull via credsStore",
    )?;
    // A helper that is not installed is a warning, not a failure, for a public image.
    std::fs::write(&cfg, r#"{"credsStore":"nosuch"}"#).map_err(|e| e.to_string())?;
    let o = run(
        &[
            "image",
            "pull",
            "--insecure",
            &format!("{}/busybox:latest", f.anon),
        ],
        None,
    );
    ensure(
        ok(&o, "pull with a missing helper").is_ok()
            && stderr(&o).contains("docker-credential-nosuch"),
        stderr(&o),
    )
}

fn registries_config_and_mirrors(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let conf = root.join("registries.json");
    let conf_s = conf.display().to_string();
    // insecure from the config instead of --insecure
    std::fs::write(
        &conf,
        format!(r#"{{"registries":{{"{}":{{"insecure":true}}}}}}"#, f.anon),
    )
    .map_err(|e| e.to_string())?;
    let r = format!("{}/busybox:latest", f.anon);
    ok(
        &pelagos(
            root,
            &["image", "pull", "--registries-config", &conf_s, &r],
            None,
        ),
        "insecure via config",
    )?;
    // mirrors from $PELAGOS_REGISTRIES_CONFIG: the registry is down, the first mirror
    // lacks the image, the second has it.
    let empty = f.empty_registry("cli-mirror")?;
    let origin = format!("127.0.0.1:{}", dead_port());
    std::fs::write(
        &conf,
        format!(
            r#"{{"registries":{{"{origin}":{{"mirrors":["http://{}","http://{}"]}}}},
                "retry":{{"attempts":2,"initialDelayMs":10}},"timeouts":{{"connectSeconds":5}}}}"#,
            empty.addr, f.anon
        ),
    )
    .map_err(|e| e.to_string())?;
    let o = pelagos_env(
        root,
        &["image", "pull", "-q", &format!("{origin}/layers:latest")],
        None,
        &[("PELAGOS_REGISTRIES_CONFIG", &conf_s)],
    );
    ensure(
        ok(&o, "pull through mirrors")?.trim() == f.digest("layers:latest")
            && stderr(&o).contains(&format!("mirror {}", empty.addr)),
        stderr(&o),
    )?;
    std::fs::write(&conf, r#"{"registries":{"x":{"insecure":"yes"}}}"#)
        .map_err(|e| e.to_string())?;
    let o = pelagos(
        root,
        &["image", "pull", "--registries-config", &conf_s, &r],
        None,
    );
    fails_with(
        &o,
        &[conf_s.as_str(), "registries.x.insecure"],
        "bad config",
    )?;
    let missing = root.join("nope.json").display().to_string();
    let o = pelagos(
        root,
        &["image", "pull", "--registries-config", &missing, &r],
        None,
    );
    fails_with(
        &o,
        &["reading registries config", &missing],
        "missing config",
    )
}
