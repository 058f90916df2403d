#!/usr/bin/env bash
# One command from a fresh clone to a running container: installs the Debian packages it
# needs, builds pelagos-runtime, makes a busybox OCI bundle and runs it.
#   scripts/quickstart.sh [CMD...]      default CMD: a shell printing what it sees
# Env: BUNDLE (default /tmp/pelagos-quickstart), RUNTIME (a runtime binary to use instead,
# e.g. /usr/sbin/runc, to compare).
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

runtime=${RUNTIME:-}
if [ -z "$runtime" ]; then
    # The shipped build: the size-optimised `runtime` profile.
    runtime=$(scripts/build-runtime.sh)
fi

bundle=${BUNDLE:-/tmp/pelagos-quickstart}
# shellcheck disable=SC2016 # expanded inside the container
[ "$#" -gt 0 ] || set -- sh -c 'echo "hello from $(hostname)"; id; cat /proc/self/status | grep -E "^(Cap|NoNewPrivs)"; ls /'
# shellcheck source=scripts/lib/bundle.sh
. scripts/lib/bundle.sh
rm -rf "$bundle"
make_busybox_bundle "$bundle" "$@"

id=quickstart-$$
echo "+ $runtime run --bundle $bundle $id" >&2
set +e
"$runtime" run --bundle "$bundle" "$id"
code=$?
set -e
"$runtime" delete --force "$id" >/dev/null 2>&1 || true
exit "$code"
