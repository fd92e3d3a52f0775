#!/usr/bin/env bash
# Installs the tools the ecosystem tests (examples/tests/ecosystem.rs) drive against a real
# server, at pinned versions:
#
#   grpcurl             github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4      (go install)
#   grpc-health-probe   github.com/grpc-ecosystem/grpc-health-probe@v0.4.62    (go install)
#   buf                 @bufbuild/buf 1.75.0, pinned by examples/buf-generate/package-lock.json (npm ci)
#                       (also the buf codegen-tests' editions_descriptor_is_current runs)
#
# Go tools land in $(go env GOPATH)/bin; a tool already there at the pinned version is kept.
# Needs go and npm; network only for the Go module proxy and npm.
#
#   bash peers/install-go-tools.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
log() { echo "install-go-tools: $*" >&2; }

command -v go >/dev/null || { log "go is not installed"; exit 1; }
gobin="$(go env GOPATH)/bin"

# install MODULE_PATH@VERSION BINARY
install() {
  local module="$1" binary="$2"
  local version="${module##*@}"
  if [ -x "$gobin/$binary" ] && go version -m "$gobin/$binary" 2>/dev/null | grep -q "[[:space:]]$version\b"; then
    log "$binary $version already installed"
    return
  fi
  log "go install $module"
  timeout 900 go install "$module"
}

install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4 grpcurl
install github.com/grpc-ecosystem/grpc-health-probe@v0.4.62 grpc-health-probe

command -v npm >/dev/null || { log "npm is not installed"; exit 1; }
if [ -x "$root/examples/buf-generate/node_modules/.bin/buf" ]; then
  log "buf already installed under examples/buf-generate/node_modules"
else
  log "npm ci in examples/buf-generate (@bufbuild/buf, pinned)"
  (cd "$root/examples/buf-generate" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
fi
log "ok: grpcurl and grpc-health-probe in $gobin, buf $("$root/examples/buf-generate/node_modules/.bin/buf" --version)"
