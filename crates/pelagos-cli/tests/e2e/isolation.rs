//! What the container sees from inside: capabilities, no_new_privs, ids, mounts, hostname,
//! masked and read-only paths, rlimits, cwd, env, inherited fds, sysctl, user mounts, /dev.

use anyhow::{bail, Result};
use serde_json::json;

use crate::support::{
    case, expect_contains, expect_eq, field, pelagos_case, Bundle, Case, Container, Runtime,
};

/// This module's tests.
pub fn cases() -> Vec<Case> {
    vec![
        case("caps_root", caps_root),
        case("caps_user", caps_user),
        case("no_new_privs", no_new_privs),
        case("user_ids", user_ids),
        case("mountinfo", mountinfo),
        case("hostname", hostname),
        case("masked_paths", masked_paths),
        case("readonly_paths", readonly_paths),
        case("rlimits", rlimits),
        case("cwd", cwd),
        case("cwd_created", cwd_created),
        case("env", env),
        case("fds", fds),
        case("root_readonly", root_readonly),
        case("sysctl", sysctl),
        case("bind_mount", bind_mount),
        case("tmpfs_mount", tmpfs_mount),
        case("dev", dev),
        case("linux_devices", linux_devices),
        // runc 1.1 ignores `domainname` (it came in runc 1.2), so it cannot be the oracle here.
        pelagos_case("domainname", domainname),
        case("umask", umask),
        case("oom_score_adj", oom_score_adj),
    ]
}

/// Runs the bundle's process and returns its stdout.
fn probe(rt: &Runtime, b: Bundle) -> Result<String> {
    Container::new(rt, b)?.probe()
}

fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0, |m, n| m | (1u64 << cap_number(n)))
}

fn cap_number(name: &str) -> u32 {
    match name {
        "CAP_CHOWN" => 0,
        "CAP_KILL" => 5,
        "CAP_SETGID" => 6,
        "CAP_SETUID" => 7,
        "CAP_NET_BIND_SERVICE" => 10,
        "CAP_NET_RAW" => 13,
        "CAP_SYS_CHROOT" => 18,
        "CAP_AUDIT_WRITE" => 29,
        "CAP_SETFCAP" => 31,
        other => panic!("cap table lacks {other}"),
    }
}

const BOUNDING: &[&str] = &[
    "CAP_CHOWN",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
];
const INHERITABLE: &[&str] = &["CAP_KILL", "CAP_NET_BIND_SERVICE"];
const AMBIENT: &[&str] = &["CAP_NET_BIND_SERVICE"];

fn caps_bundle(uid: u32) -> Result<Bundle> {
    Ok(Bundle::busybox()?
        .caps("bounding", BOUNDING)
        .caps("effective", BOUNDING)
        .caps("permitted", BOUNDING)
        .caps("inheritable", INHERITABLE)
        .caps("ambient", AMBIENT)
        .user(uid, uid, &[])
        .sh("grep -E '^Cap' /proc/self/status"))
}

fn check_caps(out: &str, want: &[(&str, u64)]) -> Result<()> {
    for (k, v) in want {
        let got = field(out, k).map(|s| u64::from_str_radix(s, 16));
        match got {
            Some(Ok(g)) if g == *v => {}
            _ => bail!("{k}: expected {v:016x}, status says {got:?}\n{out}"),
        }
    }
    Ok(())
}

/// As root, exec keeps the bounding set as permitted/effective: file caps count as full.
fn caps_root(rt: &Runtime) -> Result<()> {
    let out = probe(rt, caps_bundle(0)?)?;
    let b = cap_mask(BOUNDING);
    check_caps(
        &out,
        &[
            ("CapBnd", b),
            ("CapPrm", b),
            ("CapEff", b),
            ("CapInh", cap_mask(INHERITABLE)),
            ("CapAmb", cap_mask(AMBIENT)),
        ],
    )
}

/// As a non-root user only the ambient set survives exec into permitted/effective.
fn caps_user(rt: &Runtime) -> Result<()> {
    let out = probe(rt, caps_bundle(1000)?)?;
    let a = cap_mask(AMBIENT);
    check_caps(
        &out,
        &[
            ("CapBnd", cap_mask(BOUNDING)),
            ("CapPrm", a),
            ("CapEff", a),
            ("CapInh", cap_mask(INHERITABLE)),
            ("CapAmb", a),
        ],
    )
}

fn no_new_privs(rt: &Runtime) -> Result<()> {
    for (on, want) in [(true, "1"), (false, "0")] {
        let b = Bundle::busybox()?
            .no_new_privs(on)
            .sh("grep NoNewPrivs /proc/self/status");
        let out = probe(rt, b)?;
        expect_eq(
            &format!("NoNewPrivs with noNewPrivileges={on}"),
            field(&out, "NoNewPrivs"),
            Some(want),
        )?;
    }
    Ok(())
}

fn user_ids(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .user(1000, 1000, &[10, 20])
        .sh("grep -E '^(Uid|Gid|Groups)' /proc/self/status; echo id=$(id -u):$(id -g):$(id -G)");
    let out = probe(rt, b)?;
    let squash = |k| field(&out, k).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "));
    expect_eq("Uid", squash("Uid"), Some("1000 1000 1000 1000".into()))?;
    expect_eq("Gid", squash("Gid"), Some("1000 1000 1000 1000".into()))?;
    let mut groups: Vec<u32> = squash("Groups")
        .unwrap_or_default()
        .split(' ')
        .filter_map(|g| g.parse().ok())
        .collect();
    groups.sort_unstable();
    expect_eq("Groups", groups, vec![10, 20])?;
    expect_contains("id", &out, "id=1000:1000:")
}

/// One parsed line of /proc/self/mountinfo: (mount point, per-mount options, fstype, super options).
fn mounts(text: &str) -> Vec<(String, String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(" - ")?;
            let a: Vec<&str> = a.split(' ').collect();
            let b: Vec<&str> = b.split(' ').collect();
            Some((
                a.get(4)?.to_string(),
                a.get(5)?.to_string(),
                b.first()?.to_string(),
                b.get(2)?.to_string(),
            ))
        })
        .collect()
}

/// Fails unless `point` is mounted with `fstype` and every option in `opts` (mount or super).
fn expect_mount(text: &str, point: &str, fstype: &str, opts: &[&str]) -> Result<()> {
    let all = mounts(text);
    let Some(m) = all.iter().rev().find(|m| m.0 == point) else {
        bail!("{point} is not a mount point:\n{text}");
    };
    if m.2 != fstype {
        bail!("{point}: fstype {} instead of {fstype}", m.2);
    }
    let have: Vec<&str> = m.1.split(',').chain(m.3.split(',')).collect();
    for o in opts {
        if !have.contains(o) {
            bail!("{point}: option {o} missing from {} / {}", m.1, m.3);
        }
    }
    Ok(())
}

fn mountinfo(rt: &Runtime) -> Result<()> {
    let out = probe(rt, Bundle::busybox()?.sh("cat /proc/self/mountinfo"))?;
    expect_mount(&out, "/proc", "proc", &["rw"])?;
    expect_mount(
        &out,
        "/dev",
        "tmpfs",
        &["nosuid", "mode=755", "size=65536k"],
    )?;
    expect_mount(
        &out,
        "/dev/pts",
        "devpts",
        &["nosuid", "noexec", "gid=5", "mode=620", "ptmxmode=666"],
    )?;
    expect_mount(
        &out,
        "/dev/shm",
        "tmpfs",
        &["nosuid", "nodev", "noexec", "size=65536k"],
    )?;
    expect_mount(
        &out,
        "/dev/mqueue",
        "mqueue",
        &["nosuid", "nodev", "noexec"],
    )?;
    expect_mount(&out, "/sys", "sysfs", &["ro", "nosuid", "nodev", "noexec"])?;
    let root = mounts(&out).into_iter().find(|m| m.0 == "/");
    match root {
        Some(r) if r.1.split(',').any(|o| o == "ro") => Ok(()),
        other => bail!("/ should be mounted ro (root.readonly), got {other:?}\n{out}"),
    }
}

fn hostname(rt: &Runtime) -> Result<()> {
    let out = probe(
        rt,
        Bundle::busybox()?
            .hostname("pel-host-e2e")
            .sh("hostname; cat /proc/sys/kernel/hostname"),
    )?;
    expect_eq(
        "hostname",
        out.lines().collect::<Vec<_>>(),
        vec!["pel-host-e2e", "pel-host-e2e"],
    )
}

/// Custom masked file and dir inside the rootfs, plus the default /proc entries that exist.
fn masked_paths(rt: &Runtime) -> Result<()> {
    let host_masked: Vec<&str> = ["/proc/keys", "/proc/timer_list", "/proc/kcore"]
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    let mut masked = vec!["/etc/secret", "/secretdir"];
    masked.extend(&host_masked);
    masked.push("/sys/firmware");
    let mut script = String::from(
        "stat -c '%n %t:%T %F' /etc/secret; echo content=$(cat /etc/secret); \
         echo dir=$(ls -A /secretdir | wc -l); touch /secretdir/x 2>&1; grep ' /secretdir ' /proc/self/mountinfo; ",
    );
    for p in &host_masked {
        script.push_str(&format!("stat -c '%n %t:%T %F' {p}; "));
    }
    let b = Bundle::busybox()?
        .file("/etc/secret", "top-secret\n", 0o644)?
        .file("/secretdir/inside", "hidden\n", 0o644)?
        .masked_paths(&masked)
        .sh(&script);
    let out = probe(rt, b)?;
    expect_contains(
        "masked file",
        &out,
        "/etc/secret 1:3 character special file",
    )?;
    expect_contains("masked file reads empty", &out, "content=\n")?;
    expect_contains("masked dir empty", &out, "dir=0")?;
    expect_contains("masked dir read-only", &out, "Read-only file system")?;
    let line = out
        .lines()
        .find(|l| l.contains(" /secretdir "))
        .unwrap_or_default();
    if !line.contains(" - tmpfs ")
        || !line
            .split(' ')
            .nth(5)
            .is_some_and(|o| o.split(',').any(|x| x == "ro"))
    {
        bail!("/secretdir should be a read-only tmpfs, mountinfo: {line:?}\n{out}");
    }
    for p in &host_masked {
        expect_contains(
            "masked /proc file",
            &out,
            &format!("{p} 1:3 character special file"),
        )?;
    }
    Ok(())
}

fn readonly_paths(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .readonly_root(false)
        .dir("/data")?
        .readonly_paths(&["/proc/sys", "/data"])
        .sh("(echo 1 > /proc/sys/vm/drop_caches) 2>&1; touch /data/f 2>&1; touch /ok && echo writable-root");
    let out = probe(rt, b)?;
    let n = out.matches("Read-only file system").count();
    expect_eq(&format!("EROFS count in:\n{out}"), n, 2)?;
    expect_contains("root stays writable", &out, "writable-root")
}

fn rlimits(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .rlimits(&[("RLIMIT_NOFILE", 512, 2048), ("RLIMIT_CORE", 0, 4096), ("RLIMIT_NPROC", 300, 400)])
        .sh("echo n=$(ulimit -n) hn=$(ulimit -Hn); grep -E '^Max (open files|core file size|processes)' /proc/self/limits");
    let out = probe(rt, b)?;
    expect_contains("ulimit", &out, "n=512 hn=2048")?;
    for (name, soft, hard) in [
        ("open files", "512", "2048"),
        ("core file size", "0", "4096"),
        ("processes", "300", "400"),
    ] {
        let line = out.lines().find(|l| l.contains(name)).unwrap_or_default();
        let cols: Vec<&str> = line.split_whitespace().collect();
        let words = name.split(' ').count() + 1;
        expect_eq(
            &format!("limits line {line:?}"),
            (cols.get(words).copied(), cols.get(words + 1).copied()),
            (Some(soft), Some(hard)),
        )?;
    }
    Ok(())
}

fn cwd(rt: &Runtime) -> Result<()> {
    let out = probe(rt, Bundle::busybox()?.cwd("/home/user").sh("pwd"))?;
    expect_eq("pwd", out.trim(), "/home/user")
}

/// A cwd missing from the image is created (also with a read-only root).
fn cwd_created(rt: &Runtime) -> Result<()> {
    let out = probe(
        rt,
        Bundle::busybox()?
            .cwd("/work/deep/dir")
            .sh("pwd; ls -ld . | cut -c1"),
    )?;
    expect_eq("pwd", out.lines().next(), Some("/work/deep/dir"))
}

fn env(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .env(&["PATH=/bin", "FOO=bar baz", "EMPTY="])
        .sh("env");
    let out = probe(rt, b)?;
    let mut vars: Vec<&str> = out.lines().collect();
    vars.sort_unstable();
    for want in ["PATH=/bin", "FOO=bar baz", "EMPTY="] {
        if !vars.contains(&want) {
            bail!("env lacks {want:?}: {vars:?}");
        }
    }
    let host_leak: Vec<&&str> = vars
        .iter()
        .filter(|v| v.starts_with("CARGO") || v.starts_with("RUST"))
        .collect();
    expect_eq("host env leaked into the container", host_leak.len(), 0)
}

/// The container's init holds only 0, 1 and 2 (the test's and runtime's fds do not leak).
fn fds(rt: &Runtime) -> Result<()> {
    let out = probe(rt, Bundle::busybox()?.sh("ls /proc/$$/fd; true"))?;
    expect_eq(
        "fds of pid 1",
        out.split_whitespace().collect::<Vec<_>>(),
        vec!["0", "1", "2"],
    )
}

fn root_readonly(rt: &Runtime) -> Result<()> {
    let out = probe(
        rt,
        Bundle::busybox()?
            .readonly_root(true)
            .sh("touch /x 2>&1; touch /tmp/x 2>&1; true"),
    )?;
    expect_eq(
        &format!("EROFS count in:\n{out}"),
        out.matches("Read-only file system").count(),
        2,
    )?;
    let out = probe(
        rt,
        Bundle::busybox()?
            .readonly_root(false)
            .sh("touch /x && echo wrote"),
    )?;
    expect_eq("writable root", out.trim(), "wrote")
}

fn sysctl(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .sysctl("net.ipv4.ip_forward", "1")
        .sysctl("kernel.shmmax", "123456789")
        .sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax");
    let out = probe(rt, b)?;
    expect_eq(
        "sysctl values",
        out.split_whitespace().collect::<Vec<_>>(),
        vec!["1", "123456789"],
    )
}

fn bind_mount(rt: &Runtime) -> Result<()> {
    let host = tempfile::Builder::new().prefix("pel-e2e-bind-").tempdir()?;
    std::fs::write(host.path().join("hello"), "from-host\n")?;
    let src = host.path().display().to_string();
    let b = Bundle::busybox()?
        .mount("/ro", "bind", &src, &["rbind", "ro", "nosuid", "nodev", "noexec"])
        .mount("/rw", "bind", &src, &["bind"])
        .sh("cat /ro/hello; touch /ro/new 2>&1; echo x > /rw/written; grep -E ' /(ro|rw) ' /proc/self/mountinfo");
    let out = probe(rt, b)?;
    expect_contains("bind content", &out, "from-host")?;
    expect_contains("ro bind", &out, "Read-only file system")?;
    expect_mount(
        &out,
        "/ro",
        mounts(&out)
            .iter()
            .find(|m| m.0 == "/ro")
            .map_or("?", |m| m.2.as_str()),
        &["ro", "nosuid", "nodev", "noexec"],
    )?;
    if !host.path().join("written").exists() {
        bail!("write through the rw bind did not reach the host\n{out}");
    }
    Ok(())
}

fn tmpfs_mount(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .mount(
            "/scratch",
            "tmpfs",
            "tmpfs",
            &["nosuid", "nodev", "size=1m", "mode=700"],
        )
        .sh("stat -c '%a' /scratch; grep ' /scratch ' /proc/self/mountinfo");
    let out = probe(rt, b)?;
    expect_eq("mode", out.lines().next(), Some("700"))?;
    expect_mount(
        &out,
        "/scratch",
        "tmpfs",
        &["nosuid", "nodev", "size=1024k", "mode=700"],
    )
}

fn dev(rt: &Runtime) -> Result<()> {
    let script =
        "for f in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$f; done; \
                  stat -L -c '%n %F %t:%T' /dev/ptmx; \
                  for d in pts shm; do stat -c '%n %F' /dev/$d; done; \
                  for l in fd stdin stdout stderr; do echo /dev/$l=$(readlink /dev/$l); done";
    let out = probe(rt, Bundle::busybox()?.sh(script))?;
    for want in [
        "/dev/null character special file 1:3",
        "/dev/zero character special file 1:5",
        "/dev/full character special file 1:7",
        "/dev/random character special file 1:8",
        "/dev/urandom character special file 1:9",
        "/dev/tty character special file 5:0",
        "/dev/ptmx character special file 5:2",
        "/dev/pts directory",
        "/dev/shm directory",
        "/dev/fd=/proc/self/fd",
        "/dev/stdin=/proc/self/fd/0",
        "/dev/stdout=/proc/self/fd/1",
        "/dev/stderr=/proc/self/fd/2",
    ] {
        expect_contains("/dev", &out, want)?;
    }
    Ok(())
}

fn linux_devices(rt: &Runtime) -> Result<()> {
    let dev = json!([{"path": "/dev/pel-null", "type": "c", "major": 1, "minor": 3,
                      "fileMode": 432, "uid": 0, "gid": 0}]);
    let b = Bundle::busybox()?
        .set("/linux/devices", dev)
        .sh("stat -c '%n %F %t:%T %a' /dev/pel-null; echo x > /dev/pel-null && echo writable");
    let out = probe(rt, b)?;
    expect_contains(
        "linux.devices",
        &out,
        "/dev/pel-null character special file 1:3 660",
    )?;
    expect_contains("device usable", &out, "writable")
}

fn domainname(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .set("/domainname", json!("pel.example"))
        .sh("cat /proc/sys/kernel/domainname");
    expect_eq(
        "domainname",
        probe(rt, b)?.trim().to_string(),
        "pel.example".into(),
    )
}

fn umask(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .set("/process/user/umask", json!(0o077))
        .sh("umask");
    expect_eq("umask", probe(rt, b)?.trim().to_string(), "0077".into())
}

fn oom_score_adj(rt: &Runtime) -> Result<()> {
    let b = Bundle::busybox()?
        .set("/process/oomScoreAdj", json!(345))
        .sh("cat /proc/self/oom_score_adj");
    expect_eq(
        "oom_score_adj",
        probe(rt, b)?.trim().to_string(),
        "345".into(),
    )
}
