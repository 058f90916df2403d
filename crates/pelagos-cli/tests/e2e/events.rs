//! `events`: an OOM kill shows up as `{"type":"oom"}` right away (the runtime waits on the
//! kernel's notification, not on a polling loop) and `run` reports the kill as exit 137.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::support::runtime::wait_timeout;
use crate::support::{case, expect_eq, Bundle, Case, Container, Runtime, SETTLE};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![case("oom_event_and_exit_137", oom_event_and_exit_137)]
}

/// How late the OOM event may come after the init died.
const OOM_EVENT_LATENCY: Duration = Duration::from_millis(100);

/// Kills the child on drop (the `events` process of a runtime that does not exit by itself).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Each stdout line of `child` with the time it arrived.
fn timed_lines(child: &mut Child) -> mpsc::Receiver<(Instant, String)> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// When process `pid` died (gone or a zombie), watched every millisecond.
fn death_of(pid: i64) -> mpsc::Receiver<Instant> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
        if matches!(state, None | Some('Z' | 'X')) {
            let _ = tx.send(Instant::now());
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    });
    rx
}

fn oom_event_and_exit_137(rt: &Runtime) -> Result<()> {
    let limit = 16u64 << 20;
    let b = Bundle::busybox()?
        .set(
            "/linux/resources/memory",
            json!({"limit": limit, "swap": limit}),
        )
        .sh("while [ ! -e /tmp/go ]; do sleep 0.01; done; \
             exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    let go = b.rootfs().join("tmp/go");
    let c = Container::new(rt, b)?;
    let mut run = KillOnDrop(c.spawn_run()?);
    c.wait_status("running", SETTLE)?;
    let pid = c.state()?["pid"].as_i64().context("state pid")?;

    let mut cmd = rt.command(c.root());
    cmd.args(["events", "--interval", "100ms", &c.id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut events = KillOnDrop(cmd.spawn().context("spawn events")?);
    let lines = timed_lines(&mut events.0);
    // The first stats line means `events` is set up and waiting.
    let (_, first) = lines
        .recv_timeout(SETTLE)
        .context("no stats line from events")?;
    let first: Value = serde_json::from_str(&first).with_context(|| first.clone())?;
    expect_eq("first event", first["type"].as_str(), Some("stats"))?;

    let died = death_of(pid);
    std::fs::write(&go, "")?;
    let died_at = died.recv_timeout(SETTLE).context("the init did not die")?;
    let oom_at = loop {
        let (at, line) = lines
            .recv_timeout(Duration::from_secs(5))
            .context("no oom event within 5 s of the kill")?;
        let v: Value = serde_json::from_str(&line).with_context(|| line.clone())?;
        if v["type"] == "oom" {
            expect_eq("oom event id", v["id"].as_str(), Some(c.id.as_str()))?;
            break at;
        }
    };
    let late = oom_at.saturating_duration_since(died_at);
    eprintln!(
        "events: {} oom event {:?} after the init died ({:?} before)",
        rt.name,
        late,
        died_at.saturating_duration_since(oom_at)
    );
    if late > OOM_EVENT_LATENCY {
        bail!("oom event came {late:?} after the OOM kill (at most {OOM_EVENT_LATENCY:?})");
    }
    let st = wait_timeout(&mut run.0, SETTLE)?;
    expect_eq("run exit code after the OOM kill", st.code(), Some(137))?;
    if rt.is_pelagos() {
        // `events` ends by itself once the container has stopped.
        let st = wait_timeout(&mut events.0, Duration::from_secs(5))?;
        expect_eq("events exit code", st.code(), Some(0))?;
    }
    Ok(())
}
