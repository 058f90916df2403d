//! End-to-end pulls against real registries on 127.0.0.1 (Debian's docker-registry).
//!
//! A custom harness: the registries start once, every case runs against them, and they
//! are stopped by PID at the end, also when a case panics. The run ends with the plain
//! `N passed, N failed, N skipped` line. Without the tools or root the cases are skipped
//! visibly; with `CI=true` that is a failure.

mod tree;

use fixture::Fixture;
use pelagos_image::pull::{NoProgress, PullError};
use pelagos_image::registry::{Credentials, RegistryError};
use pelagos_image::{ImageRef, Platform, PullOptions, Registry, RegistryOptions, Store};
use pelagos_testsupport::registry as fixture;
use std::collections::HashMap;

const CASES: &[(&str, pelagos_testsupport::harness::Case<Fixture>)] = &[
    ("pull_by_tag", cases::pull_by_tag),
    (
        "pull_by_digest_reuses_layers",
        cases::pull_by_digest_reuses_layers,
    ),
    ("whiteouts_and_metadata", cases::whiteouts_and_metadata),
    (
        "compressions_give_same_diff_ids",
        cases::compressions_give_same_diff_ids,
    ),
    ("docker_formats", cases::docker_formats),
    ("index_platform_selection", cases::index_platform_selection),
    ("index_no_match", cases::index_no_match),
    (
        "single_manifest_wrong_arch",
        cases::single_manifest_wrong_arch,
    ),
    ("hub_shaped_names", cases::hub_shaped_names),
    ("tls_with_and_without_ca", cases::tls_with_and_without_ca),
    ("basic_auth", cases::basic_auth),
    ("token_auth", cases::token_auth),
    ("manifest_unknown", cases::manifest_unknown),
    ("corrupt_layer", cases::corrupt_layer),
    ("missing_layer", cases::missing_layer),
    ("bad_diff_id", cases::bad_diff_id),
    ("concurrent_pulls", cases::concurrent_pulls),
    ("bundle_overlay_rootfs", cases::bundle_overlay_rootfs),
    ("bundle_users_and_config", cases::bundle_users_and_config),
    ("bundle_copy_rootfs", cases::bundle_copy_rootfs),
    ("bundle_registers_use", cases::bundle_registers_use),
    (
        "mirrors_dead_and_lacking_fall_back",
        mirror_cases::dead_and_lacking_mirrors_fall_back_to_the_registry,
    ),
    (
        "mirror_serves_while_registry_down",
        mirror_cases::a_mirror_serves_while_the_registry_is_down,
    ),
];

/// `CI=true` or `CI=1`: every case must run.
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn main() {
    pelagos_testsupport::harness::run(CASES, ci(), Fixture::start);
}

/// Helpers shared by the cases.
pub mod util {
    use super::*;

    pub fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    pub struct Env {
        pub dir: tempfile::TempDir,
        pub store: Store,
    }

    pub fn env() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("store")).expect("store");
        Env { dir, store }
    }

    pub fn opts(f: &Fixture) -> RegistryOptions {
        RegistryOptions {
            insecure: vec![f.anon.clone(), f.token.clone()],
            ca_files: vec![f.ca()],
            ..Default::default()
        }
    }

    /// The same credentials for every fixture registry.
    pub fn creds(f: &Fixture, user: &str, pass: &str) -> HashMap<String, Credentials> {
        let c = Credentials {
            username: user.into(),
            password: pass.into(),
        };
        [&f.anon, &f.tls, &f.basic, &f.token]
            .into_iter()
            .map(|r| (r.clone(), c.clone()))
            .collect()
    }

    // The error is matched on by variant, so it stays unboxed in test helpers.
    #[allow(clippy::result_large_err)]
    pub fn pull_with(
        store: &Store,
        ro: &RegistryOptions,
        r: &str,
        platform: Option<&str>,
    ) -> Result<pelagos_image::Pulled, PullError> {
        let reg = Registry::new(ro).map_err(PullError::Registry)?;
        let image = ImageRef::parse(r).expect("valid ref");
        let po = PullOptions {
            platform: platform.map(|p| Platform::parse(p).expect("platform")),
        };
        rt().block_on(pelagos_image::pull(&reg, store, &image, &po, &NoProgress))
    }

    #[allow(clippy::result_large_err)]
    pub fn pull(f: &Fixture, store: &Store, r: &str) -> Result<pelagos_image::Pulled, PullError> {
        pull_with(store, &opts(f), r, None)
    }

    pub use pelagos_testsupport::harness::ensure;

    /// The store passes the consistency check.
    pub fn consistent(store: &Store) -> Result<(), String> {
        let problems = store.check().map_err(|e| e.to_string())?;
        ensure(problems.is_empty(), format!("store check: {problems:?}"))
    }

    /// The store holds no image, no ref and no temp leftovers, and is consistent.
    pub fn nothing_committed(store: &Store) -> Result<(), String> {
        consistent(store)?;
        let imgs = store.images().map_err(|e| e.to_string())?;
        let refs = store.refs().map_err(|e| e.to_string())?;
        let tmp = std::fs::read_dir(store.root().join("tmp"))
            .map_err(|e| e.to_string())?
            .count();
        ensure(
            imgs.is_empty() && refs.is_empty() && tmp == 0,
            format!(
                "left behind: {} images, {} refs, {tmp} temp entries",
                imgs.len(),
                refs.len()
            ),
        )
    }

    pub fn err_text(
        r: Result<pelagos_image::Pulled, PullError>,
    ) -> Result<(PullError, String), String> {
        match r {
            Ok(p) => Err(format!(
                "pull unexpectedly succeeded: {}",
                p.image.manifest_digest
            )),
            Err(e) => {
                let s = e.to_string();
                println!("    error as reported: {s}");
                Ok((e, s))
            }
        }
    }

    pub fn is_registry(e: &PullError, f: impl Fn(&RegistryError) -> bool) -> bool {
        matches!(e, PullError::Registry(r) if f(r))
    }
}

mod cases;
mod mirror_cases;
