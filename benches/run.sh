#!/usr/bin/env bash
# Runs the benchmarks and rewrites the generated section at the top of
# benches/RESULTS.md (between its `run.sh` markers) with what they measured,
# the machine and the commit; the same tables go to stdout. The analysis
# below that section (why a target is missed, with the profile) is written
# by hand and dated, and stays as it is.
#
# What runs, in order:
#   1. the in-process criterion benches, servers (`inprocess`) and
#      clients (`client`), and the loopback h2load benches: bench-driver's
#      tables (extra arguments go to bench-driver, e.g. --rounds 5,
#      --no-loopback);
#   2. the client benches again, interleaved (src/bin/client-ab.rs): every
#      framework timed in short bursts taken in turn, ratios per round;
#   3. the pair: each client against its own server (src/bin/pair.rs),
#      PAIR_ROUNDS rounds (3; the variants alternate within a round, and
#      each figure is the median round's: one round is not evidence on a
#      shared host);
#   4. instructions per call, servers and clients (instructions.sh), if
#      valgrind is installed.
# Not run here: fortunes (Redis behind the handler, connect-go too) is
# `bash benches/fortunes.sh`; the resilient client's cost is
# `target/release/resilience-cost` (see RESULTS.md).
#
# Needs h2load (Debian: apt-get install -y nghttp2-client); valgrind
# (apt-get install -y valgrind) for step 4.
# `bash benches/run.sh --no-write ...` prints without touching RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
write=1
if [ "${1:-}" = --no-write ]; then
    write=0
    shift
fi
command -v h2load >/dev/null || { echo "h2load not found: apt-get install -y nghttp2-client" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
results=benches/RESULTS.md
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

cargo bench -p benches --bench inprocess >&2   # criterion output to stderr; stdout is the tables
cargo bench -p benches --bench client >&2
cargo build --release -p benches --bin bench-server --bin bench-driver --bin pair --bin client-ab >&2

cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
{
    echo "Recorded by \`bash benches/run.sh\` on $(date -u +%Y-%m-%d) at commit" \
        "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!benches/RESULTS.md' || echo ' (with local changes)'):" \
        "$(nproc) cores (${cpu:-unknown CPU}), $(uname -sr), $(rustc --version)," \
        "$(h2load --version 2>/dev/null | head -1 || echo 'h2load')."
    echo "Ratios are ours ÷ theirs in throughput (above 1: ours is faster); in the"
    echo "instruction tables, ours ÷ theirs in instructions (below 1: ours does less)."
    echo
    "$target/release/bench-driver" --criterion-dir "$target/criterion" "$@" | sed 's/^## /### /'
    echo
    echo "### Client, in process, interleaved (\`target/release/client-ab\`)"
    echo
    echo "The same clients and channel as the criterion table above, each framework"
    echo "timed in ~20 ms bursts taken in turn, so the host's drift moves all alike."
    "$target/release/client-ab"
    echo
    "$target/release/pair" --rounds "${PAIR_ROUNDS:-3}" | sed 's/^# /### /'
    echo
    if command -v valgrind >/dev/null; then
        echo "### Instructions per call (callgrind; \`bash benches/instructions.sh\`)"
        echo
        bash benches/instructions.sh 2>/dev/null
    else
        echo "(instructions per call not measured: valgrind is not installed)"
    fi
} | tee "$out/generated.md"

if [ "$write" = 1 ]; then
    begin='<!-- run.sh: generated below; edits here are lost on the next run -->'
    end='<!-- run.sh: generated above -->'
    if ! grep -qF -- "$begin" "$results" || ! grep -qF -- "$end" "$results"; then
        echo "$results has no run.sh markers; not rewritten" >&2
        exit 1
    fi
    awk -v begin="$begin" -v end="$end" -v gen="$out/generated.md" '
        $0 == begin { print; while ((getline line < gen) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' "$results" > "$out/results.md"
    mv "$out/results.md" "$results"
    echo "rewrote the generated section of $results" >&2
fi
