#!/usr/bin/env bash
# Start latency and peak RSS of pelagos-runtime vs runc and crun on the same busybox bundle
# running /bin/true:
#   1. timing `run` for every runtime,
#   2. timing create+start+wait+delete (a small wrapper per runtime),
#   3. peak RSS of each runtime's `run` as /usr/bin/time -f %M reports it.
# Prints min/median/max per runtime and the pelagos/crun ratio of the medians.
#
# Usage: bench/start-latency.sh [--seccomp] [--memory BYTES]
#   --seccomp        the built-in default seccomp profile in config.json (all runtimes)
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

bench_bundle "$work/bundle" /bin/true
bench_bundle "$work/check" sh -c 'echo pelagos-bench-ok'
bench_pick_runtimes "$work/check"
bench_limits

# The create+start+wait+delete cycle; `state` is polled because runc's CLI has no `wait`.
for rt in "${names[@]}"; do
    cat > "$work/cycle-$rt.sh" <<EOF
#!/bin/sh
set -e
r="$(rt_line "$rt")"
\$r create --bundle "$work/bundle" bench-$rt </dev/null >/dev/null
\$r start bench-$rt
while \$r state bench-$rt | grep -q '"status": *"\(created\|running\)"'; do :; done
\$r delete bench-$rt
EOF
    chmod +x "$work/cycle-$rt.sh"
done

declare -A run_cmd=() cycle_cmd=()
# run_cmd and cycle_cmd are read through a nameref in bench_rounds.
# shellcheck disable=SC2034
for rt in "${names[@]}"; do
    prep[$rt]="sh -c '$(rt_line "$rt") delete --force bench-$rt >/dev/null 2>&1 || true'"
    run_cmd[$rt]="$(rt_line "$rt") run --bundle $work/bundle bench-$rt"
    cycle_cmd[$rt]="$work/cycle-$rt.sh"
done

bench_title "run /bin/true"
bench_rounds run_cmd "$work/run.json"
bench_title "create+start+wait+delete"
bench_rounds cycle_cmd "$work/cycle.json"

bench_summary "run /bin/true" "$work/run.json"
bench_summary "create+start+wait+delete" "$work/cycle.json"
bench_peak_rss "$work/bundle"
