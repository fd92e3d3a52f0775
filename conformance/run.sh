#!/usr/bin/env bash
# Runs the official ConnectRPC conformance suite against our server and our
# client.
#
#   conformance/run.sh [server|client|resilient|both|all] [extra connectconformance flags, e.g. -v --trace]
#
# `resilient` runs the client suite with the client's resilient stack
# (RetryLayer over a BalancedChannel of the one server) in front of the
# transport (CONFORMANCE_RESILIENT=1); `all` runs server, client and
# resilient; `both` (the default) server and client.
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
    server | client | resilient | both | all) mode="$1"; shift ;;
esac

go install "connectrpc.com/conformance/cmd/connectconformance@${VERSION}"
RUNNER="$(go env GOPATH)/bin/connectconformance"

cargo build --release -p conformance --bins

if [[ "$mode" == server || "$mode" == both || "$mode" == all ]]; then
    echo "== conformance: server under test"
    "$RUNNER" --mode server --conf conformance/config.yaml "$@" \
        -- "$ROOT/target/release/conformance-server"
fi
if [[ "$mode" == client || "$mode" == both || "$mode" == all ]]; then
    echo "== conformance: client under test"
    "$RUNNER" --mode client --conf conformance/client-config.yaml --max-servers 2 "$@" \
        -- "$ROOT/target/release/conformance-client"
fi
if [[ "$mode" == resilient || "$mode" == all ]]; then
    echo "== conformance: client under test, resilient stack (retries over a balanced channel)"
    CONFORMANCE_RESILIENT=1 "$RUNNER" --mode client --conf conformance/client-config.yaml --max-servers 2 "$@" \
        -- "$ROOT/target/release/conformance-client"
fi
