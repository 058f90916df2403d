//! Starts the fixture registries (`tests/fixtures/*.sh`) in a private state dir on free
//! loopback ports, builds the test images once, and stops the registries by PID on drop.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Tools the fixture scripts need.
const TOOLS: [&str; 7] = [
    "docker-registry",
    "htpasswd",
    "skopeo",
    "umoci",
    "jq",
    "zstd",
    "openssl",
];

/// A running set of registries with the test images pushed.
pub struct Fixture {
    pub state: PathBuf,
    scripts: PathBuf,
    pub anon: String,
    pub tls: String,
    pub basic: String,
    pub token: String,
    pub digests: HashMap<String, String>,
}

/// `n` distinct free loopback ports: every listener stays open until all are picked, so the
/// kernel cannot hand the same port out twice.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .expect("local address of a bound socket")
                .port()
        })
        .collect()
}

/// Whether `tool` is on the search path (asked of the shell, which reads `PATH`).
fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", "command -v \"$1\" >/dev/null", "sh", tool])
        .status()
        .is_ok_and(|s| s.success())
}

impl Fixture {
    /// Start everything, or say why not (the caller skips visibly, or fails in CI).
    pub fn start() -> Result<Self, String> {
        let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !have(t)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing tools {missing:?}: apt-get install $(cat tests/fixtures/APT-PACKAGES)"
            ));
        }
        // The owner of /proc/self is our effective uid (this crate has no dependencies).
        let euid = std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata("/proc/self").map_err(|e| e.to_string())?,
        );
        if euid != 0 {
            return Err("needs root (layer unpack keeps owners, creates whiteout devices)".into());
        }
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .canonicalize()
            .map_err(|e| e.to_string())?;
        let state = std::env::temp_dir().join(format!("pelagos-image-e2e-{}", std::process::id()));
        // Ports are picked free and then handed to the registries; another process can
        // take one in between on a busy machine, so a failed start is retried on fresh
        // ports (each attempt's registries are stopped first).
        let mut attempt = 0;
        let mut f = loop {
            attempt += 1;
            let ports = free_ports(5);
            let f = Fixture {
                anon: format!("127.0.0.1:{}", ports[0]),
                tls: format!("127.0.0.1:{}", ports[1]),
                basic: format!("127.0.0.1:{}", ports[2]),
                token: format!("127.0.0.1:{}", ports[3]),
                state: state.clone(),
                scripts: scripts.clone(),
                digests: HashMap::new(),
            };
            let envs = [
                ("PELAGOS_REGISTRY_STATE", f.state.display().to_string()),
                ("PELAGOS_REG_PORT_ANON", ports[0].to_string()),
                ("PELAGOS_REG_PORT_TLS", ports[1].to_string()),
                ("PELAGOS_REG_PORT_BASIC", ports[2].to_string()),
                ("PELAGOS_REG_PORT_TOKEN", ports[3].to_string()),
                ("PELAGOS_REG_PORT_TOKENSRV", ports[4].to_string()),
                ("PELAGOS_BIG_MB", "4".to_string()),
                ("PELAGOS_NO_APT", "1".to_string()),
            ];
            match ["registry-up.sh", "build-images.sh"]
                .iter()
                .try_for_each(|script| run_script(&f.scripts, script, &envs))
            {
                Ok(()) => break f,
                Err(e) if attempt >= 3 => return Err(e),
                Err(e) => {
                    eprintln!("registry fixture: attempt {attempt} failed, retrying: {e}");
                    drop(f); // stops what this attempt started
                }
            }
        };
        let tsv = std::fs::read_to_string(f.state.join("images.tsv")).map_err(|e| e.to_string())?;
        for line in tsv.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() >= 2 {
                f.digests.insert(cols[0].to_string(), cols[1].to_string());
            }
        }
        Ok(f)
    }

    pub fn ca(&self) -> PathBuf {
        self.state.join("certs/ca.crt")
    }

    pub fn expected(&self, name: &str) -> String {
        std::fs::read_to_string(self.state.join("expected").join(name)).unwrap_or_default()
    }

    pub fn digest(&self, r: &str) -> &str {
        self.digests
            .get(r)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{r} not in images.tsv"))
    }
}

/// An extra anonymous registry on its own empty storage (a mirror that lacks every
/// image), stopped by PID on drop.
pub struct EmptyRegistry {
    pub addr: String,
    state: PathBuf,
    scripts: PathBuf,
}

impl Fixture {
    /// Start an [`EmptyRegistry`].
    pub fn empty_registry(&self, name: &str) -> Result<EmptyRegistry, String> {
        let state = self.state.with_file_name(format!(
            "{}-{name}",
            self.state.file_name().unwrap_or_default().to_string_lossy()
        ));
        let port = free_ports(1)[0];
        let reg = EmptyRegistry {
            addr: format!("127.0.0.1:{port}"),
            state,
            scripts: self.scripts.clone(),
        };
        let envs = [
            ("PELAGOS_REGISTRY_STATE", reg.state.display().to_string()),
            ("PELAGOS_REG_PORT_ANON", port.to_string()),
            ("PELAGOS_REG_INSTANCES", "anon".to_string()),
            ("PELAGOS_NO_APT", "1".to_string()),
        ];
        run_script(&reg.scripts, "registry-up.sh", &envs)?;
        Ok(reg)
    }

    /// The directory of the fixture scripts (the test credential helper lives there).
    pub fn scripts(&self) -> &Path {
        &self.scripts
    }
}

/// Run fixture script `script` with `envs`; its stderr is the error.
fn run_script(scripts: &Path, script: &str, envs: &[(&str, String)]) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(scripts.join(script))
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .map_err(|e| format!("{script}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// A loopback port nothing listens on (connections are refused).
pub fn dead_port() -> u16 {
    free_ports(1)[0]
}

/// Stop the registries of `state` by the PIDs recorded there and remove the state.
fn registry_down(scripts: &Path, state: &Path) {
    let st = Command::new("bash")
        .arg(scripts.join("registry-down.sh"))
        .arg("--purge")
        .env("PELAGOS_REGISTRY_STATE", state)
        .output();
    if let Ok(o) = st {
        if !o.status.success() {
            eprintln!("registry-down.sh: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
}

impl Drop for EmptyRegistry {
    fn drop(&mut self) {
        registry_down(&self.scripts, &self.state);
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        registry_down(&self.scripts, &self.state);
    }
}
