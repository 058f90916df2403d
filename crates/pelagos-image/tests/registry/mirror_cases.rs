//! Registry mirrors: tried in order before the registry itself; one that is down or
//! lacks the image is skipped with a warning, and the pull still completes.

use crate::fixture::{dead_port, Fixture};
use crate::util::*;
use pelagos_image::hosts::HostSettings;
use pelagos_image::pull::{Progress, PullEvent};
use pelagos_image::{ImageRef, PullOptions, Registry, RegistryOptions};
use std::sync::Mutex;

/// Keeps the warnings of a pull.
#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);

impl Progress for Warnings {
    fn event(&self, e: PullEvent<'_>) {
        if let PullEvent::Warning(w) = e {
            self.0.lock().expect("warnings lock").push(w);
        }
    }
}

fn with_mirrors(f: &Fixture, registry: &str, mirrors: Vec<String>) -> RegistryOptions {
    let mut o = opts(f);
    o.hosts.insert(
        registry.to_string(),
        HostSettings {
            mirrors,
            ..Default::default()
        },
    );
    o
}

/// Pull `r` and return the manifest digest and the warnings.
fn pull_warned(o: &RegistryOptions, r: &str) -> Result<(String, Vec<String>), String> {
    let e = env();
    let reg = Registry::new(o).map_err(|e| e.to_string())?;
    let w = Warnings::default();
    let image = ImageRef::parse(r).map_err(|e| e.to_string())?;
    let p = rt()
        .block_on(pelagos_image::pull(
            &reg,
            &e.store,
            &image,
            &PullOptions::default(),
            &w,
        ))
        .map_err(|e| e.to_string())?;
    let problems = e.store.check().map_err(|e| e.to_string())?;
    ensure(problems.is_empty(), format!("{problems:?}"))?;
    let warnings = w.0.into_inner().map_err(|e| e.to_string())?;
    for line in &warnings {
        println!("    warning: {line}");
    }
    Ok((p.image.manifest_digest.to_string(), warnings))
}

pub fn dead_and_lacking_mirrors_fall_back_to_the_registry(f: &Fixture) -> Result<(), String> {
    let empty = f.empty_registry("mirror-a")?;
    let dead = format!("127.0.0.1:{}", dead_port());
    let o = with_mirrors(
        f,
        &f.anon,
        vec![format!("http://{dead}"), format!("http://{}", empty.addr)],
    );
    let (digest, warnings) = pull_warned(&o, &format!("{}/layers:latest", f.anon))?;
    ensure(
        digest == f.digest("layers:latest"),
        format!("pulled {digest}"),
    )?;
    ensure(
        warnings.len() == 2
            && warnings[0].contains(&dead)
            && warnings[1].contains(&empty.addr)
            && warnings[1].contains("manifest unknown"),
        format!("warnings: {warnings:?}"),
    )
}

pub fn a_mirror_serves_while_the_registry_is_down(f: &Fixture) -> Result<(), String> {
    let empty = f.empty_registry("mirror-b")?;
    let origin = format!("127.0.0.1:{}", dead_port());
    // The fixture registries share one storage: the anonymous one has every image
    // under the same repository names.
    let o = with_mirrors(
        f,
        &origin,
        vec![
            format!("http://{}", empty.addr),
            format!("http://{}", f.anon),
        ],
    );
    let (digest, warnings) = pull_warned(&o, &format!("{origin}/layers:latest"))?;
    ensure(
        digest == f.digest("layers:latest"),
        format!("pulled {digest}"),
    )?;
    ensure(
        warnings.len() == 1 && warnings[0].contains(&empty.addr),
        format!("warnings: {warnings:?}"),
    )?;
    // Without a mirror that has it, the registry's own failure is the error.
    let o = with_mirrors(f, &origin, vec![format!("http://{}", empty.addr)]);
    let e = env();
    let (_, msg) = err_text(pull_with(
        &e.store,
        &o,
        &format!("{origin}/layers:latest"),
        None,
    ))?;
    ensure(
        msg.contains(&origin) && !msg.contains(&empty.addr),
        format!("error should be the registry's: {msg}"),
    )?;
    nothing_committed(&e.store)
}
