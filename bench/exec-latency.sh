#!/usr/bin/env bash
# `exec` latency of pelagos-runtime vs runc and crun: each runtime runs the same busybox
# bundle (`sleep`) detached, then `exec ID /bin/true` into it is timed. Prints
# min/median/max per runtime and the pelagos/crun ratio of the medians.
#
# Usage: bench/exec-latency.sh [--seccomp] [--memory BYTES]
#   --seccomp        the built-in default seccomp profile in config.json (exec gets it too)
#   --memory BYTES   a memory limit in config.json
#
# Rounds are interleaved and everything runs in a private mount namespace (crun 1.8 refuses
# this hybrid cgroup host otherwise); see bench/lib.sh for both and for the environment
# variables (BENCH_RUNS, BENCH_INTERLEAVE, PELAGOS_RUNTIME, BENCH_KEEP).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_enter "$here/$(basename "${BASH_SOURCE[0]}")" "$@"
bench_init

bench_bundle "$work/bundle" sleep 100000
bench_bundle "$work/check" sh -c 'echo pelagos-bench-ok'
bench_pick_runtimes "$work/check"
bench_limits

declare -A exec_cmd=()
# exec_cmd is read through a nameref in bench_rounds.
# shellcheck disable=SC2034
for rt in "${names[@]}"; do
    rt "$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
    rt "$rt" run --detach --bundle "$work/bundle" "bench-$rt" </dev/null >/dev/null 2>"$work/run-$rt.log" \
        || { cat "$work/run-$rt.log" >&2; exit 1; }
    exec_cmd[$rt]="$(rt_line "$rt") exec bench-$rt /bin/true"
done

bench_title "exec /bin/true"
bench_rounds exec_cmd "$work/exec.json"
bench_summary "exec /bin/true" "$work/exec.json"
