//! The runtime's log: text or JSON lines to `--log` (containerd reads errors back from
//! there), errors also to stderr.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Where messages go.
pub struct Logger {
    file: Option<File>,
    json: bool,
    debug: bool,
}

impl Logger {
    /// Open the log (append); fall back to stderr when it cannot be opened.
    pub fn new(path: Option<&Path>, json: bool, debug: bool) -> Self {
        let file = path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Logger { file, json, debug }
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = pelagos_spec::rfc3339_utc(std::time::SystemTime::now());
        if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time=\"{time}\" level={level} msg={msg:?}")
        }
    }

    fn write(&self, level: &str, msg: &str) {
        if let Some(mut f) = self.file.as_ref() {
            let _ = writeln!(f, "{}", self.line(level, msg));
        } else {
            eprintln!("pelagos-runtime: {level}: {msg}");
        }
    }

    /// An error: to the log and to stderr.
    pub fn error(&self, msg: &str) {
        if self.file.is_some() {
            self.write("error", msg);
        }
        eprintln!("pelagos-runtime: {msg}");
    }

    /// A warning.
    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }

    /// A debug message (only with `--debug`).
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }
}
