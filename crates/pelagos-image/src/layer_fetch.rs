//! Fetching one layer: the blob streams to a temp file and, at the same time, through
//! the decompressor into the unpacker, so download and unpack overlap. Both digests
//! (blob and diff_id) are checked before either result is committed.

use crate::digest::{Digest, HashingReader};
use crate::fsops::Writeback;
use crate::manifest::Compression;
use crate::pull::{Progress, PullError, PullEvent};
use crate::reference::ImageRef;
use crate::registry::{Registry, RegistryError};
use crate::store::{Store, TempDir, TempFile};
use crate::unpack::{self, UnpackError, UnpackOptions};
use bytes::Bytes;
use std::io::{self, Read, Write};

/// Tries per layer before giving up on a download that breaks off.
const ATTEMPTS: u32 = 3;
/// Pieces queued between download and unpack, and their largest size: at most 2 MiB
/// of a layer waits in memory.
const PIPE_CHUNKS: usize = 32;
const PIPE_PIECE: usize = 64 << 10;
/// How often writeback of the blob file is started.
const WRITEBACK_STEP: u64 = 8 << 20;

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

/// A downloaded blob and its unpacked tree, both verified, not yet committed.
pub(crate) struct Verified {
    pub blob: (TempFile, Digest),
    pub layer: (TempDir, Digest),
}

impl LayerJob<'_> {
    /// Download, unpack and verify, fetching again when the download breaks off.
    pub async fn run(&self) -> Result<Verified, PullError> {
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

    fn uerr(&self, error: UnpackError) -> PullError {
        PullError::Unpack {
            image: self.image.to_string(),
            layer: self.digest.clone(),
            error,
        }
    }

    /// Download into the blob file while the unpacker reads the same chunks.
    async fn download(
        &self,
        blob: &mut TempFile,
        tx: tokio::sync::mpsc::Sender<Bytes>,
    ) -> Result<(), PullError> {
        let mut reader = self
            .registry
            .blob_reader(self.image, "layer", self.digest)
            .await?;
        let mut tx = Some(tx);
        let mut wb = Writeback::new(WRITEBACK_STEP);
        while let Some(mut chunk) = reader.chunk().await? {
            let n = chunk.len() as u64;
            blob.file()
                .write_all(&chunk)
                .map_err(|error| RegistryError::Write {
                    image: self.image.to_string(),
                    what: "layer",
                    digest: self.digest.clone(),
                    error,
                })?;
            wb.wrote(&*blob.file(), n);
            // Small pieces keep the bytes queued for the unpacker bounded whatever
            // chunk sizes the connection delivers. When the unpacker has stopped (it
            // failed), the download still completes so that its own verdict (digest,
            // 404) wins when it fails too.
            while let (Some(t), false) = (&tx, chunk.is_empty()) {
                let piece = chunk.split_to(chunk.len().min(PIPE_PIECE));
                if t.send(piece).await.is_err() {
                    tx = None;
                }
            }
            self.progress.event(PullEvent::LayerBytes {
                digest: self.digest,
                bytes: n,
            });
        }
        wb.flush(&*blob.file());
        Ok(())
    }

    async fn attempt(&self) -> Result<Verified, PullError> {
        let mut blob = self.store.temp_file("layer-blob")?;
        let dir = self.store.temp_dir("layer")?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(PIPE_CHUNKS);
        let comp = self.comp;
        // The unpacker owns the temp dir, so a cancelled pull still cleans it up.
        let unpacker = tokio::task::spawn_blocking(move || unpack_stream(rx, comp, dir));
        let downloaded = self.download(&mut blob, tx).await;
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
        Ok(Verified {
            blob: (blob, self.digest.clone()),
            layer: (dir, self.diff_id.clone()),
        })
    }
}

/// Decompress and unpack what arrives on `rx`; returns the diff_id of the stream.
fn unpack_stream(
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    comp: Compression,
    dir: TempDir,
) -> Result<(Digest, TempDir), UnpackError> {
    let input = io::BufReader::with_capacity(
        256 * 1024,
        ChanReader {
            rx,
            buf: Bytes::new(),
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

/// Reads the chunks the download sends; end of stream when the sender is gone.
struct ChanReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    buf: Bytes,
}

impl Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.buf = chunk,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}
