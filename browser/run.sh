#!/usr/bin/env bash
# The browser test: a connect-web page (src/page.ts, bundled by esbuild) in
# headless Chromium calls examples/greet/web.rs across origins over Connect
# (JSON, binary, GET) and gRPC-Web (binary, JSON), unary and server
# streaming, with errors and their details; driver.mjs asserts every result.
#
#   bash browser/run.sh
#
# Installs what is missing: Debian's chromium (apt-get, as root or through
# sudo) and the pinned npm packages (npm ci; puppeteer-core downloads no
# browser). Checks that the checked-in src/gen matches `buf generate`.
# Needs node >= 18, npm and cargo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
log() { echo "browser: $*" >&2; }

command -v npm >/dev/null || { log "npm is not installed"; exit 1; }
if ! command -v chromium >/dev/null; then
  log "installing chromium (Debian)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
log "$(chromium --version 2>/dev/null | head -n1)"

cd "$here"
log "npm ci (pinned: connect-es 2.1.2, protobuf-es 2.17.0, esbuild, puppeteer-core)"
timeout 600 npm ci --no-audit --no-fund --loglevel=error

log "buf generate (check src/gen is current)"
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
npx --no-install buf generate -o "$gen"
diff -ru src/gen "$gen/src/gen" || { log "src/gen is stale: run 'npx buf generate' in browser/"; exit 1; }

log "esbuild"
npx --no-install esbuild src/page.ts --bundle --format=esm --target=es2022 \
  --outfile=static/page.js --log-level=warning

log "cargo build --example greet-web"
(cd "$root" && cargo build --quiet --example greet-web)
bin="${CARGO_TARGET_DIR:-$root/target}/debug/examples/greet-web"

log "driver"
CHROMIUM="$(command -v chromium)" timeout 180 node driver.mjs "$bin"
