#!/usr/bin/env bash
# Installs what the dashboard's real-browser test (tests/tests/ui_browser.rs, which runs
# tests/ui/dashboard_test.py) needs, and prints the venv's python on stdout (everything else
# goes to stderr):
#   - Debian's chromium and its fonts (apt-get, only when missing; the test drives
#     /usr/bin/chromium through Playwright's executable_path: never a browser download);
#   - Playwright for Python, pinned, pip-installed into a venv under the test cache.
#
#   HOOKD_TEST_CACHE   cache root (default: $HOME/.cache/hookd-tests)
#
# Idempotent and safe to run concurrently (flock on a lock file in the cache root). It fails
# only on a broken install; a machine without apt or pip makes the test print SKIPPED instead.
set -euo pipefail

PLAYWRIGHT_VERSION="1.65.2"
CACHE_ROOT="${HOOKD_TEST_CACHE:-$HOME/.cache/hookd-tests}"
VENV="$CACHE_ROOT/playwright-$PLAYWRIGHT_VERSION"
MARKER="$VENV/.hookd-installed"

log() { printf 'tests/ui/install.sh: %s\n' "$*" >&2; }

mkdir -p "$CACHE_ROOT"

have_browser() { [[ -x /usr/bin/chromium ]] && fc-list 2>/dev/null | grep -qi dejavu; }
have_playwright() {
    [[ -f "$MARKER" ]] && "$VENV/bin/python" -c "import playwright.sync_api" 2>/dev/null
}

# Fast path, no lock: both already there.
if have_browser && have_playwright; then
    printf '%s\n' "$VENV/bin/python"
    exit 0
fi

if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_ROOT/.playwright.lock"
    flock -w 900 9 || { log "timed out waiting for the install lock"; exit 1; }
fi

if ! have_browser; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        log "installing Debian's chromium and fonts"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || log "apt-get update failed; trying the install anyway"
        apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core \
            fonts-liberation fontconfig >&2 || log "apt-get install chromium failed"
    else
        log "no /usr/bin/chromium and no apt-get as root: the browser test will be skipped"
    fi
fi

if ! have_playwright; then
    python="$(command -v python3 || true)"
    if [[ -z "$python" ]]; then
        log "no python3: the browser test will be skipped"
        exit 0
    fi
    log "installing playwright==$PLAYWRIGHT_VERSION into $VENV"
    # A venv is not relocatable: build it in place; the marker, written last, says it is whole.
    rm -rf "$VENV"
    "$python" -m venv "$VENV" >&2
    # The wheel carries Playwright's own driver; its browser download (`playwright install`)
    # is never run: the test uses Debian's chromium.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "playwright==$PLAYWRIGHT_VERSION" >&2
    touch "$MARKER"
fi

printf '%s\n' "$VENV/bin/python"
