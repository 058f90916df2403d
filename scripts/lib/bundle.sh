# shellcheck shell=bash
# make_busybox_bundle DIR CMD...: an OCI bundle in DIR whose rootfs is Debian's busybox-static
# (one symlink per applet, /etc/passwd and /etc/group with root, user 1000 and nobody) and
# whose config.json is `runc spec`'s default with terminal off and CMD as process.args.
# The Rust e2e tests build the same bundle in crates/pelagos-cli/tests/e2e/support/bundle.rs.
make_busybox_bundle() {
    local dir=$1
    shift
    make_busybox_rootfs "$dir/rootfs"
    local args
    args=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
    jq -n --argjson args "$args" '{
      ociVersion: "1.0.2-dev",
      process: {
        terminal: false, user: {uid: 0, gid: 0}, args: $args,
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        cwd: "/",
        capabilities: ({} | .bounding = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
          | .effective = .bounding | .permitted = .bounding | .ambient = .bounding),
        rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
        noNewPrivileges: true
      },
      root: {path: "rootfs", readonly: true},
      hostname: "runc",
      mounts: [
        {destination: "/proc", type: "proc", source: "proc"},
        {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]},
        {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]},
        {destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}
      ],
      linux: {
        resources: {devices: [{allow: false, access: "rwm"}]},
        namespaces: [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}],
        maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
      }
    }' > "$dir/config.json"
}

# make_busybox_rootfs DIR: Debian's busybox-static in DIR with one symlink per applet and
# /etc/passwd and /etc/group holding root, user 1000 and nobody.
make_busybox_rootfs() {
    local busybox=/bin/busybox
    [ -x "$busybox" ] || { echo "error: $busybox missing: apt-get install busybox-static" >&2; return 1; }
    mkdir -p "$1"
    local r=$1 d a
    for d in bin etc proc sys dev tmp root home/user var run usr; do mkdir -p "$r/$d"; done
    chmod 1777 "$r/tmp"
    cp "$busybox" "$r/bin/busybox"
    for a in $("$busybox" --list); do
        # `busybox --list` names itself; linking it would replace the binary.
        [ "$a" = busybox ] || [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
    done
    [ -e "$r/usr/bin" ] || ln -s ../bin "$r/usr/bin"
    [ -e "$r/sbin" ] || ln -s bin "$r/sbin"
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
        'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' > "$r/etc/passwd"
    printf '%s\n' 'root:x:0:' 'user:x:1000:' 'nogroup:x:65534:' > "$r/etc/group"
}
