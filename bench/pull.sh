#!/usr/bin/env bash
# Pull throughput and peak RSS: `pelagos image pull` vs `skopeo copy docker://... oci:DIR` vs
# `podman pull`, of the multi-layer test image (busybox base, whiteouts, one incompressible
# layer of PELAGOS_BIG_MB MiB, 50 by default) from a local registry:
#   1. one hyperfine run over the three tools, cold store before every run (--prepare
#      removes the store, the OCI dir, podman's private --root/--runroot),
#   2. the median of each and the pelagos/skopeo and pelagos/podman ratios,
#   3. peak RSS of each tool's pull (/usr/bin/time -f %M, median of 3 cold pulls),
#   4. pelagos' peak RSS pulling a small image (busybox) and a single-layer image of
#      BENCH_HUGE_MB MiB (200 by default), built here: streamed layers keep them alike.
#
# The registry is Debian's docker-registry, started by tests/fixtures/registry-up.sh on a free
# loopback port in a private state dir, with the fixture images built by build-images.sh,
# and stopped (by PID) and removed on exit.
#
# Env: BENCH_RUNS (default 10), PELAGOS_BIG_MB (50), BENCH_HUGE_MB (200), PELAGOS_BIN (a
# prebuilt pelagos; default: cargo build --release), BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
fixtures=$repo/tests/fixtures

[ "$(id -u)" -eq 0 ] || { echo "error: the benchmark needs root (layer owners, podman's store)" >&2; exit 1; }
for tool in hyperfine jq skopeo podman docker-registry umoci python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "error: $tool missing (see .ci/run and tests/fixtures/APT-PACKAGES)" >&2; exit 1; }
done

runs=${BENCH_RUNS:-10}
huge_mb=${BENCH_HUGE_MB:-200}
export PELAGOS_BIG_MB=${PELAGOS_BIG_MB:-50}
if [ -z "${PELAGOS_BIN:-}" ]; then
    (cd "$repo" && cargo build --release -q -p pelagos-cli --bin pelagos)
    PELAGOS_BIN=$repo/target/release/pelagos
fi

work=$(mktemp -d /tmp/pelagos-bench-pull.XXXXXX)
export PELAGOS_REGISTRY_STATE=$work/registry
cleanup() {
    bash "$fixtures/registry-down.sh" --purge >/dev/null 2>&1 || true
    # podman may leave its storage mounted; nothing else below $work is.
    findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PELAGOS_REG_PORT_ANON=$port PELAGOS_REG_INSTANCES=anon PELAGOS_NO_APT=1
reg=127.0.0.1:$port
echo "== registry $reg; building the fixture images (big layer $PELAGOS_BIG_MB MiB) ==" >&2
bash "$fixtures/registry-up.sh" >/dev/null 2>"$work/registry-up.log" || { cat "$work/registry-up.log" >&2; exit 1; }
bash "$fixtures/build-images.sh" "$reg" >/dev/null 2>"$work/build.log" || { tail -20 "$work/build.log" >&2; exit 1; }

# make_single_layer NAME MIB: push a one-layer image holding MIB MiB of random data.
make_single_layer() {
    local name=$1 mib=$2 d=$work/$1 arch
    case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
    mkdir -p "$d/root" "$d/oci/blobs/sha256"
    head -c "${mib}M" /dev/urandom > "$d/root/data"
    tar -C "$d/root" --sort=name --mtime=@946684800 --owner=0 --group=0 -cf "$d/layer.tar" .
    local diff_id layer config manifest
    diff_id=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    gzip -1 -n -c "$d/layer.tar" > "$d/layer.tar.gz"
    layer=$(sha256sum "$d/layer.tar.gz" | cut -d' ' -f1)
    mv "$d/layer.tar.gz" "$d/oci/blobs/sha256/$layer"
    printf '{"architecture":"%s","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$arch" "$diff_id" > "$d/config.json"
    config=$(sha256sum "$d/config.json" | cut -d' ' -f1)
    cp "$d/config.json" "$d/oci/blobs/sha256/$config"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
        "$config" "$(stat -c %s "$d/config.json")" "$layer" "$(stat -c %s "$d/oci/blobs/sha256/$layer")" > "$d/manifest.json"
    manifest=$(sha256sum "$d/manifest.json" | cut -d' ' -f1)
    cp "$d/manifest.json" "$d/oci/blobs/sha256/$manifest"
    echo '{"imageLayoutVersion":"1.0.0"}' > "$d/oci/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
        "$manifest" "$(stat -c %s "$d/manifest.json")" > "$d/oci/index.json"
    skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$d/oci:latest" "docker://$reg/$name:latest"
    rm -rf "$d"
}
echo "== building a single-layer image of $huge_mb MiB ==" >&2
make_single_layer huge "$huge_mb"

image=$reg/layers:latest
podman_conf=$work/containers.conf
: > "$podman_conf"
declare -A cmd=(
    [pelagos]="$PELAGOS_BIN image pull --root $work/pelagos --insecure -q $image"
    [skopeo]="skopeo copy -q --src-tls-verify=false docker://$image oci:$work/skopeo:latest"
    [podman]="env CONTAINERS_CONF=$podman_conf podman --root $work/podman --runroot $work/podman-run --events-backend none pull -q --tls-verify=false $image"
)
declare -A prep=(
    [pelagos]="rm -rf $work/pelagos"
    [skopeo]="rm -rf $work/skopeo"
    [podman]="rm -rf $work/podman $work/podman-run"
)
tools=(pelagos skopeo podman)

for t in "${tools[@]}"; do
    eval "${prep[$t]}"
    eval "${cmd[$t]}" >/dev/null || { echo "error: $t cannot pull $image" >&2; exit 1; }
done

echo "== pull of $image ($runs runs each, cold store) ==" >&2
args=()
for t in "${tools[@]}"; do args+=(--prepare "${prep[$t]}" -n "$t" "${cmd[$t]}"); done
hyperfine --warmup 1 --runs "$runs" --style basic --export-json "$work/pull.json" "${args[@]}"

# peak_rss TOOL: median of 3 cold pulls' peak RSS in KiB.
peak_rss() {
    local t=$1 c=$2 p=$3
    for _ in 1 2 3; do
        eval "$p"
        /usr/bin/time -f %M -o "$work/rss" sh -c "$c >/dev/null"
        cat "$work/rss"
    done | sort -n | sed -n 2p
}
declare -A rss=()
for t in "${tools[@]}"; do rss[$t]=$(peak_rss "$t" "${cmd[$t]}" "${prep[$t]}"); done
small_rss=$(peak_rss pelagos "$PELAGOS_BIN image pull --root $work/pelagos --insecure -q $reg/busybox:latest" "${prep[pelagos]}")
huge_rss=$(peak_rss pelagos "$PELAGOS_BIN image pull --root $work/pelagos --insecure -q $reg/huge:latest" "${prep[pelagos]}")

median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' "$work/pull.json"; }
echo
printf '%-8s %12s %14s\n' tool "median (s)" "peak RSS (KiB)"
for t in "${tools[@]}"; do printf '%-8s %12.3f %14s\n' "$t" "$(median "$t")" "${rss[$t]}"; done
awk -v p="$(median pelagos)" -v s="$(median skopeo)" -v q="$(median podman)" \
    'BEGIN { printf "pelagos/skopeo: %.2f   pelagos/podman: %.2f\n", p / s, p / q }'
echo "pelagos peak RSS: busybox (1 MiB layer) $small_rss KiB, single ${huge_mb} MiB layer $huge_rss KiB" \
    "(+$((huge_rss - small_rss)) KiB for a ${huge_mb}x larger layer)"
