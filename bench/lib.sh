# shellcheck shell=bash
# Shared machinery of the benchmarks that time pelagos-runtime against runc and crun:
# entering a private mount namespace, the runtime table, interleaved hyperfine rounds,
# summaries and peak RSS. A benchmark script sources this file and then calls, in order:
#
#   bench_enter "$@"            root check, tools, build pelagos-runtime, re-exec inside a
#                               private mount namespace (returns only there)
#   bench_init                  work dir, cleanup trap, runtime binaries, $runs
#   bench_pick_runtimes DIR     keeps the runtimes that can run bundle DIR (it must print
#                               pelagos-bench-ok)
#   bench_rounds CMDS OUT.json  times each runtime's command in CMDS (an associative array
#                               rt -> command line; optional prep[rt] runs before each run)
#   bench_summary TITLE JSON    min/median/max per runtime and the pelagos/crun ratio
#
# crun 1.8 refuses a hybrid cgroup v1/v2 host, so everything runs in a private mount
# namespace with a tmpfs over /sys/fs/cgroup/unified: every runtime then sees plain v1.
#
# hyperfine runs its commands one after another (all runs of the first, then the second...);
# it cannot interleave single runs. So by default (BENCH_INTERLEAVE=1) bench_rounds runs
# rounds of one hyperfine run per runtime, order rotated each round, so that load changes
# hit every runtime alike; BENCH_INTERLEAVE=0 gives one plain hyperfine run.
#
# Options (every script): --seccomp puts pelagos' built-in default seccomp profile into
# config.json (the same file for every runtime: runc and crun compile it at each start,
# pelagos loads its cached program); --memory BYTES sets linux.resources.memory.limit.
#
# Env: BENCH_RUNS (default 50, at least 30), BENCH_INTERLEAVE (default 1), PELAGOS_RUNTIME (a
# prebuilt binary; default: scripts/build-runtime.sh), BENCH_KEEP=1 keeps the work directory.

bench_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_repo=$(cd "$bench_lib/.." && pwd)

# bench_enter SCRIPT ARGS...: options, the checks and the re-exec into a private mount
# namespace.
bench_enter() {
    local script=$1
    shift
    bench_seccomp=0
    bench_memory=
    while [ $# -gt 0 ]; do
        case $1 in
            --seccomp) bench_seccomp=1 ;;
            --memory)
                [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "error: --memory needs a size in bytes, got '${2:-}'" >&2; exit 2; }
                bench_memory=$2
                shift ;;
            -h | --help) sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
        esac
        shift
    done
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: the benchmark needs root (namespaces, mounts)" >&2
        exit 1
    fi
    if [ -z "${PELAGOS_BENCH_INNER:-}" ]; then
        local tool
        for tool in hyperfine jq runc crun /usr/bin/time unshare; do
            command -v "$tool" >/dev/null || { echo "error: $tool missing (see .ci/run for the packages)" >&2; exit 1; }
        done
        if [ -z "${PELAGOS_RUNTIME:-}" ]; then
            # The shipped build: the size-optimised `runtime` profile.
            PELAGOS_RUNTIME=$("$bench_repo/scripts/build-runtime.sh")
            export PELAGOS_RUNTIME
        fi
        export PELAGOS_BENCH_INNER=1
        local opts=()
        [ "$bench_seccomp" = 0 ] || opts+=(--seccomp)
        [ -z "$bench_memory" ] || opts+=(--memory "$bench_memory")
        exec unshare --mount --propagation private -- "$script" "${opts[@]}"
    fi
    if mountpoint -q /sys/fs/cgroup/unified; then
        mount -t tmpfs -o size=4k,mode=755 none /sys/fs/cgroup/unified
    fi
}

# bench_init: globals $runs, $work, bins[rt], names (filled by bench_pick_runtimes), prep[rt]
# and the cleanup trap (which also runs the function bench_cleanup_extra when defined).
bench_init() {
    runs=${BENCH_RUNS:-50}
    [ "$runs" -ge 30 ] || { echo "error: BENCH_RUNS must be >= 30" >&2; exit 1; }
    work=$(mktemp -d /tmp/pelagos-bench.XXXXXX)
    declare -gA bins=([pelagos]=$PELAGOS_RUNTIME [runc]=$(command -v runc) [crun]=$(command -v crun))
    declare -gA prep=()
    names=()
    trap bench_cleanup EXIT
    # shellcheck source=scripts/lib/bundle.sh
    . "$bench_repo/scripts/lib/bundle.sh"
    if [ "$bench_seccomp" = 1 ]; then
        if [ -n "${PELAGOS_BENCH_PROFILE:-}" ]; then
            cp "$PELAGOS_BENCH_PROFILE" "$work/seccomp.json"
        else
            (cd "$bench_repo" && cargo run -q -p pelagos-seccomp --example default-profile) > "$work/seccomp.json"
        fi
    fi
}

# bench_limits: a line saying which limits the bundles carry.
bench_limits() {
    local l=()
    [ "$bench_seccomp" = 0 ] || l+=("default seccomp profile")
    [ -z "$bench_memory" ] || l+=("memory limit $bench_memory")
    [ "${#l[@]}" -gt 0 ] || l=("no seccomp profile" "no resource limits")
    printf 'bundle: %s' "${l[0]}"
    [ "${#l[@]}" -lt 2 ] || printf ', %s' "${l[@]:1}"
    echo
}

# bench_bundle DIR CMD...: the busybox bundle running CMD, with the chosen limits.
bench_bundle() {
    local dir=$1
    shift
    make_busybox_bundle "$dir" "$@"
    if [ "$bench_seccomp" = 1 ]; then
        jq --slurpfile p "$work/seccomp.json" '.linux.seccomp = $p[0]' "$dir/config.json" > "$dir/config.tmp"
        mv "$dir/config.tmp" "$dir/config.json"
    fi
    if [ -n "$bench_memory" ]; then
        jq --argjson m "$bench_memory" '.linux.resources.memory = {limit: $m}' "$dir/config.json" > "$dir/config.tmp"
        mv "$dir/config.tmp" "$dir/config.json"
    fi
}

# rt RT ARGS...: runs runtime RT with its private state root.
rt() {
    local r=$1
    shift
    "${bins[$r]}" --root "$work/root-$r" "$@"
}

# rt_line RT: the same as a command line (for hyperfine and generated scripts).
rt_line() {
    echo "${bins[$1]} --root $work/root-$1"
}

bench_cleanup() {
    local rt
    if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
    for rt in "${names[@]:-}"; do
        [ -n "$rt" ] || continue
        rt "$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
    done
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}

# bench_pick_runtimes DIR: a runtime that cannot run bundle DIR (checked by its output) is
# reported and left out, not timed.
bench_pick_runtimes() {
    local check=$1 rt
    for rt in pelagos runc crun; do
        if rt "$rt" run --bundle "$check" "bench-$rt" </dev/null >"$work/check-$rt.log" 2>&1 \
            && grep -q pelagos-bench-ok "$work/check-$rt.log"; then
            names+=("$rt")
        else
            echo "warning: $rt cannot run the bundle, left out:" >&2
            sed 's/^/  /' "$work/check-$rt.log" >&2
            rt "$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
        fi
    done
    [ "${#names[@]}" -gt 0 ] || { echo "error: no runtime could run the bundle" >&2; exit 1; }
}

# hyperfine arguments for runtime RT running command CMD (with prep[RT] before each run).
bench_args() {
    local rt=$1 cmd=$2
    [ -z "${prep[$rt]:-}" ] || printf '%s\0' --prepare "${prep[$rt]}"
    printf '%s\0' -n "$rt" "$cmd"
}

# bench_rounds NAME OUT.json: time every runtime's command of the associative array NAME.
# Interleaved: $runs rounds of one run per runtime, the order rotated each round, written
# in the JSON shape (results[].command/min/median/max/times) of hyperfine.
bench_rounds() {
    local -n cmds=$1
    local out=$2 round i n=${#names[@]} rt args=()
    if [ "${BENCH_INTERLEAVE:-1}" != 1 ]; then
        for rt in "${names[@]}"; do mapfile -d '' -O "${#args[@]}" args < <(bench_args "$rt" "${cmds[$rt]}"); done
        hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$out" "${args[@]}"
        return
    fi
    : > "$work/rounds.jsonl"
    for round in $(seq 0 $((runs + 2))); do
        args=()
        for i in $(seq 0 $((n - 1))); do
            rt=${names[$(((i + round) % n))]}
            mapfile -d '' -O "${#args[@]}" args < <(bench_args "$rt" "${cmds[$rt]}")
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

# bench_title TEXT: the heading of one timed command kind.
bench_title() {
    if [ "${BENCH_INTERLEAVE:-1}" = 1 ]; then
        echo "== $1 ($runs interleaved rounds) =="
    else
        echo "== $1 ($runs runs each) =="
    fi
}

# bench_summary TITLE JSON: min/median/max per runtime and the pelagos/crun median ratio.
bench_summary() {
    local title=$1 json=$2
    echo
    echo "$title (ms)"
    jq -r '.results[] | [.command, (.min*1000), (.median*1000), (.max*1000)]
        | "  \(.[0] | . + (" " * (8 - length)))  min \(.[1]*100|round/100)  median \(.[2]*100|round/100)  max \(.[3]*100|round/100)"' "$json"
    jq -r '(.results | map({(.command): .median}) | add) as $m
        | if $m.pelagos and $m.crun then "  ratio pelagos/crun (median): \(($m.pelagos / $m.crun)*1000|round/1000)"
          else "  ratio pelagos/crun: n/a" end' "$json"
}

# bench_peak_rss BUNDLE: median of 11 peak RSS readings of each runtime's `run BUNDLE`.
bench_peak_rss() {
    local bundle=$1 rt
    echo
    echo "peak RSS of the runtime process during run (KiB, /usr/bin/time -f %M, median of 11)"
    for rt in "${names[@]}"; do
        for _ in $(seq 11); do
            rt "$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
            /usr/bin/time -f %M -o "$work/rss-$rt.one" "${bins[$rt]}" --root "$work/root-$rt" run \
                --bundle "$bundle" "bench-$rt" </dev/null >/dev/null 2>&1 || true
            cat "$work/rss-$rt.one" >> "$work/rss-$rt"
        done
        printf '  %-8s  %s\n' "$rt" "$(sort -n "$work/rss-$rt" | sed -n 6p)"
    done
}
