//! A misbehaving registry on 127.0.0.1 (a few lines of HTTP/1.1 over std's TcpListener):
//! 429/502/503 answers are retried with exponential backoff, 404 and 401 are never
//! retried (a rejected token is renewed once), read timeouts apply, a layer that keeps
//! failing gives up with an error naming it, and odd answers (a token that cannot go in
//! a header, a manifest PUT without Location) are errors or accepted, never a panic.
//! Timings use wide margins.

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
    /// Header lines; `{addr}` stands for the fake's address.
    headers: Vec<String>,
    /// Hold the connection this long before answering.
    stall: Duration,
    /// The body (`try later` unless set).
    body: Option<Vec<u8>>,
    /// Announce this many bytes more than the body has, then hang up.
    short_by: usize,
}

impl Reply {
    fn status(status: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            stall: Duration::ZERO,
            body: None,
            short_by: 0,
        }
    }

    fn header(mut self, h: impl Into<String>) -> Self {
        self.headers.push(h.into());
        self
    }

    fn body(mut self, b: &str) -> Self {
        self.body = Some(b.as_bytes().to_vec());
        self
    }
}

/// Decides, per request kind (`ping`, `token` (pull), `token push`, `tags`, `upload`,
/// `manifest`, `layer`, `config`,
/// prefixed with the method when it is neither GET nor HEAD: `PUT manifest`) and per
/// count of earlier requests of that kind, whether to answer something else than the
/// content.
type Script = dyn Fn(&str, usize) -> Option<Reply> + Send + Sync;

struct Fake {
    addr: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// The Authorization header of each request, by kind, in order.
    auths: Arc<Mutex<HashMap<String, Vec<Option<String>>>>>,
}

impl Fake {
    fn hits(&self, kind: &str) -> usize {
        self.hits.lock().unwrap().get(kind).copied().unwrap_or(0)
    }

    fn auths(&self, kind: &str) -> Vec<Option<String>> {
        self.auths
            .lock()
            .unwrap()
            .get(kind)
            .cloned()
            .unwrap_or_default()
    }
}

/// A request as the fake saw it (its body read and dropped).
struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
}

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("").to_string();
    let (mut authorization, mut length) = (None, 0u64);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(value),
                "content-length" => length = value.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    std::io::copy(
        &mut std::io::Read::take(&mut *r, length),
        &mut std::io::sink(),
    )
    .ok()?;
    Some(Request {
        method,
        path,
        authorization,
    })
}

fn serve(img: Arc<Image>, script: Arc<Script>) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let auths: Arc<Mutex<HashMap<String, Vec<Option<String>>>>> = Arc::default();
    let (h2, a2, addr2) = (Arc::clone(&hits), Arc::clone(&auths), addr.clone());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { return };
            let (img, script, hits) = (Arc::clone(&img), Arc::clone(&script), Arc::clone(&h2));
            let (auths, addr) = (Arc::clone(&a2), addr2.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                while let Some(req) = read_request(&mut r) {
                    let path = req.path;
                    let (kind, ctype, body) = if path == "/v2/" {
                        ("ping", "application/json", b"{}".to_vec())
                    } else if path.starts_with("/token") && path.contains("%2Cpush") {
                        (
                            "token push",
                            "application/json",
                            br#"{"token":"t"}"#.to_vec(),
                        )
                    } else if path.starts_with("/token") {
                        ("token", "application/json", br#"{"token":"t"}"#.to_vec())
                    } else if path.contains("/blobs/uploads/") {
                        ("upload", "text/plain", Vec::new())
                    } else if path.contains("/tags/list") {
                        (
                            "tags",
                            "application/json",
                            br#"{"name":"x","tags":[]}"#.to_vec(),
                        )
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
                    let kind = match req.method.as_str() {
                        "GET" | "HEAD" => kind.to_string(),
                        m => format!("{m} {kind}"),
                    };
                    let n = {
                        let mut h = hits.lock().unwrap();
                        let e = h.entry(kind.clone()).or_default();
                        *e += 1;
                        *e - 1
                    };
                    auths
                        .lock()
                        .unwrap()
                        .entry(kind.clone())
                        .or_default()
                        .push(req.authorization);
                    let (status, headers, body, short_by) = match script(&kind, n) {
                        Some(rep) => {
                            std::thread::sleep(rep.stall);
                            let body = rep.body.unwrap_or_else(|| b"try later".to_vec());
                            (rep.status, rep.headers, body, rep.short_by)
                        }
                        None => ("200 OK", Vec::new(), body, 0),
                    };
                    let mut head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
                        body.len() + short_by
                    );
                    for h in headers {
                        head.push_str(&h.replace("{addr}", &addr));
                        head.push_str("\r\n");
                    }
                    head.push_str("\r\n");
                    let body = if req.method == "HEAD" { &[][..] } else { &body };
                    if s.write_all(head.as_bytes())
                        .and_then(|()| s.write_all(body))
                        .is_err()
                        || short_by > 0
                    {
                        return;
                    }
                }
            });
        }
    });
    Fake { addr, hits, auths }
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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn pull_with(
    o: &RegistryOptions,
    addr: &str,
    store: &Store,
) -> Result<pelagos_image::Pulled, String> {
    let reg = Registry::new(o).map_err(|e| e.to_string())?;
    pull_from(&reg, addr, store)
}

/// Pull `flaky:latest` from the fake at `addr` through `reg`.
fn pull_from(reg: &Registry, addr: &str, store: &Store) -> Result<pelagos_image::Pulled, String> {
    let r = ImageRef::parse(&format!("{addr}/flaky:latest")).map_err(|e| e.to_string())?;
    rt().block_on(pelagos_image::pull(
        reg,
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

/// `text` holds every one of `parts`.
fn says(text: &str, parts: &[&str]) -> bool {
    parts.iter().all(|p| text.contains(p))
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
fn retries_are_announced_as_they_happen() {
    let img = image();
    let fake = serve(
        Arc::new(image()),
        Arc::new(|k: &str, n| {
            (k == "layer" && n == 0).then(|| Reply::status("503 Service Unavailable"))
        }),
    );
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let mut reg = Registry::new(&opts(&fake.addr)).unwrap();
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    reg.on_retry(move |n| sink.lock().unwrap().push(n.to_string()));
    pull_from(&reg, &fake.addr, &store).expect("pull succeeds after one retry");
    let notices = notices.lock().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0];
    let digest = img.layer_digest.as_str();
    assert!(
        says(n, &[digest, "503", "retrying in", "attempt 2 of 3"]),
        "{n}"
    );
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
    let digest = img.layer_digest.as_str();
    assert!(
        says(&err, &[digest, "flaky", "gave up after 3 attempts", "503"]),
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
fn a_layer_that_breaks_off_is_fetched_again() {
    let (fake, r, _, t) = run(
        |k, n| {
            (k == "layer" && n == 0).then(|| {
                let layer = image().layer;
                let half = layer.len() / 2;
                Reply {
                    body: Some(layer[..half].to_vec()),
                    short_by: layer.len() - half,
                    ..Reply::status("200 OK")
                }
            })
        },
        |_| {},
    );
    r.expect("the second download completes");
    assert_eq!(fake.hits("layer"), 2);
    let store = Store::open(t.path()).unwrap();
    assert!(store.check().unwrap().is_empty());
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

/// The challenge of a registry whose token server is the fake itself.
const BEARER: &str = r#"WWW-Authenticate: Bearer realm="http://{addr}/token",service="fake""#;

fn with_creds(o: &mut RegistryOptions) {
    let addr = o.insecure[0].clone();
    o.credentials.insert(
        addr,
        Credentials {
            username: "u".into(),
            password: "p".into(),
        },
    );
}

#[test]
fn a_rejected_token_is_renewed_once() {
    // The registry rejects the first token (expired by its clock, revoked...): a new
    // one is asked for and the request goes again with it.
    let (fake, r, _, _t) = run(
        |k, n| match (k, n) {
            ("ping", _) => Some(Reply::status("401 Unauthorized").header(BEARER)),
            ("token", n) => Some(Reply::status("200 OK").body(&format!(r#"{{"token":"t{n}"}}"#))),
            ("manifest", 0) => Some(Reply::status("401 Unauthorized").header(BEARER)),
            _ => None,
        },
        with_creds,
    );
    r.expect("pull succeeds with the renewed token");
    assert_eq!(fake.hits("token"), 2);
    assert_eq!(
        fake.auths("manifest"),
        [Some("Bearer t0".to_string()), Some("Bearer t1".to_string())]
    );
    // A registry that keeps refusing gets one renewal, then the refusal stands.
    let (fake, r, _, t) = run(
        |k, _| match k {
            "ping" | "manifest" => Some(Reply::status("401 Unauthorized").header(BEARER)),
            "token" => Some(Reply::status("200 OK").body(r#"{"token":"t"}"#)),
            _ => None,
        },
        |_| {},
    );
    let err = r.unwrap_err();
    assert_eq!((fake.hits("token"), fake.hits("manifest")), (2, 2));
    assert!(err.contains("unauthorized"), "{err}");
    nothing_left(&t);
}

#[test]
fn a_token_that_cannot_be_sent_is_an_error_not_a_panic() {
    let (fake, r, _, t) = run(
        |k, _| match k {
            "ping" => Some(Reply::status("401 Unauthorized").header(BEARER)),
            "token" => Some(Reply::status("200 OK").body(r#"{"token":"two\nlines"}"#)),
            _ => None,
        },
        |_| {},
    );
    let err = r.unwrap_err();
    assert_eq!(fake.hits("manifest"), 0);
    assert!(err.contains("cannot go in an HTTP header"), "{err}");
    nothing_left(&t);
}

#[test]
fn blob_checks_of_a_push_ask_for_their_own_token() {
    // A HEAD of a blob is sent with a pull token: it is asked for like every other
    // token, so what the token server answers is checked (and its errors show).
    let fake = serve(
        Arc::new(image()),
        Arc::new(|k: &str, _| match k {
            "ping" => Some(Reply::status("401 Unauthorized").header(BEARER)),
            "token" => Some(Reply::status("200 OK").body(r#"{"token":"two\nlines"}"#)),
            _ => None,
        }),
    );
    let reg = Registry::new(&opts(&fake.addr)).unwrap();
    let dest = ImageRef::parse(&format!("{}/dest:v1", fake.addr)).unwrap();
    let img = image();
    let err = rt()
        .block_on(reg.blob_exists(&dest, "layer", &img.layer_digest))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot go in an HTTP header"), "{err}");
    assert_eq!(fake.hits("layer"), 0);
}

#[test]
fn an_upload_that_fails_is_sent_again_whole() {
    let fake = serve(
        Arc::new(image()),
        Arc::new(|k: &str, n| match (k, n) {
            ("POST upload", _) => {
                Some(Reply::status("202 Accepted").header("Location: /v2/dest/blobs/uploads/u1"))
            }
            ("PUT upload", 0) => Some(Reply::status("503 Service Unavailable")),
            ("PUT upload", _) => {
                Some(Reply::status("201 Created").header("Location: /v2/dest/blobs/sha256:x"))
            }
            _ => None,
        }),
    );
    let reg = Registry::new(&opts(&fake.addr)).unwrap();
    let dest = ImageRef::parse(&format!("{}/dest:v1", fake.addr)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob");
    // Several upload chunks, so that the first try streams more than one.
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| i.to_le_bytes()[1]).collect();
    std::fs::write(&file, &data).unwrap();
    let digest = Digest::of_bytes(&data);
    let reported = std::sync::atomic::AtomicU64::new(0);
    rt().block_on(reg.upload_blob(&dest, "layer", &digest, &file, &|n| {
        reported.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }))
    .expect("the second upload is taken");
    assert_eq!((fake.hits("POST upload"), fake.hits("PUT upload")), (2, 2));
    assert_eq!(
        reported.into_inner(),
        data.len() as u64,
        "bytes reported once"
    );
}

#[test]
fn manifest_put_by_digest_without_location_is_accepted() {
    // Some registries answer a manifest PUT with 201 and no Location header.
    let fake = serve(
        Arc::new(image()),
        Arc::new(|k: &str, _| (k == "PUT manifest").then(|| Reply::status("201 Created"))),
    );
    let reg = Registry::new(&opts(&fake.addr)).unwrap();
    let dest = ImageRef::parse(&format!("{}/pushed:v1", fake.addr)).unwrap();
    let body = image().manifest;
    let digest = Digest::of_bytes(&body);
    let media = "application/vnd.oci.image.manifest.v1+json";
    for reference in [digest.to_string(), "v1".to_string()] {
        let got = rt()
            .block_on(reg.put_manifest(&dest, &reference, media, body.clone()))
            .unwrap_or_else(|e| panic!("PUT {reference}: {e}"));
        assert_eq!(got, digest);
    }
    assert_eq!(fake.hits("PUT manifest"), 2);
}

#[test]
fn login_check_on_a_token_registry() {
    let check = |script: fn(&str, usize) -> Option<Reply>| {
        let fake = serve(Arc::new(image()), Arc::new(script));
        let mut o = opts(&fake.addr);
        with_creds(&mut o);
        let reg = Registry::new(&o).unwrap();
        rt().block_on(reg.check_login(&fake.addr))
            .map_err(|e| e.to_string())
    };
    // The token server takes the credentials; the token grants nothing on the probe
    // repository (Docker Hub's answer for a repository that does not exist).
    check(|k, _| match k {
        "ping" => Some(Reply::status("401 Unauthorized").header(BEARER)),
        "tags" => Some(
            Reply::status("401 Unauthorized")
                .header(BEARER)
                .header("Content-Type: application/json")
                .body(
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                ),
        ),
        _ => None,
    })
    .expect("the credentials were accepted");
    // The token server refuses them.
    let err = check(|k, _| match k {
        "ping" => Some(Reply::status("401 Unauthorized").header(BEARER)),
        "token" => Some(
            Reply::status("401 Unauthorized")
                .body(r#"{"details":"incorrect username or password"}"#),
        ),
        _ => None,
    })
    .unwrap_err();
    assert!(
        err.contains("authentication failed") && err.contains("incorrect username"),
        "{err}"
    );
}

#[test]
fn not_found_in_an_error_body_is_manifest_unknown() {
    // Harbor answers 404 with the code NOT_FOUND; oci-client hands on the body's codes
    // without the status.
    let (fake, r, _, t) = run(
        |k, _| {
            (k == "manifest").then(|| {
                Reply::status("404 Not Found").body(
                    r#"{"errors":[{"code":"NOT_FOUND","message":"artifact flaky:latest not found"}]}"#,
                )
            })
        },
        |_| {},
    );
    let err = r.unwrap_err();
    assert_eq!(fake.hits("manifest"), 1);
    assert!(err.contains("manifest unknown"), "{err}");
    nothing_left(&t);
}
