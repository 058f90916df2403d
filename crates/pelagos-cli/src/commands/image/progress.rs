//! Pull progress: one bar per layer (bytes and speed) on a terminal, plain lines
//! otherwise, nothing with `--quiet`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pelagos_image::{Digest, PullEvent};
use std::collections::HashMap;
use std::sync::Mutex;

/// Turns pull events into output on stderr.
pub struct Reporter {
    mode: Mode,
    /// What moves the bytes: `downloading` or `uploading`.
    verb: &'static str,
    bars: Mutex<HashMap<Digest, ProgressBar>>,
}

enum Mode {
    Bars(MultiProgress),
    Lines,
    Quiet,
}

impl Reporter {
    /// Bars when `tty`, else lines, or nothing when `quiet`.
    pub fn new(tty: bool, quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if tty {
            Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Mode::Lines
        };
        Self {
            mode,
            verb: "downloading",
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// The same, for uploads.
    pub fn uploading(tty: bool, quiet: bool) -> Self {
        Self {
            verb: "uploading",
            ..Self::new(tty, quiet)
        }
    }

    /// Something that prints warnings the way this reporter does, from any thread and
    /// for as long as needed (above the bars on a terminal).
    pub fn warner(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let bars = match &self.mode {
            Mode::Bars(mp) => Some(mp.clone()),
            _ => None,
        };
        move |w: &str| warn(bars.as_ref(), w)
    }

    /// Stop drawing.
    pub fn finish(&self) {
        if let Ok(mut bars) = self.bars.lock() {
            for (_, b) in bars.drain() {
                b.abandon();
            }
        }
    }

    fn bar(&self, d: &Digest) -> Option<ProgressBar> {
        self.bars.lock().ok().and_then(|b| b.get(d).cloned())
    }

    fn start_bar(&self, mp: &MultiProgress, d: &Digest, size: u64) {
        let style = ProgressStyle::with_template(
            "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let b = mp.add(
            ProgressBar::new(size)
                .with_style(style)
                .with_prefix(d.short().to_string()),
        );
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(d.clone(), b);
        }
    }
}

/// Print warning `w`: above the bars when there are bars, else on its own line.
fn warn(bars: Option<&MultiProgress>, w: &str) {
    let line = format!("warning: {w}");
    match bars.map(|mp| mp.println(&line)) {
        Some(Ok(())) => {}
        _ => eprintln!("{line}"),
    }
}

impl pelagos_image::Progress for Reporter {
    fn event(&self, e: PullEvent<'_>) {
        match (&self.mode, e) {
            (Mode::Bars(mp), PullEvent::Warning(w)) => warn(Some(mp), &w),
            (_, PullEvent::Warning(w)) => warn(None, &w),
            (Mode::Quiet, _) => {}
            (_, PullEvent::Resolved { manifest, platform }) => {
                eprintln!("resolved {manifest} ({platform})")
            }
            (Mode::Bars(mp), PullEvent::LayerStart { digest, size }) => {
                self.start_bar(mp, digest, size)
            }
            (Mode::Bars(_), PullEvent::LayerBytes { digest, bytes }) => {
                if let Some(b) = self.bar(digest) {
                    b.inc(bytes);
                }
            }
            (Mode::Bars(_), PullEvent::LayerDownloaded { digest }) => {
                if let Some(b) = self.bar(digest) {
                    b.set_message("unpacking");
                }
            }
            (Mode::Bars(_), PullEvent::LayerDone { digest }) => {
                if let Some(b) = self.bar(digest) {
                    b.finish_with_message("done");
                }
            }
            (Mode::Bars(mp), PullEvent::LayerExists { digest }) => {
                let _ = mp.println(format!("{} already present", digest.short()));
            }
            (Mode::Lines, PullEvent::LayerStart { digest, size }) => {
                eprintln!("layer {}: {} {size} bytes", digest.short(), self.verb)
            }
            (Mode::Lines, PullEvent::LayerExists { digest }) => {
                eprintln!("layer {}: already present", digest.short())
            }
            (Mode::Lines, PullEvent::LayerDownloaded { digest }) => {
                eprintln!("layer {}: verified, unpacking", digest.short())
            }
            (Mode::Lines, PullEvent::LayerDone { digest }) => {
                eprintln!("layer {}: done", digest.short())
            }
            (_, PullEvent::LayerBytes { .. }) => {}
        }
    }
}
