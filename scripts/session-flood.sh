#!/usr/bin/env bash
# What a flood of distinct session ids leaves in hookd's memory (RELIABILITY.md, "Session
# bounds").
#
#   bash scripts/session-flood.sh              # release build, 100,000 sessions
#   SESSIONS=20000 BIN=target/debug bash scripts/session-flood.sh
#
# Starts hookd in a temp HOOKD_HOME with the stateful rules of bench/stateful-rules.toml and
# `[session] idle_ttl = "IDLE_TTL"` (default 30s), warms it with 2,000 events of one session,
# then sends SESSIONS events (default 100000) each with a new session id (a Bash PostToolUse,
# bench/payloads/session_flood.json: every session holds a command) from 4 clients, 16
# pipelined each. Prints hookd's VmRSS (kB, /proc/PID/status) after the warm-up, right after the
# flood, once the idle sessions were evicted (IDLE_TTL plus two sweeps later, or SETTLE
# seconds) and after 100 more events; then after LONG_IDS events (default 300) each with its own
# 1 MiB session id; with the store's size (database and WAL) before and after those, as JSON.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SESSIONS=${SESSIONS:-100000}
IDLE_TTL=${IDLE_TTL:-30s}
MAX_LIVE=${MAX_LIVE:-}
if [ -z "${BIN:-}" ]; then
    cargo build --release --locked -p hookd -p hookctl -p hook-bench
    BIN=$ROOT/target/release
fi
BIN=$(cd "$BIN" && pwd)
WORK=$(mktemp -d /tmp/hookd-flood-XXXXXX)
HOOKD_PID=""
cleanup() {
    if [ -n "$HOOKD_PID" ] && kill -0 "$HOOKD_PID" 2>/dev/null; then
        kill "$HOOKD_PID" 2>/dev/null || true
        wait "$HOOKD_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
export HOOKD_HOME=$WORK
{
    cat bench/stateful-rules.toml
    printf '\n[session]\nidle_ttl = "%s"\n' "$IDLE_TTL"
    if [ -n "$MAX_LIVE" ]; then printf 'max_live = %s\n' "$MAX_LIVE"; fi
} >"$WORK/hookd.toml"
HOOKD_LOG=warn "$BIN/hookd" 2>>"$WORK/hookd.log" &
HOOKD_PID=$!
for _ in $(seq 1 2000); do
    [ -S "$WORK/hookd.sock" ] && break
    sleep 0.01
done
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$HOOKD_PID/status"; }
# Warm-up: one session, so the store, the rules and the worker threads are in use.
sed 's/flood-XXXXXXXXXXXXXXXX/warm-session/' bench/payloads/session_flood.json >"$WORK/warm.json"
"$BIN/hook-bench" throughput --socket "$WORK/hookd.sock" --clients 4 --events 2000 --reuse \
    --pipeline 16 --warmup 0 --payload "$WORK/warm.json" --json >/dev/null
sleep 1
warm=$(rss)
start=$(date +%s.%N)
"$BIN/hook-bench" throughput --socket "$WORK/hookd.sock" --clients 4 --events "$SESSIONS" --reuse \
    --pipeline 16 --warmup 0 --payload bench/payloads/session_flood.json --json >"$WORK/flood.json"
flood=$(rss)
took=$(echo "$(date +%s.%N) - $start" | bc)
# Evicted once idle for IDLE_TTL; the sweep runs every quarter of it (at least 1 s, at most 60 s).
ttl_s=$(echo "$IDLE_TTL" | sed 's/s$//')
sleep "${SETTLE:-$(echo "$ttl_s * 2 + 3" | bc)}"
after=$(rss)
# One more event: memory in use once the daemon works again.
"$BIN/hook-bench" throughput --socket "$WORK/hookd.sock" --clients 1 --events 100 --reuse \
    --warmup 0 --payload "$WORK/warm.json" --json >/dev/null
sleep 1
again=$(rss)
store() { du -sb "$WORK"/hookd.db* | awk '{s+=$1} END {print s}'; }
store_before=$(store)
# Then LONG_IDS events (default 300), each with its own session id of 1 MiB.
python3 - "$WORK/long.json" <<'PY'
import json, sys
ev = json.load(open("bench/payloads/session_flood.json"))
ev["session_id"] = "X" * 16 + "a" * ((1 << 20) - 16)
open(sys.argv[1], "w").write(json.dumps(ev, separators=(",", ":")))
PY
"$BIN/hook-bench" throughput --socket "$WORK/hookd.sock" --clients 1 --events "${LONG_IDS:-300}" --reuse \
    --warmup 0 --payload "$WORK/long.json" --json >/dev/null
sleep 1
long=$(rss)
printf '{"sessions": %s, "flood_s": %.1f, "vm_rss_kb": {"warm": %s, "after_flood": %s, "after_eviction": %s, "after_more_events": %s, "after_long_ids": %s}, "store_bytes": %s, "store_bytes_after_long_ids": %s}\n' \
    "$SESSIONS" "$took" "$warm" "$flood" "$after" "$again" "$long" "$store_before" "$(store)"
