#!/usr/bin/env bash
# The benchmark users feel: the real Claude Code CLI (the pinned version the tests install)
# through a scripted session of 50 tool calls against the tests' fake Messages API, with no
# hooks, /bin/true, hookd command hooks (static musl and default hook-client), hookd http hooks
# and a typical Python hook script (tests/src/bin/cli_bench.rs explains each).
#
#   bash bench/cli-session.sh [cli-bench flags]      # e.g. --rounds 8 --max-load 2
#
# Builds the release binaries (hook-client also static for x86_64-unknown-linux-musl when
# that target can be added), runs target/release/cli-bench and writes its samples to
# OUT (default bench/results/cli-session.json). Needs npm the first time (the CLI install).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MUSL=x86_64-unknown-linux-musl
OUT=${OUT:-$PWD/bench/results/cli-session.json}

# Two builds: built together with hook-tests, the daemon would get the features the test
# crate turns on in shared dependencies, and would not be the binary users run.
cargo build --release -p hookd -p hookctl -p hook-client
cargo build --release -p hook-tests --bin cli-bench
musl_args=()
if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL"; then
    rustup target add "$MUSL" || echo "(could not add $MUSL)"
fi
if cargo build --release -p hook-client --target "$MUSL"; then
    musl_args=(--musl-client "$PWD/target/$MUSL/release/hook-client")
else
    echo "NOTE: no static musl hook-client; the hookd-musl configuration is skipped" >&2
    musl_args=(--configs none,true,hookd-glibc,hookd-http,python)
fi
# Install the pinned CLI now (npm), not inside the first measured run.
bash tests/claude/install.sh >/dev/null
mkdir -p "$(dirname "$OUT")"
target/release/cli-bench "${musl_args[@]}" --json-out "$OUT" "$@"
