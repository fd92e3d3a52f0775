#!/usr/bin/env bash
# What the resilient client stack costs on the happy path (issue 18, item
# 9): unary echo over gRPC to one healthy `bench-server ours` on 127.0.0.1,
# one call at a time, through our plain channel, our resilient stack
# (RetryLayer over a one-endpoint BalancedChannel), tonic's channel and
# tonic's `balance_list`. Instructions per call are the client process's
# alone (callgrind: (total(N) - total(1)) / (N - 1)); time per call is wall
# time without valgrind. Then throughput of the resilient client over three
# servers against one (examples/resilient, 16 concurrent calls, 5 s).
# Prints Markdown tables. Needs valgrind (apt-get install -y valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p benches --bin bench-server --bin resilience-cost >&2
cargo build -q --release --example greet-server --example resilient-client >&2
bin="$target/release"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return
        sleep 0.05
    done
    echo "nothing listens on $1" >&2
    exit 1
}

port=$(free_port)
taskset -c 0 "$bin/bench-server" ours "$port" >/dev/null 2>&1 &
pids+=("$!")
wait_port "$port"

total() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin/resilience-cost" "$1" "$port" "$2" >/dev/null 2>&1
    callgrind_annotate "$tmp/out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
per_call() {
    local one many
    one=$(total "$1" 1)
    many=$(total "$1" 1001)
    echo $(( (many - one) / 1000 ))
}
micros() { taskset -c 1 "$bin/resilience-cost" "$1" "$port" 20000 | sed 's/.*, \([0-9.]*\) µs per call/\1/'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "| client channel (gRPC unary echo, one server) | instructions per call | vs plain | µs per call (wall, sequential) | vs plain |"
echo "| --- | ---: | ---: | ---: | ---: |"
plain_i=$(per_call plain)
plain_t=$(micros plain)
for kind in plain resilient tonic tonic-balance; do
    i=$(per_call "$kind")
    t=$(micros "$kind")
    echo "| $kind | $i | $(ratio "$i" "$plain_i") | $t | $(ratio "$t" "$plain_t") |"
done

# Throughput: the resilient client over one server, then three.
ports=()
for _ in 1 2 3; do
    p=$(free_port)
    taskset -c 0 "$target/release/examples/greet-server" "127.0.0.1:$p" >/dev/null 2>&1 &
    pids+=("$!")
    wait_port "$p"
    ports+=("$p")
done
rps() {
    taskset -c 1 "$target/release/examples/resilient-client" --endpoints "$1" --protocol grpc \
        --duration-s 5 --concurrency 16 2>/dev/null | tail -n 1 |
        python3 -c 'import json, sys; r = json.load(sys.stdin); print("%.0f %d %s" % (r["ok"] / 5, r["failed"], r["p99_ms"]))'
}
echo
echo "| resilient client, gRPC, 16 concurrent calls | calls/s | failed | p99 ms |"
echo "| --- | ---: | ---: | ---: |"
read -r r f p < <(rps "http://127.0.0.1:${ports[0]}")
echo "| one server | $r | $f | $p |"
read -r r f p < <(rps "http://127.0.0.1:${ports[0]},http://127.0.0.1:${ports[1]},http://127.0.0.1:${ports[2]}")
echo "| three servers | $r | $f | $p |"
echo
echo "(The servers share core 0 and the client has core 1: three servers add no CPU here, so the second row shows what balancing costs, not what it could gain.)"
