//! OCI bundles from pulled images: an overlayfs rootfs (layers as lower dirs, a
//! writable upper on disk) plus a `config.json` made from the image config.
//!
//! ```text
//! <bundle>/config.json   process args/env/cwd/user from the image, runtime defaults
//! <bundle>/rootfs        overlay mount point
//! <bundle>/upper, work   overlay upper and work dirs
//! ```
//!
//! Creating a bundle registers its container's use of the image in the store (see
//! [`crate::usage`]); [`destroy`] unmounts, removes and releases it.

use crate::fsops;
use crate::manifest::{ImageConfig, ManifestError};
use crate::store::{ImageRecord, Store, StoreError};
use crate::user::{self, ResolvedUser, UserError};
use oci_spec::runtime::{Process, Root, Spec, User};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{MountFlags, UnmountFlags};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// PATH for images whose config sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// mount(2) copies at most one page of option data.
const MAX_MOUNT_DATA: usize = 4096;
/// Largest passwd/group file read from an image.
const MAX_DB_SIZE: u64 = 4 << 20;

/// Errors from bundle creation.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The image config is unusable.
    #[error("image {image}: {error}")]
    Config {
        /// The image id.
        image: String,
        /// The problem.
        error: ManifestError,
    },
    /// A layer of the image is not unpacked.
    #[error("image {image}: layer {layer} is missing from the store; pull the image again")]
    MissingLayer {
        /// The image id.
        image: String,
        /// The diff_id.
        layer: String,
    },
    /// No process to run.
    #[error("image {0}: no command specified (the image has neither Entrypoint nor Cmd)")]
    NoCommand(String),
    /// The image's User cannot be resolved.
    #[error("image {image}: {error}")]
    User {
        /// The image id.
        image: String,
        /// The problem.
        error: UserError,
    },
    /// A filesystem operation failed.
    #[error("bundle {path}: {op}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The operation.
        op: &'static str,
        /// The error.
        error: std::io::Error,
    },
    /// The overlay mount options exceed what mount(2) accepts in one page.
    #[error("image {image}: {layers} layers make overlay options of {len} bytes, over the {max}-byte mount limit")]
    TooManyLayers {
        /// The image id.
        image: String,
        /// Layer count.
        layers: usize,
        /// Option string length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Copying layers into a rootfs failed.
    #[error(transparent)]
    Flatten(#[from] crate::flatten::FlattenError),
    /// The OCI spec could not be built.
    #[error("bundle config: {0}")]
    Spec(String),
}

fn io<'a, E: Into<std::io::Error>>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(E) -> BundleError + 'a {
    move |e| BundleError::Io {
        path: path.to_path_buf(),
        op,
        error: e.into(),
    }
}

/// How the rootfs is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RootfsMode {
    /// An overlayfs mount over the shared layers (needs root).
    #[default]
    Overlay,
    /// A private copy of the merged layers (no mount; slower, more disk).
    Copy,
}

/// What to run, overriding the image where set (Docker semantics: a new entrypoint
/// drops the image's Cmd).
#[derive(Clone, Debug, Default)]
pub struct BundleOptions {
    /// Replaces the image Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image Cmd.
    pub cmd: Option<Vec<String>>,
    /// Extra `KEY=value` entries, overriding the image's.
    pub env: Vec<String>,
    /// Container hostname.
    pub hostname: Option<String>,
    /// How to build the rootfs.
    pub rootfs: RootfsMode,
    /// The container the bundle is for: names its use of the image. When `None`, a
    /// name derived from the bundle directory (`bundle-<hash of its path>`) is used.
    pub container: Option<String>,
    /// The seccomp filter for `linux.seccomp` (callers that drive containers for users
    /// put the default profile here).
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

/// A created bundle.
#[derive(Debug)]
pub struct Bundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The mounted rootfs.
    pub rootfs: PathBuf,
    /// The generated runtime spec (also in `config.json`).
    pub spec: Spec,
    /// The holder of the image use registered for this bundle.
    pub holder: String,
}

/// The command line: entrypoint + cmd with overrides applied.
pub fn process_args(cfg: &ImageConfig, opts: &BundleOptions) -> Vec<String> {
    let rc = cfg.config.clone().unwrap_or_default();
    let (ep, cmd) = match &opts.entrypoint {
        Some(ep) => (ep.clone(), opts.cmd.clone().unwrap_or_default()),
        None => (
            rc.entrypoint.unwrap_or_default(),
            opts.cmd.clone().or(rc.cmd).unwrap_or_default(),
        ),
    };
    ep.into_iter().chain(cmd).collect()
}

/// Image env, then overrides by key; PATH and HOME filled in when missing.
pub fn process_env(cfg: &ImageConfig, extra: &[String], home: Option<&str>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut map: HashMap<String, String> = HashMap::new();
    let image_env = cfg
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    for kv in image_env.iter().chain(extra) {
        let key = kv
            .split_once('=')
            .map_or(kv.as_str(), |(k, _)| k)
            .to_string();
        if !map.contains_key(&key) {
            order.push(key.clone());
        }
        map.insert(key, kv.clone());
    }
    if !map.contains_key("PATH") {
        order.insert(0, "PATH".into());
        map.insert("PATH".into(), DEFAULT_PATH.into());
    }
    if !map.contains_key("HOME") {
        order.push("HOME".into());
        map.insert(
            "HOME".into(),
            format!("HOME={}", home.filter(|h| !h.is_empty()).unwrap_or("/")),
        );
    }
    order.into_iter().filter_map(|k| map.remove(&k)).collect()
}

/// Build the runtime spec for an image config and a resolved user.
pub fn runtime_spec(
    cfg: &ImageConfig,
    usr: &ResolvedUser,
    opts: &BundleOptions,
    image_id: &str,
) -> Result<Spec, BundleError> {
    let args = process_args(cfg, opts);
    if args.is_empty() {
        return Err(BundleError::NoCommand(image_id.to_string()));
    }
    let rc = cfg.config.clone().unwrap_or_default();
    let mut user = User::default();
    user.set_uid(usr.uid);
    user.set_gid(usr.gid);
    if !usr.additional_gids.is_empty() {
        user.set_additional_gids(Some(usr.additional_gids.clone()));
    }
    let mut process = Process::default();
    process.set_args(Some(args));
    process.set_env(Some(process_env(cfg, &opts.env, usr.home.as_deref())));
    process.set_cwd(PathBuf::from(
        rc.working_dir
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
    ));
    process.set_user(user);
    let mut root = Root::default();
    root.set_path(PathBuf::from("rootfs"));
    root.set_readonly(Some(false));
    let mut spec = Spec::default();
    if let (Some(sc), Some(linux)) = (&opts.seccomp, spec.linux_mut()) {
        linux.set_seccomp(Some(sc.clone()));
    }
    spec.set_process(Some(process));
    spec.set_root(Some(root));
    spec.set_hostname(Some(
        opts.hostname
            .clone()
            .unwrap_or_else(|| image_id.chars().skip(7).take(12).collect()),
    ));
    let mut ann = HashMap::new();
    ann.insert(
        "org.opencontainers.image.id".to_string(),
        image_id.to_string(),
    );
    if let Some(sig) = rc.stop_signal {
        ann.insert("org.opencontainers.image.stopSignal".to_string(), sig);
    }
    spec.set_annotations(Some(ann));
    Ok(spec)
}

/// Read a small file inside `rootfs`, resolving symlinks as if `rootfs` were `/`.
fn read_in_root(rootfs: &Path, rel: &str) -> Result<String, BundleError> {
    let root = fsops::open_root(rootfs).map_err(|e| BundleError::Io {
        path: rootfs.to_path_buf(),
        op: "open rootfs",
        error: std::io::Error::other(e),
    })?;
    let fd = match rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(String::new()),
        Err(e) => return Err(io(&rootfs.join(rel), "open")(e)),
    };
    let mut s = String::new();
    std::fs::File::from(fd)
        .take(MAX_DB_SIZE)
        .read_to_string(&mut s)
        .map_err(io(&rootfs.join(rel), "read"))?;
    Ok(s)
}

/// Make `<dir>/rootfs` from the image's layers (an overlay mount, or a copy) and write
/// `<dir>/config.json`. The overlay needs root. On error nothing stays mounted.
pub fn create(
    store: &Store,
    image: &ImageRecord,
    dir: &Path,
    opts: &BundleOptions,
) -> Result<Bundle, BundleError> {
    let id = image.config_digest.to_string();
    let cfg = ImageConfig::parse(&store.read_blob(&image.config_digest)?).map_err(|error| {
        BundleError::Config {
            image: id.clone(),
            error,
        }
    })?;
    std::fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
    let holder = match &opts.container {
        Some(c) => c.clone(),
        None => derived_holder(dir)?,
    };
    // The use names the bundle by its real path: `image check` looks for it from anywhere.
    let abs = std::fs::canonicalize(dir).map_err(io(dir, "resolve path"))?;
    // Registered before the rootfs exists, so no `rm` can take the layers from under it.
    store.register_use(&holder, image, &abs)?;
    let res = build(store, image, &cfg, dir, opts);
    match res {
        Ok((rootfs, spec)) => Ok(Bundle {
            dir: dir.to_path_buf(),
            rootfs,
            spec,
            holder,
        }),
        Err(e) => {
            if let Err(re) = store.release_use(&holder) {
                tracing::warn!("releasing image use {holder}: {re}");
            }
            Err(e)
        }
    }
}

/// `bundle-<16 hex of sha256 of the absolute bundle path>`.
fn derived_holder(dir: &Path) -> Result<String, BundleError> {
    let abs = std::fs::canonicalize(dir).map_err(io(dir, "resolve path"))?;
    let d = crate::Digest::of_bytes(abs.as_os_str().as_encoded_bytes());
    Ok(format!("bundle-{}", &d.hex()[..16]))
}

/// The rootfs and config of [`create`], after the use is registered.
fn build(
    store: &Store,
    image: &ImageRecord,
    cfg: &ImageConfig,
    dir: &Path,
    opts: &BundleOptions,
) -> Result<(PathBuf, Spec), BundleError> {
    let id = image.config_digest.to_string();
    let mut lowers = Vec::new();
    let mut base_first = Vec::new();
    for l in image.layers.iter().rev() {
        let p = store.layer_path(&l.diff_id);
        if !p.is_dir() {
            return Err(BundleError::MissingLayer {
                image: id,
                layer: l.diff_id.to_string(),
            });
        }
        lowers.push(p.display().to_string());
        base_first.insert(0, p);
    }
    let rootfs = dir.join("rootfs");
    // The rootfs holds the image's setuid binaries; host users must not reach them.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(io(dir, "chmod 0700"))?;
    if opts.rootfs == RootfsMode::Copy {
        std::fs::create_dir_all(&rootfs).map_err(io(&rootfs, "create directory"))?;
        crate::flatten::flatten(&base_first, &rootfs)?;
        return finish(cfg, &rootfs, dir, opts, &id).map(|spec| (rootfs, spec));
    }
    let (upper, work) = (dir.join("upper"), dir.join("work"));
    for d in [&rootfs, &upper, &work] {
        std::fs::create_dir_all(d).map_err(io(d, "create directory"))?;
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    if data.len() >= MAX_MOUNT_DATA {
        return Err(BundleError::TooManyLayers {
            image: id,
            layers: lowers.len(),
            len: data.len(),
            max: MAX_MOUNT_DATA,
        });
    }
    let data = std::ffi::CString::new(data).map_err(|e| BundleError::Spec(e.to_string()))?;
    rustix::mount::mount(
        "overlay",
        &rootfs,
        "overlay",
        MountFlags::empty(),
        data.as_c_str(),
    )
    .map_err(io(&rootfs, "mount overlay"))?;
    let res = finish(cfg, &rootfs, dir, opts, &id);
    if res.is_err() {
        let _ = rustix::mount::unmount(&rootfs, UnmountFlags::DETACH);
    }
    res.map(|spec| (rootfs, spec))
}

fn finish(
    cfg: &ImageConfig,
    rootfs: &Path,
    dir: &Path,
    opts: &BundleOptions,
    id: &str,
) -> Result<Spec, BundleError> {
    let spec_user = cfg
        .config
        .as_ref()
        .and_then(|c| c.user.clone())
        .unwrap_or_default();
    let usr = user::resolve(
        &spec_user,
        &read_in_root(rootfs, "etc/passwd")?,
        &read_in_root(rootfs, "etc/group")?,
    )
    .map_err(|error| BundleError::User {
        image: id.to_string(),
        error,
    })?;
    let spec = runtime_spec(cfg, &usr, opts, id)?;
    ensure_workdir(
        rootfs,
        spec.process()
            .as_ref()
            .map(|p| p.cwd().clone())
            .unwrap_or_default(),
    );
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| BundleError::Spec(e.to_string()))?;
    crate::store::write_atomic(&dir.join("config.json"), &json)?;
    Ok(spec)
}

/// Create a missing WorkingDir without following symlinks; when the path crosses a
/// symlink the runtime creates it at start instead.
fn ensure_workdir(rootfs: &Path, cwd: PathBuf) {
    let Ok(comps) = fsops::clean(&cwd) else {
        return;
    };
    if comps.is_empty() {
        return;
    }
    let mut with_leaf = comps.clone();
    with_leaf.push(std::ffi::OsStr::new("."));
    let Ok(root) = fsops::open_root(rootfs) else {
        return;
    };
    if let Err(e) = fsops::open_parent(&root, &cwd, &with_leaf, true) {
        tracing::debug!("working dir {} left to the runtime: {e}", cwd.display());
    }
}

/// Unmount and remove a bundle made by [`create`], then release its image use.
pub fn destroy(store: &Store, bundle: &Bundle) -> Result<(), BundleError> {
    remove(&bundle.dir)?;
    store.release_use(&bundle.holder)?;
    Ok(())
}

/// Unmount and remove a bundle made by [`create`] without a container name, and
/// release the image use registered under the name its directory gives.
pub fn destroy_dir(store: &Store, dir: &Path) -> Result<(), BundleError> {
    let holder = derived_holder(dir)?;
    remove(dir)?;
    store.release_use(&holder)?;
    Ok(())
}

/// Unmount the rootfs of a bundle made by [`create`] and remove the bundle directory.
/// The image use stays registered; see [`destroy`].
pub fn remove(dir: &Path) -> Result<(), BundleError> {
    // The real directory: a relative path has no parent to open, and through a symlink
    // only the link would go.
    let dir = &match std::fs::canonicalize(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir, "resolve path")(e)),
    };
    let rootfs = dir.join("rootfs");
    match rustix::mount::unmount(&rootfs, UnmountFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(io(&rootfs, "unmount")(e)),
    }
    let parent =
        fsops::open_root(dir.parent().unwrap_or(Path::new("/"))).map_err(|e| BundleError::Io {
            path: dir.to_path_buf(),
            op: "open",
            error: std::io::Error::other(e),
        })?;
    fsops::remove_any(&parent, dir.file_name().unwrap_or_default())
        .map_err(io(dir, "remove bundle"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> ImageConfig {
        ImageConfig::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn entrypoint_and_cmd() {
        let c = cfg(
            r#"{"config":{"Entrypoint":["/bin/echo","entrypoint:"],"Cmd":["default","args"]}}"#,
        );
        assert_eq!(
            process_args(&c, &BundleOptions::default()),
            ["/bin/echo", "entrypoint:", "default", "args"]
        );
        let o = BundleOptions {
            cmd: Some(vec!["x".into(), "y".into()]),
            ..Default::default()
        };
        assert_eq!(process_args(&c, &o), ["/bin/echo", "entrypoint:", "x", "y"]);
        let o = BundleOptions {
            entrypoint: Some(vec!["/bin/sh".into()]),
            ..Default::default()
        };
        assert_eq!(process_args(&c, &o), ["/bin/sh"]);
    }

    #[test]
    fn env_is_kept_intact_and_completed() {
        let c = cfg(r#"{"config":{"Env":["WITH_EQUALS=a=b=c","EMPTY=","A=1"]}}"#);
        let env = process_env(&c, &["A=2".into()], Some("/home/app"));
        assert_eq!(
            env,
            [
                DEFAULT_PATH,
                "WITH_EQUALS=a=b=c",
                "EMPTY=",
                "A=2",
                "HOME=/home/app"
            ]
        );
    }

    #[test]
    fn spec_carries_user_cwd_and_stop_signal() {
        let c = cfg(r#"{"config":{"Cmd":["id"],"WorkingDir":"/srv","StopSignal":"SIGQUIT"}}"#);
        let u = ResolvedUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![1000, 2000],
            home: None,
        };
        let s = runtime_spec(&c, &u, &BundleOptions::default(), "sha256:abcdef0123456789").unwrap();
        let p = s.process().as_ref().unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
        assert_eq!(
            p.user().additional_gids().as_deref(),
            Some(&[1000, 2000][..])
        );
        assert_eq!(p.cwd(), Path::new("/srv"));
        assert_eq!(
            s.annotations().as_ref().unwrap()["org.opencontainers.image.stopSignal"],
            "SIGQUIT"
        );
        assert_eq!(s.root().as_ref().unwrap().readonly(), Some(false));
    }

    #[test]
    fn no_command_is_an_error() {
        let u = ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: None,
        };
        assert!(matches!(
            runtime_spec(&cfg("{}"), &u, &BundleOptions::default(), "x"),
            Err(BundleError::NoCommand(_))
        ));
    }
}
