#!/usr/bin/env bash
# Interleaved A/B of hookd's throughput (BENCHMARKS.md's 64 x 64 pipelined command) between
# builds: each DIR holds hookd, hookctl and hook-bench of one build (its hook-bench speaks that
# build's protocol). Per run: a fresh HOOKD_HOME with the store in data/, a 30,000-event
# warm-up, then EVENTS events (200,000 by default, about 2 s); the builds alternate in one loop.
# A 2 s run sees one or two of the store's once-a-second checkpoints, and whether one of them
# has to bring a long WAL back to its start inside the run decides much of its figure;
# EVENTS=1000000 (about 10 s) gives the steady state, checkpoints included.
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

# shellcheck source=bench/private-hookd.sh
source bench/private-hookd.sh

one() {
    local bin=$1
    start_private_hookd "$bin"
    HOOKD_HOME=$HOME_DIR HOOKD_NO_AUTOSTART=1 "$bin/hook-bench" throughput --payload "$PAYLOAD" \
        --clients 64 --events 30000 --reuse --pipeline 64 --warmup 0 >/dev/null
    local out
    out=$(HOOKD_HOME=$HOME_DIR HOOKD_NO_AUTOSTART=1 "$bin/hook-bench" throughput \
        --payload "$PAYLOAD" --clients 64 --events "${EVENTS:-200000}" --reuse --pipeline 64 --warmup 0 \
        --server-pid "$HOOKD_PID" 2>&1 | tr '\n' ' ')
    echo "$bin (loadavg $(cut -d' ' -f1-3 /proc/loadavg)): $out"
    stop_private_hookd
}

for _ in $(seq 1 "$RUNS"); do
    for dir in "$@"; do
        one "$dir"
    done
done
