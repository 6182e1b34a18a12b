#!/bin/sh
# Installs a hookd release tarball's contents for the current user (scripts/release.sh puts this
# script at the top of each tarball as install.sh).
#
#   sh install.sh            # into ~/.local: bin/, share/man/man1/, completions, lib/hookd/plugin
#   PREFIX=/opt/hookd sh install.sh
#
# 1. Verifies every file against SHA256SUMS (and stops on any mismatch, before touching anything).
# 2. Replaces each binary atomically (a new file renamed over the old one, never written in
#    place: a running hookd keeps its old file until it restarts).
# 3. Installs the man pages, the bash/zsh/fish completions and the Claude Code plugin.
# 4. Prints the next step.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-$HOME/.local}
bindir=$PREFIX/bin
mandir=$PREFIX/share/man/man1
plugindir=$PREFIX/lib/hookd/plugin

say() { printf '%s\n' "$*"; }
die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

cd "$here"
[ -f SHA256SUMS ] || die "no SHA256SUMS beside install.sh: is this an unpacked release tarball?"
if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -c --quiet SHA256SUMS || die "checksum mismatch: the tarball is damaged; nothing was installed"
elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 -c --quiet SHA256SUMS || die "checksum mismatch: the tarball is damaged; nothing was installed"
else
    die "neither sha256sum nor shasum is available to verify the files; nothing was installed"
fi
say "verified: every file matches SHA256SUMS"

version=$(./bin/hookctl --version 2>/dev/null) || die "bin/hookctl does not run on this machine ($(uname -sm)): wrong tarball?"

# A file installed beside its destination under a temporary name, then renamed over it.
put() { # mode source destination
    tmp="$(dirname "$3")/.$(basename "$3").install-$$"
    cp "$2" "$tmp"
    chmod "$1" "$tmp"
    mv -f "$tmp" "$3"
}

mkdir -p "$bindir"
running=no
if [ -x "$bindir/hookctl" ] && "$bindir/hookctl" status >/dev/null 2>&1; then
    running=yes
fi
for b in hookd hookctl hook-client; do
    put 0755 "bin/$b" "$bindir/$b"
done
say "installed hookd, hookctl and hook-client into $bindir ($version)"

if [ -d share/man/man1 ]; then
    mkdir -p "$mandir"
    for m in share/man/man1/*.1; do
        put 0644 "$m" "$mandir/$(basename "$m")"
    done
    say "installed man pages into $mandir (man hookd, man hookctl, man hook-client)"
fi

if [ -d share/completions ]; then
    bash_dir=${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion/completions
    zsh_dir=$PREFIX/share/zsh/site-functions
    fish_dir=${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions
    mkdir -p "$bash_dir" "$zsh_dir" "$fish_dir"
    put 0644 share/completions/hookctl.bash "$bash_dir/hookctl"
    put 0644 share/completions/_hookctl "$zsh_dir/_hookctl"
    put 0644 share/completions/hookctl.fish "$fish_dir/hookctl.fish"
    say "installed completions: bash ($bash_dir), zsh ($zsh_dir: add it to fpath), fish ($fish_dir)"
fi

if [ -d plugin ]; then
    # The whole plugin directory is replaced: a new copy beside it, then swapped in.
    mkdir -p "$(dirname "$plugindir")"
    new="$plugindir.new-$$"
    rm -rf "$new"
    cp -R plugin "$new"
    rm -rf "$plugindir.old-$$"
    [ -d "$plugindir" ] && mv "$plugindir" "$plugindir.old-$$"
    mv "$new" "$plugindir"
    rm -rf "$plugindir.old-$$"
    say "installed the Claude Code plugin into $plugindir"
fi

say ""
case ":$PATH:" in
*":$bindir:"*) ;;
*) say "note: $bindir is not on your PATH; add it, e.g. export PATH=\"$bindir:\$PATH\" in your shell profile" ;;
esac
if [ "$running" = yes ]; then
    say "next: hookctl restart    # hookd was running: start this version in its place"
    say "      hookctl doctor     # \"versions ok\": hookd, hookctl and hook-client are one build"
else
    say "next: hookctl install    # wire hook-client into ~/.claude/settings.json (--dry-run shows the diff)"
    say "      hookctl doctor     # check every link, with a fix for each problem"
    say "  or, instead of settings: claude --plugin-dir $plugindir"
fi
