//! `events`: OOM kills as they happen and resource statistics at an interval, until the
//! container stops. The wait is one `poll` on the cgroup's OOM watch and a pidfd of the
//! init; counters are polled only where the OOM watch cannot be set up.

use super::Container;
use crate::error::{ContainerError, Result};
use pelagos_cgroups::{CgroupManager, OomWatch, Stats};
use pelagos_sys::process as p;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// How often OOM counters are read when the kernel cannot notify.
const OOM_POLL: Duration = Duration::from_millis(100);

/// What [`Container::watch_events`] reports.
#[derive(Debug)]
pub enum Event {
    /// The OOM killer killed a process of the container.
    Oom,
    /// Statistics, once per interval.
    Stats(Box<Stats>),
}

/// Where OOM events come from.
enum OomSource {
    /// The kernel wakes us (eventfd on v1, inotify on v2).
    Watch(OomWatch),
    /// The counter, read every [`OOM_POLL`], with the last value seen.
    Poll(u64),
    /// No memory controller: no OOM events.
    None,
}

impl Container {
    /// Calls `emit` with [`Event::Oom`] for each OOM kill as it happens and with
    /// [`Event::Stats`] every `interval`, until the container's init exits. `warn` hears why
    /// OOM events fall back to polling, if they do.
    pub fn watch_events(
        &self,
        interval: Duration,
        emit: &mut dyn FnMut(Event) -> Result<()>,
        warn: &dyn Fn(&str),
    ) -> Result<()> {
        let cg = self.state.cgroup.as_ref().ok_or_else(|| {
            ContainerError::Other(format!("container {:?} has no cgroup", self.id))
        })?;
        let mut oom = match cg.oom_watch() {
            Ok(Some(w)) => OomSource::Watch(w),
            Ok(None) => OomSource::None,
            Err(e) => {
                warn(&format!("OOM events: {e}: polling the OOM counter instead"));
                OomSource::Poll(cg.oom_kill_count().unwrap_or(0))
            }
        };
        let pid = self.state.oci.pid;
        let Ok(pidfd) = p::pidfd_open(pid) else {
            return Ok(()); // already gone
        };
        if !crate::state::init_alive(&self.state) {
            return Ok(());
        }
        let mut next_stats = Instant::now() + interval;
        loop {
            let mut wait = next_stats.saturating_duration_since(Instant::now());
            let mut fds: Vec<BorrowedFd<'_>> = vec![pidfd.as_fd()];
            match &oom {
                OomSource::Watch(w) => fds.push(w.fd()),
                OomSource::Poll(_) => wait = wait.min(OOM_POLL),
                OomSource::None => {}
            }
            let mut ready = [false; 2];
            let ms = wait.as_millis().min(i32::MAX as u128) as i32;
            p::poll_readable(&fds, &mut ready, ms)
                .map_err(|e| ContainerError::sys("poll for container events", e))?;
            // OOM first: the kill usually ends the init too, and must still be reported.
            for _ in 0..new_ooms(&mut oom, cg)? {
                emit(Event::Oom)?;
            }
            if ready[0] {
                return Ok(());
            }
            if Instant::now() >= next_stats {
                next_stats += interval;
                match cg.stats() {
                    Ok(st) => emit(Event::Stats(Box::new(st)))?,
                    // The container ended while its files were read.
                    Err(_) if !crate::state::init_alive(&self.state) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

/// OOM kills since the last call.
fn new_ooms(oom: &mut OomSource, cg: &pelagos_cgroups::Cgroup) -> Result<u64> {
    Ok(match oom {
        OomSource::Watch(w) => w.take()?,
        OomSource::Poll(seen) => {
            let now = cg.oom_kill_count().unwrap_or(*seen);
            let new = now.saturating_sub(*seen);
            *seen = now;
            new
        }
        OomSource::None => 0,
    })
}
