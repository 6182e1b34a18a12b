#!/usr/bin/env bash
# The OTLP conformance receiver for tests/tests/fleet_rotel.rs: rotel (a Rust OpenTelemetry
# collector, from PyPI, pinned) in a venv under ~/.cache/hookd-tests. Idempotent; never fails
# the caller: without it the conformance test prints "SKIPPED: …" and returns.
set -u
ROTEL_VERSION=0.0.1a15
VENV="${HOOKD_TEST_CACHE:-$HOME/.cache/hookd-tests}/otlp-venv"
agent() { ls "$VENV"/lib/python3*/site-packages/rotel/rotel-agent 2>/dev/null | head -n 1; }
if [ -n "$(agent)" ] && "$VENV/bin/pip" show rotel 2>/dev/null | grep -qx "Version: $ROTEL_VERSION"; then
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "install-otlp: no python3; the rotel conformance test will be skipped" >&2
    exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get install -y -q python3-venv >/dev/null || true
    fi
fi
mkdir -p "$(dirname "$VENV")"
{ [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"; } &&
    "$VENV/bin/pip" install -q "rotel==$ROTEL_VERSION" ||
    echo "install-otlp: rotel==$ROTEL_VERSION could not be installed; the rotel conformance test will be skipped" >&2
exit 0
