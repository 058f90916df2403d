#!/usr/bin/env bash
# One command from a fresh clone to a running container: installs the Debian packages it
# needs, builds pelagos and pelagos-runtime, makes a local busybox image and loads it into
# the image store, turns it into an OCI bundle and runs it.
#   scripts/quickstart.sh [CMD...]      default CMD: a shell printing what it sees
# Env: BUNDLE (default /tmp/pelagos-quickstart), PELAGOS_ROOT (the data root; default
# /var/lib/pelagos), RUNTIME (a runtime binary to use instead, e.g. /usr/sbin/runc, to
# compare).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "error: containers need root here: run as root (sudo $0)" >&2
    exit 1
fi
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v jq >/dev/null || need+=(jq)
[ -e /usr/include/seccomp.h ] || need+=(libseccomp-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cc >/dev/null || need+=(build-essential)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

echo "== building pelagos and pelagos-runtime" >&2
cargo build --release -q -p pelagos-cli --bin pelagos
pelagos=$PWD/target/release/pelagos
runtime=${RUNTIME:-}
if [ -z "$runtime" ]; then
    # The shipped build: the size-optimised `runtime` profile.
    runtime=$(scripts/build-runtime.sh)
fi

bundle=${BUNDLE:-/tmp/pelagos-quickstart}
image=localhost/quickstart:latest
# shellcheck disable=SC2016 # expanded inside the container
[ "$#" -gt 0 ] || set -- sh -c 'echo "hello from $(hostname)"; id; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; ls /'
# shellcheck source=scripts/lib/bundle.sh
. scripts/lib/bundle.sh
# shellcheck source=scripts/lib/image.sh
. scripts/lib/image.sh

echo "== making the local image $image (busybox-static) and loading it" >&2
archive=$(mktemp /tmp/pelagos-quickstart-image.XXXXXX.tar)
# shellcheck disable=SC2064 # $archive is fixed; replaced by cleanup below
trap "rm -f '$archive'" EXIT
make_busybox_image "$archive" "$image"
"$pelagos" image load -q -i "$archive"
rm -f "$archive"
"$pelagos" image ls

# A bundle left by an earlier run goes first.
if [ -e "$bundle" ]; then
    "$pelagos" bundle rm "$bundle" 2>/dev/null || rm -rf "$bundle"
fi
echo "== $image as an OCI bundle in $bundle" >&2
"$pelagos" bundle create "$image" "$bundle" "$@" >/dev/null

id=quickstart-$$
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    "$runtime" delete --force "$id" >/dev/null 2>&1 || true
    "$pelagos" bundle rm "$bundle" || true
}
trap cleanup EXIT
echo "+ $runtime run --bundle $bundle $id" >&2
set +e
"$runtime" run --bundle "$bundle" "$id"
code=$?
set -e
echo "== done; the image stays: \`pelagos image ls\`, \`pelagos image rm $image\`" >&2
exit "$code"
