#!/usr/bin/env bash
# Every bench binary once, briefly, so none rots: what CI runs after
# building the benches. A smoke test, never a measurement (nothing is
# pinned, timed or compared). Each binary still checks its own answers.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p benches --bins
bin="$target/release"

# One framework's calls in process, over each protocol and workload.
for fw in ours connectrpc09 tonic bare; do
    for proto in connect grpc; do
        [ "$fw" = tonic ] && [ "$proto" = connect ] && continue
        for w in echo ingest client_stream server_stream; do
            "$bin/profile-call" "$fw" "$proto" "$w" 5 >/dev/null
            "$bin/profile-client" "$fw" "$proto" "$w" 5 >/dev/null
        done
    done
done
# The ingest workload over raw.v1 (strict_utf8_mapping).
for proto in connect grpc; do
    "$bin/profile-call" ours-raw "$proto" ingest 5 >/dev/null
done
"$bin/alloc-count" >/dev/null
"$bin/client-alloc-count" >/dev/null
"$bin/client-ab" --rounds 1 --burst-ms 1 >/dev/null
"$bin/trace-overhead" >/dev/null
# The loopback drivers: the pair, and fortunes against a stand-in Redis.
"$bin/pair" --secs 0.2 --warmup-ms 50 --concurrency 4 --connections 1 >/dev/null
"$bin/fortunes" self-check >/dev/null 2>&1
# bench-driver without h2load: the criterion table alone.
"$bin/bench-driver" --no-loopback >/dev/null
# resilience-cost against a running bench-server.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/bench-server" ours "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.05
done
for kind in plain resilient tonic tonic-balance; do
    "$bin/resilience-cost" "$kind" "$port" 20 >/dev/null
done
echo "benches smoke: every bench binary ran"
