#!/usr/bin/env bash
# Build the shipped pelagos-runtime: the size-optimised `runtime` profile, statically linked
# (no shared libc mapped at start: lower peak RSS, nothing to resolve at exec). Prints the
# path of the binary on stdout; cargo's progress goes to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --profile runtime --target "$target" -p pelagos-cli --bin pelagos-runtime >&2
echo "$PWD/target/$target/runtime/pelagos-runtime"
