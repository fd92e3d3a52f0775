#!/usr/bin/env bash
# Real peers, both ways: software nobody here wrote talks to our server and to our client.
#
#   node-clients  connect-es (@connectrpc/connect-node) clients, peers/node/client.mjs, call the
#                 example greet server (`greet-server`) over Connect, gRPC and gRPC-Web.
#   node-server   our client, `peer-client` (peers/src/bin/peer-client/), calls a connect-node server
#                 (peers/node/server.mjs): Connect and gRPC-Web over HTTP/1.1 and h2c, gRPC over
#                 h2c, each with proto and JSON.
#   grpcio        `peer-client` calls a Python grpcio server (peers/python/server.py): gRPC over
#                 h2c, proto.
#
# Installs what it needs itself: the npm packages with `npm ci` (pinned by
# peers/node/package-lock.json), grpcio into a venv at peers/python/.venv (pinned by
# peers/python/requirements.txt). Generates code from examples/proto (`buf generate` for Node,
# grpcio-tools' protoc for Python), builds `greet-server` and `peer-client`, starts every server
# on free 127.0.0.1 ports and kills them on exit. Every step is bounded in time. Needs node >= 20,
# npm, python3 (with venv), cargo; network only for npm and PyPI.
#
#   bash peers/run.sh [FILTER]                  # everything
#   PEERS="node-server grpcio" bash peers/run.sh  # some parts only
#
# FILTER selects cases by name: a regex for the node clients, a plain substring for
# `peer-client` (the same for plain words such as 'grpc http/2').
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
node_dir="$here/node"
py_dir="$here/python"
filter="${1:-}"
parts="${PEERS:-node-clients node-server grpcio}"

log() { echo "peers: $*" >&2; }
want() { [[ " $parts " == *" $1 "* ]]; }

for part in $parts; do
  case "$part" in
    node-clients | node-server | grpcio) ;;
    *) log "unknown part '$part' in PEERS (node-clients, node-server, grpcio)"; exit 2 ;;
  esac
done

command -v python3 >/dev/null || { log "python3 is not installed"; exit 1; }

# ---- servers: started in the background, all killed on exit ---------------------------------
tmp="$(mktemp -d)"
pids=()
# stop_server PID: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_server() {
  local pid="$1"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop_server "$pid"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME LOG CMD...: starts CMD with its output in LOG; sets $server_pid.
start_server() {
  local name="$1" out="$2"
  shift 2
  log "starting $name"
  "$@" >"$out" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
}

# wait_for_urls NAME PID LOG: waits (up to 60 s) until the server printed its JSON line of URLs.
wait_for_urls() {
  local name="$1" pid="$2" out="$3"
  for _ in $(seq 1 600); do
    if head -n 1 "$out" | grep -q '^{'; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited early:"; cat "$out" >&2; return 1
    fi
    sleep 0.1
  done
  log "$name printed no URLs within 60 s:"; cat "$out" >&2; return 1
}

# url_of KEY LOG: the URL under KEY in the server's JSON line.
url_of() { head -n 1 "$2" | sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"; }

# ---- results ---------------------------------------------------------------------------------
total_passed=0
total_failed=0
summaries=()

# record PART PASSED FAILED
record() {
  total_passed=$((total_passed + $2))
  total_failed=$((total_failed + $3))
  summaries+=("$1: $2 passed, $3 failed")
}

# run_peer_client PART URL PROTOCOL CODEC HTTP [FLAGS...]: one `peer-client` run, counted.
run_peer_client() {
  local part="$1" url="$2" protocol="$3" codec="$4" http="$5"
  shift 5
  local out="$tmp/peer-client.out" status=0
  timeout 300 "$client_bin" --url "$url" --protocol "$protocol" --codec "$codec" --http "$http" \
    --peer "$part" ${filter:+--filter "$filter"} "$@" >"$out" 2>&1 || status=$?
  cat "$out"
  local passed failed
  passed="$(grep -c '^ok ' "$out" || true)"
  failed="$(grep -c '^FAIL ' "$out" || true)"
  if [[ $status -ne 0 && $failed -eq 0 ]]; then
    log "peer-client $protocol http/$http $codec exited with status $status (124: timed out)"
    failed=1
  fi
  part_passed=$((part_passed + passed))
  part_failed=$((part_failed + failed))
}

# ---- tools -----------------------------------------------------------------------------------
if want node-clients || want node-server; then
  command -v node >/dev/null || { log "node is not installed"; exit 1; }
  command -v npm >/dev/null || { log "npm is not installed"; exit 1; }
  log "node $(node --version), npm $(npm --version)"
  log "npm ci"
  (cd "$node_dir" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
  log "buf generate (examples/proto -> peers/node/gen)"
  (cd "$node_dir" && timeout 120 ./node_modules/.bin/buf generate)
fi

if want grpcio; then
  venv="$py_dir/.venv"
  if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    log "python3 -m venv peers/python/.venv ($(python3 --version))"
    rm -rf "$venv"
    timeout 120 python3 -m venv "$venv"
  fi
  log "pip install -r peers/python/requirements.txt"
  timeout 600 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$py_dir/requirements.txt"
  log "grpc_tools.protoc (examples/proto -> peers/python/gen)"
  rm -rf "$py_dir/gen"
  mkdir -p "$py_dir/gen"
  timeout 120 "$venv/bin/python" -m grpc_tools.protoc -I "$root/examples/proto" \
    --python_out="$py_dir/gen" --grpc_python_out="$py_dir/gen" greet/v1/greet.proto
fi

if want node-clients; then
  log "cargo build --example greet-server"
  (cd "$root" && timeout 1800 cargo build --quiet --example greet-server)
fi
if want node-server || want grpcio; then
  log "cargo build -p peers --bin peer-client"
  (cd "$root" && timeout 1800 cargo build --quiet -p peers --bin peer-client)
fi
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
server_bin="$target_dir/debug/examples/greet-server"
client_bin="$target_dir/debug/peer-client"

# ---- connect-node clients -> greet-server ----------------------------------------------------
if want node-clients; then
  [[ -x "$server_bin" ]] || { log "no server binary at $server_bin"; exit 1; }
  # A free port: bind port 0, read the number, release it.
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  server_log="$tmp/greet-server.log"
  start_server "greet-server on 127.0.0.1:$port" "$server_log" "$server_bin" "127.0.0.1:$port"
  greet_pid=$server_pid
  # Wait (up to 30 s) until the port accepts connections.
  for _ in $(seq 1 300); do
    if ! kill -0 "$greet_pid" 2>/dev/null; then
      log "greet-server exited early:"; cat "$server_log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
    || { log "greet-server never accepted connections"; cat "$server_log" >&2; exit 1; }

  log "running connect-node clients against http://127.0.0.1:$port"
  out="$tmp/node-clients.out"
  status=0
  (cd "$node_dir" && timeout 600 node client.mjs "http://127.0.0.1:$port" ${filter:+"$filter"}) \
    >"$out" 2>&1 || status=$?
  cat "$out"
  # The client's last line: "N passed, N failed, N known server bug (xfail), N xpass".
  counts="$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$out" | tail -n 1)"
  passed="${counts% *}"
  failed="${counts#* }"
  if [[ -z "$counts" ]]; then passed=0; failed=1; fi
  # With a filter, matching no case is fine; otherwise a non-zero exit is a failure.
  if [[ $status -ne 0 && $failed -eq 0 && ! ( -n "$filter" && $passed -eq 0 ) ]]; then failed=1; fi
  if [[ $failed -ne 0 ]]; then log "connect-node clients FAILED; greet-server output:"; cat "$server_log" >&2; fi
  record "connect-node clients -> greet-server" "$passed" "$failed"
  stop_server "$greet_pid"
fi

# ---- peer-client -> connect-node server ------------------------------------------------------
if want node-server; then
  node_log="$tmp/node-server.log"
  start_server "connect-node server (peers/node/server.mjs)" "$node_log" \
    bash -c "cd '$node_dir' && exec node server.mjs"
  node_pid=$server_pid
  wait_for_urls "connect-node server" "$node_pid" "$node_log"
  h1="$(url_of http1 "$node_log")"
  h2="$(url_of http2 "$node_log")"
  log "connect-node server: HTTP/1.1 at $h1, h2c at $h2"
  part_passed=0
  part_failed=0
  for protocol in connect grpc grpc-web; do
    for http in 1 2; do
      # gRPC needs HTTP/2.
      [[ $protocol == grpc && $http == 1 ]] && continue
      url="$h1"
      [[ $http == 2 ]] && url="$h2"
      for codec in proto json; do
        # connect-node refuses bidi streams over HTTP/1.1 (505).
        run_peer_client connect-node "$url" "$protocol" "$codec" "$http" --extras --h1-bidi-refused
      done
    done
  done
  if ! kill -0 "$node_pid" 2>/dev/null; then
    log "the connect-node server died during the run"; part_failed=$((part_failed + 1))
  fi
  if [[ $part_failed -ne 0 ]]; then log "connect-node server output:"; cat "$node_log" >&2; fi
  record "peer-client -> connect-node server" "$part_passed" "$part_failed"
  stop_server "$node_pid"
fi

# ---- peer-client -> Python grpcio server -----------------------------------------------------
if want grpcio; then
  py_log="$tmp/grpcio-server.log"
  start_server "grpcio server (peers/python/server.py)" "$py_log" \
    "$py_dir/.venv/bin/python" "$py_dir/server.py" "$py_dir/gen"
  py_pid=$server_pid
  wait_for_urls "grpcio server" "$py_pid" "$py_log"
  url="$(url_of http2 "$py_log")"
  log "grpcio server: h2c at $url"
  part_passed=0
  part_failed=0
  run_peer_client grpcio "$url" grpc proto 2 --extras
  if ! kill -0 "$py_pid" 2>/dev/null; then
    log "the grpcio server died during the run"; part_failed=$((part_failed + 1))
  fi
  if [[ $part_failed -ne 0 ]]; then log "grpcio server output:"; cat "$py_log" >&2; fi
  record "peer-client -> grpcio server" "$part_passed" "$part_failed"
  stop_server "$py_pid"
fi

# ---- summary ---------------------------------------------------------------------------------
for s in "${summaries[@]}"; do log "$s"; done
echo "peers: $total_passed passed, $total_failed failed"
if [[ $total_failed -ne 0 || $total_passed -eq 0 ]]; then exit 1; fi
