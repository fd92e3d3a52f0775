#!/usr/bin/env bash
# Real peers: connect-es (@connectrpc/connect-node) clients call the example greet server over
# Connect, gRPC and gRPC-Web. Installs the npm packages itself (`npm ci`, pinned by
# peers/node/package-lock.json), generates code from examples/proto with `buf generate`, builds
# and starts `greet-server` on a free 127.0.0.1 port, runs peers/node/client.mjs against it and
# exits with the client's status. Needs node >= 20, npm, cargo; network only for npm.
#
#   bash peers/run.sh [filter-regex]     # the regex selects cases by name
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
node_dir="$here/node"

log() { echo "peers: $*" >&2; }

command -v node >/dev/null || { log "node is not installed"; exit 1; }
command -v npm >/dev/null || { log "npm is not installed"; exit 1; }
log "node $(node --version), npm $(npm --version)"

log "npm ci"
(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)

log "buf generate (examples/proto -> peers/node/gen)"
(cd "$node_dir" && ./node_modules/.bin/buf generate)

log "cargo build --example greet-server"
(cd "$root" && cargo build --quiet --example greet-server)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
server_bin="$target_dir/debug/examples/greet-server"
[[ -x "$server_bin" ]] || { log "no server binary at $server_bin"; exit 1; }

# A free port: bind port 0, read the number, release it.
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"

server_log="$(mktemp)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$server_log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting greet-server on 127.0.0.1:$port"
"$server_bin" "127.0.0.1:$port" >"$server_log" 2>&1 &
server_pid=$!

# Wait (up to 30 s) until the port accepts connections.
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "greet-server exited early:"; cat "$server_log" >&2; exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { log "greet-server never accepted connections"; cat "$server_log" >&2; exit 1; }

log "running connect-node clients against http://127.0.0.1:$port"
status=0
(cd "$node_dir" && node client.mjs "http://127.0.0.1:$port" "$@") || status=$?
if [[ $status -ne 0 ]]; then
  log "FAILED (exit $status); server output:"; cat "$server_log" >&2
fi
exit "$status"
