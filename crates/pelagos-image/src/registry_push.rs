//! The write side of the distribution API, through oci-client: blob existence (HEAD),
//! cross-repository mounts, monolithic uploads streamed from a file, and manifest PUTs
//! of exact bytes.

use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::registry::Registry;
use crate::registry_error::{RegistryError, Subject};
use oci_client::errors::OciDistributionError;
use oci_client::{Reference, RegistryOperation};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Bytes per read of a blob being uploaded.
const UPLOAD_CHUNK: usize = 1 << 20;
/// Chunks read ahead of the network.
const UPLOAD_QUEUE: usize = 4;
/// Access for everything but the blob check.
const PUSH: RegistryOperation = RegistryOperation::Push;
/// How often upload progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

impl Registry {
    /// Run `call` against `image`'s registry with access for `op` to its repository.
    async fn push_call<T>(
        &self,
        image: &ImageRef,
        reference: &str,
        op: RegistryOperation,
        subject: &Subject,
        call: impl AsyncFn(&oci_client::Client, &Reference) -> Result<T, OciDistributionError>,
    ) -> Result<T, RegistryError> {
        let ep = Self::endpoint(&image.registry);
        let r = ep.reference(&image.repository, reference);
        self.transport
            .call(&ep, &r, op, subject, async |c, _| call(c, &r).await)
            .await
    }

    /// Does `image`'s repository hold blob `digest`? oci-client sends the HEAD with a
    /// pull token, so that is the access asked for.
    pub async fn blob_exists(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let subject = Subject::blob(image.to_string(), what, digest);
        let op = RegistryOperation::Pull;
        self.push_call(image, digest.as_str(), op, &subject, async |c, r| {
            c.blob_exists(r, digest.as_str()).await
        })
        .await
    }

    /// Ask the registry to link blob `digest` into `image`'s repository from
    /// repository `from` of the same registry. `false` when it did not (it lacks the
    /// blob there, or the access granted does not cover `from`): upload it then.
    pub async fn mount_blob(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
        from: &str,
    ) -> bool {
        let subject = Subject::blob(image.to_string(), what, digest);
        let source = Self::endpoint(&image.registry).reference(from, digest.as_str());
        let mounted = self
            .push_call(image, digest.as_str(), PUSH, &subject, async |c, r| {
                c.mount_blob(r, &source, digest.as_str()).await
            })
            .await;
        if let Err(e) = &mounted {
            tracing::debug!("mount of {digest} from {from}: {e}; uploading it");
        }
        mounted.is_ok()
    }

    /// Upload the blob in file `path` (hashing to `digest`) to `image`'s repository in
    /// one streamed PUT; `progress` gets byte counts.
    pub async fn upload_blob(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
        file: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), RegistryError> {
        let subject = Subject::blob(image.to_string(), what, digest);
        let read_err = |error| RegistryError::Read {
            image: image.to_string(),
            path: file.to_path_buf(),
            error,
        };
        let size = std::fs::metadata(file).map_err(read_err)?.len();
        let sent = Arc::new(AtomicU64::new(0));
        let request = self.push_call(image, digest.as_str(), PUSH, &subject, async |c, r| {
            sent.store(0, Ordering::Relaxed);
            let body = file_stream(file, Arc::clone(&sent))?;
            c.push_blob_stream(r, body, digest.as_str(), Some(size))
                .await
        });
        with_progress(request, &sent, progress).await.map(|_| ())
    }

    /// Put manifest `body` (of `media_type`) under `reference` (a tag or its digest)
    /// in `image`'s repository. Returns its digest.
    pub async fn put_manifest(
        &self,
        image: &ImageRef,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let subject = Subject::new(image.to_string());
        let ours = Digest::of_bytes(&body);
        let content_type = reqwest::header::HeaderValue::from_str(media_type)
            .map_err(|e| subject.other(format!("media type {media_type:?}: {e}"), false))?;
        let body = bytes::Bytes::from(body);
        self.push_call(image, reference, PUSH, &subject, async |c, r| {
            // Answered without a Location, oci-client cuts the tag off the manifest URL
            // and panics when the URL (by digest) does not end with it: a digest
            // reference carries its digest as its tag too.
            let r = match r.digest() {
                Some(d) => Reference::with_tag_and_digest(
                    r.registry().to_string(),
                    r.repository().to_string(),
                    d.to_string(),
                    d.to_string(),
                ),
                None => r.clone(),
            };
            c.push_manifest_raw(&r, body.clone(), content_type.clone())
                .await
        })
        .await?;
        Ok(ours)
    }
}

/// Await `fut`, reporting the growth of `sent` to `progress` as it goes.
async fn with_progress<T>(
    fut: impl std::future::Future<Output = T>,
    sent: &AtomicU64,
    progress: &(dyn Fn(u64) + Sync),
) -> T {
    tokio::pin!(fut);
    let mut reported = 0u64;
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tokio::select! {
            r = &mut fut => {
                let now = sent.load(Ordering::Relaxed);
                if now > reported {
                    progress(now - reported);
                }
                return r;
            }
            _ = tick.tick() => {
                let now = sent.load(Ordering::Relaxed);
                if now > reported {
                    progress(now - reported);
                    reported = now;
                }
            }
        }
    }
}

/// A stream of the bytes of `path`, read in chunks on a blocking thread so that a
/// layer is never held in memory; `sent` counts the bytes handed to the client.
fn file_stream(
    path: &Path,
    sent: Arc<AtomicU64>,
) -> Result<
    impl futures_util::Stream<Item = Result<bytes::Bytes, OciDistributionError>> + Send + 'static,
    OciDistributionError,
> {
    let mut file = std::fs::File::open(path)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(UPLOAD_QUEUE);
    tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(buf)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    });
    Ok(futures_util::stream::unfold(rx, move |mut rx| {
        let sent = Arc::clone(&sent);
        async move {
            let item = rx.recv().await?;
            if let Ok(b) = &item {
                sent.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            Some((item.map(bytes::Bytes::from).map_err(Into::into), rx))
        }
    }))
}
