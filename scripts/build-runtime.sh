#!/usr/bin/env bash
# Build the shipped pelagos-runtime: the size-optimised `runtime` profile (a short-lived
# process whose cost is kernel work; small code keeps its peak RSS low). Prints the path of
# the binary on stdout; cargo's progress goes to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --profile runtime -p pelagos-cli --bin pelagos-runtime >&2
echo "$PWD/target/runtime/pelagos-runtime"
