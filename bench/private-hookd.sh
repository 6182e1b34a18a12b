# Sourced by the A/B scripts (ab_throughput.sh, ab_renovation.sh): one private hookd at a time,
# in a fresh HOOKD_HOME with the store in data/, stopped and removed on exit.
#
#   start_private_hookd DIR    # DIR's hookd; HOOKD_TOML, when set, is its hookd.toml
#   HOOKD_HOME=$HOME_DIR "$DIR/hook-bench" …
#   stop_private_hookd

HOOKD_PID=""
HOME_DIR=""

stop_private_hookd() {
    if [ -n "$HOOKD_PID" ] && kill -0 "$HOOKD_PID" 2>/dev/null; then
        kill "$HOOKD_PID" 2>/dev/null || true
        wait "$HOOKD_PID" 2>/dev/null || true
    fi
    [ -n "$HOME_DIR" ] && rm -rf "$HOME_DIR"
    # The next run must not pay for this one's writeback (and discards) of its store.
    sync
    HOOKD_PID="" HOME_DIR=""
}
trap stop_private_hookd EXIT

# Starts DIR's hookd and waits (at most 20 s) until its hookctl status answers.
start_private_hookd() {
    local bin=$1
    HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hookd-ab.XXXXXX")
    mkdir -p "$HOME_DIR/data"
    if [ -n "${HOOKD_TOML:-}" ]; then printf '%s\n' "$HOOKD_TOML" >"$HOME_DIR/hookd.toml"; fi
    HOOKD_HOME=$HOME_DIR HOOKD_DB=$HOME_DIR/data/hookd.db HOOKD_NO_AUTOSTART=1 HOOKD_LOG=warn \
        "$bin/hookd" 2>"$HOME_DIR/hookd.log" &
    HOOKD_PID=$!
    for _ in $(seq 1 2000); do
        HOOKD_HOME=$HOME_DIR "$bin/hookctl" status >/dev/null 2>&1 && break
        sleep 0.01
    done
}
