#!/usr/bin/env bash
# Runs the in-process criterion benches (server and client) and the loopback h2load benches, then
# prints one table; then the pair (each client against its own server, src/bin/pair.rs). Needs h2load (Debian: apt-get install -y nghttp2-client).
# Extra arguments go to bench-driver (e.g. --rounds 5, --no-loopback).
# The fortunes benchmark (Redis behind the handler, connect-go too) is its own script:
# bash benches/fortunes.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v h2load >/dev/null || { echo "h2load not found: apt-get install -y nghttp2-client" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
cargo bench -p benches --bench inprocess >&2   # criterion output to stderr; stdout is the table
cargo bench -p benches --bench client >&2
cargo build --release -p benches --bin bench-server --bin bench-driver --bin pair >&2
echo "# connectrpc benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, $(git rev-parse --short HEAD)"
echo
"$target/release/bench-driver" --criterion-dir "$target/criterion" "$@"
echo
"$target/release/pair"
