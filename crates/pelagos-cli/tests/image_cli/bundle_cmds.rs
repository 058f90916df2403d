//! `pelagos bundle create` and `pelagos bundle rm`: a pulled image becomes a bundle that
//! pelagos-runtime runs, with the default seccomp profile; the image is kept while the
//! bundle exists; bad input is refused with nothing made.

use super::{fails, ok, pelagos, pull, Fixture};
use pelagos_testsupport::harness::ensure;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Removes the bundle (unmounting its rootfs) if the test did not.
struct BundleGuard(PathBuf);

impl Drop for BundleGuard {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = pelagos_image::bundle::remove(&self.0);
        }
    }
}

fn is_mountpoint(p: &Path) -> bool {
    let want = p.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
    })
}

pub fn bundle_create_run_rm(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let image = pull(f, root, "busybox:latest")?;
    let dir = root.join("b1");
    let _guard = BundleGuard(dir.clone());
    let d = dir.to_string_lossy().into_owned();
    let out = ok(
        &pelagos(
            root,
            &[
                "bundle",
                "create",
                "-e",
                "GREETING=hi",
                &image,
                &d,
                "sh",
                "-c",
                "echo $GREETING",
            ],
            None,
        ),
        "bundle create",
    )?;
    ensure(out.trim() == d, format!("create printed {out:?}"))?;
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    ensure(
        cfg["process"]["args"] == serde_json::json!(["sh", "-c", "echo $GREETING"])
            && cfg["process"]["noNewPrivileges"] == true
            && cfg["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
            && cfg["linux"]["maskedPaths"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
        format!("config.json: {cfg}"),
    )?;
    ensure(
        is_mountpoint(&dir.join("rootfs")) && dir.join("rootfs/bin/busybox").is_file(),
        "rootfs is no overlay mount holding the image",
    )?;
    let id = format!("bundle-test-{}", std::process::id());
    let run = Command::new(env!("CARGO_BIN_EXE_pelagos-runtime"))
        .args(["--root", &root.join("state").to_string_lossy()])
        .args(["run", "--bundle", &d, &id])
        .output()
        .map_err(|e| e.to_string())?;
    ensure(
        run.status.success() && String::from_utf8_lossy(&run.stdout).trim() == "hi",
        format!(
            "run: {:?} {} {}",
            run.status.code(),
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        ),
    )?;
    let err = fails(
        &pelagos(root, &["image", "rm", &image], None),
        "rm of an image a bundle uses",
    )?;
    ensure(err.contains("in use"), err.clone())?;
    // Refused with nothing made: a directory in use, a bad --env, an unknown image.
    for (args, want) in [
        (vec!["bundle", "create", &image, &d], "is not empty"),
        (
            vec!["bundle", "create", "-e", "=x", &image, "/nonexistent-b2"],
            "--env takes KEY=VALUE",
        ),
        (
            vec!["bundle", "create", "nosuch:1", "/nonexistent-b3"],
            "no such image: nosuch:1",
        ),
        (vec!["bundle", "rm", "/tmp"], "is not a bundle"),
    ] {
        let err = fails(&pelagos(root, &args, None), &args.join(" "))?;
        ensure(err.contains(want), err.clone())?;
    }
    ensure(
        !Path::new("/nonexistent-b2").exists() && !Path::new("/nonexistent-b3").exists(),
        "a refused create left its directory",
    )?;
    ok(&pelagos(root, &["bundle", "rm", &d], None), "bundle rm")?;
    ensure(!dir.exists(), "bundle dir left after rm")?;
    ok(
        &pelagos(root, &["image", "rm", &image], None),
        "image rm after bundle rm",
    )?;
    Ok(())
}

/// `pelagos args...` run from `cwd`, with the data root below `root`.
fn pelagos_in(cwd: &Path, root: &Path, args: &[&str]) -> std::process::Output {
    let mut o = Command::new(env!("CARGO_BIN_EXE_pelagos"));
    o.current_dir(cwd)
        .env("PELAGOS_ROOT", root)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running pelagos: {e}"))
}

/// A bundle named by a relative path or through a symlink is removed whole by `bundle rm`
/// (from anywhere), its use is released and recorded under its real path.
pub fn bundle_rm_relative_and_symlinked(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let image = pull(f, root, "busybox:latest")?;
    let (rel, real, link) = (root.join("rel"), root.join("real"), root.join("link"));
    let _guards = [BundleGuard(rel.clone()), BundleGuard(real.clone())];
    ok(
        &pelagos_in(root, root, &["bundle", "create", "--copy", &image, "rel"]),
        "bundle create rel",
    )?;
    let uses = std::fs::read_dir(root.join("images/uses")).map_err(|e| e.to_string())?;
    for u in uses.flatten() {
        let rec = std::fs::read_to_string(u.path()).map_err(|e| e.to_string())?;
        ensure(
            rec.contains(&*rel.to_string_lossy()),
            format!("use record without the bundle's absolute path: {rec}"),
        )?;
    }
    ok(
        &pelagos_in(root, root, &["bundle", "rm", "rel"]),
        "bundle rm rel",
    )?;
    ensure(!rel.exists(), "relative bundle left after rm")?;
    std::fs::create_dir(&real).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&real, &link).map_err(|e| e.to_string())?;
    let l = link.to_string_lossy().into_owned();
    ok(
        &pelagos(root, &["bundle", "create", &image, &l], None),
        "bundle create link",
    )?;
    ok(
        &pelagos(root, &["bundle", "rm", &l], None),
        "bundle rm link",
    )?;
    ensure(
        !real.join("rootfs").exists() && !real.join("upper").exists(),
        "bundle behind a symlink left after rm",
    )?;
    // A create failing after it made DIR and missing parents (a layer is gone) leaves
    // none of them, and no use.
    let layers = root.join("images/layers/sha256");
    let layer = std::fs::read_dir(&layers)
        .map_err(|e| e.to_string())?
        .flatten()
        .next()
        .ok_or("no unpacked layer")?
        .path();
    let aside = root.join("layer-aside");
    std::fs::rename(&layer, &aside).map_err(|e| e.to_string())?;
    let deep = root.join("p/q/b");
    let res = fails(
        &pelagos(
            root,
            &["bundle", "create", &image, &deep.to_string_lossy()],
            None,
        ),
        "bundle create with a layer gone",
    );
    std::fs::rename(&aside, &layer).map_err(|e| e.to_string())?;
    res?;
    ensure(
        !root.join("p").exists(),
        "a failed create left the parents it made",
    )?;
    ok(
        &pelagos(root, &["image", "rm", &image], None),
        "image rm after both bundles are gone",
    )?;
    Ok(())
}
