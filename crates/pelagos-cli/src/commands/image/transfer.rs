//! Byte meters for `image save` and `image load`: a bar with bytes, total and speed on a
//! terminal; nothing otherwise (the commands print their own summary lines).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, Read, Write};

/// Counts bytes through [`Meter::reader`] / [`Meter::writer`] onto an optional bar.
pub struct Meter {
    bar: Option<ProgressBar>,
}

impl Meter {
    /// A bar on stderr when `show`; `total` bytes when known, else a spinner.
    pub fn new(show: bool, total: Option<u64>, label: &str) -> Self {
        let bar = show.then(|| {
            let (b, template) = match total {
                Some(t) => (
                    ProgressBar::new(t),
                    "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                ),
                None => (
                    ProgressBar::new_spinner(),
                    "{prefix} {spinner} {bytes} {bytes_per_sec} {msg}",
                ),
            };
            b.set_draw_target(ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_prefix(label.to_string());
            b
        });
        Self { bar }
    }

    /// Show `msg` beside the bar.
    pub fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// `r`, counted.
    pub fn reader<R: Read>(&self, r: R) -> Counted<R> {
        Counted {
            inner: r,
            bar: self.bar.clone(),
        }
    }

    /// `w`, counted.
    pub fn writer<W: Write>(&self, w: W) -> Counted<W> {
        Counted {
            inner: w,
            bar: self.bar.clone(),
        }
    }
}

/// A reader or writer whose bytes move a bar.
pub struct Counted<T> {
    inner: T,
    bar: Option<ProgressBar>,
}

impl<T> Counted<T> {
    fn count(&self, n: usize) {
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count(n);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
