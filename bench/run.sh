#!/usr/bin/env bash
# Benchmarks hook-client's spawn cost against /bin/true and hookd's throughput and memory.
# Usage: bash bench/run.sh        (see BENCHMARKS.md)
# Knobs (environment): RUNS (spawn runs per command, default 1000), WARMUP (default 50),
# EVENTS (events per throughput run, default 30000), CLIENTS (default "1 8 64"), OUT (results
# file, default bench/results/latest.json), QUIET_PCT (each part waits until the machine is at most
# this % busy, default 15), BENCH_DB_BESIDE_CONFIG=1 (see below).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RUNS=${RUNS:-1000}
WARMUP=${WARMUP:-50}
EVENTS=${EVENTS:-30000}
CLIENTS=${CLIENTS:-1 8 64}
PAYLOAD=$ROOT/bench/payloads/pre_tool_use_bash.json
OUT=${OUT:-$ROOT/bench/results/latest.json}
MUSL=x86_64-unknown-linux-musl
GNU=x86_64-unknown-linux-gnu

section() { printf '\n== %s\n' "$*"; }

# Whole-machine CPU busy percentage over one second, from /proc/stat.
cpu_busy_pct() {
    local _c u n s i w q sq st t1 i1 t2 i2
    read -r _c u n s i w q sq st _ </proc/stat
    t1=$((u + n + s + i + w + q + sq + st)) i1=$((i + w))
    sleep 1
    read -r _c u n s i w q sq st _ </proc/stat
    t2=$((u + n + s + i + w + q + sq + st)) i2=$((i + w))
    echo $((100 * ((t2 - t1) - (i2 - i1)) / (t2 - t1 > 0 ? t2 - t1 : 1)))
}

# Noise accounting: CPU used by processes other than this script's (hook-bench and its
# children, hookd, the echo stand-in) while a part runs, as a % of all CPUs. Ticks of USER_HZ.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
own_ticks() {
    local t=0 pid
    # This shell's own time plus that of every child it has waited for (hook-bench, sh, ...).
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$$/stat")
    for pid in "$HOOKD_PID" $ECHO_PID; do
        [ -r "/proc/$pid/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$t"
}
noise_start() { n_busy=$(busy_ticks) n_own=$(own_ticks) n_t0=$(date +%s%N); }
noise_end() {
    local busy own ticks pct
    busy=$(($(busy_ticks) - n_busy)) own=$(($(own_ticks) - n_own))
    ticks=$(( ($(date +%s%N) - n_t0) / 10000000 * $(nproc) ))
    pct=$(( ticks > 0 ? 100 * (busy - own) / ticks : 0 ))
    [ "$pct" -lt 0 ] && pct=0
    echo "  other processes used ~${pct}% of the CPUs during $1"
    QUIET_LOG+=("quiet[]=other processes during $1: ~${pct}% of the CPUs")
}

# Waits (up to ~2 min) until other processes leave the CPUs alone; records what it saw.
QUIET_LOG=()
wait_quiet() {
    local busy
    for _ in $(seq 1 120); do
        busy=$(cpu_busy_pct)
        if [ "$busy" -le "${QUIET_PCT:-15}" ]; then
            echo "  machine quiet before $1: ${busy}% CPU busy"
            QUIET_LOG+=("quiet[]=before $1: ${busy}% busy")
            return
        fi
        echo "  waiting: machine ${busy}% CPU busy before $1 (other processes)"
    done
    echo "  WARNING: machine still ${busy}% busy before $1; these results are noisy" >&2
    QUIET_LOG+=("quiet[]=before $1: still ${busy}% busy after 2 min (NOISY)")
}

section "machine"
RUSTC_VERSION=$(rustc -V)
echo "nproc:  $(nproc)"
echo "cpu:    $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel: $(uname -sr)"
echo "rustc:  $RUSTC_VERSION"

section "build (release)"
cargo build --release -p hook-client -p hookd -p hookctl -p hook-bench
BIN=$ROOT/target/release
BENCH=$BIN/hook-bench
CLIENT_DYN=$BIN/hook-client
if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL"; then
    rustup target add "$MUSL" || echo "(could not add $MUSL)"
fi
if cargo build --release -p hook-client --target "$MUSL"; then
    CLIENT=$ROOT/target/$MUSL/release/hook-client
    CLIENT_BUILD="static musl ($MUSL)"
elif RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p hook-client --target "$GNU"; then
    CLIENT=$ROOT/target/$GNU/release/hook-client
    CLIENT_BUILD="static glibc ($GNU, +crt-static; musl build failed)"
else
    CLIENT=$CLIENT_DYN
    CLIENT_BUILD="dynamic glibc (both static builds failed)"
fi
echo "hook-client under test: $CLIENT_BUILD"
file -L "$CLIENT" "$CLIENT_DYN" | sed 's/^/  /'
ls -l "$CLIENT" "$CLIENT_DYN" | awk '{print "  " $5 " bytes  " $NF}'

section "start hookd"
HOOKD_HOME=$(mktemp -d "${TMPDIR:-/tmp}/hookd-bench.XXXXXX")
export HOOKD_HOME
# The store goes in its own directory, as with the default XDG layout (config in
# ~/.config/hookd, store in ~/.local/share/hookd). Beside hookd.toml, WAL writes used to wake
# hookd's config watcher on every event (inotify IN_MODIFY); BENCH_DB_BESIDE_CONFIG=1 keeps the
# plain HOOKD_HOME layout to check that this stays cheap.
if [ "${BENCH_DB_BESIDE_CONFIG:-0}" != 1 ]; then
    export HOOKD_DB=$HOOKD_HOME/data/hookd.db
fi
# hook-client must reach this daemon, never autostart another one: a dead daemon shows up as a
# fallback verdict in the check run instead.
export HOOKD_NO_AUTOSTART=1
export CLAUDE_PROJECT_DIR=$ROOT
WORK=$HOOKD_HOME/bench
mkdir -p "$WORK"
HOOKD_LOG=warn "$BIN/hookd" 2>"$HOOKD_HOME/hookd.log" &
HOOKD_PID=$!
ECHO_PID=""
cleanup() {
    for pid in "$HOOKD_PID" $ECHO_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$HOOKD_HOME"
}
trap cleanup EXIT
# Poll until it answers (hookctl exits 3 while nothing listens); give up after ~10 s.
ready=""
for _ in $(seq 1 1000); do
    if ! kill -0 "$HOOKD_PID" 2>/dev/null; then
        echo "hookd exited during start-up:" >&2
        cat "$HOOKD_HOME/hookd.log" >&2
        exit 1
    fi
    rc=0
    "$BIN/hookctl" status >/dev/null 2>&1 || rc=$?
    if [ "$rc" -ne 3 ]; then
        ready=1
        break
    fi
    sleep 0.01
done
[ -n "$ready" ] || { echo "hookd did not answer within 10 s" >&2; exit 1; }
"$BIN/hookctl" status || true
idle_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$HOOKD_PID/status")
echo "hookd pid $HOOKD_PID, VmRSS ${idle_rss} kB at idle"

section "warm-up"
"$BENCH" throughput --payload "$PAYLOAD" --clients 2 --events 2000 --warmup 0 | sed 's/^/  /'
reply=$("$CLIENT" <"$PAYLOAD" 2>"$WORK/client.err") || true
echo "  hook-client reply: ${reply:-<empty stdout>} $(cat "$WORK/client.err")"
if grep -q "could not answer" "$WORK/client.err"; then
    echo "hook-client fell back instead of reaching hookd" >&2
    exit 1
fi

section "start the echo stand-in (answers every frame with an empty verdict; no work)"
ECHO_SOCK=$HOOKD_HOME/echo.sock
"$BENCH" echo --socket "$ECHO_SOCK" 2>/dev/null &
ECHO_PID=$!
for _ in $(seq 1 1000); do
    [ -S "$ECHO_SOCK" ] && break
    kill -0 "$ECHO_PID" 2>/dev/null || { echo "hook-bench echo exited" >&2; exit 1; }
    sleep 0.01
done
echo "echo pid $ECHO_PID on $ECHO_SOCK"

section "quiet check"
wait_quiet "(a) spawn"

section "(a) spawn cost: hook-client vs /bin/true, via sh -c, $RUNS runs each"
# Reference points: hook-client against the echo stand-in (hookd's own time removed) and a
# static no-op Rust binary (the floor for any static executable on this machine).
spawn_cmds=(--cmd /bin/true --cmd "$CLIENT" --cmd "$CLIENT_DYN" --cmd "HOOKD_SOCKET=$ECHO_SOCK $CLIENT")
spawn_labels=("/bin/true" "hook-client, $CLIENT_BUILD" "hook-client, dynamic glibc"
    "hook-client → echo stand-in")
if printf 'fn main() {}\n' | rustc -O -C panic=abort --target "$MUSL" -o "$WORK/noop-static" - 2>/dev/null; then
    spawn_cmds+=(--cmd "$WORK/noop-static")
    spawn_labels+=("static no-op (fn main() {}, musl)")
fi
noise_start
"$BENCH" spawn --runs "$RUNS" --warmup "$WARMUP" --input "$PAYLOAD" \
    --json-out "$WORK/spawn.json" "${spawn_cmds[@]}"
noise_end "(a) spawn"

section "(b) throughput, $EVENTS events per run"
wait_quiet "(b) throughput"
noise_start
throughput_args=()
for c in $CLIENTS; do
    for mode in new reuse; do
        flag=()
        [ "$mode" = reuse ] && flag=(--reuse)
        "$BENCH" throughput --payload "$PAYLOAD" --clients "$c" --events "$EVENTS" "${flag[@]}" \
            --server-pid "$HOOKD_PID" --json-out "$WORK/tp-$c-$mode.json"
        throughput_args+=("throughput[]=@$WORK/tp-$c-$mode.json")
    done
done

noise_end "(b) throughput"

section "(c) hookd memory after the load"
grep -E '^(VmRSS|VmHWM|Threads):' "/proc/$HOOKD_PID/status" | sed 's/^/  /'
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$HOOKD_PID/status")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$HOOKD_PID/status")
"$BIN/hookctl" status | sed 's/^/  /' || true
"$BIN/hookctl" status --json >"$WORK/status.json" 2>/dev/null || true
[ -s "$WORK/status.json" ] || echo null >"$WORK/status.json"

section "(d) transport ceiling: the same throughput runs against the echo stand-in"
wait_quiet "(d) echo throughput"
noise_start
echo_args=()
for c in $CLIENTS; do
    for mode in new reuse; do
        flag=()
        [ "$mode" = reuse ] && flag=(--reuse)
        "$BENCH" throughput --socket "$ECHO_SOCK" --payload "$PAYLOAD" --clients "$c" \
            --events "$EVENTS" "${flag[@]}" --json-out "$WORK/echo-$c-$mode.json"
        echo_args+=("echo_throughput[]=@$WORK/echo-$c-$mode.json")
    done
done

noise_end "(d) echo throughput"

section "results"
"$BENCH" machine --rustc "$RUSTC_VERSION" >"$WORK/machine.json"
mkdir -p "$(dirname "$OUT")"
"$BENCH" combine \
    "machine=@$WORK/machine.json" \
    "hook_client_build=$CLIENT_BUILD" \
    "hook_client_file=$(file -bL "$CLIENT")" \
    "${spawn_labels[@]/#/spawn_labels[]=}" \
    "spawn=@$WORK/spawn.json" \
    "${throughput_args[@]}" \
    "${echo_args[@]}" \
    "hookd_memory={\"idle_vm_rss_kb\": $idle_rss, \"vm_rss_kb\": $rss, \"vm_hwm_kb\": $hwm}" \
    "hookd_status_after=@$WORK/status.json" \
    "${QUIET_LOG[@]}" \
    "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" \
    "payload=@$PAYLOAD" \
    "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
"$BENCH" report "$OUT"
echo
echo "wrote ${OUT#"$ROOT"/}"
