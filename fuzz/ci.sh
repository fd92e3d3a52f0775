#!/usr/bin/env bash
# Short fuzzing runs for CI: builds every target once, then runs each for
# FUZZ_SECS seconds (default 20) from an empty corpus. Exits non-zero on a
# crash, a leak, an out-of-memory or a timeout (libFuzzer's exit code), with
# the reproducer under fuzz/artifacts/<target>/.
#
#   bash fuzz/ci.sh                 # from the repository root or anywhere
#   FUZZ_SECS=60 bash fuzz/ci.sh envelope stack
#
# Toolchain: nightly when rustup has one; otherwise the default toolchain
# with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags). Installs cargo-fuzz
# from crates.io when `cargo fuzz` is missing. FUZZ_NO_NIGHTLY=1 forces the
# RUSTC_BOOTSTRAP path; FUZZ_TARGET_DIR overrides the build directory
# (default fuzz/target).
set -euo pipefail
cd "$(dirname "$0")"

SECS=${FUZZ_SECS:-20}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(envelope headers decompress stack client_response)

if [ -z "${FUZZ_NO_NIGHTLY:-}" ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    CARGO=(cargo +nightly)
else
    echo "fuzz/ci.sh: no nightly toolchain, using RUSTC_BOOTSTRAP=1 on $(rustc --version)"
    export RUSTC_BOOTSTRAP=1
    CARGO=(cargo)
fi
if ! cargo fuzz --version > /dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# The options of each target (see README.md).
extra_args() {
    case "$1" in
        decompress) echo "-malloc_limit_mb=64" ;;
        client_response) echo "-malloc_limit_mb=512 -timeout=20" ;;
        *) echo "" ;;
    esac
}

TARGET_DIR=${FUZZ_TARGET_DIR:-target}
started=$(date +%s)
"${CARGO[@]}" fuzz build --target-dir "$TARGET_DIR"
built=$(date +%s)
echo "fuzz/ci.sh: built every target in $((built - started)) s"
# The binaries run directly: `cargo fuzz run` would re-check the build
# before each one.
BIN_DIR="$TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"

mkdir -p logs
status=0
for target in "${TARGETS[@]}"; do
    log="logs/ci-$target.log"
    # A fresh corpus per run: CI starts from nothing, locally it keeps
    # the campaigns' corpus/ untouched.
    corpus=$(mktemp -d)
    mkdir -p "artifacts/$target"
    # shellcheck disable=SC2046
    if "$BIN_DIR/$target" -artifact_prefix="artifacts/$target/" -max_total_time="$SECS" \
        -print_final_stats=1 $(extra_args "$target") "$corpus" > "$log" 2>&1; then
        execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
        rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
        echo "fuzz/ci.sh: $target ok: ${execs:-?} execs (${rate:-?}/s) in $SECS s"
    else
        status=1
        echo "fuzz/ci.sh: $target FAILED, last lines of $log:"
        tail -40 "$log"
    fi
    rm -rf "$corpus"
done
echo "fuzz/ci.sh: done in $(($(date +%s) - started)) s"
exit $status
