//! Fetching one layer: the blob streams to a temp file and, at the same time, through
//! the decompressor into the unpacker, so download and unpack overlap. Both digests
//! (blob and diff_id) are checked before either result is committed.

use crate::digest::{Digest, HashingReader};
use crate::manifest::Compression;
use crate::pull::{Progress, PullError, PullEvent};
use crate::reference::ImageRef;
use crate::registry::Registry;
use crate::store::{Store, TempDir};
use crate::unpack::{self, UnpackError, UnpackOptions};
use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Tries per layer before giving up on a transient error.
const ATTEMPTS: u32 = 3;
/// Chunks buffered between download and unpack.
const PIPE_CHUNKS: usize = 64;

/// One layer to fetch.
pub(crate) struct LayerJob<'a> {
    pub registry: &'a Registry,
    pub store: &'a Store,
    pub image: &'a ImageRef,
    pub progress: &'a dyn Progress,
    pub digest: &'a Digest,
    pub diff_id: &'a Digest,
    pub comp: Compression,
}

impl LayerJob<'_> {
    /// Download, unpack, verify and commit, retrying transient network failures.
    pub async fn run(&self) -> Result<(), PullError> {
        let mut attempt = 1;
        loop {
            match self.attempt().await {
                Err(PullError::Registry(e)) if e.is_transient() && attempt < ATTEMPTS => {
                    self.progress.event(PullEvent::Warning(format!(
                        "{e}; retrying (attempt {} of {ATTEMPTS})",
                        attempt + 1
                    )));
                    tokio::time::sleep(std::time::Duration::from_millis(500 << attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn uerr(&self, source: UnpackError) -> PullError {
        PullError::Unpack {
            image: self.image.to_string(),
            layer: self.digest.clone(),
            source,
        }
    }

    async fn attempt(&self) -> Result<(), PullError> {
        let mut blob = self.store.temp_file("layer-blob")?;
        let dir = self.store.temp_dir("layer")?;
        let (tx, rx) = sync_channel::<Vec<u8>>(PIPE_CHUNKS);
        let comp = self.comp;
        // The unpacker owns the temp dir, so a cancelled pull still cleans it up.
        let unpacker = tokio::task::spawn_blocking(move || unpack_stream(rx, comp, dir));
        let progress = self.progress;
        let d2 = self.digest.clone();
        let mut tee = Tee {
            file: blob.file(),
            tx: Some(tx),
        };
        let downloaded = self
            .registry
            .fetch_blob(self.image, "layer", self.digest, &mut tee, &mut move |n| {
                progress.event(PullEvent::LayerBytes {
                    digest: &d2,
                    bytes: n,
                })
            })
            .await;
        drop(tee);
        let unpacked = unpacker.await;
        downloaded?;
        self.progress.event(PullEvent::LayerDownloaded {
            digest: self.digest,
        });
        let (actual, dir) = match unpacked {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(self.uerr(e)),
            Err(e) => {
                return Err(PullError::Task {
                    image: self.image.to_string(),
                    layer: self.digest.clone(),
                    detail: e.to_string(),
                })
            }
        };
        if &actual != self.diff_id {
            return Err(PullError::DiffId {
                image: self.image.to_string(),
                layer: self.digest.clone(),
                expected: self.diff_id.clone(),
                actual,
            });
        }
        self.store.commit_blob(blob, self.digest)?;
        self.store.commit_layer(dir, self.diff_id)?;
        Ok(())
    }
}

/// Decompress and unpack what arrives on `rx`; returns the diff_id of the stream.
fn unpack_stream(
    rx: Receiver<Vec<u8>>,
    comp: Compression,
    dir: TempDir,
) -> Result<(Digest, TempDir), UnpackError> {
    let input = io::BufReader::with_capacity(
        256 * 1024,
        ChanReader {
            rx,
            buf: Vec::new(),
            pos: 0,
        },
    );
    let reader = decompress(input, comp).map_err(UnpackError::Archive)?;
    let diff_id = unpack_hashed(reader, dir.path())?;
    Ok((diff_id, dir))
}

/// `input` decompressed as `comp` says.
pub(crate) fn decompress<'a, R: io::BufRead + 'a>(
    input: R,
    comp: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match comp {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
    })
}

/// Unpack the layer tar `reader` yields into `dir`; returns its diff_id.
pub(crate) fn unpack_hashed(
    reader: impl Read,
    dir: &std::path::Path,
) -> Result<Digest, UnpackError> {
    let mut hashing = HashingReader::new(reader);
    unpack::unpack_layer(&mut hashing, dir, &UnpackOptions::default())?;
    // The tar reader may stop before trailing padding; the diff_id covers all of it.
    io::copy(&mut hashing, &mut io::sink()).map_err(UnpackError::Archive)?;
    Ok(hashing.finish().0)
}

/// Reads the chunks a [`Tee`] sends; end of stream when the sender is gone.
struct ChanReader {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes the download to the blob file and forwards it to the unpacker. When the
/// unpacker has stopped (it failed), the download still completes so its own verdict
/// (digest, 404) is the one reported when it fails too.
struct Tee<'a> {
    file: &'a mut std::fs::File,
    tx: Option<SyncSender<Vec<u8>>>,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_all(buf)?;
        if let Some(tx) = &self.tx {
            if tx.send(buf.to_vec()).is_err() {
                self.tx = None;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
