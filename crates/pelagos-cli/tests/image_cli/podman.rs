//! Interop with podman: archives podman saves load into pelagos, and archives pelagos
//! saves load into podman, with the same image ids. podman runs with a private store,
//! run root and tmpdir; its mounts are detached and its store reset on drop.

use super::archive::{consistent, ids};
use super::{ok, pelagos, pull, Fixture};
use pelagos_testsupport::harness::{ensure, skip};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A podman with everything in a private tempdir.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    /// `None` when podman is not installed.
    fn new() -> Result<Option<Self>, String> {
        let have = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("podman").is_file()));
        if !have {
            return Ok(None);
        }
        let dir = tempfile::Builder::new()
            .prefix("pel-img-podman-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        for d in ["storage", "run", "tmp"] {
            std::fs::create_dir_all(dir.path().join(d)).map_err(|e| e.to_string())?;
        }
        Ok(Some(Self { dir }))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Output {
        let p = |r: &str| self.path(r).display().to_string();
        Command::new("podman")
            .args(["--root", &p("storage"), "--runroot", &p("run")])
            .args(["--tmpdir", &p("tmp"), "--storage-driver", "overlay"])
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(args)
            .env("TMPDIR", self.path("tmp"))
            .current_dir(self.dir.path())
            .output()
            .expect("spawn podman")
    }

    fn ok(&self, args: &[&str]) -> Result<String, String> {
        ok(&self.cmd(args), &format!("podman {}", args.join(" ")))
    }

    /// podman's image id (the config digest's hex) of `name`.
    fn id(&self, name: &str) -> Result<String, String> {
        Ok(self
            .ok(&["image", "inspect", "--format", "{{.Id}}", name])?
            .trim()
            .to_string())
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let o = self.cmd(&["system", "reset", "--force"]);
        if !o.status.success() {
            eprintln!(
                "podman system reset: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        detach_mounts_under(self.dir.path());
    }
}

/// Lazily detach whatever podman left mounted below `dir`, deepest first.
fn detach_mounts_under(dir: &Path) {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut mounts: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for m in mounts {
        if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
            eprintln!("umount {}: {e}", m.display());
        }
    }
}

pub fn podman_archives_both_ways(f: &Fixture) -> Result<(), String> {
    let Some(pm) = Podman::new()? else {
        return skip("podman is not installed (apt-get install podman)");
    };
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    let name = pull(f, root, "layers:latest")?;
    let (id, _) = ids(root, &name)?;
    pm.ok(&["pull", "--quiet", "--tls-verify=false", &name])?;
    ensure(
        format!("sha256:{}", pm.id(&name)?) == id,
        "podman and pelagos pulled different image ids",
    )?;
    ok(&pelagos(root, &["image", "rm", &name], None), "rm")?;
    // podman -> pelagos, both formats.
    for format in ["docker-archive", "oci-archive"] {
        let file = root.join(format!("podman-{format}.tar"));
        let fname = file.display().to_string();
        pm.ok(&["save", "--format", format, "-o", &fname, &name])?;
        let out = ok(
            &pelagos(root, &["image", "load", "-i", &fname], None),
            &format!("load podman {format}"),
        )?;
        ensure(
            out.contains(&format!("Loaded image: {name}")),
            format!("{format}: {out}"),
        )?;
        ensure(
            ids(root, &name)?.0 == id,
            format!("{format} from podman: image id changed"),
        )?;
        consistent(root, 1)?;
        ok(&pelagos(root, &["image", "rm", &name], None), "rm")?;
    }
    // pelagos -> podman, both formats.
    pull(f, root, "layers:latest")?;
    pm.ok(&["rmi", "--all", "--force"])?;
    for format in ["docker-archive", "oci-archive"] {
        let file = root.join(format!("pelagos-{format}.tar"));
        let fname = file.display().to_string();
        ok(
            &pelagos(
                root,
                &["image", "save", "--format", format, "-o", &fname, &name],
                None,
            ),
            &format!("save {format}"),
        )?;
        let out = pm.ok(&["load", "-i", &fname])?;
        ensure(
            format!("sha256:{}", pm.id(&name)?) == id,
            format!("podman load of our {format}: wrong id; podman said {out}"),
        )?;
        pm.ok(&["rmi", "--all", "--force"])?;
    }
    Ok(())
}
