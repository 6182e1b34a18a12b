#!/usr/bin/env bash
# The long reliability runs behind RELIABILITY.md (the default test suite runs fast versions:
# tests/tests/crash.rs, tests/tests/load.rs).
#
#   bash scripts/reliability.sh            # both parts
#   bash scripts/reliability.sh crash      # repeated kill -9 / SIGTERM under load
#   bash scripts/reliability.sh load       # 1,000,000 events from 64 clients
#
# crash: CRASH_CLIENTS clients (default 16) send CRASH_EVENTS events (default 40000) of a
#   realistic mix through the real hook-client while hookd is killed CYCLES times (default 25:
#   every 4th a SIGTERM, the others kill -9), each time after at least CYCLE_EVENTS (default
#   300) more events were answered, then restarted after a pause long enough for clients to fall
#   back and spool. Then: every answered event in the store exactly once, every fallback exactly
#   once (from the spool, or hookd's commit whose reply was lost; no duplicates either way:
#   hook-bench verify). CRASH_AUTOSTART=1: after each crash the clients start hookd again
#   themselves (hook-client's autostart, as in real use; the script kills the pid in hookd's
#   pidfile) instead of the script after a pause.
# load: LOAD_CLIENTS clients (default 64) send LOAD_EVENTS events (default 1000000) straight to
#   the socket, one connection per event as hook-client does; zero errors; the store holds every
#   one exactly once; latency percentiles and throughput recorded.
# Results (JSON) go to OUT (default target/reliability/). Release build; the machine's other
# load is reported beside the figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PART=${1:-all}
CYCLES=${CYCLES:-25}
CYCLE_EVENTS=${CYCLE_EVENTS:-300}
CRASH_CLIENTS=${CRASH_CLIENTS:-16}
CRASH_EVENTS=${CRASH_EVENTS:-40000}
CRASH_AUTOSTART=${CRASH_AUTOSTART:-0}
LOAD_CLIENTS=${LOAD_CLIENTS:-64}
LOAD_EVENTS=${LOAD_EVENTS:-1000000}
OUT=${OUT:-$ROOT/target/reliability}
mkdir -p "$OUT"

section() { printf '\n== %s\n' "$*"; }

section "build (release)"
cargo build --release --locked -p hookd -p hook-client -p hookctl -p hook-bench
BIN=$ROOT/target/release

HOOKD_PID=""
WORK=""
cleanup() {
    if [ -n "$HOOKD_PID" ] && kill -0 "$HOOKD_PID" 2>/dev/null; then
        kill "$HOOKD_PID" 2>/dev/null || true
        wait "$HOOKD_PID" 2>/dev/null || true
    fi
    # An autostarted hookd of this run (its pidfile is in the run's home).
    if [ -n "$WORK" ]; then
        stop_pid "$(daemon_pid)" TERM
    fi
    if [ -n "$WORK" ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Starts hookd in $HOOKD_HOME and waits until it answers (hookctl exits 3 while nothing listens).
start_hookd() {
    HOOKD_LOG=warn "$BIN/hookd" 2>>"$HOOKD_HOME/hookd.log" &
    HOOKD_PID=$!
    for _ in $(seq 1 2000); do
        if ! kill -0 "$HOOKD_PID" 2>/dev/null; then
            echo "hookd exited during start-up:" >&2
            tail -20 "$HOOKD_HOME/hookd.log" >&2
            exit 1
        fi
        rc=0
        "$BIN/hookctl" status >/dev/null 2>&1 || rc=$?
        [ "$rc" -ne 3 ] && return 0
        sleep 0.01
    done
    echo "hookd did not answer within 20 s" >&2
    exit 1
}

# The pid in this run's hookd pidfile (the daemon running now, whoever started it).
daemon_pid() {
    cat "${HOOKD_HOME:-/nonexistent}/state/hookd.pid" 2>/dev/null || true
}

# Sends signal $2 to pid $1 (when alive) and waits until it is gone (it may not be our child).
stop_pid() {
    local pid=$1 sig=$2
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 2000); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.01
    done
    echo "hookd (pid $pid) did not exit within 20 s of SIG$sig" >&2
    exit 1
}

# Waits until hookd answers (hookctl exits 3 while nothing listens).
wait_answering() {
    for _ in $(seq 1 2000); do
        rc=0
        "$BIN/hookctl" status >/dev/null 2>&1 || rc=$?
        [ "$rc" -ne 3 ] && return 0
        sleep 0.01
    done
    echo "hookd did not answer within 20 s" >&2
    exit 1
}

status_field() {
    "$BIN/hookctl" status --json 2>/dev/null | grep -o "\"$1\": *[0-9]*" | grep -o '[0-9]*$' || echo 0
}

wait_spool_drained() {
    for _ in $(seq 1 600); do
        [ "$(status_field spool_backlog_bytes)" = 0 ] && [ "$(status_field journal_events)" = 0 ] && return 0
        sleep 0.1
    done
    echo "the spool was not drained within 60 s" >&2
    exit 1
}

fresh_home() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/hookd-reliability.XXXXXX")
    export HOOKD_HOME=$WORK/home
    mkdir -p "$HOOKD_HOME"
    export HOOKD_NO_AUTOSTART=1
}

machine() {
    echo "nproc $(nproc), $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
}

crash_part() {
    local how="restarted by this script"
    [ "$CRASH_AUTOSTART" = 1 ] && how="autostarted by the clients"
    section "crash: $CYCLES cycles (kill -9, every 4th SIGTERM) under $CRASH_CLIENTS clients; hookd $how"
    machine
    fresh_home
    [ "$CRASH_AUTOSTART" = 1 ] && unset HOOKD_NO_AUTOSTART
    start_hookd
    "$BIN/hook-bench" load --run crash --allow-failures \
        --clients "$CRASH_CLIENTS" --events "$CRASH_EVENTS" \
        --via-client "$BIN/hook-client" \
        --acked-out "$WORK/acked" --failed-out "$WORK/failed" \
        --json-out "$OUT/crash-load.json" >"$WORK/load.out" 2>&1 &
    local load_pid=$! kills=0 terms=0 cycle since answered
    for cycle in $(seq 1 "$CYCLES"); do
        since=$(status_field events_since_start)
        # Let some events through, then crash in the middle of the stream.
        for _ in $(seq 1 600); do
            answered=$(status_field events_since_start)
            [ "$answered" -ge $((since + CYCLE_EVENTS)) ] && break
            kill -0 "$load_pid" 2>/dev/null || break
            sleep 0.05
        done
        if ! kill -0 "$load_pid" 2>/dev/null; then
            echo "  the load ended after $((cycle - 1)) cycles (raise CRASH_EVENTS)" >&2
            break
        fi
        local sig=KILL
        if [ $((cycle % 4)) -eq 0 ]; then
            sig=TERM
            terms=$((terms + 1))
        else
            kills=$((kills + 1))
        fi
        if [ "$CRASH_AUTOSTART" = 1 ]; then
            # The next hook-client starts a new hookd at once.
            stop_pid "$(daemon_pid)" "$sig"
            wait "$HOOKD_PID" 2>/dev/null || true
            wait_answering
        else
            kill "-$sig" "$HOOKD_PID"
            wait "$HOOKD_PID" 2>/dev/null || true
            sleep 0.3 # clients fall back and spool meanwhile
            start_hookd
        fi
        echo "  cycle $cycle: SIG$sig, restarted (answered since last start: $((answered - since)))"
    done
    wait "$load_pid" || { cat "$WORK/load.out"; exit 1; }
    cat "$WORK/load.out"
    wait_spool_drained
    "$BIN/hook-bench" verify --db "$HOOKD_HOME/hookd.db" --acked "$WORK/acked" \
        --failed "$WORK/failed" --spooled --json-out "$OUT/crash-verify.json"
    echo "kill -9: $kills, SIGTERM: $terms, restarts: $((kills + terms)) ($how)" | tee "$OUT/crash-cycles.txt"
    stop_pid "$(daemon_pid)" TERM
    wait "$HOOKD_PID" 2>/dev/null || true
    HOOKD_PID=""
    export HOOKD_NO_AUTOSTART=1
    rm -rf "$WORK"
    WORK=""
}

load_part() {
    section "load: $LOAD_EVENTS events from $LOAD_CLIENTS clients"
    machine
    fresh_home
    # The store in its own directory, as with the default XDG layout.
    export HOOKD_DB=$WORK/data/hookd.db
    start_hookd
    "$BIN/hook-bench" load --run load --clients "$LOAD_CLIENTS" --events "$LOAD_EVENTS" \
        --acked-out "$WORK/acked" --json-out "$OUT/load.json"
    grep -E '^(VmRSS|VmHWM):' "/proc/$HOOKD_PID/status" | tee "$OUT/load-memory.txt"
    "$BIN/hook-bench" verify --db "$HOOKD_DB" --acked "$WORK/acked" --json-out "$OUT/load-verify.json"
    "$BIN/hookctl" status
    kill -TERM "$HOOKD_PID"
    wait "$HOOKD_PID" || true
    HOOKD_PID=""
    unset HOOKD_DB
    rm -rf "$WORK"
    WORK=""
}

case "$PART" in
crash) crash_part ;;
load) load_part ;;
all)
    crash_part
    load_part
    ;;
*)
    echo "usage: $0 [crash|load|all]" >&2
    exit 2
    ;;
esac
section "results in ${OUT#"$ROOT"/}"
ls "$OUT"
