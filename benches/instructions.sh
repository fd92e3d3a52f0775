#!/usr/bin/env bash
# Exact instructions per call (callgrind) for every framework, protocol and
# workload, in process: (total(N) - total(1)) / (N - 1), so start-up is
# excluded; the harness (building the request, reading the response) is
# included and is the same for every framework; the last column is that
# floor alone (`bare`: a service that answers with the request body). Prints
# a Markdown table.
# Needs valgrind (Debian: apt-get install -y valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p benches --bin profile-call >&2
bin="$target/release/profile-call"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Instructions the program executes with `calls` calls.
total() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$@" >/dev/null 2>&1
  callgrind_annotate "$tmp/out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

per_call() { # fw proto workload n
  local one many
  one=$(total "$1" "$2" "$3" 1)
  many=$(total "$1" "$2" "$3" "$4")
  echo $(( (many - one) / ($4 - 1) ))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

echo "| workload | ours Connect | connectrpc 0.9 Connect (ratio) | ours gRPC | connectrpc 0.9 gRPC (ratio) | tonic gRPC (ratio) | harness floor |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for w in echo ingest client_stream server_stream; do
  n=1001
  [ "$w" = ingest ] && n=201
  oc=$(per_call ours connect "$w" "$n")
  pc=$(per_call connectrpc09 connect "$w" "$n")
  og=$(per_call ours grpc "$w" "$n")
  pg=$(per_call connectrpc09 grpc "$w" "$n")
  tg=$(per_call tonic grpc "$w" "$n")
  fl=$(per_call bare grpc "$w" "$n")
  echo "| $w | $(fmt "$oc") | $(fmt "$pc") ($(ratio "$oc" "$pc")) | $(fmt "$og") | $(fmt "$pg") ($(ratio "$og" "$pg")) | $(fmt "$tg") ($(ratio "$og" "$tg")) | $(fmt "$fl") |"
done
