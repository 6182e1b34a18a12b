#!/usr/bin/env bash
# Installs the Claude Code CLI used by the integration tests and prints the absolute
# path of its native executable on stdout (everything else goes to stderr).
#
#   HOOKD_TEST_CACHE   cache root (default: $HOME/.cache/hookd-tests)
#
# Idempotent and safe to run concurrently (flock on a lock file in the cache root).
# The npm package `@anthropic-ai/claude-code` ships a placeholder `bin/claude.exe`; its
# postinstall (`node install.cjs`) hardlinks the native binary from the platform package
# (`@anthropic-ai/claude-code-linux-x64/claude` etc.) over it. If npm skipped the
# postinstall (ignore-scripts, allowScripts policy), we run it ourselves, and as a last
# resort use the platform package's binary directly.
set -euo pipefail

VERSION="2.1.332"
PKG="@anthropic-ai/claude-code"
CACHE_ROOT="${HOOKD_TEST_CACHE:-$HOME/.cache/hookd-tests}"
PREFIX="$CACHE_ROOT/claude-code-$VERSION"
MARKER="$PREFIX/.hookd-installed"
WRAPPER_DIR="$PREFIX/node_modules/$PKG"

log() { printf 'install.sh: %s\n' "$*" >&2; }

# Prints the path if `$1 --version` reports $VERSION, fails otherwise.
check_binary() {
    local bin="$1" out
    [[ -f "$bin" && -x "$bin" ]] || return 1
    # A placeholder stub is tiny; the native binary is hundreds of MB.
    [[ "$(stat -c %s "$bin" 2>/dev/null || echo 0)" -gt 1000000 ]] || return 1
    out="$(DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
        timeout 60 "$bin" --version 2>/dev/null </dev/null)" || return 1
    [[ "$out" == "$VERSION"* ]] || return 1
    printf '%s\n' "$bin"
}

find_binary() {
    check_binary "$WRAPPER_DIR/bin/claude.exe" && return 0
    local dir
    for dir in "$PREFIX"/node_modules/"$PKG"-*/ "$WRAPPER_DIR"/node_modules/"$PKG"-*/; do
        [[ -d "$dir" ]] || continue
        check_binary "${dir%/}/claude" && return 0
    done
    return 1
}

mkdir -p "$CACHE_ROOT"
CACHE_ROOT="$(cd "$CACHE_ROOT" && pwd -P)"
PREFIX="$CACHE_ROOT/claude-code-$VERSION"
MARKER="$PREFIX/.hookd-installed"
WRAPPER_DIR="$PREFIX/node_modules/$PKG"

# Fast path, no lock: a finished install.
if [[ -f "$MARKER" ]] && bin="$(check_binary "$(cat "$MARKER")")"; then
    printf '%s\n' "$bin"
    exit 0
fi

if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_ROOT/.claude-code-$VERSION.lock"
    flock -w 900 9 || { log "timed out waiting for the install lock"; exit 1; }
fi

# Another process may have finished while we waited for the lock.
if [[ -f "$MARKER" ]] && bin="$(check_binary "$(cat "$MARKER")")"; then
    printf '%s\n' "$bin"
    exit 0
fi

if ! bin="$(find_binary)"; then
    command -v npm >/dev/null 2>&1 || { log "npm not found on PATH"; exit 1; }
    log "installing $PKG@$VERSION into $PREFIX"
    mkdir -p "$PREFIX"
    # npm's progress and warnings (e.g. EBADENGINE on node < 22) go to stderr.
    npm install --prefix "$PREFIX" --no-audit --no-fund "$PKG@$VERSION" >&2
    if ! bin="$(check_binary "$WRAPPER_DIR/bin/claude.exe")"; then
        if [[ -f "$WRAPPER_DIR/install.cjs" ]]; then
            log "native binary not in place; running the package's postinstall"
            (cd "$WRAPPER_DIR" && node install.cjs) >&2 || true
        fi
        bin="$(find_binary)" || {
            log "no working claude $VERSION binary under $PREFIX"
            exit 1
        }
    fi
fi

printf '%s\n' "$bin" >"$MARKER.tmp"
mv -f "$MARKER.tmp" "$MARKER"
printf '%s\n' "$bin"
