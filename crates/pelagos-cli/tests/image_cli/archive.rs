//! `image save` / `image load`: round trips in both formats, and archives that must be
//! refused without storing anything.

use super::{fails, ok, pelagos, pelagos_bytes, pull, store_of, Fixture};
use pelagos_testsupport::harness::ensure;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Image id and manifest digest of `name`, from `image inspect`.
pub fn ids(root: &Path, name: &str) -> Result<(String, String), String> {
    let insp = ok(&pelagos(root, &["image", "inspect", name], None), "inspect")?;
    let v: serde_json::Value = serde_json::from_str(&insp).map_err(|e| e.to_string())?;
    let s = |k: &str| v[0][k].as_str().unwrap_or_default().to_string();
    Ok((s("Id"), s("ManifestDigest")))
}

/// Runs the image's bundle (overlay rootfs) with pelagos-runtime; returns stdout.
pub fn run_bundle(root: &Path, name: &str, cmd: &[&str]) -> Result<String, String> {
    let store = store_of(root);
    let img = store.lookup(name).map_err(|e| e.to_string())?;
    let dir = root.join(format!("bundle-{}", std::process::id()));
    let opts = pelagos_image::bundle::BundleOptions {
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        container: Some("archive-run".into()),
        ..Default::default()
    };
    let b = pelagos_image::bundle::create(&store, &img, &dir, &opts).map_err(|e| e.to_string());
    let guard = BundleGuard(store.clone(), dir.clone(), "archive-run".into());
    b?;
    let id = format!("pel-img-{}", std::process::id());
    let o = Command::new(env!("CARGO_BIN_EXE_pelagos-runtime"))
        .args(["--root"])
        .arg(root.join("runtime-state"))
        .args(["run", "--bundle"])
        .arg(&dir)
        .arg(&id)
        .output()
        .map_err(|e| e.to_string())?;
    drop(guard);
    ensure(
        o.status.success(),
        format!(
            "bundle of {name} did not run: {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        ),
    )?;
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Unmounts and removes a bundle and releases its image use, also when a case fails.
pub struct BundleGuard(pub pelagos_image::Store, pub PathBuf, pub String);

impl Drop for BundleGuard {
    fn drop(&mut self) {
        if let Err(e) = pelagos_image::bundle::remove(&self.1) {
            eprintln!("bundle cleanup {}: {e}", self.1.display());
        }
        let _ = self.0.release_use(&self.2);
    }
}

/// The store holds `images` images and passes `image check`.
pub fn consistent(root: &Path, images: usize) -> Result<(), String> {
    let s = store_of(root);
    let n = s.images().map_err(|e| e.to_string())?.len();
    let tmp = std::fs::read_dir(root.join("images/tmp"))
        .map_err(|e| e.to_string())?
        .count();
    ensure(
        n == images && tmp == 0,
        format!("{n} images (want {images}), {tmp} temp entries"),
    )?;
    ok(
        &pelagos(root, &["image", "check", "-q"], None),
        "image check",
    )
    .map(|_| ())
}

pub fn save_rm_load_round_trip(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let layers = pull(f, root, "layers:latest")?;
    let busybox = pull(f, root, "busybox:latest")?;
    let before = (ids(root, &layers)?, ids(root, &busybox)?);
    let oci = root.join("both.oci.tar");
    let o = oci.display().to_string();
    ok(
        &pelagos(root, &["image", "save", "-o", &o, &layers, &busybox], None),
        "save oci",
    )?;
    let docker = pelagos_bytes(
        root,
        &[
            "image",
            "save",
            "--format",
            "docker-archive",
            &layers,
            &busybox,
        ],
        None,
    );
    ensure(docker.status.success(), "save docker-archive to stdout")?;
    for archive in ["oci", "docker", "docker-gz"] {
        ok(
            &pelagos(root, &["image", "rm", &layers, &busybox], None),
            "rm",
        )?;
        consistent(root, 0)?;
        let out = match archive {
            "oci" => ok(&pelagos(root, &["image", "load", "-i", &o], None), "load")?,
            "docker" => {
                let lo = pelagos_bytes(root, &["image", "load"], Some(&docker.stdout));
                ok(&lo, "load docker-archive from stdin")?
            }
            _ => {
                let gz = root.join("docker.tar.gz");
                gzip(&docker.stdout, &gz)?;
                let g = gz.display().to_string();
                ok(
                    &pelagos(root, &["image", "load", "-i", &g], None),
                    "load gz",
                )?
            }
        };
        ensure(
            out.contains(&format!("Loaded image: {layers}"))
                && out.contains(&format!("Loaded image: {busybox}")),
            format!("{archive}: load output {out:?}"),
        )?;
        let after = (ids(root, &layers)?, ids(root, &busybox)?);
        ensure(
            after == before,
            format!("{archive}: ids changed: {before:?} -> {after:?}"),
        )?;
        consistent(root, 2)?;
    }
    let hello = run_bundle(
        root,
        &layers,
        &["sh", "-c", "cat /data/regular.txt; echo ran"],
    )?;
    ensure(
        hello.trim_end().ends_with("ran"),
        format!("bundle output {hello:?}"),
    )?;
    // Loading what is already there stores nothing new and changes no id.
    ok(&pelagos(root, &["image", "load", "-i", &o], None), "reload")?;
    consistent(root, 2)
}

fn gzip(data: &[u8], dest: &Path) -> Result<(), String> {
    let raw = dest.with_extension("raw");
    std::fs::write(&raw, data).map_err(|e| e.to_string())?;
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c '{}' > '{}'",
            raw.display(),
            dest.display()
        ))
        .status()
        .map_err(|e| e.to_string())?;
    ensure(st.success(), "gzip failed")
}

/// The offset and size of each entry of a tar, by name.
fn entries(tar: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 512 <= tar.len() && tar[off] != 0 {
        let h = &tar[off..off + 512];
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size_field = String::from_utf8_lossy(&h[124..136]);
        let size =
            usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
                .unwrap_or(0);
        out.push((name, off + 512, size));
        off += 512 + size.div_ceil(512) * 512;
    }
    out
}

pub fn load_rejects_broken_archives(f: &Fixture) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let layers = pull(f, root, "layers:latest")?;
    let archive = root.join("good.tar");
    let a = archive.display().to_string();
    ok(
        &pelagos(root, &["image", "save", "-o", &a, &layers], None),
        "save",
    )?;
    ok(&pelagos(root, &["image", "rm", &layers], None), "rm")?;
    let good = std::fs::read(&archive).map_err(|e| e.to_string())?;
    let ents = entries(&good);
    let big = ents
        .iter()
        .max_by_key(|e| e.2)
        .ok_or("no entries in the saved archive")?
        .clone();
    let blob_hex = big.0.trim_start_matches("blobs/sha256/").to_string();
    let mut flipped = good.clone();
    flipped[big.1 + big.2 / 2] ^= 0xff;
    let cut_mid = good[..big.1 + big.2 / 2].to_vec();
    // The big blob's entry left out, everything after it kept (index.json included).
    let mut without = good[..big.1 - 512].to_vec();
    without.extend_from_slice(&good[big.1 + big.2.div_ceil(512) * 512..]);
    let mut cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("flipped", flipped, vec![&blob_hex, "hashes to"]),
        ("truncated", cut_mid, vec![&big.0, "truncated"]),
        (
            "missing-blob",
            without,
            vec![&blob_hex, "missing from the archive"],
        ),
        (
            "cut-before-index",
            good[..big.1 - 512].to_vec(),
            vec!["neither index.json"],
        ),
        (
            "garbage",
            b"this is not a tar archive at all".repeat(40),
            vec![],
        ),
        ("empty", Vec::new(), vec!["empty"]),
    ];
    let gz = root.join("good.tar.gz");
    gzip(&good, &gz)?;
    let gzb = std::fs::read(&gz).map_err(|e| e.to_string())?;
    cases.push(("gzip-truncated", gzb[..gzb.len() * 2 / 3].to_vec(), vec![]));
    for (name, data, want) in cases {
        let file = root.join(format!("{name}.tar"));
        std::fs::write(&file, &data).map_err(|e| e.to_string())?;
        let fname = file.display().to_string();
        let err = fails(&pelagos(root, &["image", "load", "-i", &fname], None), name)?;
        for w in want.iter().chain([&fname.as_str()]) {
            ensure(err.contains(w), format!("{name}: error lacks {w:?}: {err}"))?;
        }
        consistent(root, 0)?;
    }
    let stdin_err = fails(
        &pelagos_bytes(root, &["image", "load"], Some(b"garbage")),
        "stdin garbage",
    )?;
    ensure(stdin_err.contains("stdin"), stdin_err.clone())?;
    bad_diff_id(root, &good)?;
    consistent(root, 0)
}

/// A docker-archive whose manifest.json lists the layers in the wrong order: every blob
/// is intact, but the diff_ids do not match the config.
fn bad_diff_id(root: &Path, good: &[u8]) -> Result<(), String> {
    let dir = root.join("unpacked");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let tar = root.join("to-edit.tar");
    std::fs::write(&tar, good).map_err(|e| e.to_string())?;
    let sh = |script: String| -> Result<(), String> {
        let st = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .status()
            .map_err(|e| e.to_string())?;
        ensure(st.success(), format!("{script} failed"))
    };
    sh(format!(
        "tar -C '{}' -xf '{}'",
        dir.display(),
        tar.display()
    ))?;
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap_or_default();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.join("blobs/sha256")
                .join(mdigest.trim_start_matches("sha256:")),
        )
        .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let path = |v: &serde_json::Value| {
        format!(
            "blobs/sha256/{}",
            v["digest"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("sha256:")
        )
    };
    let mut layers: Vec<String> = manifest["layers"]
        .as_array()
        .ok_or("manifest has no layers")?
        .iter()
        .map(path)
        .collect();
    layers.swap(0, 1);
    let entry = serde_json::json!([{
        "Config": path(&manifest["config"]),
        "RepoTags": ["bad/diffid:1"],
        "Layers": layers,
    }]);
    std::fs::write(dir.join("manifest.json"), entry.to_string()).map_err(|e| e.to_string())?;
    std::fs::remove_file(dir.join("index.json")).map_err(|e| e.to_string())?;
    let out = root.join("bad-diffid.tar");
    sh(format!(
        "tar -C '{}' -cf '{}' .",
        dir.display(),
        out.display()
    ))?;
    let o = out.display().to_string();
    let err = fails(
        &pelagos(root, &["image", "load", "-i", &o], None),
        "bad diff_id",
    )?;
    ensure(
        err.contains("unpacks to") && err.contains(&layers[0][13..]) && err.contains(&o),
        format!("diff_id error: {err}"),
    )
}
