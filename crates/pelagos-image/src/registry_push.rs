//! The write side of the distribution API: blob existence (HEAD), cross-repository
//! mounts, monolithic uploads streamed from a file, and manifest PUTs of exact bytes.

use crate::auth::Scopes;
use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::registry::Registry;
use crate::registry_error::{status_error, RegistryError, Subject};
use crate::transport::Endpoint;
use reqwest::{header, StatusCode};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Bytes per read of a blob being uploaded.
const UPLOAD_CHUNK: usize = 1 << 20;
/// Chunks read ahead of the network.
const UPLOAD_QUEUE: usize = 4;
/// How often upload progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// The outcome of a mount request.
#[derive(Debug, PartialEq, Eq)]
pub enum Mount {
    /// The registry linked the blob from the other repository.
    Mounted,
    /// It did not; it opened an upload session at this location instead.
    Upload(String),
}

impl Registry {
    fn push_endpoint(&self, image: &ImageRef) -> Endpoint {
        self.endpoint(&image.registry, false, false)
    }

    /// Does `image`'s repository hold blob `digest`?
    pub async fn blob_exists(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let ep = self.push_endpoint(image);
        let subject = Subject::blob(image.to_string(), what, digest);
        let url = ep.url(&format!("/v2/{}/blobs/{digest}", image.repository));
        let scopes = Scopes::push(&image.repository, None);
        let resp = self
            .transport
            .send(&ep, &scopes, &subject, |c| Ok(c.head(&url)))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(status_error(s, b"", &subject)),
        }
    }

    /// Start an upload to `image`'s repository, asking the registry to mount `digest`
    /// from repository `from` (same registry) instead when `from` is given.
    pub async fn start_upload(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
        from: Option<&str>,
    ) -> Result<Mount, RegistryError> {
        let ep = self.push_endpoint(image);
        let subject = Subject::blob(image.to_string(), what, digest);
        let mut url =
            reqwest::Url::parse(&ep.url(&format!("/v2/{}/blobs/uploads/", image.repository)))
                .map_err(|e| subject.other(e.to_string(), false))?;
        if let Some(src) = from {
            url.query_pairs_mut()
                .append_pair("mount", digest.as_str())
                .append_pair("from", src);
        }
        let scopes = Scopes::push(&image.repository, from);
        let resp = self
            .transport
            .send(&ep, &scopes, &subject, |c| {
                Ok(c.post(url.clone()).header(header::CONTENT_LENGTH, "0"))
            })
            .await?;
        let status = resp.status();
        if status == StatusCode::CREATED && from.is_some() {
            return Ok(Mount::Mounted);
        }
        if status != StatusCode::ACCEPTED {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(status_error(status, &body, &subject));
        }
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| subject.other("upload session without Location header".into(), false))?;
        let absolute = url
            .join(location)
            .map_err(|e| subject.other(format!("bad upload Location {location:?}: {e}"), false))?;
        Ok(Mount::Upload(absolute.to_string()))
    }

    /// Upload the blob in file `path` (`size` bytes, hashing to `digest`) to the
    /// session at `location` in one streamed PUT; `progress` gets byte counts.
    pub async fn upload_blob(
        &self,
        image: &ImageRef,
        what: &'static str,
        digest: &Digest,
        location: &str,
        file: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), RegistryError> {
        let ep = self.push_endpoint(image);
        let subject = Subject::blob(image.to_string(), what, digest);
        let mut url = reqwest::Url::parse(location)
            .map_err(|e| subject.other(format!("bad upload location: {e}"), false))?;
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let read_err = |source| RegistryError::Read {
            image: image.to_string(),
            path: file.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(file).map_err(read_err)?.len();
        let sent = Arc::new(AtomicU64::new(0));
        let scopes = Scopes::push(&image.repository, None);
        let request = self.transport.send(&ep, &scopes, &subject, |c| {
            sent.store(0, Ordering::Relaxed);
            let body = file_body(file, Arc::clone(&sent)).map_err(read_err)?;
            Ok(c.put(url.clone())
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, size.to_string())
                .body(body))
        });
        let resp = with_progress(request, &sent, progress).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(status_error(status, &body, &subject))
    }

    /// Put manifest `body` (of `media_type`) under `reference` (a tag or its digest)
    /// in `image`'s repository. Returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        image: &ImageRef,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let ep = self.push_endpoint(image);
        let subject = Subject::new(image.to_string());
        let url = ep.url(&format!("/v2/{}/manifests/{reference}", image.repository));
        let scopes = Scopes::push(&image.repository, None);
        let ours = Digest::of_bytes(&body);
        let resp = self
            .transport
            .send(&ep, &scopes, &subject, |c| {
                Ok(c.put(&url)
                    .header(header::CONTENT_TYPE, media_type)
                    .body(body.clone()))
            })
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(status_error(status, &body, &subject));
        }
        let theirs = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Digest::parse(v).ok());
        match theirs {
            Some(d) if d != ours => Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                what: "manifest",
                expected: ours.to_string(),
                actual: d.to_string(),
            }),
            _ => Ok(ours),
        }
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

/// A request body that streams `path` in chunks read on a blocking thread, so a
/// layer is never held in memory; `sent` counts the bytes handed to the client.
fn file_body(path: &Path, sent: Arc<AtomicU64>) -> std::io::Result<reqwest::Body> {
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
    let stream = futures_util::stream::unfold(rx, move |mut rx| {
        let sent = Arc::clone(&sent);
        async move {
            let item = rx.recv().await?;
            if let Ok(b) = &item {
                sent.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            Some((item, rx))
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}
