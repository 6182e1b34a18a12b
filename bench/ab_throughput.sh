#!/usr/bin/env bash
# Interleaved A/B of hookd's throughput (BENCHMARKS.md's 64 x 64 pipelined command) between
# builds: each DIR holds hookd, hookctl and hook-bench of one build (its hook-bench speaks that
# build's protocol). Per run: a fresh HOOKD_HOME with the store in data/, a 30,000-event
# warm-up, then 200,000 events; the builds alternate in one loop.
#
#   bash bench/ab_throughput.sh DIR_A DIR_B [DIR_C ...]     # RUNS=6 per build by default
#   bash bench/ab_throughput.sh DIR                         # one build: RUNS runs of it
#   HOOKD_TOML='packs = []' bash bench/ab_throughput.sh …   # each hookd with this hookd.toml
#
# e.g. copy target/release/{hookd,hookctl,hook-bench} of each build to its own directory first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PAYLOAD=$PWD/bench/payloads/pre_tool_use_bash.json
RUNS=${RUNS:-6}
[ $# -ge 1 ] || { echo "usage: $0 DIR_A [DIR_B ...]" >&2; exit 2; }

HOOKD_PID=""
HOME_DIR=""
cleanup() {
    if [ -n "$HOOKD_PID" ] && kill -0 "$HOOKD_PID" 2>/dev/null; then
        kill "$HOOKD_PID" 2>/dev/null || true
        wait "$HOOKD_PID" 2>/dev/null || true
    fi
    [ -n "$HOME_DIR" ] && rm -rf "$HOME_DIR"
}
trap cleanup EXIT

one() {
    local bin=$1
    HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hookd-ab.XXXXXX")
    mkdir -p "$HOME_DIR/data"
    if [ -n "${HOOKD_TOML:-}" ]; then printf '%s\n' "$HOOKD_TOML" >"$HOME_DIR/hookd.toml"; fi
    export HOOKD_HOME=$HOME_DIR HOOKD_DB=$HOME_DIR/data/hookd.db HOOKD_NO_AUTOSTART=1 HOOKD_LOG=warn
    "$bin/hookd" 2>"$HOME_DIR/hookd.log" &
    HOOKD_PID=$!
    for _ in $(seq 1 2000); do
        "$bin/hookctl" status >/dev/null 2>&1 && break
        sleep 0.01
    done
    "$bin/hook-bench" throughput --payload "$PAYLOAD" --clients 64 --events 30000 --reuse \
        --pipeline 64 --warmup 0 >/dev/null
    local out
    out=$("$bin/hook-bench" throughput --payload "$PAYLOAD" --clients 64 --events 200000 \
        --reuse --pipeline 64 --warmup 0 --server-pid "$HOOKD_PID" 2>&1 | tr '\n' ' ')
    echo "$bin (loadavg $(cut -d' ' -f1-3 /proc/loadavg)): $out"
    kill "$HOOKD_PID"
    wait "$HOOKD_PID" 2>/dev/null || true
    HOOKD_PID=""
    rm -rf "$HOME_DIR"
    HOME_DIR=""
}

for _ in $(seq 1 "$RUNS"); do
    for dir in "$@"; do
        one "$dir"
    done
done
