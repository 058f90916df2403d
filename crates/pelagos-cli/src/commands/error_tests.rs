//! Errors as `pelagos` prints them name each cause once: a library error that spells
//! out its cause must not also return it as `source()`, or `{:#}` repeats it.

use super::error_text;
use anyhow::Context;
use pelagos_image::archive::LoadError;
use pelagos_image::bundle::BundleError;
use pelagos_image::docker_config::DockerConfig;
use pelagos_image::manifest::parse_document;
use pelagos_image::store::Store;
use pelagos_image::unpack::UnpackError;
use pelagos_image::Digest;
use std::io;

/// `e` as the CLI prints it holds `cause` exactly once, and nothing below the
/// context the CLI added is exposed twice.
fn assert_once(e: anyhow::Error, cause: &str) {
    let text = error_text(&e);
    assert_eq!(text.matches(cause).count(), 1, "{cause:?} in {text:?}");
    for c in e.chain() {
        assert!(
            std::error::Error::source(c).is_none_or(|s| !c.to_string().contains(&s.to_string())),
            "{c} exposes a source it already prints"
        );
    }
}

#[test]
fn store_open_failure_names_its_cause_once() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let dir = file.join("store");
    let e = Store::open(&dir)
        .with_context(|| format!("opening image store {}", dir.display()))
        .unwrap_err();
    assert_once(e, "Not a directory");
}

#[test]
fn docker_config_parse_failure_names_its_cause_once() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("config.json"), b"{ nope").unwrap();
    let e = DockerConfig::load(t.path()).unwrap_err();
    assert_once(e.into(), "key must be a string");
}

#[test]
fn nested_unpack_failure_names_its_cause_once() {
    let e = LoadError::Unpack {
        source_name: "img.tar".into(),
        layer: Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap(),
        error: UnpackError::Io {
            path: "etc/passwd".into(),
            op: "create",
            error: io::Error::from_raw_os_error(libc::EACCES),
        },
    };
    assert_once(
        anyhow::Error::from(e).context("loading"),
        "Permission denied",
    );
}

#[test]
fn nested_manifest_failure_names_its_cause_once() {
    let Err(parse) = parse_document(b"[1,", None) else {
        panic!("a truncated document parses");
    };
    let e = BundleError::Config {
        image: "sha256:abc".into(),
        error: parse,
    };
    assert_once(e.into(), "expected a string at line 1 column 2");
}
