#!/usr/bin/env bash
# Builds the release tarballs: hookd, hookctl and hook-client of one build, static, for
# x86_64 and aarch64 Linux (musl), with their man pages, shell completions, the Claude Code
# plugin and an install script.
#
#   bash scripts/release.sh                     # both Linux targets into dist/
#   TARGETS=x86_64-unknown-linux-musl bash scripts/release.sh
#   OUT=/tmp/rel bash scripts/release.sh
#
# Output, for each target (VERSION from Cargo.toml, ARCH x86_64 or aarch64):
#   dist/hookd-VERSION-ARCH-linux.tar.gz, holding hookd-VERSION-ARCH-linux/ with
#     bin/{hookd,hookctl,hook-client}     static executables (checked: no program interpreter)
#     share/man/man1/*.1                  hookd(1), hookctl(1) and its subcommands, hook-client(1)
#     share/completions/                  hookctl.bash, _hookctl (zsh), hookctl.fish
#     plugin/                             the Claude Code plugin (plugin/ of the source tree,
#                                         bin/ filled with the three binaries)
#     systemd/, launchd/                  the service units (`hookctl service install` writes them)
#     install.sh                          verifies SHA256SUMS, installs into ~/.local (PREFIX)
#     SHA256SUMS                          of every file above
#     README.md, CHANGELOG.md
#   dist/SHA256SUMS                       of the tarballs
#
# The Linux builds are cross-compiled with cargo-zigbuild (crates.io) and zig (the `ziglang`
# package on PyPI), which this script installs when missing, as .ci/darwin-check does: zig
# links musl and compiles the bundled C (SQLite, mimalloc) for either architecture from one
# machine.
#
# macOS builds are made on a Mac, natively: `TARGETS=aarch64-apple-darwin bash
# scripts/release.sh` there (or x86_64-apple-darwin) gives dist/hookd-VERSION-ARCH-macos.tar.gz.
# The binaries are linked against libSystem as every macOS program is (there is no static
# libc on macOS); hookd and hookctl need Apple's SDK (Xcode's command line tools) to link, which
# is why they cannot be cross-linked from Linux. From Linux, .ci/darwin-check type-checks the
# whole workspace for both macOS targets and links hook-client.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/dist}
TARGETS=${TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
BINS=(hookd hookctl hook-client)

die() {
    printf 'release.sh: %s\n' "$*" >&2
    exit 1
}
section() { printf '\n==> %s\n' "$*"; }

[ -n "$VERSION" ] || die "cannot read the version from Cargo.toml"

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

needs_zig=no
for t in $TARGETS; do
    case "$t" in
    *-linux-musl) needs_zig=yes ;;
    *-apple-darwin) [ "$(uname -s)" = Darwin ] || die "$t: macOS binaries are built on a Mac (see this script's header)" ;;
    *) die "$t: not a release target (x86_64/aarch64 -unknown-linux-musl, -apple-darwin)" ;;
    esac
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done
if [ "$needs_zig" = yes ]; then
    if ! command -v zig >/dev/null 2>&1 && ! python3 -m ziglang version >/dev/null 2>&1; then
        section "pip install --user ziglang"
        python3 -m pip install --user --quiet ziglang ||
            python3 -m pip install --user --quiet --break-system-packages ziglang ||
            die "cannot install zig (pip install ziglang)"
    fi
    if ! command -v cargo-zigbuild >/dev/null 2>&1; then
        section "cargo install cargo-zigbuild --locked"
        CARGO_TARGET_DIR="${TMPDIR:-/tmp}/cargo-zigbuild-install" cargo install cargo-zigbuild --locked ||
            die "cannot install cargo-zigbuild"
    fi
fi

# Fails unless `$1` is a static ELF executable (no PT_INTERP program header).
check_static() {
    local f=$1
    if command -v readelf >/dev/null 2>&1; then
        if readelf -lW "$f" | grep -q 'INTERP'; then
            die "$f is dynamically linked: $(readelf -lW "$f" | grep -A1 INTERP | tail -n 1)"
        fi
    elif command -v file >/dev/null 2>&1; then
        file -b "$f" | grep -Eq 'static(-pie)? linked' || die "$f is not static: $(file -b "$f")"
    else
        die "neither readelf nor file is available to check that $f is static"
    fi
}

# A hookctl that runs here, for the man pages and completions: a built one if it runs on this
# machine, else a host build.
HOST_HOOKCTL=""
pick_host_hookctl() {
    local t
    for t in $TARGETS; do
        local c="$ROOT/target/$t/release/hookctl"
        if [ -x "$c" ] && "$c" --version >/dev/null 2>&1; then
            HOST_HOOKCTL=$c
            return
        fi
    done
    section "host hookctl (for the man pages and completions)"
    cargo build --locked -p hookctl
    HOST_HOOKCTL="$ROOT/target/debug/hookctl"
}

rm -rf "$OUT/stage"
mkdir -p "$OUT/stage"
TARBALLS=()
for t in $TARGETS; do
    arch=${t%%-*}
    case "$t" in
    *-linux-musl) name="hookd-$VERSION-$arch-linux" ;;
    *-apple-darwin) name="hookd-$VERSION-$arch-macos" ;;
    esac
    section "build $t"
    if [ "$needs_zig" = yes ] && [[ "$t" == *-linux-musl ]]; then
        cargo-zigbuild build --release --locked --target "$t" -p hookd -p hookctl -p hook-client
    else
        cargo build --release --locked --target "$t" -p hookd -p hookctl -p hook-client
    fi
    stage="$OUT/stage/$name"
    mkdir -p "$stage/bin"
    for b in "${BINS[@]}"; do
        cp "target/$t/release/$b" "$stage/bin/$b"
        chmod 0755 "$stage/bin/$b"
        [[ "$t" == *-linux-musl ]] && check_static "$stage/bin/$b"
    done
done

pick_host_hookctl
section "man pages and completions (with $HOST_HOOKCTL)"
DOCS="$OUT/stage/docs"
mkdir -p "$DOCS/man1" "$DOCS/completions"
"$HOST_HOOKCTL" man --out "$DOCS/man1" >/dev/null
"$HOST_HOOKCTL" completions bash >"$DOCS/completions/hookctl.bash"
"$HOST_HOOKCTL" completions zsh >"$DOCS/completions/_hookctl"
"$HOST_HOOKCTL" completions fish >"$DOCS/completions/hookctl.fish"
for p in hookd hookctl hook-client; do
    [ -s "$DOCS/man1/$p.1" ] || die "no man page for $p"
done

for t in $TARGETS; do
    arch=${t%%-*}
    case "$t" in
    *-linux-musl) name="hookd-$VERSION-$arch-linux" ;;
    *-apple-darwin) name="hookd-$VERSION-$arch-macos" ;;
    esac
    stage="$OUT/stage/$name"
    section "package $name"
    mkdir -p "$stage/share/man" "$stage/share/completions"
    cp -R "$DOCS/man1" "$stage/share/man/man1"
    cp "$DOCS/completions/"* "$stage/share/completions/"
    # The plugin: the source tree's manifest and hooks, bin/ filled with this build.
    mkdir -p "$stage/plugin"
    cp -R plugin/.claude-plugin plugin/hooks plugin/README.md "$stage/plugin/"
    mkdir -p "$stage/plugin/bin"
    for b in "${BINS[@]}"; do
        cp "$stage/bin/$b" "$stage/plugin/bin/$b"
    done
    cp -R systemd launchd "$stage/"
    cp README.md CHANGELOG.md "$stage/"
    cp scripts/install.sh "$stage/install.sh"
    chmod 0755 "$stage/install.sh"
    (cd "$stage" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | sed 's|^\./||' |
        while IFS= read -r f; do sha256 "$f"; done >SHA256SUMS)
    tar_flags=()
    if tar --version 2>/dev/null | grep -q 'GNU tar'; then
        tar_flags=(--owner=0 --group=0 --numeric-owner --sort=name)
    fi
    tar -C "$OUT/stage" "${tar_flags[@]}" -czf "$OUT/$name.tar.gz" "$name"
    TARBALLS+=("$name.tar.gz")
done

(cd "$OUT" && sha256 "${TARBALLS[@]}" >SHA256SUMS)
rm -rf "$OUT/stage"
section "done"
for f in "${TARBALLS[@]}"; do
    printf '  %s  %s\n' "$(du -h "$OUT/$f" | cut -f1)" "$OUT/$f"
done
printf '  %s\n' "$OUT/SHA256SUMS"
cat <<EOF

Install one (on the machine it is for):
  cd $OUT && sha256sum -c --ignore-missing SHA256SUMS
  tar xzf ${TARBALLS[0]} && sh ${TARBALLS[0]%.tar.gz}/install.sh
EOF
