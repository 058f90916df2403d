//! The verbs that work on a container's cgroup: `update`, `events`, `ps`.

use super::log::Logger;
use super::UpdateArgs;
use anyhow::{bail, Context, Result};
use pelagos_container::container::Event;
use pelagos_container::{Container, StateStore};
use pelagos_spec::Status;
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::time::Duration;

/// `update`: new limits from `--resources FILE` or flags.
pub fn update(store: &StateStore, a: &UpdateArgs, log: &Logger) -> Result<u8> {
    let c = Container::load(store, &a.id)?;
    let value = match &a.resources {
        Some(path) => {
            let mut text = String::new();
            if path.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("read resources from stdin")?;
            } else {
                text = std::fs::read_to_string(path)
                    .with_context(|| format!("read --resources {}", path.display()))?;
            }
            serde_json::from_str(&text)
                .with_context(|| format!("--resources {}: not valid JSON", path.display()))?
        }
        None => resources_from_flags(a)?,
    };
    let res: oci_spec::runtime::LinuxResources = pelagos_spec::json::decode_value(&value)
        .context("resources do not match the OCI linux.resources schema")?;
    for w in c.update(&res)? {
        log.warn(&w);
    }
    Ok(0)
}

fn resources_from_flags(a: &UpdateArgs) -> Result<Value> {
    let mut memory = Map::new();
    for (key, v) in [
        ("limit", &a.memory),
        ("reservation", &a.memory_reservation),
        ("swap", &a.memory_swap),
    ] {
        if let Some(v) = v {
            memory.insert(
                key.into(),
                json!(parse_bytes(v)
                    .with_context(|| format!("--memory{}: {v:?}", flag_suffix(key)))?),
            );
        }
    }
    let mut cpu = Map::new();
    if let Some(v) = a.cpu_shares {
        cpu.insert("shares".into(), json!(v));
    }
    if let Some(v) = a.cpu_quota {
        cpu.insert("quota".into(), json!(v));
    }
    if let Some(v) = a.cpu_period {
        cpu.insert("period".into(), json!(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        cpu.insert("cpus".into(), json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        cpu.insert("mems".into(), json!(v));
    }
    let mut res = Map::new();
    if !memory.is_empty() {
        res.insert("memory".into(), Value::Object(memory));
    }
    if !cpu.is_empty() {
        res.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(v) = a.pids_limit {
        res.insert("pids".into(), json!({ "limit": v }));
    }
    if let Some(v) = a.blkio_weight {
        res.insert("blockIO".into(), json!({ "weight": v }));
    }
    if res.is_empty() {
        bail!("update: nothing to change: pass --resources FILE or a limit such as --memory 256m");
    }
    Ok(Value::Object(res))
}

fn flag_suffix(key: &str) -> &'static str {
    match key {
        "reservation" => "-reservation",
        "swap" => "-swap",
        _ => "",
    }
}

/// `512`, `64k`, `256m`, `1g` (powers of 1024), or `-1` for unlimited.
fn parse_bytes(s: &str) -> Result<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches('b');
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let n: i64 = num
        .trim()
        .parse()
        .with_context(|| format!("{s:?} is not a size such as 512m"))?;
    n.checked_mul(mult)
        .with_context(|| format!("{s:?} is too large"))
}

/// `--interval`: `5s`, `500ms`, `1m`, or plain seconds.
fn parse_interval(s: &str) -> Result<Duration> {
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num
        .parse()
        .with_context(|| format!("--interval {s:?}: use e.g. 5s or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => bail!("--interval {s:?}: unknown unit {unit:?}, use ms, s or m"),
    };
    if !(0.001..=86_400.0).contains(&secs) {
        bail!("--interval {s:?}: must be between 1ms and 24h");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `events`: stats (once with `--stats`, else every interval) and OOM events as they
/// happen, as JSON lines, until the container stops.
pub fn events(
    store: &StateStore,
    id: &str,
    once: bool,
    interval: &str,
    log: &Logger,
) -> Result<u8> {
    let every = parse_interval(interval)?;
    let c = Container::load(store, id)?;
    if c.status() == Status::Stopped {
        bail!("container {id:?} is stopped: no events");
    }
    let mut out = std::io::stdout().lock();
    if once {
        writeln!(
            out,
            "{}",
            json!({"type": "stats", "id": id, "data": c.stats()?})
        )?;
        return Ok(0);
    }
    let mut emit = |e: Event| -> pelagos_container::Result<()> {
        let line = match e {
            Event::Oom => json!({"type": "oom", "id": id}),
            Event::Stats(s) => json!({"type": "stats", "id": id, "data": s}),
        };
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| pelagos_container::ContainerError::Other(format!("write event: {e}")))
    };
    c.watch_events(every, &mut emit, &|w| log.warn(w))?;
    Ok(0)
}

/// `ps`: `--format json` prints the pids; the table runs ps(1) and keeps the container's rows.
pub fn ps(store: &StateStore, id: &str, format: &str, ps_args: &[String]) -> Result<u8> {
    let c = Container::load(store, id)?;
    let pids = c.processes();
    if format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps(1): is procps installed?")?;
    if !output.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column: include pid in the ps options")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{header}")?;
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            writeln!(out, "{l}")?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_intervals() {
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("64k").unwrap(), 65536);
        assert_eq!(parse_bytes("256M").unwrap(), 256 << 20);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_interval("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert!(parse_interval("5h").is_err());
    }
}
