//! On-disk cache of compiled programs, so a container start pays for reading one small
//! file instead of a libseccomp compile.
//!
//! Layout: `<cache_dir>/<key>.bpf`, `key` = hex sha256 over a format tag, the crate version,
//! the host architecture, the libseccomp version and the profile's JSON. An entry is
//!
//! ```text
//! "PSECBPF1" | u32 LE meta length | meta JSON | u32 LE program length | program | sha256
//! ```
//!
//! where the trailing sha256 covers everything before it. An entry that fails any check
//! (short, wrong magic, bad digest, bad lengths) is treated as a miss and rewritten.
//! Entries are written to a temp file in the same directory, fsync'd and renamed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compile::{compile, CompiledFilter, Warning, SOCK_FILTER_SIZE};
use crate::error::{Result, SeccompError};

const MAGIC: &[u8; 8] = b"PSECBPF1";
const DIGEST_LEN: usize = 32;

/// Everything of a [`CompiledFilter`] except the program itself.
#[derive(Serialize, Deserialize)]
struct Meta {
    flags: u32,
    listener_path: Option<PathBuf>,
    listener_metadata: Option<String>,
    warnings: Vec<Warning>,
}

/// The cache key of `profile` on this host: hex sha256 of the profile's JSON together
/// with everything else that changes the compiled program.
pub fn cache_key(profile: &LinuxSeccomp) -> Result<String> {
    let json = serde_json::to_vec(profile).map_err(|e| {
        SeccompError::field(
            crate::FIELD_ROOT,
            format!("cannot serialise the profile for its cache key: {e}"),
        )
    })?;
    let lib = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        "pelagos-seccomp-cache-1",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        &lib,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(&json);
    Ok(hex(&h.finalize()))
}

/// Like [`compile`], but reuses a program stored under `cache_dir` by an earlier call.
/// A missing or damaged entry is compiled and stored; failing to store it is not fatal
/// and shows up as a warning on the result.
pub fn compile_cached(profile: &LinuxSeccomp, cache_dir: &Path) -> Result<CompiledFilter> {
    let path = cache_dir.join(format!("{}.bpf", cache_key(profile)?));
    if let Ok(bytes) = fs::read(&path) {
        if let Some(hit) = decode(&bytes) {
            return Ok(hit);
        }
    }
    let mut filter = compile(profile)?;
    if let Err(e) = store(&path, &filter) {
        filter.warnings.push(Warning {
            field: path.display().to_string(),
            message: format!("compiled program not cached: {e}"),
            quiet: false,
        });
    }
    Ok(filter)
}

fn encode(f: &CompiledFilter) -> Vec<u8> {
    let meta = Meta {
        flags: f.flags,
        listener_path: f.listener_path.clone(),
        listener_metadata: f.listener_metadata.clone(),
        warnings: f.warnings.clone(),
    };
    // Serialising plain data with string keys cannot fail.
    let meta = serde_json::to_vec(&meta).unwrap_or_default();
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + meta.len() + f.bpf.len() + DIGEST_LEN);
    out.extend_from_slice(MAGIC);
    push_chunk(&mut out, &meta);
    push_chunk(&mut out, &f.bpf);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

fn push_chunk(out: &mut Vec<u8>, chunk: &[u8]) {
    // Entries are a few KiB; a length over u32 would be a bug upstream, caught on decode.
    out.extend_from_slice(&u32::try_from(chunk.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(chunk);
}

/// Decodes and verifies an entry; `None` for anything damaged.
fn decode(bytes: &[u8]) -> Option<CompiledFilter> {
    let body_len = bytes.len().checked_sub(DIGEST_LEN)?;
    let (body, digest) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != digest {
        return None;
    }
    let rest = body.strip_prefix(MAGIC.as_slice())?;
    let (meta, rest) = take_chunk(rest)?;
    let (bpf, rest) = take_chunk(rest)?;
    if !rest.is_empty() || bpf.is_empty() || bpf.len() % SOCK_FILTER_SIZE != 0 {
        return None;
    }
    let meta: Meta = serde_json::from_slice(meta).ok()?;
    Some(CompiledFilter {
        bpf: bpf.to_vec(),
        flags: meta.flags,
        listener_path: meta.listener_path,
        listener_metadata: meta.listener_metadata,
        warnings: meta.warnings,
    })
}

fn take_chunk(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len_bytes: [u8; 4] = b.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    let rest = &b[4..];
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Writes an entry atomically: temp file in the same directory, fsync, rename, fsync dir.
fn store(path: &Path, f: &CompiledFilter) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| SeccompError::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .suffix(".bpf")
        .tempfile_in(dir)
        .map_err(|e| SeccompError::io(dir, e))?;
    tmp.write_all(&encode(f))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| SeccompError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| SeccompError::io(path, e.error))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SeccompError::io(dir, e))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_profile;
    use oci_spec::runtime::Capabilities;

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn miss_stores_then_hit_returns_the_same_program() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("seccomp");
        let p = default_profile(&Capabilities::new());
        let cold = compile_cached(&p, &cache).unwrap();
        let files = entries(&cache);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(
            files[0],
            cache.join(format!("{}.bpf", cache_key(&p).unwrap()))
        );
        let hit = compile_cached(&p, &cache).unwrap();
        assert_eq!(hit, cold);
        assert_eq!(hit, compile(&p).unwrap());
    }

    #[test]
    fn key_depends_on_the_profile() {
        let none = default_profile(&Capabilities::new());
        let admin = default_profile(&[oci_spec::runtime::Capability::SysAdmin].into());
        assert_ne!(cache_key(&none).unwrap(), cache_key(&admin).unwrap());
        assert_eq!(cache_key(&none).unwrap(), cache_key(&none.clone()).unwrap());
        assert_eq!(cache_key(&none).unwrap().len(), 64);
    }

    #[test]
    fn damaged_entries_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let p = default_profile(&Capabilities::new());
        let good = compile_cached(&p, dir.path()).unwrap();
        let path = entries(dir.path()).remove(0);
        let bytes = fs::read(&path).unwrap();
        let mut flipped = bytes.clone();
        flipped[MAGIC.len() + 20] ^= 0xff;
        let damaged: [(&str, Vec<u8>); 4] = [
            ("empty", Vec::new()),
            ("truncated", bytes[..bytes.len() / 2].to_vec()),
            ("flipped byte", flipped),
            (
                "garbage",
                b"not a cache entry at all, but long enough to split".to_vec(),
            ),
        ];
        for (what, content) in damaged {
            assert!(decode(&content).is_none(), "{what} decoded");
            fs::write(&path, &content).unwrap();
            assert_eq!(compile_cached(&p, dir.path()).unwrap(), good, "{what}");
            assert_eq!(fs::read(&path).unwrap(), bytes, "{what} not rewritten");
        }
        assert_eq!(entries(dir.path()), vec![path], "temp files left behind");
    }

    #[test]
    fn a_valid_digest_over_bad_lengths_is_rejected() {
        let mut body = MAGIC.to_vec();
        push_chunk(&mut body, b"{}");
        push_chunk(&mut body, &[0u8; 7]);
        let digest = Sha256::digest(&body);
        body.extend_from_slice(&digest);
        assert!(decode(&body).is_none());
    }

    #[test]
    fn unwritable_cache_is_a_warning_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where the cache directory should be cannot hold entries.
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let p = default_profile(&Capabilities::new());
        let f = compile_cached(&p, &blocker).unwrap();
        let last = f.warnings.last().unwrap();
        assert!(
            last.message.starts_with("compiled program not cached"),
            "{last}"
        );
    }
}
