#!/usr/bin/env bash
# Runs the official ConnectRPC conformance suite against our server.
#
#   conformance/run.sh [extra connectconformance flags, e.g. -v --trace]
#
# Installs the runner (connectrpc.com/conformance v1.0.5) with `go install`,
# builds the server-under-test in release mode and runs every case that
# conformance/config.yaml allows. Exits non-zero if any case fails.
set -euo pipefail

VERSION=v1.0.5
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

go install "connectrpc.com/conformance/cmd/connectconformance@${VERSION}"
RUNNER="$(go env GOPATH)/bin/connectconformance"

cargo build --release -p conformance --bin conformance-server

exec "$RUNNER" --mode server --conf conformance/config.yaml "$@" \
    -- "$ROOT/target/release/conformance-server"
