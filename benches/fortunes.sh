#!/usr/bin/env bash
# The fortunes benchmark (the original connectrpc README's realistic workload):
# each call reads 12 fortunes from Redis (one HGETALL over a pool of 8
# connections), adds one, sorts them and answers 13. Servers: ours (Connect,
# gRPC, gRPC-Web), tonic (gRPC), the published connectrpc 0.9 (Connect, gRPC)
# and connect-go (Connect, gRPC; benches/fortunes-go), all driven by the same
# load generator (h2load, as in the server benches; or our client), c = 16 /
# 64 / 256 over 8 HTTP/2 connections. Prints a Markdown table, or with --json
# one JSON object a line. Every server's answer is checked (13 sorted
# fortunes, over each protocol, with our client) before any load runs.
#
# Needs redis-server and h2load (each installed with apt-get when missing and
# run as root) and Go. Redis and every server listen on free ports of 127.0.0.1 only and
# are stopped on exit. Not run by CI (it needs Redis); `fortunes self-check`
# runs the Rust servers briefly against a stand-in for Redis instead.
#
# Environment: FORTUNES_SECS (3: seconds per cell), FORTUNES_ROUNDS (1: the
# table shows the median), FORTUNES_CONCURRENCY (16,64,256),
# FORTUNES_CONNECTIONS (8), FORTUNES_ONLY (cells to run, e.g. ours-grpc,tonic-grpc),
# FORTUNES_COMPRESSION (0: the client accepts identity only, so every server
# answers uncompressed and framing is the only variable; 1: it accepts gzip and
# zstd, and each server compresses by its own default; needs FORTUNES_LOAD=client),
# FORTUNES_PIN (1: with 2+ cores the servers get the last core, the load
# generator and Redis the others; 0: all share every core), FORTUNES_LOAD
# (h2load: h2load drives the load, as in the server benches, and leaves the
# server's core the bottleneck; client: our generated client does, in the
# `fortunes run` process; it costs more per call and on 2 cores, sharing its
# core with Redis, saturates before the servers do).
set -euo pipefail
cd "$(dirname "$0")/.."

json=()
for arg in "$@"; do
    case "$arg" in
        --json) json=(--json) ;;
        *) echo "usage: bash benches/fortunes.sh [--json]" >&2; exit 2 ;;
    esac
done

# need <command> <Debian package>: installs the package with apt-get when
# the command is missing (as root), or says how.
need() {
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing $1 (apt-get $2)" >&2
        apt-get update -qq >&2 && apt-get install -y -qq "$2" >&2
    else
        echo "$1 not found: apt-get install -y $2" >&2
        exit 1
    fi
}
need redis-server redis-server
command -v go >/dev/null || { echo "go not found (needed for the connect-go server)" >&2; exit 1; }
load_gen="${FORTUNES_LOAD:-h2load}"
if [ "$load_gen" = h2load ]; then need h2load nghttp2-client; fi

cargo build --release -p benches --bin fortunes >&2
bin="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)"
(cd benches/fortunes-go && go build -o "$bin/fortunes-go" .) >&2
fortunes="$bin/fortunes"

work="$(mktemp -d)"
redis_pid=""
cleanup() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cores="$(nproc)"
server_cpus=()
load_pin=()
load_cpus=()
if [ "${FORTUNES_PIN:-1}" != 0 ] && [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
    server_cpus=(--server-cpus "$((cores - 1))")
    if [ "$cores" = 2 ]; then load="0"; else load="0-$((cores - 2))"; fi
    load_pin=(taskset -c "$load")
    load_cpus=(--load-cpus "$load")
fi

redis_port="$("$fortunes" free-port)"
"${load_pin[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --protected-mode yes --daemonize no --logfile "$work/redis.log" --dir "$work" &
redis_pid=$!
for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
done
redis-cli -p "$redis_port" ping | grep -q PONG || { cat "$work/redis.log" >&2; exit 1; }

# The 12 fortunes (benches/src/bin/fortunes/store.rs), one hash: field = id, value = message.
"$fortunes" seed "127.0.0.1:$redis_port"

if [ ${#json[@]} = 0 ]; then
    echo "# fortunes, $(date -u +%Y-%m-%d), $cores cores, $(git rev-parse --short HEAD)"
    echo
fi
"${load_pin[@]}" "$fortunes" run --redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid" \
    --go-server "$bin/fortunes-go" \
    --secs "${FORTUNES_SECS:-3}" --rounds "${FORTUNES_ROUNDS:-1}" \
    --concurrency "${FORTUNES_CONCURRENCY:-16,64,256}" \
    --connections "${FORTUNES_CONNECTIONS:-8}" \
    ${FORTUNES_ONLY:+--only "$FORTUNES_ONLY"} \
    --load "$load_gen" "${load_cpus[@]}" \
    $([ "${FORTUNES_COMPRESSION:-0}" = 1 ] && echo --accept-compression) "${server_cpus[@]}" "${json[@]}"
