//! Docker's client config (`<dir>/config.json`) as the credential store of `pelagos
//! login`: `auths` entries (base64 `user:pass`), credential helpers (`credsStore`,
//! `credHelpers`: `docker-credential-<name> get|store|erase`), and saving that keeps
//! every other key and writes the file 0600 through a temp file and a rename.
//!
//! The directory comes from the caller (`$DOCKER_CONFIG` or `~/.docker` is the CLI's
//! business).

use crate::auth::Credentials;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How Docker names Docker Hub in `config.json` and to helpers.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// Errors reading or writing the config or running a helper.
#[derive(Debug, thiserror::Error)]
pub enum DockerConfigError {
    /// A file operation failed.
    #[error("docker config {path}: {op}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The operation.
        op: &'static str,
        /// The error.
        error: io::Error,
    },
    /// The file is not a JSON object.
    #[error("docker config {path}: not valid JSON: {error}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        error: serde_json::Error,
    },
    /// An `auths` entry cannot be decoded.
    #[error("docker config {path}: auths[{key:?}]: {detail}")]
    BadAuth {
        /// The file.
        path: PathBuf,
        /// The entry.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper} {op} for {server}: {detail}")]
    Helper {
        /// The helper name.
        helper: String,
        /// `get`, `store` or `erase`.
        op: &'static str,
        /// The server asked about.
        server: String,
        /// What happened.
        detail: String,
    },
}

/// Where a login was saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// In `config.json`'s `auths`.
    File(PathBuf),
    /// By this credential helper.
    Helper(String),
}

/// The loaded config.
#[derive(Clone, Debug)]
pub struct DockerConfig {
    dir: PathBuf,
    doc: Map<String, Value>,
    helper_dir: Option<PathBuf>,
}

/// Normalise a registry name or `auths` key: no scheme, no path, lowercase, and
/// Docker Hub's aliases folded into `docker.io`.
pub fn normalize_server(key: &str) -> String {
    let s = key.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let host = s.split('/').next().unwrap_or("").to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" | "docker.io" => {
            crate::reference::DEFAULT_REGISTRY.to_string()
        }
        _ => host,
    }
}

/// The name a registry is stored under and passed to helpers.
pub fn server_key(registry: &str) -> String {
    match normalize_server(registry).as_str() {
        crate::reference::DEFAULT_REGISTRY => DOCKER_HUB_SERVER.to_string(),
        other => other.to_string(),
    }
}

fn valid_helper(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.')
}

impl DockerConfig {
    /// Load `<dir>/config.json`; a missing file is an empty config.
    pub fn load(dir: &Path) -> Result<Self, DockerConfigError> {
        let path = dir.join("config.json");
        let doc = match std::fs::read(&path) {
            Ok(data) if data.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|error| DockerConfigError::Parse { path, error })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Map::new(),
            Err(error) => {
                return Err(DockerConfigError::Io {
                    path,
                    op: "read",
                    error,
                })
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            doc,
            helper_dir: None,
        })
    }

    /// Run helpers from `dir` instead of `$PATH`.
    pub fn with_helper_dir(mut self, dir: &Path) -> Self {
        self.helper_dir = Some(dir.to_path_buf());
        self
    }

    /// The config file.
    pub fn path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The helper that handles `registry`: its `credHelpers` entry, else `credsStore`.
    pub fn helper_for(&self, registry: &str) -> Option<String> {
        let want = normalize_server(registry);
        let specific = self
            .doc
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|m| {
                m.iter()
                    .find(|(k, _)| normalize_server(k) == want)
                    .and_then(|(_, v)| v.as_str())
            });
        specific
            .or_else(|| self.doc.get("credsStore").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// The credentials for `registry` (`host[:port]` or `docker.io`): from its helper
    /// when one is configured and knows it, else from `auths`.
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, DockerConfigError> {
        if let Some(h) = self.helper_for(registry) {
            if let Some(c) = self.helper_get(&h, registry)? {
                return Ok(Some(c));
            }
        }
        self.auths_entry(registry)
    }

    fn auths_entry(&self, registry: &str) -> Result<Option<Credentials>, DockerConfigError> {
        let want = normalize_server(registry);
        let Some(auths) = self.doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        let Some((key, entry)) = auths.iter().find(|(k, _)| normalize_server(k) == want) else {
            return Ok(None);
        };
        let bad = |detail: &str| DockerConfigError::BadAuth {
            path: self.path(),
            key: key.clone(),
            detail: detail.to_string(),
        };
        let field = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(b64) = field("auth") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| bad("\"auth\" is not base64"))?;
            let text = String::from_utf8(raw).map_err(|_| bad("\"auth\" is not UTF-8"))?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| bad("\"auth\" is not user:password"))?;
            return Ok(Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }));
        }
        match (field("username"), field("password")) {
            (Some(u), Some(p)) => Ok(Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            })),
            _ => Ok(None),
        }
    }

    /// Save a login: through the registry's helper if one is configured, else into
    /// `auths`.
    pub fn save(&mut self, registry: &str, c: &Credentials) -> Result<Saved, DockerConfigError> {
        let server = server_key(registry);
        if let Some(h) = self.helper_for(registry) {
            let input = serde_json::json!({
                "ServerURL": server,
                "Username": c.username,
                "Secret": c.password,
            });
            self.run_helper(&h, "store", &server, input.to_string().as_bytes())?;
            return Ok(Saved::Helper(h));
        }
        let raw = format!("{}:{}", c.username, c.password);
        let auth = base64::engine::general_purpose::STANDARD.encode(raw);
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Some(m) = auths.as_object_mut() {
            let want = normalize_server(registry);
            m.retain(|k, _| normalize_server(k) != want);
            m.insert(server, serde_json::json!({ "auth": auth }));
        }
        self.write()?;
        Ok(Saved::File(self.path()))
    }

    /// Forget the login for `registry` (helper and `auths`); returns whether there
    /// was one.
    pub fn erase(&mut self, registry: &str) -> Result<bool, DockerConfigError> {
        let server = server_key(registry);
        let mut found = false;
        if let Some(h) = self.helper_for(registry) {
            found = self.helper_get(&h, registry)?.is_some();
            if found {
                self.run_helper(&h, "erase", &server, server.as_bytes())?;
            }
        }
        let want = normalize_server(registry);
        let removed = self
            .doc
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .map(|m| {
                let before = m.len();
                m.retain(|k, _| normalize_server(k) != want);
                before != m.len()
            })
            .unwrap_or(false);
        if removed {
            self.write()?;
        }
        Ok(found || removed)
    }

    fn helper_get(
        &self,
        helper: &str,
        registry: &str,
    ) -> Result<Option<Credentials>, DockerConfigError> {
        let server = server_key(registry);
        let out = match self.run_helper(helper, "get", &server, server.as_bytes()) {
            Ok(out) => out,
            Err(DockerConfigError::Helper { detail, .. })
                if detail.to_lowercase().contains("credentials not found") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        #[derive(serde::Deserialize)]
        struct Reply {
            #[serde(rename = "Username", default)]
            username: String,
            #[serde(rename = "Secret", default)]
            secret: String,
        }
        let r: Reply = serde_json::from_slice(&out).map_err(|e| DockerConfigError::Helper {
            helper: helper.to_string(),
            op: "get",
            server: server.clone(),
            detail: format!("reply is not the expected JSON: {e}"),
        })?;
        Ok((!r.secret.is_empty()).then_some(Credentials {
            username: r.username,
            password: r.secret,
        }))
    }

    fn run_helper(
        &self,
        helper: &str,
        op: &'static str,
        server: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, DockerConfigError> {
        let fail = |detail: String| DockerConfigError::Helper {
            helper: helper.to_string(),
            op,
            server: server.to_string(),
            detail,
        };
        if !valid_helper(helper) {
            return Err(fail("invalid helper name".into()));
        }
        let prog = format!("docker-credential-{helper}");
        let prog = match &self.helper_dir {
            Some(d) => d.join(prog),
            None => PathBuf::from(prog),
        };
        let mut child = Command::new(&prog)
            .arg(op)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => fail(format!("{} is not in PATH", prog.display())),
                _ => fail(e.to_string()),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading its input is judged by its status.
            let _ = stdin.write_all(input);
        }
        let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
        if !out.status.success() {
            let mut msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let err = String::from_utf8_lossy(&out.stderr);
            if !err.trim().is_empty() {
                msg = format!("{msg} {}", err.trim()).trim().to_string();
            }
            return Err(fail(format!("{}: {msg}", out.status)));
        }
        Ok(out.stdout)
    }

    fn write(&self) -> Result<(), DockerConfigError> {
        let path = self.path();
        let io_err = |op: &'static str| {
            let path = path.clone();
            move |error| DockerConfigError::Io { path, op, error }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_err("create directory"))?;
        let mut data = serde_json::to_vec_pretty(&self.doc)
            .map_err(|e| io_err("serialize")(io::Error::other(e)))?;
        data.push(b'\n');
        let tmp = self
            .dir
            .join(format!(".config.json.{}.tmp", std::process::id()));
        let res = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res.map_err(io_err("write"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn keys_normalise() {
        for k in [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "registry-1.docker.io",
            "docker.io",
        ] {
            assert_eq!(normalize_server(k), "docker.io", "{k}");
        }
        assert_eq!(
            normalize_server("http://Reg.Example:5000/v1/"),
            "reg.example:5000"
        );
        assert_eq!(server_key("index.docker.io"), DOCKER_HUB_SERVER);
        assert_eq!(server_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[test]
    fn auths_read_in_every_form_and_save_keeps_other_keys() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("docker");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"auths":{"https://127.0.0.1:5000/v1/":{"auth":"dTpwOnc="},
               "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
               "old.example":{"username":"o","password":"pw"},
               "bad.example":{"auth":"!!"}},
               "psFormat":"table {{.ID}}","proxies":{"default":{}}}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load(&dir).unwrap();
        assert_eq!(
            c.credentials("127.0.0.1:5000").unwrap(),
            Some(creds("u", "p:w"))
        );
        assert_eq!(
            c.credentials("docker.io").unwrap(),
            Some(creds("hub", "secret"))
        );
        assert_eq!(
            c.credentials("old.example").unwrap(),
            Some(creds("o", "pw"))
        );
        assert_eq!(c.credentials("other").unwrap(), None);
        let e = c.credentials("bad.example").unwrap_err().to_string();
        assert!(e.contains("bad.example") && e.contains("base64"), "{e}");

        assert_eq!(
            c.save("127.0.0.1:5000", &creds("n", "m")).unwrap(),
            Saved::File(dir.join("config.json"))
        );
        let mode = std::fs::metadata(dir.join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = DockerConfig::load(&dir).unwrap();
        assert_eq!(
            again.credentials("127.0.0.1:5000").unwrap(),
            Some(creds("n", "m"))
        );
        let v: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert!(
            v["auths"].get("https://127.0.0.1:5000/v1/").is_none(),
            "old key replaced"
        );
        assert!(v["auths"].get("127.0.0.1:5000").is_some());

        let mut again = again;
        assert!(again.erase("127.0.0.1:5000").unwrap());
        assert!(!again.erase("127.0.0.1:5000").unwrap());
        assert_eq!(
            DockerConfig::load(&dir)
                .unwrap()
                .credentials("127.0.0.1:5000")
                .unwrap(),
            None
        );
    }

    #[test]
    fn missing_dir_is_created_private() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("new/.docker");
        let mut c = DockerConfig::load(&dir).unwrap();
        c.save("docker.io", &creds("a", "b")).unwrap();
        let v: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        assert!(v["auths"][DOCKER_HUB_SERVER]["auth"].is_string());
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(dir.join("config.json"), "{not json").unwrap();
        let e = DockerConfig::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("not valid JSON"),
            "{e}"
        );
    }

    #[test]
    fn helpers_get_store_erase() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let store = t.path().join("store");
        // A helper that keeps one secret in a file.
        let script = format!(
            "#!/bin/sh\nset -e\nin=$(cat)\ncase \"$1\" in\n\
             get) [ -s {s} ] || {{ echo 'credentials not found in native keychain'; exit 1; }}; cat {s};;\n\
             store) printf '%s' \"$in\" > {s};;\n\
             erase) rm -f {s};;\nesac\n",
            s = store.display()
        );
        let helper = bin.join("docker-credential-filetest");
        std::fs::write(&helper, script).unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = t.path().join("docker");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"credHelpers":{"reg.example":"filetest","broken.example":"nosuch"},
               "auths":{"reg.example":{"auth":"ZmFsbDpiYWNr"}}}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load(&dir).unwrap().with_helper_dir(&bin);
        assert_eq!(
            c.credentials("reg.example").unwrap(),
            Some(creds("fall", "back")),
            "helper has none: auths"
        );
        assert_eq!(
            c.save("reg.example", &creds("h", "s")).unwrap(),
            Saved::Helper("filetest".into())
        );
        assert_eq!(c.credentials("reg.example").unwrap(), Some(creds("h", "s")));
        assert!(c.erase("reg.example").unwrap());
        let e = c.credentials("broken.example").unwrap_err().to_string();
        assert!(
            e.contains("docker-credential-nosuch") && e.contains("broken.example"),
            "{e}"
        );
        let mut evil = DockerConfig::load(&dir).unwrap();
        evil.doc
            .insert("credsStore".into(), Value::String("../../bin/sh".into()));
        assert!(evil
            .credentials("x.example")
            .unwrap_err()
            .to_string()
            .contains("invalid helper name"));
    }
}
