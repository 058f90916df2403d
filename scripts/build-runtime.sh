#!/usr/bin/env bash
# Build the shipped pelagos-runtime and print its path on stdout (cargo's progress goes to
# stderr): the size-optimised `runtime` profile, linked statically (glibc and libseccomp.a,
# as a static PIE).
#
# Why: an OCI runtime is a short-lived process whose cost is kernel work, and its peak RSS
# is mostly the file pages of the code it maps. Linked dynamically it also maps all of
# libc.so (~1.3 MiB resident here); linked statically it maps only what it uses. The same
# build starts faster too (no dynamic loader). Needs libseccomp-dev (for libseccomp.a).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
libdir=$(pkg-config --variable=libdir libseccomp 2>/dev/null || true)
[ -n "$libdir" ] || libdir=/usr/lib/$(gcc -print-multiarch)
if [ ! -f "$libdir/libseccomp.a" ]; then
    echo "error: $libdir/libseccomp.a not found: apt-get install libseccomp-dev" >&2
    exit 1
fi
# --target keeps RUSTFLAGS off build scripts and proc macros, and the static artifacts in
# their own directory (target/<triple>/runtime).
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$libdir \
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --target "$triple" --profile runtime -p pelagos-cli --bin pelagos-runtime >&2
echo "$PWD/target/$triple/runtime/pelagos-runtime"
