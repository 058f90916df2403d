//! A flaky registry on 127.0.0.1 (a few lines of HTTP/1.1 over std's TcpListener):
//! a layer GET that fails with 503 once is retried and the pull completes; a layer
//! that keeps failing gives up with an error naming the layer.

use pelagos_image::pull::NoProgress;
use pelagos_image::{Digest, ImageRef, PullOptions, Registry, RegistryOptions, Store};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Image {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
    layer_digest: Digest,
}

fn image() -> Image {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("hello.txt").unwrap();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append(&h, &b"hello"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let diff_id = Digest::of_bytes(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let layer = gz.finish().unwrap();
    let layer_digest = Digest::of_bytes(&layer);
    let config = format!(r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#).into_bytes();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
        Digest::of_bytes(&config),
        config.len(),
        layer.len()
    )
    .into_bytes();
    Image {
        manifest,
        config,
        layer,
        layer_digest,
    }
}

/// Serve `img`; the first `failures` layer GETs answer 503. Returns the address.
fn serve(img: Arc<Image>, failures: usize, hits: Arc<AtomicUsize>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { return };
            let img = Arc::clone(&img);
            let hits = Arc::clone(&hits);
            std::thread::spawn(move || loop {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, ctype, body): (&str, &str, Vec<u8>) = if path == "/v2/" {
                    ("200 OK", "application/json", b"{}".to_vec())
                } else if path.contains("/manifests/") {
                    (
                        "200 OK",
                        "application/vnd.oci.image.manifest.v1+json",
                        img.manifest.clone(),
                    )
                } else if path.ends_with(img.layer_digest.as_str()) {
                    if hits.fetch_add(1, Ordering::SeqCst) < failures {
                        ("503 Service Unavailable", "text/plain", b"busy".to_vec())
                    } else {
                        ("200 OK", "application/octet-stream", img.layer.clone())
                    }
                } else if path.contains("/blobs/") {
                    ("200 OK", "application/octet-stream", img.config.clone())
                } else {
                    ("404 Not Found", "text/plain", b"no".to_vec())
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                if s.write_all(head.as_bytes())
                    .and_then(|()| s.write_all(&body))
                    .is_err()
                {
                    return;
                }
            });
        }
    });
    addr
}

fn pull(addr: &str, store: &Store) -> Result<pelagos_image::Pulled, String> {
    let reg = Registry::new(&RegistryOptions {
        insecure: vec![addr.to_string()],
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    let r = ImageRef::parse(&format!("{addr}/flaky:latest")).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(pelagos_image::pull(
        &reg,
        store,
        &r,
        &PullOptions::default(),
        &NoProgress,
    ))
    .map_err(|e| e.to_string())
}

#[test]
fn transient_layer_failure_is_retried() {
    let img = Arc::new(image());
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = serve(Arc::clone(&img), 1, Arc::clone(&hits));
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let p = pull(&addr, &store).expect("pull succeeds after one retry");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        std::fs::read(
            store
                .layer_path(&p.image.layers[0].diff_id)
                .join("hello.txt")
        )
        .unwrap(),
        b"hello"
    );
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn persistent_layer_failure_gives_up_naming_the_layer() {
    let img = Arc::new(image());
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = serve(Arc::clone(&img), usize::MAX, Arc::clone(&hits));
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let err = pull(&addr, &store).unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 3, "three attempts");
    assert!(
        err.contains(img.layer_digest.as_str()) && err.contains("flaky"),
        "{err}"
    );
    assert!(store.images().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
}
