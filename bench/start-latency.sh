#!/usr/bin/env bash
# Start latency and peak RSS of pelagos-runtime vs runc and crun on the same busybox bundle
# running /bin/true:
#   1. one hyperfine run timing `run` for every runtime,
#   2. one hyperfine run timing create+start+wait+delete (a small wrapper per runtime),
#   3. peak RSS of each runtime's `run` as /usr/bin/time -f %M reports it.
# Prints min/median/max per runtime and the pelagos/crun ratio of the medians.
#
# hyperfine runs its commands one after another (all runs of the first, then the second...);
# it cannot interleave single runs. So by default (BENCH_INTERLEAVE=1) the script runs rounds
# of one hyperfine run per runtime, order rotated each round, so that load changes hit every
# runtime alike; BENCH_INTERLEAVE=0 gives the two plain hyperfine runs.
#
# crun 1.8 refuses a hybrid cgroup v1/v2 host, so the whole benchmark runs in a private mount
# namespace with a tmpfs over /sys/fs/cgroup/unified: every runtime then sees plain v1.
#
# Env: BENCH_RUNS (default 50, at least 30), BENCH_INTERLEAVE (default 1), PELAGOS_RUNTIME (a
# prebuilt binary; default: scripts/build-runtime.sh), BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
    echo "error: the benchmark needs root (namespaces, mounts)" >&2
    exit 1
fi

if [ -z "${PELAGOS_BENCH_INNER:-}" ]; then
    for tool in hyperfine jq runc crun /usr/bin/time unshare; do
        command -v "$tool" >/dev/null || { echo "error: $tool missing (see .ci/run for the packages)" >&2; exit 1; }
    done
    if [ -z "${PELAGOS_RUNTIME:-}" ]; then
        # The shipped build: the size-optimised `runtime` profile.
        PELAGOS_RUNTIME=$("$repo/scripts/build-runtime.sh")
        export PELAGOS_RUNTIME
    fi
    export PELAGOS_BENCH_INNER=1
    exec unshare --mount --propagation private -- "$here/$(basename "${BASH_SOURCE[0]}")" "$@"
fi

# From here on: inside the private mount namespace.
if mountpoint -q /sys/fs/cgroup/unified; then
    mount -t tmpfs -o size=4k,mode=755 none /sys/fs/cgroup/unified
fi

runs=${BENCH_RUNS:-50}
[ "$runs" -ge 30 ] || { echo "error: BENCH_RUNS must be >= 30" >&2; exit 1; }

work=$(mktemp -d /tmp/pelagos-bench.XXXXXX)
declare -A bins=()
names=()
cleanup() {
    local rt
    for rt in "${names[@]:-}"; do
        [ -n "$rt" ] || continue
        "${bins[$rt]}" --root "$work/root-$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
    done
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/lib/bundle.sh
. "$repo/scripts/lib/bundle.sh"
make_busybox_bundle "$work/bundle" /bin/true
make_busybox_bundle "$work/check" sh -c 'echo pelagos-bench-ok'

bins=([pelagos]=$PELAGOS_RUNTIME [runc]=$(command -v runc) [crun]=$(command -v crun))
for rt in pelagos runc crun; do
    # A runtime that cannot run a container (checked by its output) is reported and left
    # out, not timed.
    if "${bins[$rt]}" --root "$work/root-$rt" run --bundle "$work/check" "bench-$rt" </dev/null >"$work/check-$rt.log" 2>&1 \
        && grep -q pelagos-bench-ok "$work/check-$rt.log"; then
        names+=("$rt")
    else
        echo "warning: $rt cannot run the bundle, left out:" >&2
        sed 's/^/  /' "$work/check-$rt.log" >&2
        "${bins[$rt]}" --root "$work/root-$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
    fi
done
[ "${#names[@]}" -gt 0 ] || { echo "error: no runtime could run the bundle" >&2; exit 1; }

# The create+start+wait+delete cycle; `state` is polled because runc's CLI has no `wait`.
for rt in "${names[@]}"; do
    cat > "$work/cycle-$rt.sh" <<EOF
#!/bin/sh
set -e
r="${bins[$rt]} --root $work/root-$rt"
\$r create --bundle "$work/bundle" bench-$rt </dev/null >/dev/null
\$r start bench-$rt
while \$r state bench-$rt | grep -q '"status": *"\(created\|running\)"'; do :; done
\$r delete bench-$rt
EOF
    chmod +x "$work/cycle-$rt.sh"
done

declare -A prep=() run_cmd=() cycle_cmd=()
# run_cmd and cycle_cmd are read through namerefs in bench and bench_interleaved.
# shellcheck disable=SC2034
for rt in "${names[@]}"; do
    prep[$rt]="sh -c '${bins[$rt]} --root $work/root-$rt delete --force bench-$rt >/dev/null 2>&1 || true'"
    run_cmd[$rt]="${bins[$rt]} --root $work/root-$rt run --bundle $work/bundle bench-$rt"
    cycle_cmd[$rt]="$work/cycle-$rt.sh"
done

# bench NAME OUT.json: one hyperfine run over every runtime's command of kind NAME.
bench() {
    local -n cmds=$1
    local args=() rt
    for rt in "${names[@]}"; do args+=(--prepare "${prep[$rt]}" -n "$rt" "${cmds[$rt]}"); done
    hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$2" "${args[@]}"
}

# bench_interleaved NAME OUT.json: $runs rounds of one run per runtime, the order rotated
# each round, so that load changes on a shared machine hit every runtime alike. Writes the
# same JSON shape (results[].command/min/median/max/times) as hyperfine.
bench_interleaved() {
    local -n cmds=$1
    local out=$2 round i n=${#names[@]} rt args
    : > "$work/rounds.jsonl"
    for round in $(seq 0 $((runs + 2))); do
        args=()
        for i in $(seq 0 $((n - 1))); do
            rt=${names[$(((i + round) % n))]}
            args+=(--prepare "${prep[$rt]}" -n "$rt" "${cmds[$rt]}")
        done
        hyperfine -N --runs 1 --style none --export-json "$work/round.json" "${args[@]}" >/dev/null
        # The first 3 rounds are warmup.
        [ "$round" -lt 3 ] || jq -c '.results[] | {command, t: .times[0]}' "$work/round.json" >> "$work/rounds.jsonl"
    done
    jq -s 'group_by(.command) | map((map(.t) | sort) as $t | ($t | length) as $k | {
        command: .[0].command, times: $t, min: $t[0], max: $t[-1],
        median: (if $k % 2 == 1 then $t[($k - 1) / 2] else ($t[$k / 2 - 1] + $t[$k / 2]) / 2 end)
      }) | {results: .}' "$work/rounds.jsonl" > "$out"
}

if [ "${BENCH_INTERLEAVE:-1}" = 1 ]; then
    echo "== run /bin/true ($runs interleaved rounds) =="
    bench_interleaved run_cmd "$work/run.json"
    echo "== create+start+wait+delete ($runs interleaved rounds) =="
    bench_interleaved cycle_cmd "$work/cycle.json"
else
    echo "== run /bin/true ($runs runs each) =="
    bench run_cmd "$work/run.json"
    echo "== create+start+wait+delete ($runs runs each) =="
    bench cycle_cmd "$work/cycle.json"
fi

summary() {
    local title=$1 json=$2
    echo
    echo "$title (ms)"
    jq -r '.results[] | [.command, (.min*1000), (.median*1000), (.max*1000)]
        | "  \(.[0] | . + (" " * (8 - length)))  min \(.[1]*100|round/100)  median \(.[2]*100|round/100)  max \(.[3]*100|round/100)"' "$json"
    jq -r '(.results | map({(.command): .median}) | add) as $m
        | if $m.pelagos and $m.crun then "  ratio pelagos/crun (median): \(($m.pelagos / $m.crun)*1000|round/1000)"
          else "  ratio pelagos/crun: n/a" end' "$json"
}
summary "run /bin/true" "$work/run.json"
summary "create+start+wait+delete" "$work/cycle.json"

echo
echo "peak RSS of the runtime process during run (KiB, /usr/bin/time -f %M, median of 11)"
for rt in "${names[@]}"; do
    for _ in $(seq 11); do
        "${bins[$rt]}" --root "$work/root-$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
        /usr/bin/time -f %M -o "$work/rss-$rt.one" "${bins[$rt]}" --root "$work/root-$rt" run \
            --bundle "$work/bundle" "bench-$rt" </dev/null >/dev/null 2>&1 || true
        cat "$work/rss-$rt.one" >> "$work/rss-$rt"
    done
    printf '  %-8s  %s\n' "$rt" "$(sort -n "$work/rss-$rt" | sed -n 6p)"
done
