//! A misbehaving registry on 127.0.0.1 (a few lines of HTTP/1.1 over std's TcpListener):
//! 429/502/503 answers are retried with exponential backoff, 404 and 401 are never
//! retried, read timeouts apply, and a layer that keeps failing gives up with an error
//! naming it. Timings use wide margins.

use pelagos_image::pull::NoProgress;
use pelagos_image::{
    Credentials, Digest, ImageRef, PullOptions, Registry, RegistryOptions, RetryPolicy, Store,
    Timeouts,
};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// An answer other than the content.
struct Reply {
    status: &'static str,
    headers: Vec<String>,
    /// Hold the connection this long before answering.
    stall: Duration,
}

impl Reply {
    fn status(status: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            stall: Duration::ZERO,
        }
    }

    fn header(mut self, h: impl Into<String>) -> Self {
        self.headers.push(h.into());
        self
    }
}

/// Decides, per request kind (`manifest`, `layer`, `config`) and per count of earlier
/// requests of that kind, whether to answer something else than the content.
type Script = dyn Fn(&str, usize) -> Option<Reply> + Send + Sync;

struct Fake {
    addr: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Fake {
    fn hits(&self, kind: &str) -> usize {
        self.hits.lock().unwrap().get(kind).copied().unwrap_or(0)
    }
}

fn read_request(r: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    Some(line.split_whitespace().nth(1).unwrap_or("").to_string())
}

fn serve(img: Arc<Image>, script: Arc<Script>) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let h2 = Arc::clone(&hits);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { return };
            let (img, script, hits) = (Arc::clone(&img), Arc::clone(&script), Arc::clone(&h2));
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                while let Some(path) = read_request(&mut r) {
                    let (kind, ctype, body) = if path == "/v2/" {
                        ("ping", "application/json", b"{}".to_vec())
                    } else if path.contains("/manifests/") {
                        (
                            "manifest",
                            "application/vnd.oci.image.manifest.v1+json",
                            img.manifest.clone(),
                        )
                    } else if path.ends_with(img.layer_digest.as_str()) {
                        ("layer", "application/octet-stream", img.layer.clone())
                    } else if path.contains("/blobs/") {
                        ("config", "application/octet-stream", img.config.clone())
                    } else {
                        ("other", "text/plain", b"no".to_vec())
                    };
                    let n = {
                        let mut h = hits.lock().unwrap();
                        let e = h.entry(kind.to_string()).or_default();
                        *e += 1;
                        *e - 1
                    };
                    let (status, headers, body) = match script(kind, n) {
                        Some(rep) => {
                            std::thread::sleep(rep.stall);
                            (rep.status, rep.headers, b"try later".to_vec())
                        }
                        None => ("200 OK", Vec::new(), body),
                    };
                    let mut head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
                        body.len()
                    );
                    for h in headers {
                        head.push_str(&h);
                        head.push_str("\r\n");
                    }
                    head.push_str("\r\n");
                    if s.write_all(head.as_bytes())
                        .and_then(|()| s.write_all(&body))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Fake { addr, hits }
}

fn opts(addr: &str) -> RegistryOptions {
    RegistryOptions {
        insecure: vec![addr.to_string()],
        retry: RetryPolicy {
            attempts: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(10),
        },
        ..Default::default()
    }
}

fn pull_with(
    o: &RegistryOptions,
    addr: &str,
    store: &Store,
) -> Result<pelagos_image::Pulled, String> {
    let reg = Registry::new(o).map_err(|e| e.to_string())?;
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

/// Run a pull against a fake following `script`; returns the fake, the result and
/// how long the pull took.
fn run(
    script: impl Fn(&str, usize) -> Option<Reply> + Send + Sync + 'static,
    tune: impl FnOnce(&mut RegistryOptions),
) -> (
    Fake,
    Result<pelagos_image::Pulled, String>,
    Duration,
    tempfile::TempDir,
) {
    let fake = serve(Arc::new(image()), Arc::new(script));
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let mut o = opts(&fake.addr);
    tune(&mut o);
    let start = Instant::now();
    let r = pull_with(&o, &fake.addr, &store);
    (fake, r, start.elapsed(), t)
}

fn nothing_left(t: &tempfile::TempDir) {
    let store = Store::open(t.path()).unwrap();
    assert!(store.images().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn transient_layer_failure_is_retried() {
    let (fake, r, _, t) = run(
        |k, n| (k == "layer" && n == 0).then(|| Reply::status("503 Service Unavailable")),
        |_| {},
    );
    let p = r.expect("pull succeeds after one retry");
    assert_eq!(fake.hits("layer"), 2);
    let store = Store::open(t.path()).unwrap();
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
    let img = image();
    let (fake, r, _, t) = run(
        |k, _| (k == "layer").then(|| Reply::status("503 Service Unavailable")),
        |_| {},
    );
    let err = r.unwrap_err();
    assert_eq!(fake.hits("layer"), 3, "three attempts");
    assert!(
        err.contains(img.layer_digest.as_str())
            && err.contains("flaky")
            && err.contains("gave up after 3 attempts")
            && err.contains("503"),
        "{err}"
    );
    nothing_left(&t);
}

#[test]
fn too_many_requests_backs_off_and_retries() {
    let (fake, r, took, _t) = run(
        |k, n| (k == "manifest" && n < 2).then(|| Reply::status("429 Too Many Requests")),
        |o| o.retry.initial_delay = Duration::from_millis(300),
    );
    r.expect("pull succeeds after two retries");
    assert_eq!(fake.hits("manifest"), 3);
    // 300 ms, then 600 ms.
    assert!(took >= Duration::from_millis(850), "waited only {took:?}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn not_found_is_not_retried() {
    let img = image();
    let (fake, r, _, t) = run(
        |k, _| (k == "layer").then(|| Reply::status("404 Not Found")),
        |_| {},
    );
    let err = r.unwrap_err();
    assert_eq!(fake.hits("layer"), 1);
    assert!(
        err.contains("blob unknown") && err.contains(img.layer_digest.as_str()),
        "{err}"
    );
    nothing_left(&t);
}

#[test]
fn unauthorized_is_not_retried() {
    let challenge = r#"WWW-Authenticate: Basic realm="fake""#;
    let (fake, r, _, t) = run(
        move |k, _| (k == "manifest").then(|| Reply::status("401 Unauthorized").header(challenge)),
        |_| {},
    );
    let err = r.unwrap_err();
    assert_eq!(
        fake.hits("manifest"),
        1,
        "no credentials: nothing to answer with"
    );
    assert!(
        err.contains("unauthorized") && err.contains("pelagos login"),
        "{err}"
    );
    nothing_left(&t);
    // With credentials the refusal is final too, and says the credentials failed.
    let (fake, r, _, _t) = run(
        move |k, _| (k == "manifest").then(|| Reply::status("401 Unauthorized").header(challenge)),
        |o| {
            let addr = o.insecure[0].clone();
            o.credentials.insert(
                addr,
                Credentials {
                    username: "u".into(),
                    password: "wrong".into(),
                },
            );
        },
    );
    let err = r.unwrap_err();
    assert_eq!(fake.hits("manifest"), 1);
    assert!(err.contains("authentication failed"), "{err}");
}

#[test]
fn read_timeout_applies_and_is_retried() {
    let (fake, r, took, _t) = run(
        |k, _| {
            (k == "manifest").then(|| Reply {
                stall: Duration::from_secs(4),
                ..Reply::status("200 OK")
            })
        },
        |o| {
            o.timeouts = Timeouts {
                connect: Duration::from_secs(5),
                read: Duration::from_millis(500),
            };
            o.retry.attempts = 2;
        },
    );
    let err = r.unwrap_err();
    assert_eq!(fake.hits("manifest"), 2);
    assert!(err.contains("gave up after 2 attempts"), "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "took {took:?}"
    );
}

#[test]
fn bad_gateway_is_retried_too() {
    let (fake, r, _, _t) = run(
        |k, n| (k == "config" && n < 2).then(|| Reply::status("502 Bad Gateway")),
        |_| {},
    );
    r.expect("two 502s then success within three attempts");
    assert_eq!(fake.hits("config"), 3);
}
