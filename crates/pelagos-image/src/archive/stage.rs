//! Reading an archive stream into staged temp files in the store, hashing each entry
//! on the way. Names are only looked up, never used as paths, so nothing is written
//! where an entry's name points; symlinks and hard links between entries (older
//! docker-archives link duplicate layers) are resolved inside the archive.

use super::load::LoadError;
use crate::digest::{Digest, HashingWriter};
use crate::store::{Store, TempFile};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};

/// Entries beyond this many make the archive unacceptable.
const MAX_ENTRIES: usize = 100_000;
/// Link hops followed when resolving a name.
const MAX_HOPS: usize = 16;

/// A regular file of the archive, staged in the store's `tmp/`.
pub struct StagedFile {
    /// The temp file (removed on drop unless committed).
    pub tmp: TempFile,
    /// Digest of its content.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
}

/// Every file and link of an archive.
#[derive(Default)]
pub struct Staged {
    files: HashMap<String, StagedFile>,
    links: HashMap<String, String>,
}

impl Staged {
    /// Resolve a name through links to the staged file's name.
    pub fn resolve(&self, name: &str) -> Option<String> {
        let mut n = normalize(name)?;
        for _ in 0..MAX_HOPS {
            if self.files.contains_key(&n) {
                return Some(n);
            }
            n = self.links.get(&n)?.clone();
        }
        None
    }

    /// The staged file behind `name`, if any.
    pub fn get(&self, name: &str) -> Option<&StagedFile> {
        self.files.get(&self.resolve(name)?)
    }

    /// Take the staged file behind `name` out (to commit it).
    pub fn take(&mut self, name: &str) -> Option<StagedFile> {
        let n = self.resolve(name)?;
        self.files.remove(&n)
    }
}

/// `a/./b/` -> `a/b`; `None` when the name has `..` or is empty.
fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Where a symlink in `entry` pointing at `target` leads, as an archive name.
fn link_target(entry: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return normalize(target);
    }
    let mut parts: Vec<&str> = entry.split('/').collect();
    parts.pop();
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    normalize(&parts.join("/"))
}

/// The decompressed archive stream: plain, gzip or zstd tar, told apart by magic bytes.
pub fn open_input<'a, R: Read + 'a>(
    input: R,
    source: &str,
) -> Result<Box<dyn Read + 'a>, LoadError> {
    let mut br = BufReader::with_capacity(1 << 20, input);
    let head = br.fill_buf().map_err(|e| LoadError::read(source, e))?;
    let comp = match head {
        [0x1f, 0x8b, ..] => "gzip",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => "zstd",
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => "xz",
        [b'B', b'Z', b'h', ..] => "bzip2",
        [] => return Err(LoadError::not_archive(source, "the input is empty")),
        _ => "",
    };
    Ok(match comp {
        "gzip" => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        "zstd" => Box::new(
            zstd::stream::read::Decoder::with_buffer(br).map_err(|e| LoadError::read(source, e))?,
        ),
        "" => Box::new(br),
        other => {
            return Err(LoadError::not_archive(
                source,
                &format!(
                "it is {other}-compressed; decompress it first (gzip and zstd are read directly)"
            ),
            ))
        }
    })
}

/// Stage every regular file of the tar `input`; `on_entry` sees each name and size.
pub fn stage(
    store: &Store,
    input: impl Read,
    source: &str,
    on_entry: &mut dyn FnMut(&str, u64),
) -> Result<Staged, LoadError> {
    let mut staged = Staged::default();
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| LoadError::read(source, e))?;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(LoadError::not_archive(
                source,
                &format!("it has more than {MAX_ENTRIES} entries"),
            ));
        }
        let mut entry = entry.map_err(|e| {
            if count == 0 && e.kind() == io::ErrorKind::Other {
                // The tar reader's message quotes the garbage it found.
                LoadError::not_archive(source, "it is no tar stream (plain, gzip or zstd)")
            } else {
                LoadError::read(source, e)
            }
        })?;
        let raw = entry
            .path()
            .map_err(|e| LoadError::read(source, e))?
            .to_string_lossy()
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let name = normalize(&raw).ok_or_else(|| LoadError::BadEntry {
            source_name: source.to_string(),
            entry: raw.clone(),
        })?;
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|e| LoadError::read(source, e))?
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            let resolved = if kind.is_symlink() {
                link_target(&name, &target)
            } else {
                normalize(&target)
            };
            if let Some(t) = resolved {
                staged.links.insert(name.clone(), t);
            }
            staged.files.remove(&name);
            continue;
        }
        if !kind.is_file() && kind != tar::EntryType::Continuous {
            continue;
        }
        let expected = entry.size();
        on_entry(&name, expected);
        let file = stage_entry(store, &mut entry, source, &name, expected)?;
        staged.links.remove(&name);
        staged.files.insert(name, file);
    }
    Ok(staged)
}

fn stage_entry(
    store: &Store,
    entry: &mut impl Read,
    source: &str,
    name: &str,
    expected: u64,
) -> Result<StagedFile, LoadError> {
    let mut tmp = store.temp_file("load")?;
    let mut w = HashingWriter::new(io::BufWriter::with_capacity(1 << 20, tmp.file()));
    io::copy(entry, &mut w).map_err(|e| LoadError::read(source, e))?;
    let (buf, digest, size) = w.finish();
    buf.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.flush())
        .map_err(|e| LoadError::read(source, e))?;
    if size != expected {
        return Err(LoadError::Truncated {
            source_name: source.to_string(),
            entry: name.to_string(),
            expected,
            actual: size,
        });
    }
    Ok(StagedFile { tmp, digest, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_links() {
        assert_eq!(normalize("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalize("a/../b"), None);
        assert_eq!(normalize("./"), None);
        assert_eq!(
            link_target("abc/layer.tar", "../def.tar").as_deref(),
            Some("def.tar")
        );
        assert_eq!(link_target("a/l", "/x/y").as_deref(), Some("x/y"));
        assert_eq!(link_target("l", "../../etc/passwd"), None);
    }
}
