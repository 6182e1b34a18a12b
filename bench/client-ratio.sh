#!/usr/bin/env bash
# A whole hook against /bin/true: each CLIENT (a hook-client binary) and /bin/true are spawned
# in turn, interleaved, RUNS times each, with a PreToolUse event on stdin, against one private
# hookd from DIR (its hookd, hookctl and hook-bench; a release build). Prints hook-bench's table:
# medians and their ratio to /bin/true ([1]).
#
#   bash bench/client-ratio.sh DIR CLIENT...            # e.g. target/release target/release/hook-client
#   ROUNDS=4 RUNS=1000 bash bench/client-ratio.sh DIR OLD/hook-client NEW/hook-client
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bench/client-ratio.sh DIR CLIENT..." >&2; exit 2; }
bin=$(cd "$1" && pwd)
shift
source bench/private-hookd.sh
cmds=(--cmd /bin/true)
for c in "$@"; do cmds+=(--cmd "$(cd "$(dirname "$c")" && pwd)/$(basename "$c")"); done
for round in $(seq 1 "${ROUNDS:-1}"); do
    start_private_hookd "$bin"
    echo "round $round, $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1 /proc/loadavg)"
    HOOKD_HOME=$HOME_DIR HOOKD_NO_AUTOSTART=1 "$bin/hook-bench" spawn --runs "${RUNS:-1000}" \
        --warmup 30 --input bench/payloads/pre_tool_use_bash.json "${cmds[@]}" 2>&1 |
        tail -n $(($# + 2))
    stop_private_hookd
done
