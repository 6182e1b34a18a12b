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
# The integration tests run the hook-client users get: the release build, which links no C
# library (hook-client/src/rt.rs; the debug build starts from glibc). Its own directory of the
# debug binaries (hard links) plus it, so that "beside hook-client" still finds hookd.
echo "==> hook-client as released, for the integration tests"
cargo build --release -p hook-client --locked
bins=target/test-bin
rm -rf "$bins"
mkdir -p "$bins"
for f in target/debug/*; do
    if [ -f "$f" ] && [ -x "$f" ]; then ln -f "$f" "$bins/"; fi
done
ln -f target/release/hook-client "$bins/hook-client"
export HOOKD_TEST_BIN_DIR="$PWD/$bins"
echo "==> test"
cargo test --workspace --locked --no-fail-fast "$@"
