#!/usr/bin/env bash
# Runs the official ConnectRPC conformance suite against our server and our
# client.
#
#   conformance/run.sh [server|client|both] [extra connectconformance flags, e.g. -v --trace]
#
# Installs the runner (connectrpc.com/conformance v1.0.5) with `go install`,
# builds the server- and client-under-test in release mode and runs every
# case that conformance/config.yaml (server) and conformance/client-config.yaml
# (client) allow. Exits non-zero if any case fails.
set -euo pipefail

VERSION=v1.0.5
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

mode=both
case "${1:-}" in
    server | client | both) mode="$1"; shift ;;
esac

go install "connectrpc.com/conformance/cmd/connectconformance@${VERSION}"
RUNNER="$(go env GOPATH)/bin/connectconformance"

cargo build --release -p conformance --bins

if [[ "$mode" != client ]]; then
    echo "== conformance: server under test"
    "$RUNNER" --mode server --conf conformance/config.yaml "$@" \
        -- "$ROOT/target/release/conformance-server"
fi
if [[ "$mode" != server ]]; then
    echo "== conformance: client under test"
    "$RUNNER" --mode client --conf conformance/client-config.yaml --max-servers 2 "$@" \
        -- "$ROOT/target/release/conformance-client"
fi
