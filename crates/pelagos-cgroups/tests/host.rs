//! Tests on the real cgroup hierarchy of the host (v1, hybrid or v2, whichever is mounted):
//! create a cgroup, limit it, move a child process in, read back, stats, freeze/thaw, OOM,
//! kill all, destroy. They need root; without it they print SKIPPED (and fail under
//! CI=true, where they must run). Every cgroup is named `pelagos-test-<pid>-<n>` and is
//! removed by a Drop guard, also when an assertion fails.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use oci_spec::runtime::LinuxResources;
use pelagos_cgroups::{Cgroup, CgroupManager, CgroupRoot, Layout};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
static SEQ: AtomicU32 = AtomicU32::new(0);

/// Prints past the test harness's capture so a skip is seen in every run.
fn skipped(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
}

/// The host's cgroup root, or `None` (printed as skipped) where these tests cannot run.
fn host_root(test: &str) -> Option<CgroupRoot> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let why = if !nix::unistd::geteuid().is_root() {
        Some("needs root".to_string())
    } else {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        match CgroupRoot::detect(CGROUP_ROOT, &mi) {
            Ok(r) if matches!(&r.layout, Layout::V1 { .. }) && r.hierarchy("memory").is_none() => {
                Some(format!("{CGROUP_ROOT}/memory is not mounted"))
            }
            Ok(r) => return Some(r),
            Err(e) => Some(e.to_string()),
        }
    };
    let why = why.unwrap_or_default();
    assert!(
        !ci || !nix::unistd::geteuid().is_root(),
        "{test} must run in CI as root: {why}"
    );
    skipped(test, &why);
    None
}

/// Owns the test cgroups and the child process; undoes both on drop.
struct Guard {
    cgroups: Vec<Cgroup>,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Leaf first: the container cgroup, then its test parent.
        for cg in self.cgroups.iter().rev() {
            let _ = cg.kill_all(libc::SIGKILL);
            if let Err(e) = cg.destroy() {
                let _ = writeln!(std::io::stderr(), "cleanup: {e}");
            }
        }
    }
}

/// A parent `/pelagos-test-<pid>-<n>` and a container cgroup `ctr` below it, created.
fn setup(root: &CgroupRoot) -> (Guard, Cgroup) {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let parent = format!("/pelagos-test-{}-{n}", std::process::id());
    let mut g = Guard {
        cgroups: Vec::new(),
        child: None,
    };
    g.cgroups
        .push(root.manager(Some(&parent), "unused").unwrap());
    let cg = root.manager(Some(&format!("{parent}/ctr")), "ctr").unwrap();
    g.cgroups.push(cg.clone());
    cg.create().unwrap();
    (g, cg)
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// Reads a control file of the container's cgroup in the hierarchy of `ctrl` (v1) or the
/// one directory (v2).
fn read(cg: &Cgroup, ctrl: &str, file: &str) -> String {
    let dir = match cg {
        Cgroup::V1(m) => m.dir_of(ctrl).unwrap().to_path_buf(),
        Cgroup::V2(m) => m.dir.clone(),
    };
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .trim()
        .to_owned()
}

fn spawn(g: &mut Guard, cg: &Cgroup, program: &str, args: &[&str]) -> i32 {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    g.child = Some(child);
    cg.add_pid(pid).unwrap();
    pid
}

#[test]
fn lifecycle_limits_stats_freeze_kill_destroy() {
    let Some(root) = host_root("host::lifecycle_limits_stats_freeze_kill_destroy") else {
        return;
    };
    let (mut g, cg) = setup(&root);
    let warnings = cg
        .apply(&resources(
            r#"{"memory":{"limit":67108864,"swap":134217728,"kernel":33554432},
                "pids":{"limit":32},
                "cpu":{"shares":512,"quota":50000,"period":100000},
                "devices":[{"allow":false,"access":"rwm"},
                           {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#,
        ))
        .unwrap();
    let pid = spawn(&mut g, &cg, "sleep", &["30"]);

    match &cg {
        Cgroup::V1(_) => {
            // Kernels since 5.x accept and ignore kmem limits: a warning, not an error.
            assert!(
                warnings.iter().all(|w| w.field == "memory.kernel"),
                "{warnings:?}"
            );
            assert_eq!(read(&cg, "memory", "memory.limit_in_bytes"), "67108864");
            assert_eq!(
                read(&cg, "memory", "memory.memsw.limit_in_bytes"),
                "134217728"
            );
            assert_eq!(read(&cg, "cpu", "cpu.shares"), "512");
            assert_eq!(read(&cg, "cpu", "cpu.cfs_quota_us"), "50000");
            assert_eq!(read(&cg, "devices", "devices.list"), "c 1:3 rwm");
        }
        Cgroup::V2(_) => {
            assert!(
                warnings.iter().any(|w| w.field == "memory.kernel"),
                "{warnings:?}"
            );
            assert_eq!(read(&cg, "", "memory.max"), "67108864");
            assert_eq!(read(&cg, "", "memory.swap.max"), "67108864");
            assert_eq!(read(&cg, "", "cpu.max"), "50000 100000");
        }
    }
    assert_eq!(read(&cg, "pids", "pids.max"), "32");
    assert_eq!(cg.pids().unwrap(), [pid]);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.contains("/ctr"), "{own}");

    let stats = cg.stats().unwrap();
    assert_eq!(stats.pids.current, 1);
    assert_eq!(stats.pids.limit, 32);
    assert_eq!(stats.memory.usage.limit, 67_108_864);
    if matches!(cg, Cgroup::V1(_)) {
        assert!(
            !stats.cpuset.cpus.is_empty(),
            "cpuset inherited from the parent"
        );
    }
    let json = serde_json::to_value(&stats).unwrap();
    assert!(
        json["cpu"]["usage"].is_object() && json["memory"]["usage"].is_object(),
        "{json}"
    );

    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    assert_eq!(cg.oom_kill_count().unwrap(), 0);

    cg.kill_all(libc::SIGKILL).unwrap();
    let status = g.child.take().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert!(cg.pids().unwrap().is_empty());

    cg.destroy().unwrap();
    for d in cg.dirs() {
        assert!(!Path::new(&d).exists(), "{d:?} left behind");
    }
}

#[test]
fn oom_kill_is_counted() {
    let Some(root) = host_root("host::oom_kill_is_counted") else {
        return;
    };
    let (mut g, cg) = setup(&root);
    // memory+swap equal to the limit: the allocation cannot escape to swap.
    cg.apply(&resources(r#"{"memory":{"limit":8388608,"swap":8388608}}"#))
        .unwrap();
    let mut watch = cg.oom_watch().unwrap().expect("memory controller");
    assert_eq!(watch.take().unwrap(), 0);
    // The short sleep lets add_pid run before dd allocates its 64 MiB buffer.
    spawn(
        &mut g,
        &cg,
        "sh",
        &[
            "-c",
            "sleep 0.3; exec dd if=/dev/zero of=/dev/null bs=64M count=1",
        ],
    );
    let status = g.child.take().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "{status:?}"
    );
    assert!(cg.oom_kill_count().unwrap() >= 1);
    // The watch fd woke up without polling the counters.
    let mut ready = [false];
    pelagos_sys::process::poll_readable(&[watch.fd()], &mut ready, 1000).unwrap();
    assert!(ready[0], "OOM watch fd not readable after the kill");
    assert!(watch.take().unwrap() >= 1);
    let stats = cg.stats().unwrap();
    assert_eq!(stats.memory.usage.limit, 8_388_608, "{stats:?}");
}

#[test]
fn kill_all_with_sigterm_and_children() {
    let Some(root) = host_root("host::kill_all_with_sigterm_and_children") else {
        return;
    };
    let (mut g, cg) = setup(&root);
    // A shell with two children: all three are in the cgroup.
    spawn(
        &mut g,
        &cg,
        "sh",
        &["-c", "sleep 0.3; sleep 30 & sleep 30 & wait"],
    );
    wait_for_pids(&cg, 3);
    cg.kill_all(libc::SIGTERM).unwrap();
    g.child.take().unwrap().wait().unwrap();
    // The sleeps were reparented to init (or a subreaper) and died of SIGTERM too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !cg.pids().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(cg.pids().unwrap().is_empty());
}

#[test]
fn kernel_refusal_names_file_value_and_errno() {
    let Some(root) = host_root("host::kernel_refusal_names_file_value_and_errno") else {
        return;
    };
    let (_g, cg) = setup(&root);
    // A CFS quota below 1 ms is refused by the kernel on both versions.
    let e = cg
        .apply(&resources(r#"{"cpu":{"quota":500,"period":100000}}"#))
        .unwrap_err()
        .to_string();
    let file = match cg {
        Cgroup::V1(_) => "cpu.cfs_quota_us=500",
        Cgroup::V2(_) => "cpu.max=500 100000",
    };
    assert!(
        e.contains(file) && e.contains("EINVAL") && e.contains("out of range"),
        "{e}"
    );
    // Valid values still apply afterwards.
    cg.apply(&resources(r#"{"cpu":{"quota":1000,"period":100000}}"#))
        .unwrap();
}

/// Waits until the cgroup lists `n` processes.
fn wait_for_pids(cg: &Cgroup, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while cg.pids().unwrap().len() < n && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(cg.pids().unwrap().len(), n);
}

#[test]
fn kill_all_sigkill_by_freeze_and_signal_rounds() {
    let Some(root) = host_root("host::kill_all_sigkill_by_freeze_and_signal_rounds") else {
        return;
    };
    let (mut g, cg) = setup(&root);
    spawn(
        &mut g,
        &cg,
        "sh",
        &["-c", "sleep 0.3; sleep 30 & sleep 30 & wait"],
    );
    wait_for_pids(&cg, 3);
    // Without the hybrid cgroup2 directory the v1 manager has no cgroup.kill and must use
    // the freezer rounds, as on a pure v1 host.
    let rounds = match &cg {
        Cgroup::V1(m) => Cgroup::V1(pelagos_cgroups::V1Manager::new(m.dirs.clone(), None)),
        Cgroup::V2(_) => cg.clone(),
    };
    rounds.kill_all(libc::SIGKILL).unwrap();
    assert!(cg.pids().unwrap().is_empty());
    let status = g.child.take().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert!(!cg.is_frozen().unwrap(), "left thawed");
}

#[test]
fn guard_removes_cgroups_on_panic() {
    let Some(root) = host_root("host::guard_removes_cgroups_on_panic") else {
        return;
    };
    let dirs = std::sync::Mutex::new(Vec::new());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (mut g, cg) = setup(&root);
        spawn(&mut g, &cg, "sleep", &["30"]);
        for c in &g.cgroups {
            dirs.lock().unwrap().extend(c.dirs());
        }
        panic!("deliberate panic with a live cgroup");
    }));
    assert!(r.is_err());
    let dirs = dirs.into_inner().unwrap();
    assert!(!dirs.is_empty());
    for d in dirs {
        assert!(!d.exists(), "{d:?} survived the panic");
    }
}

/// The cgroup2 mount (the root on v2, `unified` on a hybrid host), where eBPF device
/// programs attach to any directory.
fn cgroup2_mount(root: &CgroupRoot) -> Option<std::path::PathBuf> {
    match &root.layout {
        Layout::V2 { mount } => Some(mount.clone()),
        Layout::V1 { unified, .. } => unified.clone(),
    }
}

/// A shell placed in `cg` before it opens `devices`; its output says which opens failed.
fn try_devices(g: &mut Guard, dir: &Path, devices: &[&str]) -> String {
    let mut script = format!("echo $$ > {}/cgroup.procs || exit 99", dir.display());
    for d in devices {
        script.push_str(&format!(
            "; head -c1 {d} >/dev/null 2>&1 && echo {d}=ok || echo {d}=denied"
        ));
    }
    let child = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    g.child = None;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new cgroup `/pelagos-test-<pid>-<n>-bpf` on the cgroup2 mount (removed by the
/// guard), or `None` (printed as skipped) where there is none or no root.
fn v2_cgroup(test: &str) -> Option<(Guard, pelagos_cgroups::V2Manager)> {
    let root = host_root(test)?;
    let Some(mount) = cgroup2_mount(&root) else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{test}: no cgroup2 mount"
        );
        skipped(test, "no cgroup2 mount on this host");
        return None;
    };
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let m = pelagos_cgroups::V2Manager::new(
        mount,
        &format!("/pelagos-test-{}-{n}-bpf", std::process::id()),
    );
    let g = Guard {
        cgroups: vec![Cgroup::V2(m.clone())],
        child: None,
    };
    std::fs::create_dir(&m.dir).unwrap();
    Some((g, m))
}

/// Allow every device but the character device `major:minor`.
fn deny(dev: &str) -> LinuxResources {
    let (major, minor) = dev.split_once(':').unwrap();
    resources(&format!(
        r#"{{"devices":[{{"allow":true,"access":"rwm"}},
            {{"allow":false,"type":"c","major":{major},"minor":{minor},"access":"rwm"}}]}}"#
    ))
}

#[test]
fn v2_device_filter_is_loaded_replaced_and_removed() {
    let Some((mut g, m)) = v2_cgroup("host::v2_device_filter_is_loaded_replaced_and_removed")
    else {
        return;
    };

    m.apply(&deny("1:7")).unwrap();
    let first = pelagos_cgroups::v2::attached_device_programs(&m.dir).unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    let out = try_devices(&mut g, &m.dir, &["/dev/full", "/dev/null", "/dev/zero"]);
    assert_eq!(out, "/dev/full=denied\n/dev/null=ok\n/dev/zero=ok\n");

    // update: the new program replaces the old one instead of stacking.
    m.apply(&deny("1:5")).unwrap();
    let second = pelagos_cgroups::v2::attached_device_programs(&m.dir).unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first, second);
    let out = try_devices(&mut g, &m.dir, &["/dev/full", "/dev/zero"]);
    assert_eq!(out, "/dev/full=ok\n/dev/zero=denied\n");

    // Allow-all removes the filter.
    m.apply(&resources(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#))
        .unwrap();
    assert!(pelagos_cgroups::v2::attached_device_programs(&m.dir)
        .unwrap()
        .is_empty());
    m.apply(&deny("1:7")).unwrap();
    let last = pelagos_cgroups::v2::attached_device_programs(&m.dir).unwrap();

    // Removing the cgroup frees its program (the kernel releases it asynchronously).
    drop(g);
    assert!(!m.dir.exists());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while pelagos_sys::bpf::prog_fd_by_id(last[0]).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "program {} outlived its cgroup",
            last[0]
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn concurrent_device_updates_leave_one_program() {
    let Some((g, m)) = v2_cgroup("host::concurrent_device_updates_leave_one_program") else {
        return;
    };
    const UPDATES: u32 = 8;
    for round in 0..50 {
        // Each update has its own rule, hence its own program; all start at once.
        let start = std::sync::Barrier::new(UPDATES as usize);
        std::thread::scope(|s| {
            for i in 0..UPDATES {
                let (m, start) = (&m, &start);
                s.spawn(move || {
                    start.wait();
                    m.apply(&deny(&format!("1:{}", 100 + round * UPDATES + i)))
                        .unwrap();
                });
            }
        });
        let ids = pelagos_cgroups::v2::attached_device_programs(&m.dir).unwrap();
        assert_eq!(ids.len(), 1, "round {round}: attached {ids:?}");
    }
    drop(g);
    assert!(!m.dir.exists());
}

#[test]
fn refused_program_comes_back_with_the_verifier_log() {
    if host_root("host::refused_program_comes_back_with_the_verifier_log").is_none() {
        return;
    }
    // r0 = r9 (never written); exit.
    let insns = [0xbf, 0x90, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let e = pelagos_sys::bpf::prog_load(
        pelagos_cgroups::devices_bpf::PROG_TYPE_CGROUP_DEVICE,
        &insns,
        pelagos_cgroups::devices_bpf::LICENSE,
    )
    .unwrap_err();
    assert_eq!(e.errno.0, libc::EACCES, "{e:?}");
    assert!(e.log.contains("R9"), "{e:?}");
}
