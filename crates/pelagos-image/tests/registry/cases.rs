//! The end-to-end cases; each returns `Err(reason)` on failure.

use crate::fixture::Fixture;
use crate::tree;
use crate::util::*;
use pelagos_image::pull::PullError;
use pelagos_image::registry::RegistryError;
use pelagos_image::{Digest, Store};
use std::os::unix::fs::MetadataExt;

fn layer_dirs(store: &Store, p: &pelagos_image::Pulled) -> Vec<std::path::PathBuf> {
    p.image
        .layers
        .iter()
        .map(|l| store.layer_path(&l.diff_id))
        .collect()
}

fn diff_ids(p: &pelagos_image::Pulled) -> Vec<Digest> {
    p.image.layers.iter().map(|l| l.diff_id.clone()).collect()
}

pub fn pull_by_tag(f: &Fixture) -> Result<(), String> {
    let e = env();
    let p = pull(f, &e.store, &format!("{}/busybox:latest", f.anon)).map_err(|e| e.to_string())?;
    ensure(
        p.image.manifest_digest.as_str() == f.digest("busybox:latest"),
        "manifest digest differs from images.tsv",
    )?;
    ensure(
        p.downloaded == 1 && p.reused == 0,
        format!("downloaded {} reused {}", p.downloaded, p.reused),
    )?;
    let root = e.store.layer_path(&p.image.layers[0].diff_id);
    ensure(
        root.join("bin/busybox").is_file(),
        "bin/busybox missing from layer",
    )?;
    let stored = e
        .store
        .read_blob(&p.image.manifest_digest)
        .map_err(|e| e.to_string())?;
    ensure(
        Digest::of_bytes(&stored) == p.image.manifest_digest,
        "stored manifest does not re-hash",
    )?;
    let found = e
        .store
        .lookup(&format!("{}/busybox", f.anon))
        .map_err(|e| e.to_string())?;
    ensure(found == p.image, "lookup by ref returns another image")
}

pub fn pull_by_digest_reuses_layers(f: &Fixture) -> Result<(), String> {
    let e = env();
    pull(f, &e.store, &format!("{}/busybox:1.35", f.anon)).map_err(|e| e.to_string())?;
    let p = pull(
        f,
        &e.store,
        &format!("{}/busybox@{}", f.anon, f.digest("busybox:latest")),
    )
    .map_err(|e| e.to_string())?;
    ensure(
        p.downloaded == 0 && p.reused == 1,
        format!("second pull downloaded {} layers", p.downloaded),
    )?;
    // busybox -> layers -> kvdb share the base layer: stored once.
    let l = pull(f, &e.store, &format!("{}/layers:latest", f.anon)).map_err(|e| e.to_string())?;
    ensure(
        l.reused == 1,
        format!("layers:latest reused {} layers, want 1", l.reused),
    )?;
    let n = std::fs::read_dir(e.store.root().join("layers/sha256"))
        .map_err(|e| e.to_string())?
        .count();
    ensure(
        n == l.image.layers.len(),
        format!(
            "{n} layer dirs for {} distinct layers",
            l.image.layers.len()
        ),
    )
}

pub fn whiteouts_and_metadata(f: &Fixture) -> Result<(), String> {
    let e = env();
    let p = pull(f, &e.store, &format!("{}/layers:latest", f.anon)).map_err(|e| e.to_string())?;
    let merged = tree::merged(&layer_dirs(&e.store, &p));
    let data: Vec<&str> = merged
        .iter()
        .map(String::as_str)
        .filter(|s| *s == "/data" || s.starts_with("/data/"))
        .collect();
    let expected = f.expected("layers-find.txt");
    let want: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
    ensure(
        data == want,
        format!("merged /data differs:\n got {data:?}\nwant {want:?}"),
    )?;
    ensure(
        !merged.contains("/bin/vi") && merged.contains("/bin/sh"),
        "bin/vi should be whited out, bin/sh kept",
    )?;
    // Metadata lives in the layer that added /data.
    let top = layer_dirs(&e.store, &p)
        .into_iter()
        .find(|d| d.join("data/hardlink-a").exists())
        .ok_or("no layer has data/hardlink-a")?;
    let md = |p: &str| std::fs::symlink_metadata(top.join(p)).map_err(|e| format!("{p}: {e}"));
    ensure(
        md("data/hardlink-a")?.ino() == md("data/hardlink-b")?.ino(),
        "hardlinks not shared",
    )?;
    ensure(
        md("data/empty-file")?.mtime() == 1_000_000_000,
        "mtime of data/empty-file not kept",
    )?;
    ensure(md("data/owned-1000")?.uid() == 1000, "uid 1000 not kept")?;
    ensure(
        md("data/mode-0000")?.mode() & 0o7777 == 0,
        "mode 0000 not kept",
    )?;
    ensure(
        md("data/sticky-dir")?.mode() & 0o7777 == 0o1777,
        "sticky dir mode not kept",
    )
}

pub fn compressions_give_same_diff_ids(f: &Fixture) -> Result<(), String> {
    let e = env();
    let base =
        pull(f, &e.store, &format!("{}/layers:latest", f.anon)).map_err(|e| e.to_string())?;
    for tag in ["zstd", "mixed"] {
        let p = pull(f, &e.store, &format!("{}/layers:{tag}", f.anon))
            .map_err(|e| format!("layers:{tag}: {e}"))?;
        ensure(
            diff_ids(&p) == diff_ids(&base),
            format!("layers:{tag} diff_ids differ"),
        )?;
        // The layers are unpacked once, but each image keeps its own blobs (save and
        // push send them).
        for l in &p.image.layers {
            ensure(
                e.store.has_blob(&l.digest),
                format!(
                    "layers:{tag}: blob {} of a shared layer not stored",
                    l.digest
                ),
            )?;
        }
    }
    let fresh = env();
    let bb =
        pull(f, &fresh.store, &format!("{}/busybox:latest", f.anon)).map_err(|e| e.to_string())?;
    for tag in ["zstd", "uncompressed"] {
        let other = env();
        let p = pull(f, &other.store, &format!("{}/busybox:{tag}", f.anon))
            .map_err(|e| format!("busybox:{tag}: {e}"))?;
        ensure(
            diff_ids(&p) == diff_ids(&bb),
            format!("busybox:{tag} diff_id differs"),
        )?;
        ensure(
            p.downloaded == 1,
            format!("busybox:{tag} should download into a fresh store"),
        )?;
    }
    Ok(())
}

pub fn docker_formats(f: &Fixture) -> Result<(), String> {
    for (r, layers) in [("busybox:docker", 1), ("layers:docker", 4)] {
        let e = env();
        let p = pull(f, &e.store, &format!("{}/{r}", f.anon)).map_err(|e| format!("{r}: {e}"))?;
        ensure(
            p.image.manifest_digest.as_str() == f.digest(r),
            format!("{r}: digest differs"),
        )?;
        ensure(
            p.image.media_type.contains("docker"),
            format!("{r}: media type {}", p.image.media_type),
        )?;
        ensure(
            p.image.layers.len() == layers,
            format!("{r}: {} layers", p.image.layers.len()),
        )?;
    }
    let e = env();
    let p = pull_with(
        &e.store,
        &opts(f),
        &format!("{}/multiarch:docker", f.anon),
        Some("linux/arm64"),
    )
    .map_err(|e| e.to_string())?;
    ensure(
        p.image.platform == "linux/arm64/v8",
        format!("docker list picked {}", p.image.platform),
    )
}

pub fn index_platform_selection(f: &Fixture) -> Result<(), String> {
    let r = format!("{}/multiarch:latest", f.anon);
    let host = pelagos_image::Platform::host().to_string();
    for (want, expect) in [
        (None, host.as_str()),
        (Some("linux/arm64"), "linux/arm64/v8"),
        (Some("linux/arm/v7"), "linux/arm/v7"),
    ] {
        let e = env();
        let p = pull_with(&e.store, &opts(f), &r, want).map_err(|e| format!("{want:?}: {e}"))?;
        ensure(
            p.image.platform == expect,
            format!("{want:?} selected {}", p.image.platform),
        )?;
        ensure(
            p.image.index_digest.as_ref().map(Digest::as_str) == Some(f.digest("multiarch:latest")),
            "index digest not recorded",
        )?;
        let merged = tree::merged(&layer_dirs(&e.store, &p));
        ensure(merged.contains("/etc/platform"), "no /etc/platform")?;
        let content = p
            .image
            .layers
            .iter()
            .rev()
            .find_map(|l| {
                std::fs::read_to_string(e.store.layer_path(&l.diff_id).join("etc/platform")).ok()
            })
            .unwrap_or_default();
        let plain = expect.trim_end_matches("/v8");
        ensure(
            content.trim() == plain || content.trim() == expect,
            format!("/etc/platform says {content:?} for {expect}"),
        )?;
    }
    Ok(())
}

pub fn index_no_match(f: &Fixture) -> Result<(), String> {
    let e = env();
    let (err, msg) = err_text(pull(f, &e.store, &format!("{}/multiarch:no-match", f.anon)))?;
    ensure(
        matches!(err, PullError::Platform(_)),
        format!("wrong error kind: {msg}"),
    )?;
    ensure(
        msg.contains("no matching manifest for linux/")
            && msg.contains("linux/s390x")
            && msg.contains("linux/ppc64le")
            && msg.contains("multiarch:no-match"),
        msg.clone(),
    )?;
    nothing_committed(&e.store)?;
    let n = std::fs::read_dir(e.store.root().join("layers/sha256"))
        .map_err(|e| e.to_string())?
        .count();
    ensure(n == 0, "layers stored for a failed platform match")
}

pub fn single_manifest_wrong_arch(f: &Fixture) -> Result<(), String> {
    let e = env();
    let r = format!("{}/multiarch:arm64-single", f.anon);
    let (err, msg) = err_text(pull_with(&e.store, &opts(f), &r, Some("linux/amd64")))?;
    ensure(
        matches!(err, PullError::WrongPlatform { .. }) && msg.contains("linux/arm64"),
        msg,
    )?;
    nothing_committed(&e.store)?;
    // Without --platform it is pulled with a warning.
    let p = pull(f, &e.store, &r).map_err(|e| e.to_string())?;
    ensure(
        p.image.platform.starts_with("linux/arm64"),
        p.image.platform.clone(),
    )
}

pub fn hub_shaped_names(f: &Fixture) -> Result<(), String> {
    let e = env();
    let a = pull(f, &e.store, &format!("{}/alpine", f.anon)).map_err(|e| e.to_string())?;
    let b = pull(f, &e.store, &format!("{}/library/alpine:latest", f.anon))
        .map_err(|e| e.to_string())?;
    ensure(
        a.image == b.image || a.image.manifest_digest == b.image.manifest_digest,
        "alpine and library/alpine differ",
    )?;
    ensure(
        a.image.manifest_digest.as_str() == f.digest("busybox:latest"),
        "alpine index should resolve to busybox:latest",
    )
}

pub fn tls_with_and_without_ca(f: &Fixture) -> Result<(), String> {
    let e = env();
    let r = format!("{}/busybox:latest", f.tls);
    pull(f, &e.store, &r).map_err(|e| format!("with CA: {e}"))?;
    let mut no_ca = opts(f);
    no_ca.ca_files.clear();
    let e2 = env();
    let (err, msg) = err_text(pull_with(&e2.store, &no_ca, &r, None))?;
    ensure(
        is_registry(&err, |r| matches!(r, RegistryError::Tls { .. })) && msg.contains("--ca-file"),
        msg,
    )?;
    nothing_committed(&e2.store)
}

pub fn basic_auth(f: &Fixture) -> Result<(), String> {
    let r = format!("{}/busybox:latest", f.basic);
    let mut o = opts(f);
    o.credentials = creds(f, "testuser", "testpassword");
    let e = env();
    pull_with(&e.store, &o, &r, None).map_err(|e| format!("good creds: {e}"))?;
    for c in [creds(f, "testuser", "wrong"), Default::default()] {
        let mut o = opts(f);
        o.credentials = c.clone();
        let e = env();
        let (err, msg) = err_text(pull_with(&e.store, &o, &r, None))?;
        ensure(
            is_registry(&err, |r| {
                matches!(
                    r,
                    RegistryError::Unauthorized { .. } | RegistryError::AuthFailed { .. }
                )
            }),
            format!("{c:?}: {msg}"),
        )?;
        ensure(msg.contains("busybox"), msg.clone())?;
        nothing_committed(&e.store)?;
    }
    Ok(())
}

pub fn token_auth(f: &Fixture) -> Result<(), String> {
    let e = env();
    pull(f, &e.store, &format!("{}/busybox:latest", f.token))
        .map_err(|e| format!("anonymous token: {e}"))?;
    let private = format!("{}/private/busybox:latest", f.token);
    let e2 = env();
    let (err, msg) = err_text(pull(f, &e2.store, &private))?;
    ensure(
        is_registry(&err, |r| matches!(r, RegistryError::Unauthorized { .. })),
        format!("anonymous private: {msg}"),
    )?;
    nothing_committed(&e2.store)?;
    let mut o = opts(f);
    o.credentials = creds(f, "testuser", "testpassword");
    pull_with(&e2.store, &o, &private, None).map_err(|e| format!("private with creds: {e}"))?;
    o.credentials = creds(f, "testuser", "nope");
    let e3 = env();
    let (err, msg) = err_text(pull_with(&e3.store, &o, &private, None))?;
    ensure(
        is_registry(&err, |r| {
            matches!(
                r,
                RegistryError::AuthFailed { .. } | RegistryError::Unauthorized { .. }
            )
        }),
        format!("bad creds: {msg}"),
    )?;
    nothing_committed(&e3.store)
}

pub fn manifest_unknown(f: &Fixture) -> Result<(), String> {
    let e = env();
    let zero = format!("sha256:{}", "0".repeat(64));
    for r in [
        format!("{}/busybox:nope", f.anon),
        format!("{}/nosuchrepo:latest", f.anon),
        format!("{}/busybox@{zero}", f.anon),
    ] {
        let (err, msg) = err_text(pull(f, &e.store, &r))?;
        ensure(
            is_registry(&err, |r| matches!(r, RegistryError::ManifestUnknown { .. })),
            format!("{r}: {msg}"),
        )?;
        ensure(
            msg.contains("manifest unknown")
                && msg.contains(r.split('/').nth(1).unwrap_or_default()),
            msg,
        )?;
    }
    nothing_committed(&e.store)
}

fn broken(
    f: &Fixture,
    tag: &str,
    expected_file: &str,
    check: impl Fn(&PullError) -> bool,
) -> Result<(), String> {
    let e = env();
    let (err, msg) = err_text(pull(
        f,
        &e.store,
        &format!("{}/broken/{tag}:latest", f.anon),
    ))?;
    ensure(check(&err), format!("wrong error: {msg}"))?;
    ensure(
        msg.contains(&format!("broken/{tag}")),
        format!("error does not name the image: {msg}"),
    )?;
    if !expected_file.is_empty() {
        let d = f.expected(expected_file);
        ensure(
            msg.contains(d.trim()),
            format!("error does not name layer {}: {msg}", d.trim()),
        )?;
    }
    nothing_committed(&e.store)
}

pub fn corrupt_layer(f: &Fixture) -> Result<(), String> {
    broken(f, "corrupt-layer", "corrupt-layer-digest.txt", |e| {
        is_registry(e, |r| matches!(r, RegistryError::DigestMismatch { .. }))
    })
}

pub fn missing_layer(f: &Fixture) -> Result<(), String> {
    broken(f, "missing-layer", "missing-layer-digest.txt", |e| {
        is_registry(e, |r| matches!(r, RegistryError::BlobUnknown { .. }))
    })
}

pub fn bad_diff_id(f: &Fixture) -> Result<(), String> {
    broken(f, "bad-diffid", "", |e| {
        matches!(e, PullError::DiffId { .. })
    })
}

pub fn concurrent_pulls(f: &Fixture) -> Result<(), String> {
    let e = env();
    let r = format!("{}/layers:latest", f.anon);
    let results: Vec<Result<pelagos_image::Pulled, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| pull(f, &e.store, &r).map_err(|e| e.to_string())))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    for r in &results {
        r.as_ref().map_err(Clone::clone)?;
    }
    let n = std::fs::read_dir(e.store.root().join("layers/sha256"))
        .map_err(|e| e.to_string())?
        .count();
    let tmp = std::fs::read_dir(e.store.root().join("tmp"))
        .map_err(|e| e.to_string())?
        .count();
    ensure(
        n == 4 && tmp == 0,
        format!("{n} layers, {tmp} temp entries after concurrent pulls"),
    )?;
    consistent(&e.store)
}

fn list_under(root: &std::path::Path, rel: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel.trim_start_matches('/')))
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = format!("{rel}/{}", e.file_name().to_string_lossy());
        out.push(p.clone());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            list_under(root, &p, out);
        }
    }
}

/// A bundle guard: unmounts and removes the bundle and releases its image use even
/// when the case fails.
struct BundleGuard(Store, std::path::PathBuf);

impl Drop for BundleGuard {
    fn drop(&mut self) {
        if let Err(e) = pelagos_image::bundle::remove(&self.1) {
            eprintln!("bundle cleanup {}: {e}", self.1.display());
        }
        for u in self.0.uses().unwrap_or_default() {
            if u.bundle == self.1 {
                let _ = self.0.release_use(&u.holder);
            }
        }
    }
}

type BundleResult = Result<(BundleGuard, Result<pelagos_image::bundle::Bundle, String>), String>;

fn bundle_of(f: &Fixture, e: &Env, r: &str) -> BundleResult {
    bundle_with(f, e, r, &Default::default())
}

fn bundle_with(
    f: &Fixture,
    e: &Env,
    r: &str,
    opts: &pelagos_image::bundle::BundleOptions,
) -> BundleResult {
    let p = pull(f, &e.store, &format!("{}/{r}", f.anon)).map_err(|e| format!("{r}: {e}"))?;
    let dir = e
        .dir
        .path()
        .join(format!("bundle-{}", r.replace([':', '/'], "-")));
    let guard = BundleGuard(e.store.clone(), dir.clone());
    let b =
        pelagos_image::bundle::create(&e.store, &p.image, &dir, opts).map_err(|e| e.to_string());
    Ok((guard, b))
}

pub fn bundle_overlay_rootfs(f: &Fixture) -> Result<(), String> {
    let e = env();
    let (_g, b) = bundle_of(f, &e, "layers:latest")?;
    let b = b?;
    let mut data = vec!["/data".to_string()];
    list_under(&b.rootfs, "/data", &mut data);
    let expected = f.expected("layers-find.txt");
    let want: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
    ensure(
        data == want,
        format!("overlay /data differs:\n got {data:?}\nwant {want:?}"),
    )?;
    ensure(
        !b.rootfs.join("bin/vi").exists() && b.rootfs.join("bin/sh").exists(),
        "bin/vi visible or bin/sh missing",
    )?;
    let cfg = std::fs::read_to_string(b.dir.join("config.json")).map_err(|e| e.to_string())?;
    ensure(
        cfg.contains("\"rootfs\"") && cfg.contains("find /data | sort"),
        "config.json lacks root or args",
    )?;
    std::fs::write(b.rootfs.join("data/new-in-upper"), b"x").map_err(|e| e.to_string())?;
    ensure(
        b.dir.join("upper/data/new-in-upper").exists(),
        "write did not land in upper",
    )
}

pub fn bundle_users_and_config(f: &Fixture) -> Result<(), String> {
    let e = env();
    for (r, ids) in [
        ("busybox:user-nobody", (65534, 65534)),
        ("busybox:user-1000", (1000, 0)),
        ("busybox:user-1000-1000", (1000, 1000)),
        ("busybox:user-nobody-nogroup", (65534, 65534)),
        ("busybox:user-root", (0, 0)),
        ("nonroot:latest", (1000, 1000)),
    ] {
        let (_g, b) = bundle_of(f, &e, r)?;
        let b = b?;
        let p = b.spec.process().clone().ok_or("no process")?;
        ensure(
            (p.user().uid(), p.user().gid()) == ids,
            format!("{r}: user {}:{}", p.user().uid(), p.user().gid()),
        )?;
        if r == "nonroot:latest" {
            ensure(
                p.user().additional_gids().as_deref() == Some(&[1000, 2000][..]),
                format!("nonroot groups {:?}", p.user().additional_gids()),
            )?;
            ensure(
                p.cwd() == std::path::Path::new("/home/app"),
                format!("nonroot cwd {}", p.cwd().display()),
            )?;
        }
    }
    let (_g, b) = bundle_of(f, &e, "busybox:user-missing")?;
    let msg = b.err().ok_or("user-missing should fail")?;
    ensure(msg.contains("unable to find user ghost"), msg.clone())?;
    let (_g, b) = bundle_of(f, &e, "entrypoint:latest")?;
    let b = b?;
    let p = b.spec.process().clone().ok_or("no process")?;
    ensure(
        p.args().as_deref()
            == Some(
                &[
                    "/bin/echo".to_string(),
                    "entrypoint:".into(),
                    "default".into(),
                    "args".into(),
                ][..],
            ),
        format!("args {:?}", p.args()),
    )?;
    let env = p.env().clone().unwrap_or_default();
    ensure(
        env.iter().any(|v| v == "WITH_EQUALS=a=b=c") && env.iter().any(|v| v == "EMPTY="),
        format!("env {env:?}"),
    )?;
    ensure(
        b.rootfs.join("srv/not-in-image").is_dir(),
        "WorkingDir not created",
    )
}

pub fn bundle_copy_rootfs(f: &Fixture) -> Result<(), String> {
    let e = env();
    let opts = pelagos_image::bundle::BundleOptions {
        rootfs: pelagos_image::bundle::RootfsMode::Copy,
        ..Default::default()
    };
    let (_g, b) = bundle_with(f, &e, "layers:latest", &opts)?;
    let b = b?;
    let mut data = vec!["/data".to_string()];
    list_under(&b.rootfs, "/data", &mut data);
    let expected = f.expected("layers-find.txt");
    let want: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
    ensure(
        data == want,
        format!("copied /data differs:\n got {data:?}\nwant {want:?}"),
    )?;
    ensure(
        !b.rootfs.join("bin/vi").exists() && b.rootfs.join("bin/sh").exists(),
        "bin/vi visible or bin/sh missing",
    )?;
    let md = |p: &str| std::fs::symlink_metadata(b.rootfs.join(p)).map_err(|e| format!("{p}: {e}"));
    ensure(
        md("data/hardlink-a")?.ino() == md("data/hardlink-b")?.ino(),
        "hardlinks not shared in the copy",
    )?;
    ensure(
        md("data/empty-file")?.mtime() == 1_000_000_000,
        "mtime not kept",
    )?;
    ensure(md("data/owned-65534")?.uid() == 65534, "owner not kept")?;
    ensure(
        md("data/sticky-dir")?.mode() & 0o7777 == 0o1777,
        "sticky mode not kept",
    )?;
    let layer_ino = e
        .store
        .layer_path(
            &e.store
                .lookup(&format!("{}/layers:latest", f.anon))
                .map_err(|e| e.to_string())?
                .layers[1]
                .diff_id,
        )
        .join("data/regular.txt");
    let shared =
        std::fs::metadata(&layer_ino).map(|m| m.ino()).ok() == Some(md("data/regular.txt")?.ino());
    ensure(!shared, "copy shares inodes with the layer store")
}

pub fn bundle_registers_use(f: &Fixture) -> Result<(), String> {
    let e = env();
    let (g, b) = bundle_of(f, &e, "busybox:latest")?;
    let b = b?;
    let img = e
        .store
        .lookup(&format!("{}/busybox:latest", f.anon))
        .map_err(|e| e.to_string())?;
    let users = e
        .store
        .users_of(&img.manifest_digest)
        .map_err(|e| e.to_string())?;
    ensure(users == [b.holder.clone()], format!("users {users:?}"))?;
    let err = e
        .store
        .remove_image(&img.manifest_digest)
        .err()
        .ok_or("an image in use was removed")?
        .to_string();
    ensure(
        err.contains(&format!("in use by container {}", b.holder)),
        err,
    )?;
    let pruned = e
        .store
        .prune(pelagos_image::gc::PruneOptions { all: true })
        .map_err(|e| e.to_string())?;
    ensure(
        pruned.images.is_empty() && e.store.has_layer(&img.layers[0].diff_id),
        "prune -a removed an image in use",
    )?;
    consistent(&e.store)?;
    pelagos_image::bundle::destroy(&e.store, &b).map_err(|e| e.to_string())?;
    drop(g);
    ensure(
        e.store.uses().map_err(|e| e.to_string())?.is_empty(),
        "use not released",
    )?;
    let r = pelagos_image::ImageRef::parse(&format!("{}/busybox:latest", f.anon))
        .map_err(|e| e.to_string())?;
    e.store.remove_ref(&r).map_err(|e| e.to_string())?;
    e.store
        .remove_image(&img.manifest_digest)
        .map_err(|e| e.to_string())?;
    consistent(&e.store)
}
