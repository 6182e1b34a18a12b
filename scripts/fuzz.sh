#!/usr/bin/env bash
# Runs every fuzz target for a set time, one after the other, and keeps a minimized corpus.
#
#   scripts/fuzz.sh [seconds-per-target]        # default 300
#   FUZZ_TARGETS="shell rule_file" scripts/fuzz.sh 60
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Each target
# runs as one libFuzzer process (a single job and worker, no fork mode), one target at a time.
# It starts from the working corpus fuzz/corpus-work/<target> (kept between runs, not
# committed), the committed fuzz/corpus/<target> and fresh seeds (scripts/fuzz-seeds.py); new
# inputs land in the working corpus, which is then minimized (`-merge=1`). The committed corpus
# is rewritten as the smallest set covering the same edges (`-set_cover_merge=1
# -use_counters=0`), which the normal test suite replays (invariants/tests/fuzz_invariants.rs).
# A crash stops that target and leaves its input in fuzz/artifacts/<target>/; the script goes
# on with the next target and exits 1 at the end. The summary table at the end is the one in
# RELIABILITY.md; full logs are in fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs=${1:-300}
read -r -a targets <<<"${FUZZ_TARGETS:-frame message hook_json shell rule_file}"
# -s none: the code under test has no `unsafe` (workspace lint), so ASan would only slow it
# down; debug assertions turn on overflow checks.
flags=(-s none --debug-assertions)

max_len() {
    case $1 in
        frame | message) echo 4096 ;;
        *) echo 16384 ;;
    esac
}

mkdir -p logs
# One run at a time: two would share the corpora (and the machine's cores).
exec 9>logs/.lock
flock -n 9 || { echo "fuzz.sh: another run is in progress" >&2; exit 1; }

cargo +nightly fuzz build "${flags[@]}"
bin=target/x86_64-unknown-linux-gnu/release
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 ../scripts/fuzz-seeds.py "$seeds"

status=0
rows=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "corpus-work/$t" "$seeds/$t"
    log="logs/$t.log"
    echo "==> $t: ${secs}s"
    start=$SECONDS
    set +e
    cargo +nightly fuzz run "${flags[@]}" "$t" "corpus-work/$t" "corpus/$t" "$seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len="$(max_len "$t")" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    took=$((SECONDS - start))
    fstat() { grep -o "stat::$1: *[0-9]*" "$log" | tail -1 | grep -o '[0-9]*$' || echo '?'; }
    execs=$(fstat number_of_executed_units)
    rate=$(fstat average_exec_per_sec)
    rss=$(fstat peak_rss_mb)
    slowest=$(fstat slowest_unit_time_sec)
    if [ "$rc" -ne 0 ]; then
        status=1
        result="CRASH (see $log, fuzz/artifacts/$t/)"
        tail -40 "$log"
    else
        result="no failure"
    fi
    merge() { # merge <into> <from...> <flags...>: minimized union of the corpora
        local into=$1 tmp
        shift
        tmp=$(mktemp -d -p .)
        mkdir -p "artifacts/$t"
        if "$bin/$t" "$tmp" "$@" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="artifacts/$t/merge-" >>"logs/$t.merge.log" 2>&1; then
            rm -rf "$into" && mv "$tmp" "$into"
        else
            status=1
            rm -rf "$tmp"
        fi
    }
    : >"logs/$t.merge.log"
    merge "corpus-work/$t" "corpus-work/$t" -merge=1
    work=$(find "corpus-work/$t" -type f | wc -l)
    merge "corpus/$t" "corpus-work/$t" "corpus/$t" -set_cover_merge=1 -use_counters=0
    files=$(find "corpus/$t" -type f | wc -l)
    bytes=$(find "corpus/$t" -type f -exec cat {} + | wc -c)
    rows+=("| $t | $took | $execs | $rate | $slowest | $rss | $work | $files files, $bytes B | $result |")
done

echo
echo "Fuzzing, $(date -u +%Y-%m-%d), $(nproc) CPUs, $(cargo +nightly --version), ${secs}s per target:"
echo
echo "| target | seconds | executions | exec/s | slowest input (s) | peak RSS MiB | working corpus | committed corpus | result |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$status"
