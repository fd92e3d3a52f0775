#!/usr/bin/env bash
# Regenerates src/proto with `buf generate` (buf pinned by package-lock.json,
# protoc-gen-connect-rust built from this workspace) into a temp dir and fails
# if the checked-in code differs.
#
#   bash examples/buf-generate/check.sh            # check (CI)
#   bash examples/buf-generate/check.sh --update   # regenerate src/proto in place
#
# Needs node >= 18, npm and cargo; network only for npm (buf runs local plugins
# offline).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
update=false
case "${1:-}" in
  "") ;;
  --update) update=true ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

log() { echo "buf-generate: $*" >&2; }

command -v npm >/dev/null || { log "npm is not installed"; exit 1; }
log "npm ci (@bufbuild/buf, pinned)"
(cd "$here" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
buf="$here/node_modules/.bin/buf"
log "$("$buf" --version | sed 's/^/buf /')"

log "cargo build -p protoc-gen-connect-rust"
(cd "$root" && timeout 1800 cargo build --quiet -p protoc-gen-connect-rust)
bin_dir="${CARGO_TARGET_DIR:-$root/target}/debug"
# buf.gen.yaml names the plugin `local: protoc-gen-connect-rust`: the one just built.
export PATH="$bin_dir:$PATH"
log "$(protoc-gen-connect-rust --version)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && timeout 300 "$buf" generate --output "$tmp")

if $update; then
  rm -rf "$here/src/proto"
  cp -R "$tmp/src/proto" "$here/src/proto"
  log "regenerated src/proto"
  exit 0
fi
if ! diff -ru "$here/src/proto" "$tmp/src/proto"; then
  log "src/proto is stale: run 'bash examples/buf-generate/check.sh --update' and commit the result"
  exit 1
fi
log "src/proto matches buf generate"
