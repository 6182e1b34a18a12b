#!/usr/bin/env bash
# Runs hookd's whole test suite on a fresh machine.
#
# Sets up what the suite needs: the pinned Rust toolchain (rust-toolchain.toml; rustup fetches
# it on first use) and the pinned Claude Code CLI for the real-client tests (npm, cached in
# ~/.cache/hookd-tests). Then builds every binary (the integration tests run the real hookd,
# hook-client and hookctl) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo --version
echo "==> Claude Code CLI for the real-client tests"
bash tests/claude/install.sh
echo "==> rotel for the OTLP conformance test"
bash tests/fleet/install-otlp.sh
echo "==> chromium and Playwright for the dashboard browser test"
bash tests/ui/install.sh >/dev/null || echo "tests/ui/install.sh failed: the dashboard browser test will print SKIPPED"
echo "==> PostgreSQL 15 and promtool for the fleet sink tests"
bash tests/fleet/install-pg.sh
echo "==> build"
cargo build --workspace --bins --locked
echo "==> test"
cargo test --workspace --locked --no-fail-fast "$@"
