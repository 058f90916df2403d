//! `image history`, `image prune`, `image check`, `image rm` of images in use, `image
//! save` errors, and the global `--root`.

use super::archive::{consistent, ids};
use super::{fails, ok, pelagos, pull, store_of, Fixture};
use pelagos_testsupport::harness::ensure;
use std::path::Path;
use std::process::{Command, Stdio};

pub fn history_table_and_json(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let name = pull(f, t.path(), "layers:latest")?;
    let table = ok(
        &pelagos(t.path(), &["image", "history", &name], None),
        "history",
    )?;
    let lines: Vec<&str> = table.lines().collect();
    ensure(
        lines.len() == 6
            && lines[0].contains("CREATED BY")
            && lines[0].contains("COMMENT")
            && lines[1].contains("umoci config")
            && lines[1].contains('…')
            && lines[5].contains("COPY busybox-static rootfs /")
            && lines[5].contains("years ago"),
        format!("history table:\n{table}"),
    )?;
    let json = ok(
        &pelagos(
            t.path(),
            &["image", "history", "--no-trunc", "--format", "json", &name],
            None,
        ),
        "history json",
    )?;
    let rows: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    let rows = rows.as_array().ok_or("history json is no array")?;
    ensure(
        rows.len() == 5
            && rows[0]["empty_layer"] == true
            && rows[0]["size"] == 0
            && rows[2]["size"].as_u64().is_some_and(|s| s > 4_000_000)
            && rows[4]["created"] == "2000-01-01T00:00:00Z"
            && rows[4]["layer"].is_string(),
        format!("history json: {json}"),
    )?;
    let err = fails(
        &pelagos(t.path(), &["image", "history", "nosuch:1"], None),
        "history of a missing image",
    )?;
    ensure(err.contains("no such image: nosuch:1"), err.clone())
}

/// Names held by `image ls --format json`.
fn listed(root: &Path) -> Result<Vec<String>, String> {
    let ls = ok(
        &pelagos(root, &["image", "ls", "--format", "json"], None),
        "ls",
    )?;
    let v: serde_json::Value = serde_json::from_str(&ls).map_err(|e| e.to_string())?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["reference"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

pub fn prune_dangling_and_unused(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let gz = pull(f, root, "busybox:latest")?;
    let zstd = pull(f, root, "busybox:zstd")?;
    let layers = pull(f, root, "layers:latest")?;
    // Moving the only tag of busybox:latest's image leaves that image dangling.
    ok(
        &pelagos(root, &["image", "tag", &gz, "local/moving:1"], None),
        "tag",
    )?;
    ok(&pelagos(root, &["image", "rm", &gz], None), "untag")?;
    ok(
        &pelagos(root, &["image", "tag", &zstd, "local/moving:1"], None),
        "retag",
    )?;
    let declined = Command::new(env!("CARGO_BIN_EXE_pelagos"))
        .args(["image", "prune"])
        .env("PELAGOS_ROOT", root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    ensure(
        declined.status.success()
            && String::from_utf8_lossy(&declined.stderr).contains("nothing removed"),
        "prune without -f and without a yes must remove nothing",
    )?;
    ensure(
        store_of(root).images().map_err(|e| e.to_string())?.len() == 3,
        "declined prune removed images",
    )?;
    let out = ok(&pelagos(root, &["image", "prune", "-f"], None), "prune")?;
    ensure(
        out.contains("removed 1 image(s), 0 layer(s), ") && out.contains("total reclaimed space"),
        format!("prune output: {out}"),
    )?;
    consistent(root, 2)?;
    let s = store_of(root);
    let used = s.lookup(&layers).map_err(|e| e.to_string())?;
    s.register_use("prune-test-ctr", &used, root)
        .map_err(|e| e.to_string())?;
    let out = ok(
        &pelagos(root, &["image", "prune", "-a", "-f"], None),
        "prune -a",
    )?;
    ensure(
        out.contains("untagged: ")
            && out.contains("removed 1 image(s)")
            && listed(root)? == [layers.clone()],
        format!("prune -a must keep only the image in use: {out}"),
    )?;
    in_use_rm(root, &layers)?;
    s.release_use("prune-test-ctr").map_err(|e| e.to_string())?;
    let out = ok(
        &pelagos(root, &["image", "prune", "-f", "--format", "json"], None),
        "prune",
    )?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    ensure(
        v["images"].as_array().is_some_and(|a| a.len() == 1)
            && v["layers"].as_array().is_some_and(|a| a.len() == 4),
        format!("prune after release: {out}"),
    )?;
    consistent(root, 0)?;
    let layer_dirs = std::fs::read_dir(root.join("images/layers/sha256"))
        .map_err(|e| e.to_string())?
        .count();
    ensure(layer_dirs == 0, format!("{layer_dirs} layers left"))
}

/// `rm` refuses an image in use; `rm -f` untags it and keeps it.
fn in_use_rm(root: &Path, name: &str) -> Result<(), String> {
    let err = fails(&pelagos(root, &["image", "rm", name], None), "rm in use")?;
    ensure(
        err.contains(&format!(
            "image {name} is in use by container prune-test-ctr; stop and remove it first or use -f"
        )),
        err.clone(),
    )?;
    ensure(listed(root)? == [name.to_string()], "refused rm untagged")?;
    let (id, _) = ids(root, name)?;
    let o = pelagos(root, &["image", "rm", "-f", name], None);
    ok(&o, "rm -f in use")?;
    ensure(
        String::from_utf8_lossy(&o.stderr).contains("stays, untagged"),
        "rm -f does not say the image stays",
    )?;
    ensure(listed(root)?.is_empty(), "rm -f left the tag")?;
    ok(
        &pelagos(root, &["image", "inspect", &id], None),
        "inspect by id after rm -f",
    )?;
    ok(
        &pelagos(root, &["image", "prune", "-f"], None),
        "prune while in use",
    )?;
    ok(
        &pelagos(root, &["image", "inspect", &id], None),
        "image in use survived prune",
    )
    .map(|_| ())
}

pub fn check_finds_corruption(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let name = pull(f, root, "busybox:latest")?;
    let s = store_of(root);
    let img = s.lookup(&name).map_err(|e| e.to_string())?;
    let blob = s.blob_path(&img.layers[0].digest);
    let mut data = std::fs::read(&blob).map_err(|e| e.to_string())?;
    data[100] ^= 1;
    std::fs::write(&blob, &data).map_err(|e| e.to_string())?;
    std::fs::remove_dir_all(s.layer_path(&img.layers[0].diff_id)).map_err(|e| e.to_string())?;
    let o = pelagos(root, &["image", "check"], None);
    let out = String::from_utf8_lossy(&o.stdout);
    ensure(
        o.status.code() == Some(1)
            && out.contains(img.layers[0].digest.hex())
            && out.contains("lacks unpacked layer")
            && out.contains("2 problem(s)"),
        format!("check: {:?}: {out}", o.status.code()),
    )?;
    // save refuses the corrupt blob and leaves no file behind.
    let dest = root.join("out.tar");
    let d = dest.display().to_string();
    let err = fails(
        &pelagos(root, &["image", "save", "-o", &d, &name], None),
        "save corrupt",
    )?;
    ensure(
        err.contains("the store is corrupt") && !dest.exists(),
        format!("save of a corrupt blob: {err}"),
    )?;
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .map_err(|e| e.to_string())?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    ensure(leftovers.is_empty(), "save left a temp file")
}

pub fn save_errors_and_global_root(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let name = pull(f, root, "busybox:latest")?;
    let err = fails(
        &pelagos(root, &["image", "save", "nosuch:1"], None),
        "save missing",
    )?;
    ensure(err.contains("no such image: nosuch:1"), err.clone())?;
    let err = fails(
        &pelagos(
            root,
            &["image", "save", "-o", "/nonexistent-dir/x.tar", &name],
            None,
        ),
        "save into a missing dir",
    )?;
    ensure(err.contains("/nonexistent-dir/"), err.clone())?;
    let err = fails(
        &pelagos(root, &["image", "load", "-i", "/nonexistent.tar"], None),
        "load a missing file",
    )?;
    ensure(err.contains("opening /nonexistent.tar"), err.clone())?;
    // A terminal on stdout gets no archive.
    let line = format!("{} image save {name}", env!("CARGO_BIN_EXE_pelagos"));
    let o = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("PELAGOS_ROOT", root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("script (util-linux): {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout);
    ensure(
        o.status.code() == Some(125)
            && text.contains("refusing to write an image archive to a terminal"),
        format!("save to a terminal: {:?}: {text}", o.status.code()),
    )?;
    // --root before and after the subcommand, without PELAGOS_ROOT.
    let r = root.display().to_string();
    for args in [
        vec!["--root", &r, "image", "ls", "-q"],
        vec!["image", "ls", "-q", "--root", &r],
        vec!["image", "--root", &r, "ls", "-q"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_pelagos"))
            .args(&args)
            .env_remove("PELAGOS_ROOT")
            .output()
            .map_err(|e| e.to_string())?;
        let out = ok(&o, &args.join(" "))?;
        ensure(out.lines().count() == 1, format!("{args:?}: {out}"))?;
    }
    Ok(())
}
