//! Per-registry settings (plain HTTP, an extra CA, pull mirrors) and the registries
//! config file that holds them with the retry policy and timeouts.
//!
//! ```json
//! {
//!   "registries": {
//!     "docker.io":         { "mirrors": ["mirror.internal:5000", "http://10.0.0.5:5000"] },
//!     "registry.internal": { "ca": "/etc/pelagos/certs/internal-ca.pem" },
//!     "127.0.0.1:5000":    { "insecure": true }
//!   },
//!   "retry":    { "attempts": 5, "initialDelayMs": 500, "maxDelaySeconds": 60 },
//!   "timeouts": { "connectSeconds": 30, "readSeconds": 120 }
//! }
//! ```
//!
//! The caller reads the file (its location is the CLI's business) and hands the text
//! to [`RegistriesConfig::parse`]; every rejection names the JSON path.

use crate::backoff::{RetryPolicy, Timeouts};
use crate::reference::valid_registry;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors in a registries config.
#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    /// Not the expected JSON.
    #[error("registries config {file}: {path}: {message}")]
    Json {
        /// The file.
        file: PathBuf,
        /// JSON path of the problem.
        path: String,
        /// The parser's complaint.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("registries config {file}: {path}: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// JSON path of the problem.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Settings of one registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSettings {
    /// Talk plain HTTP to it.
    #[serde(default)]
    pub insecure: bool,
    /// A PEM CA certificate to trust for it (the client trusts it for every
    /// registry: one HTTP client serves the whole process).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Mirrors tried in order before the registry itself, for pulls:
    /// `host[:port]`, `http://host[:port]` for plain HTTP.
    #[serde(default)]
    pub mirrors: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RetryFile {
    attempts: Option<u32>,
    initial_delay_ms: Option<u64>,
    max_delay_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TimeoutsFile {
    connect_seconds: Option<u64>,
    read_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    registries: BTreeMap<String, HostSettings>,
    #[serde(default)]
    retry: RetryFile,
    #[serde(default)]
    timeouts: TimeoutsFile,
}

/// A parsed registries config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistriesConfig {
    /// Settings by registry (`host[:port]`, `docker.io` for Docker Hub).
    pub registries: BTreeMap<String, HostSettings>,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Client timeouts.
    pub timeouts: Timeouts,
}

/// Split a mirror entry into (plain HTTP?, `host[:port]`); `None` when malformed.
pub fn parse_mirror(entry: &str) -> Option<(bool, &str)> {
    let (http, host) = match entry.split_once("://") {
        Some(("http", h)) => (true, h),
        Some(("https", h)) => (false, h),
        Some(_) => return None,
        None => (false, entry),
    };
    let host = host.strip_suffix('/').unwrap_or(host);
    valid_registry(host).then_some((http, host))
}

impl RegistriesConfig {
    /// Parse the text of `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Self, HostsError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let f: File = serde_path_to_error::deserialize(de).map_err(|e| HostsError::Json {
            file: file.to_path_buf(),
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
        let invalid = |path: String, message: String| HostsError::Invalid {
            file: file.to_path_buf(),
            path,
            message,
        };
        for (name, h) in &f.registries {
            if !valid_registry(name) {
                return Err(invalid(
                    format!("registries.{name}"),
                    "a registry is named host[:port]".into(),
                ));
            }
            for (i, m) in h.mirrors.iter().enumerate() {
                if parse_mirror(m).is_none() {
                    return Err(invalid(
                        format!("registries.{name}.mirrors[{i}]"),
                        format!(
                            "{m:?} is not host[:port], http://host[:port] or https://host[:port]"
                        ),
                    ));
                }
            }
        }
        let d = RetryPolicy::default();
        let retry = RetryPolicy {
            attempts: f.retry.attempts.unwrap_or(d.attempts),
            initial_delay: f
                .retry
                .initial_delay_ms
                .map_or(d.initial_delay, Duration::from_millis),
            max_delay: f
                .retry
                .max_delay_seconds
                .map_or(d.max_delay, Duration::from_secs),
        };
        if !(1..=100).contains(&retry.attempts) {
            return Err(invalid(
                "retry.attempts".into(),
                format!("{} is not between 1 and 100", retry.attempts),
            ));
        }
        let t = Timeouts::default();
        let timeouts = Timeouts {
            connect: f
                .timeouts
                .connect_seconds
                .map_or(t.connect, Duration::from_secs),
            read: f.timeouts.read_seconds.map_or(t.read, Duration::from_secs),
        };
        for (path, v) in [
            ("timeouts.connectSeconds", timeouts.connect),
            ("timeouts.readSeconds", timeouts.read),
        ] {
            if v.is_zero() {
                return Err(invalid(path.into(), "must be at least 1".into()));
            }
        }
        Ok(Self {
            registries: f.registries,
            retry,
            timeouts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RegistriesConfig, String> {
        RegistriesConfig::parse(Path::new("/etc/r.json"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn full_config_parses() {
        let c = parse(
            r#"{"registries":{"docker.io":{"mirrors":["m:5000","http://10.0.0.5:5001"]},
                "127.0.0.1:5000":{"insecure":true,"ca":"/x.pem"}},
               "retry":{"attempts":3,"initialDelayMs":10,"maxDelaySeconds":5},
               "timeouts":{"connectSeconds":2,"readSeconds":7}}"#,
        )
        .unwrap();
        assert_eq!(c.registries["docker.io"].mirrors.len(), 2);
        assert!(c.registries["127.0.0.1:5000"].insecure);
        assert_eq!(c.retry.attempts, 3);
        assert_eq!(c.retry.initial_delay, Duration::from_millis(10));
        assert_eq!(c.timeouts.read, Duration::from_secs(7));
        assert_eq!(parse("{}").unwrap(), RegistriesConfig::default());
    }

    #[test]
    fn errors_name_the_json_path() {
        for (text, want) in [
            (
                r#"{"registries":{"a":{"insecure":"yes"}}}"#,
                "registries.a.insecure",
            ),
            (
                r#"{"registries":{"a":{"mirors":[]}}}"#,
                "unknown field `mirors`",
            ),
            (
                r#"{"registries":{"a b":{}}}"#,
                "registries.a b: a registry is named",
            ),
            (
                r#"{"registries":{"a":{"mirrors":["ftp://x"]}}}"#,
                "registries.a.mirrors[0]",
            ),
            (
                r#"{"retry":{"attempts":0}}"#,
                "retry.attempts: 0 is not between",
            ),
            (r#"{"timeouts":{"readSeconds":0}}"#, "timeouts.readSeconds"),
            ("[", "/etc/r.json"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn mirrors_split() {
        assert_eq!(parse_mirror("http://h:1/"), Some((true, "h:1")));
        assert_eq!(parse_mirror("https://h"), Some((false, "h")));
        assert_eq!(
            parse_mirror("h.example:5000"),
            Some((false, "h.example:5000"))
        );
        assert_eq!(parse_mirror("h/path"), None);
    }
}
