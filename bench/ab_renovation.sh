#!/usr/bin/env bash
# Interleaved A/B of the figures the renovation (issue 19) must not make worse, between builds
# whose release binaries (hookd, hookctl, hook-client, hook-bench, http-bench) sit in DIR_A,
# DIR_B: per round and build, in alternating order,
#   1. hook-client's whole process against /bin/true (`hook-bench spawn`, that build's own
#      hookd in a fresh HOOKD_HOME, RUNS_SPAWN runs each after 30 warm-up runs);
#   2. HTTP new-event p50 (`http-bench`, which starts that build's hookd itself);
#   3. hookd's RSS with 10,000 live sessions (`bench/sessions.py`, SESSIONS sessions).
# Throughput at 64 x 64 is bench/ab_throughput.sh; the stateful evaluation bench is criterion's
# (`cargo bench -p hookd --bench evaluate -- stateful`, in each build's tree).
#
#   bash bench/ab_renovation.sh DIR_A DIR_B        # ROUNDS=3 RUNS_SPAWN=500 SESSIONS=10000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PAYLOAD=$PWD/bench/payloads/pre_tool_use_bash.json
ROUNDS=${ROUNDS:-3}
RUNS_SPAWN=${RUNS_SPAWN:-500}
SESSIONS=${SESSIONS:-10000}
[ $# -ge 2 ] || { echo "usage: $0 DIR_A DIR_B [...]" >&2; exit 2; }

# shellcheck source=bench/private-hookd.sh
source bench/private-hookd.sh

spawn_ratio() {
    local bin=$1
    start_private_hookd "$bin"
    HOOKD_HOME=$HOME_DIR HOOKD_NO_AUTOSTART=1 "$bin/hook-bench" spawn --runs "$RUNS_SPAWN" \
        --warmup 30 --input "$PAYLOAD" --cmd /bin/true --cmd "$bin/hook-client" 2>&1 |
        tail -3 | sed "s|^|    |"
    stop_private_hookd
}

for r in $(seq 1 "$ROUNDS"); do
    dirs=("$@")
    # Alternate which build goes first.
    if [ $((r % 2)) -eq 0 ]; then dirs=($(printf '%s\n' "$@" | tac)); fi
    for d in "${dirs[@]}"; do
        echo "== round $r: $d (load $(cut -d' ' -f1 /proc/loadavg))"
        echo "  spawn:"
        spawn_ratio "$d"
        echo "  http:"
        "$d/http-bench" --hookd "$d/hookd" 2>&1 | grep -iE 'new|p50' | head -6 | sed "s|^|    |"
        echo "  sessions ($SESSIONS):"
        HOOKD_BIN_DIR=$d python3 bench/sessions.py "$SESSIONS" 2>&1 |
            grep -E '"hookd_vm_rss_kb"|"wall_s"|"p50"' | sed "s|^|    |"
    done
done
