#!/usr/bin/env bash
# Exact instructions per call (callgrind) for every framework, protocol and
# workload, in process: (total(N) - total(1)) / (N - 1), so start-up is
# excluded. Prints two Markdown tables:
#
# - servers (`profile-call`): each framework's tower service called
#   directly; the harness (building the request, reading the response) is
#   included and is the same for every framework; the last column is that
#   floor alone (`bare`: a service that answers with the request body);
# - clients (`profile-client`): each framework's generated client over the
#   same in-memory channel (`benches/src/canned.rs`); requests are built
#   before the calls, so a call is encoding, sending, reading and decoding
#   the answer and dropping the request; the floor columns are the channel
#   called with a prebuilt HTTP request and its answer read (`bare`).
#
# `bash benches/instructions.sh [server|client]` prints only one table.
# Needs valgrind (Debian: apt-get install -y valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
which="${1:-both}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p benches --bin profile-call --bin profile-client >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Instructions the program executes with `calls` calls.
total() { # bin args...
  local bin="$target/release/$1"
  shift
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$@" >/dev/null 2>&1
  callgrind_annotate "$tmp/out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

per_call() { # bin fw proto workload n
  local one many
  one=$(total "$1" "$2" "$3" "$4" 1)
  many=$(total "$1" "$2" "$3" "$4" "$5")
  echo $(( (many - one) / ($5 - 1) ))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

calls() { if [ "$1" = ingest ]; then echo 201; else echo 1001; fi; }

if [ "$which" != client ]; then
  echo "Servers (profile-call): instructions per call"
  echo
  echo "| workload | ours Connect | connectrpc 0.9 Connect (ratio) | ours gRPC | connectrpc 0.9 gRPC (ratio) | tonic gRPC (ratio) | harness floor |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for w in echo ingest client_stream server_stream; do
    n=$(calls "$w")
    oc=$(per_call profile-call ours connect "$w" "$n")
    pc=$(per_call profile-call connectrpc09 connect "$w" "$n")
    og=$(per_call profile-call ours grpc "$w" "$n")
    pg=$(per_call profile-call connectrpc09 grpc "$w" "$n")
    tg=$(per_call profile-call tonic grpc "$w" "$n")
    fl=$(per_call profile-call bare grpc "$w" "$n")
    echo "| $w | $(fmt "$oc") | $(fmt "$pc") ($(ratio "$oc" "$pc")) | $(fmt "$og") | $(fmt "$pg") ($(ratio "$og" "$pg")) | $(fmt "$tg") ($(ratio "$og" "$tg")) | $(fmt "$fl") |"
  done
  echo
fi

if [ "$which" != server ]; then
  echo "Clients (profile-client): instructions per call; (ratio) is ours ÷ theirs, [above floor] the same less the floor"
  echo
  echo "| workload | ours Connect | connectrpc 0.9 Connect (ratio) | ours gRPC | connectrpc 0.9 gRPC (ratio) | tonic gRPC (ratio) [above floor] | floor Connect | floor gRPC |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  views=""
  for w in echo ingest client_stream server_stream; do
    n=$(calls "$w")
    oc=$(per_call profile-client ours connect "$w" "$n")
    pc=$(per_call profile-client connectrpc09 connect "$w" "$n")
    og=$(per_call profile-client ours grpc "$w" "$n")
    pg=$(per_call profile-client connectrpc09 grpc "$w" "$n")
    tg=$(per_call profile-client tonic grpc "$w" "$n")
    fc=$(per_call profile-client bare connect "$w" "$n")
    fg=$(per_call profile-client bare grpc "$w" "$n")
    echo "| $w | $(fmt "$oc") | $(fmt "$pc") ($(ratio "$oc" "$pc")) | $(fmt "$og") | $(fmt "$pg") ($(ratio "$og" "$pg")) | $(fmt "$tg") ($(ratio "$og" "$tg")) [$(ratio $((og - fg)) $((tg - fg)))] | $(fmt "$fc") | $(fmt "$fg") |"
    vc=$(per_call profile-client ours-view connect "$w" "$n")
    vg=$(per_call profile-client ours-view grpc "$w" "$n")
    views+="| $w | $(fmt "$vc") | $(ratio "$vc" "$pc") | $(fmt "$vg") | $(ratio "$vg" "$pg") | $(ratio "$vg" "$tg") [$(ratio $((vg - fg)) $((tg - fg)))] |"$'\n'
  done
  echo
  echo "Ours answering with zero-copy views (the \`_view\` methods), as connectrpc 0.9's clients always answer; ratios against the same runs as above"
  echo
  echo "| workload | ours views Connect | ÷ connectrpc 0.9 Connect | ours views gRPC | ÷ connectrpc 0.9 gRPC | ÷ tonic gRPC [above floor] |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  printf '%s' "$views"
fi
