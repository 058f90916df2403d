//! The content-addressed image store under a root directory the caller passes in.
//!
//! ```text
//! <root>/blobs/sha256/<hex>          verified blobs (manifests, configs, compressed layers)
//! <root>/layers/sha256/<diff_id hex>/ unpacked layers, shared by every image using them
//! <root>/images/<manifest hex>.json  image records (manifest, config, layers)
//! <root>/refs/<sha256 of ref>.json   reference -> manifest digest
//! <root>/uses/<container>.json       an image in use by a container (see [`crate::usage`])
//! <root>/tmp/<pid>-<n>-<kind>        work in progress; never looks complete
//! ```
//!
//! Everything becomes visible by one `rename` after its content was verified and
//! fsync'd, so a crash or SIGKILL leaves at most a stray entry in `tmp/` (removed by the
//! next [`Store::open`] once its pid is gone). Concurrent writers use unique temp names;
//! when two commit the same content, the first rename wins and the other is discarded.

use crate::digest::Digest;
use crate::reference::ImageRef;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors from the store.
///
/// Each message is whole: it spells out the underlying error itself, so no variant
/// exposes that error again as [`std::error::Error::source`] (printed with its chain, as
/// the CLI's `{:#}` does, the cause would show twice). Display is written out rather
/// than derived because thiserror takes any field named `source` for the source, and
/// the fields keep that name for the callers that build them.
#[derive(Debug)]
pub enum StoreError {
    /// A filesystem operation failed.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The operation.
        op: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A stored record does not parse.
    Corrupt {
        /// The record file.
        path: PathBuf,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A stored blob does not match its name.
    BlobMismatch {
        /// The blob file.
        path: PathBuf,
        /// What it hashes to.
        actual: Digest,
    },
    /// Nothing matches the name given.
    NotFound(String),
    /// Several images match an id prefix.
    Ambiguous(String),
    /// Containers still use the image.
    InUse {
        /// The image (reference or id as the user named it).
        image: String,
        /// The containers using it.
        containers: Vec<String>,
    },
    /// A container id cannot name a use record.
    InvalidHolder(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, op, source } => {
                write!(f, "image store {}: {op}: {source}", path.display())
            }
            Self::Corrupt { path, source } => {
                write!(
                    f,
                    "image store {}: corrupt record: {source}",
                    path.display()
                )
            }
            Self::BlobMismatch { path, actual } => write!(
                f,
                "image store blob {}: content hashes to {actual}, store may be corrupt; \
                 remove the file and pull again",
                path.display()
            ),
            Self::NotFound(name) => write!(f, "no such image: {name}"),
            Self::Ambiguous(prefix) => {
                write!(
                    f,
                    "image id prefix {prefix:?} is ambiguous; give more characters"
                )
            }
            Self::InUse { image, containers } => write!(
                f,
                "image {image} is in use by container {}; stop and remove it first or use -f",
                containers.join(", ")
            ),
            Self::InvalidHolder(id) => write!(
                f,
                "invalid container id {id:?}: expected 1-128 of [A-Za-z0-9_.-], \
                 starting with a letter or digit"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

pub(crate) fn io_err<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// One layer of a stored image.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRecord {
    /// Digest of the (compressed) blob.
    pub digest: Digest,
    /// Digest of the uncompressed tar; names the unpacked layer directory.
    pub diff_id: Digest,
    /// Blob size in bytes.
    pub size: u64,
    /// Blob media type.
    pub media_type: String,
}

/// A stored image, keyed by its manifest digest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// Digest of the platform manifest.
    pub manifest_digest: Digest,
    /// Digest of the index it was selected from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<Digest>,
    /// Manifest media type.
    pub media_type: String,
    /// Digest of the config blob; the image id.
    pub config_digest: Digest,
    /// `os/arch[/variant]` from the config.
    pub platform: String,
    /// Layers, base first.
    pub layers: Vec<LayerRecord>,
    /// Seconds since the epoch when this store recorded the image.
    pub pulled_at: u64,
}

impl ImageRecord {
    /// Sum of the layer blob sizes.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// A reference record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefRecord {
    /// The normalised reference.
    pub reference: String,
    /// The manifest it points at.
    pub manifest_digest: Digest,
}

/// A file being written in `tmp/`; removed on drop unless committed.
pub struct TempFile {
    pub(crate) path: PathBuf,
    pub(crate) file: Option<File>,
}

impl TempFile {
    /// The open file.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("temp file is open until commit")
    }
    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A directory being filled in `tmp/`; removed on drop unless committed.
pub struct TempDir {
    pub(crate) path: PathBuf,
    pub(crate) live: bool,
}

impl TempDir {
    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.live {
            let _ = remove_tree(&self.path);
        }
    }
}

/// Remove a tree that may hold mode-0000 dirs or immutable-looking entries.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let dir = crate::fsops::open_root(parent).map_err(io::Error::other)?;
    let name = path.file_name().unwrap_or_default();
    crate::fsops::remove_any(&dir, name).map_err(io::Error::from)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A held store lock; released on drop.
pub struct StoreLock {
    _fd: std::os::fd::OwnedFd,
}

/// The image store.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store at `root` and sweep temp entries left by
    /// processes that no longer exist.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        for sub in [
            "blobs/sha256",
            "layers/sha256",
            "images",
            "refs",
            "uses",
            "tmp",
        ] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p, "create directory"))?;
        }
        // Unpacked layers hold setuid binaries and devices owned by image uids; host
        // users must not reach them through the store.
        for sub in ["layers", "tmp"] {
            let p = root.join(sub);
            fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(io_err(&p, "chmod 0700"))?;
        }
        let s = Self {
            root: root.to_path_buf(),
        };
        s.sweep_tmp();
        Ok(s)
    }

    fn lock(&self, op: rustix::fs::FlockOperation) -> Result<StoreLock, StoreError> {
        let p = self.root.join("lock");
        let fd = rustix::fs::open(
            &p,
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CREATE | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .map_err(|e| StoreError::Io {
            path: p.clone(),
            op: "open lock",
            source: e.into(),
        })?;
        rustix::fs::flock(&fd, op).map_err(|e| StoreError::Io {
            path: p,
            op: "lock",
            source: e.into(),
        })?;
        Ok(StoreLock { _fd: fd })
    }

    /// Shared lock held by pulls: many may run at once, but no removal runs
    /// between a pull seeing a layer and recording the image that uses it.
    pub fn lock_shared(&self) -> Result<StoreLock, StoreError> {
        self.lock(rustix::fs::FlockOperation::LockShared)
    }

    /// Exclusive lock held by removals.
    pub fn lock_exclusive(&self) -> Result<StoreLock, StoreError> {
        self.lock(rustix::fs::FlockOperation::LockExclusive)
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn sweep_tmp(&self) {
        let Ok(rd) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !temp_owner_alive(&name) && name != "lock" {
                let _ = remove_tree(&e.path());
            }
        }
    }

    pub(crate) fn tmp_name(&self, kind: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.root
            .join("tmp")
            .join(format!("{}-{n}-{nanos:x}-{kind}", std::process::id()))
    }

    /// Path of a verified blob.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    /// Is the blob stored?
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Path of an unpacked layer directory.
    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers/sha256").join(diff_id.hex())
    }

    /// Is the layer unpacked?
    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_path(diff_id).is_dir()
    }

    /// Start writing a blob.
    pub fn temp_file(&self, kind: &str) -> Result<TempFile, StoreError> {
        let path = self.tmp_name(kind);
        let file = fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path, "create temp file"))?;
        Ok(TempFile {
            path,
            file: Some(file),
        })
    }

    /// Start unpacking a layer.
    pub fn temp_dir(&self, kind: &str) -> Result<TempDir, StoreError> {
        let path = self.tmp_name(kind);
        fs::create_dir(&path).map_err(io_err(&path, "create temp dir"))?;
        Ok(TempDir { path, live: true })
    }

    /// Store a small blob held in memory and return its digest.
    pub fn put_blob_bytes(&self, data: &[u8]) -> Result<Digest, StoreError> {
        let d = Digest::of_bytes(data);
        if self.has_blob(&d) {
            return Ok(d);
        }
        let (t, d) = self.temp_blob(data)?;
        self.commit_blob(t, &d)?;
        Ok(d)
    }

    /// Read a blob fully, checking it still hashes to its name.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let p = self.blob_path(d);
        let data = fs::read(&p).map_err(io_err(&p, "read blob"))?;
        let actual = Digest::of_bytes(&data);
        if &actual != d {
            return Err(StoreError::BlobMismatch { path: p, actual });
        }
        Ok(data)
    }

    pub(crate) fn image_path(&self, manifest: &Digest) -> PathBuf {
        self.root
            .join("images")
            .join(format!("{}.json", manifest.hex()))
    }

    pub(crate) fn ref_path(&self, reference: &str) -> PathBuf {
        self.root.join("refs").join(format!(
            "{}.json",
            Digest::of_bytes(reference.as_bytes()).hex()
        ))
    }

    /// Record an image.
    pub fn put_image(&self, rec: &ImageRecord) -> Result<(), StoreError> {
        self.write_json(&self.image_path(&rec.manifest_digest), rec)
    }

    /// Point `reference` at a stored manifest.
    pub fn set_ref(&self, reference: &ImageRef, manifest: &Digest) -> Result<(), StoreError> {
        let rec = RefRecord {
            reference: reference.to_string(),
            manifest_digest: manifest.clone(),
        };
        self.write_json(&self.ref_path(&rec.reference), &rec)
    }

    /// Remove a reference; returns whether it existed.
    pub fn remove_ref(&self, reference: &ImageRef) -> Result<bool, StoreError> {
        let p = self.ref_path(&reference.to_string());
        match fs::remove_file(&p) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&p, "remove reference")(e)),
        }
    }

    /// Read an image record.
    pub fn image(&self, manifest: &Digest) -> Result<Option<ImageRecord>, StoreError> {
        read_json(&self.image_path(manifest))
    }

    /// Every reference, sorted.
    pub fn refs(&self) -> Result<Vec<RefRecord>, StoreError> {
        let dir = self.root.join("refs");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err(&dir, "list"))? {
            let e = e.map_err(io_err(&dir, "list"))?;
            if e.file_name().to_string_lossy().ends_with(".json") {
                if let Some(r) = read_json::<RefRecord>(&e.path())? {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(out)
    }

    /// Every image record.
    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err(&dir, "list"))? {
            let e = e.map_err(io_err(&dir, "list"))?;
            if e.file_name().to_string_lossy().ends_with(".json") {
                if let Some(r) = read_json::<ImageRecord>(&e.path())? {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Find an image by reference (`busybox`, `host/x:tag`, `x@sha256:..`) or by a
    /// prefix of its id (config digest) or manifest digest.
    pub fn lookup(&self, name: &str) -> Result<ImageRecord, StoreError> {
        if let Ok(r) = ImageRef::parse(name) {
            let p = self.ref_path(&r.to_string());
            if let Some(rr) = read_json::<RefRecord>(&p)? {
                return self
                    .image(&rr.manifest_digest)?
                    .ok_or_else(|| StoreError::NotFound(name.to_string()));
            }
            if let (Some(d), None) = (&r.digest, &r.tag) {
                if let Some(img) = self.image(d)? {
                    return Ok(img);
                }
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(name.to_string()));
        }
        let matches: Vec<ImageRecord> = self
            .images()?
            .into_iter()
            .filter(|i| {
                i.config_digest.hex().starts_with(prefix)
                    || i.manifest_digest.hex().starts_with(prefix)
            })
            .collect();
        match matches.len() {
            0 => Err(StoreError::NotFound(name.to_string())),
            1 => Ok(matches.into_iter().next().expect("one match")),
            _ => Err(StoreError::Ambiguous(name.to_string())),
        }
    }

    pub(crate) fn write_json<T: Serialize>(&self, dest: &Path, v: &T) -> Result<(), StoreError> {
        let data = serde_json::to_vec_pretty(v).map_err(|e| StoreError::Io {
            path: dest.to_path_buf(),
            op: "serialize",
            source: io::Error::other(e),
        })?;
        write_atomic(dest, &data)
    }
}

/// Write `data` to `dest` via a temp file in the same directory, fsync, rename, fsync dir.
pub fn write_atomic(dest: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}-{n}.tmp",
        dest.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err(&tmp, "create"))?;
        f.write_all(data).map_err(io_err(&tmp, "write"))?;
        f.sync_all().map_err(io_err(&tmp, "fsync"))?;
        fs::rename(&tmp, dest).map_err(io_err(dest, "rename into place"))?;
        sync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir, "fsync directory"))
}

/// Whether the process that created temp entry `name` (`<pid>-...`) still runs.
pub(crate) fn temp_owner_alive(name: &str) -> bool {
    let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Result<Option<T>, StoreError> {
    match fs::read(p) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                path: p.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(p, "read")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8, layers: &[(Digest, Digest)]) -> ImageRecord {
        let d =
            |b: u8| Digest::parse(&format!("sha256:{}", format!("{b:02x}").repeat(32))).unwrap();
        ImageRecord {
            manifest_digest: d(n),
            index_digest: None,
            media_type: crate::manifest::OCI_MANIFEST.into(),
            config_digest: d(n + 100),
            platform: "linux/amd64".into(),
            layers: layers
                .iter()
                .map(|(b, l)| LayerRecord {
                    digest: b.clone(),
                    diff_id: l.clone(),
                    size: 1,
                    media_type: "x".into(),
                })
                .collect(),
            pulled_at: 0,
        }
    }

    #[test]
    fn blobs_commit_atomically_and_verify() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let d = s.put_blob_bytes(b"hello").unwrap();
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        fs::write(s.blob_path(&d), b"tampered").unwrap();
        assert!(matches!(
            s.read_blob(&d),
            Err(StoreError::BlobMismatch { .. })
        ));
        let tmp = s.temp_file("x").unwrap();
        let p = tmp.path().to_path_buf();
        assert!(p.exists());
        drop(tmp);
        assert!(!p.exists(), "uncommitted temp file must vanish");
        assert_eq!(fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn layer_dirs_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        Store::open(t.path()).unwrap();
        for sub in ["layers", "tmp"] {
            assert_eq!(
                fs::metadata(t.path().join(sub))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700,
                "{sub}"
            );
        }
    }

    #[test]
    fn stale_tmp_from_dead_pid_is_swept() {
        let t = tempfile::tempdir().unwrap();
        Store::open(t.path()).unwrap();
        fs::create_dir_all(t.path().join("tmp/999999999-0-0-layer/sub")).unwrap();
        Store::open(t.path()).unwrap();
        assert_eq!(fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn layers_commit_once() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let id = Digest::of_bytes(b"layer");
        let a = s.temp_dir("layer").unwrap();
        fs::write(a.path().join("a"), b"1").unwrap();
        let b = s.temp_dir("layer").unwrap();
        fs::write(b.path().join("b"), b"2").unwrap();
        s.commit_layer(a, &id).unwrap();
        s.commit_layer(b, &id).unwrap();
        assert!(s.layer_path(&id).join("a").exists());
        assert_eq!(fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn refs_lookup_and_remove_with_shared_layers() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let (b1, l1) = (Digest::of_bytes(b"b1"), Digest::of_bytes(b"l1"));
        let (b2, l2) = (Digest::of_bytes(b"b2"), Digest::of_bytes(b"l2"));
        for l in [&l1, &l2] {
            fs::create_dir(s.layer_path(l)).unwrap();
        }
        let one = rec(1, &[(b1.clone(), l1.clone())]);
        let two = rec(2, &[(b1, l1.clone()), (b2, l2.clone())]);
        s.put_image(&one).unwrap();
        s.put_image(&two).unwrap();
        let r = ImageRef::parse("127.0.0.1:5000/busybox").unwrap();
        s.set_ref(&r, &one.manifest_digest).unwrap();
        assert_eq!(s.lookup("127.0.0.1:5000/busybox:latest").unwrap(), one);
        assert_eq!(s.lookup(&one.config_digest.hex()[..12]).unwrap(), one);
        assert!(matches!(s.lookup("nothere"), Err(StoreError::NotFound(_))));
        assert_eq!(s.refs().unwrap().len(), 1);
        s.remove_image(&two.manifest_digest).unwrap();
        assert!(s.has_layer(&l1), "shared layer kept");
        assert!(!s.has_layer(&l2), "unshared layer removed");
        assert!(s.remove_ref(&r).unwrap());
        assert!(!s.remove_ref(&r).unwrap());
    }
}
