#!/usr/bin/env bash
# Long fuzzing campaigns, one target at a time, for the figures in
# README.md ("What was run"). Not for CI (see ci.sh): each target runs until
# RUNS executions or MAX_SECS seconds, whichever comes first.
#
#   cd fuzz && nohup nice -n 19 ./campaign.sh envelope headers > logs/campaign.log 2>&1 &
#
# Environment: RUNS (default 10000000), MAX_SECS (default 3600),
# SANITIZER (default address; `none` is 2-4x faster, and then
# `-malloc_limit_mb` is not enforced, only `-rss_limit_mb`).
# TAG (default none) names a second concurrent run of a target.
# libFuzzer's output goes to logs/<target>[-TAG].log; the last "Done" / "stat::"
# lines are the figures.
set -u
cd "$(dirname "$0")"
mkdir -p logs

RUNS=${RUNS:-10000000}
MAX_SECS=${MAX_SECS:-3600}
SANITIZER=${SANITIZER:-address}

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    CARGO=(cargo +nightly)
else
    CARGO=(env RUSTC_BOOTSTRAP=1 cargo)
fi

# Per-target libFuzzer options (see README.md for why).
extra_args() {
    case "$1" in
        decompress) echo "-malloc_limit_mb=64" ;;
        stack) echo "-rss_limit_mb=3072" ;;
        client_response) echo "-malloc_limit_mb=512 -rss_limit_mb=3072 -timeout=20" ;;
        *) echo "" ;;
    esac
}

# ASan builds in the default target/, others beside it (no rebuild ping-pong).
dir_args=()
[ "$SANITIZER" = address ] || dir_args=(--target-dir "target/$SANITIZER")

status=0
for target in "$@"; do
    log="logs/$target${TAG:+-$TAG}.log"
    echo "== $target: $(date -u +%FT%TZ) runs=$RUNS max_secs=$MAX_SECS sanitizer=$SANITIZER"
    start=$(date +%s)
    # shellcheck disable=SC2046
    "${CARGO[@]}" fuzz run -s "$SANITIZER" "${dir_args[@]}" "$target" -- \
        -runs="$RUNS" -max_total_time="$MAX_SECS" -print_final_stats=1 \
        $(extra_args "$target") > "$log" 2>&1
    rc=$?
    end=$(date +%s)
    echo "   rc=$rc wall=$((end - start))s"
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" | sed 's/^/   /'
    grep -E '^#[0-9]+' "$log" | tail -1 | sed 's/^/   last: /'
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/   /'
    fi
done
exit $status
