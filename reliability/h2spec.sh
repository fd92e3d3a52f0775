#!/usr/bin/env bash
# h2spec, all sections, against our server (connectrpc::Server + the greet
# service) over h2c and TLS, and against a bare hyper server over h2c for
# comparison. Prints each run's counts and failures, and fails if, for our
# server:
#
#   - a run has fewer than H2SPEC_MIN_TESTS tests (145 in h2spec 2.2.1):
#     h2spec could not reach the server, or stopped early, and "no
#     failures" would mean nothing;
#   - a test fails that reliability/h2spec-expected.txt does not list for
#     that run. Such a test is run alone twice more, only to say in the log
#     whether it fails every time or is a new race; either way it fails the
#     run (a race belongs in the expected list, marked `race`, with its
#     cause);
#   - a test the list marks `always` for that run passes: the list is out of
#     date (fix it). Listed `race` tests that pass are counted, not failed.
#
#   bash reliability/h2spec.sh            # installs h2spec 2.2.1 if missing
#   (go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible;
#   "@v2.2.1" alone is refused by the module proxy)
#   H2SPEC=/path/to/h2spec bash reliability/h2spec.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
H2SPEC=${H2SPEC:-$(command -v h2spec || true)}
if [ -z "$H2SPEC" ]; then
    go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
    H2SPEC=$(go env GOPATH)/bin/h2spec
fi
EXPECTED=${H2SPEC_EXPECTED:-reliability/h2spec-expected.txt}
# A real method answered from the query: h2spec's GETs reach a handler.
GREET='/greet.v1.GreetService/Greet?encoding=json&message=%7B%22name%22%3A%22h2spec%22%7D'
# The same method with no query: the server answers h2spec's requests with
# an error at once, as it does for real clients that send something wrong.
METHOD='/greet.v1.GreetService/Greet'

cargo build -q -p reliability --bin h2-target
TARGET="${CARGO_TARGET_DIR:-target}/debug/h2-target"

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Prints "<pass|fail|skip> <id>" per test of an h2spec JUnit report; ids
# are the suite's package and the test's position in it, as h2spec
# numbers them.
parse() {
    python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
for suite in ET.parse(sys.argv[1]).getroot().iter('testsuite'):
    for i, case in enumerate(suite.iter('testcase'), 1):
        if case.find('failure') is not None or case.find('error') is not None:
            status = 'fail'
        elif case.find('skipped') is not None:
            status = 'skip'
        else:
            status = 'pass'
        print(status, f"{suite.get('package')}/{i}")
EOF
}

# The kind (always or race) of `id`'s entry for run key `key`, or nothing.
expected_kind() {
    awk -F'|' -v id="$1" -v key="$2" '
        /^[[:space:]]*(#|$)/ { next }
        { gsub(/[[:space:]]/, "", $1); gsub(/[[:space:]]/, "", $2); gsub(/[[:space:]]/, "", $3)
          if ($1 == id && index("," $2 ",", "," key ",")) { print $3; exit } }' "$EXPECTED"
}

# The ids the list marks `always` for run key `key`.
expected_always() {
    awk -F'|' -v key="$1" '
        /^[[:space:]]*(#|$)/ { next }
        { gsub(/[[:space:]]/, "", $1); gsub(/[[:space:]]/, "", $2); gsub(/[[:space:]]/, "", $3)
          if ($3 == "always" && index("," $2 ",", "," key ",")) print $1 }' "$EXPECTED"
}

MIN_TESTS=${H2SPEC_MIN_TESTS:-145}
problems=0
problem() {
    echo "  $*"
    problems=$((problems + 1))
}

# run <label> <ours|hyper> <h2c|h2only|tls> <key> [h2spec args...]
#   key: the run's name in the expected list's second column
run() {
    local label=$1 which=$2 transport=$3 key=$4
    shift 4
    local tls_args=()
    if [ "$transport" = tls ]; then tls_args=(-t -k); fi
    "$TARGET" "$which" "$transport" 0 >"$work/$label.addr" &
    pid=$!
    for _ in $(seq 100); do
        grep -qs listening "$work/$label.addr" && break
        sleep 0.1
    done
    local port
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/$label.addr")
    if [ -z "$port" ]; then
        problem "FAILS: $label: the target did not start"
        kill "$pid" 2>/dev/null || true
        pid=
        return
    fi
    "$H2SPEC" -p "$port" "${tls_args[@]}" "$@" -j "$work/$label.xml" >"$work/$label.log" 2>&1 || true
    if [ -s "$work/$label.xml" ]; then
        parse "$work/$label.xml" >"$work/$label.res"
    else
        : >"$work/$label.res"
    fi
    local pass fail skip total
    pass=$(grep -c '^pass' "$work/$label.res" || true)
    fail=$(grep -c '^fail' "$work/$label.res" || true)
    skip=$(grep -c '^skip' "$work/$label.res" || true)
    total=$((pass + fail + skip))
    echo "$label: $total tests, $pass passed, $skip skipped, $fail failed"
    if [ "$total" -lt "$MIN_TESTS" ]; then
        if [ "$which" = ours ]; then
            problem "FAILS: only $total tests ran, at least $MIN_TESTS expected; h2spec said:"
            tail -n 5 "$work/$label.log" | sed 's/^/      /'
        else
            echo "  only $total tests ran (at least $MIN_TESTS expected)"
        fi
    fi
    local id kind races=0
    for id in $(awk '$1 == "fail" { print $2 }' "$work/$label.res"); do
        if [ "$which" = hyper ]; then
            echo "  fails $id"
            continue
        fi
        kind=$(expected_kind "$id" "$key")
        if [ -n "$kind" ]; then
            echo "  fails $id (expected, $kind)"
            continue
        fi
        # Not expected: fails the run. Two lone reruns tell a steady failure
        # from a race for whoever reads the log.
        local again=0
        for _ in 1 2; do
            if ! "$H2SPEC" -p "$port" "${tls_args[@]}" "$@" "$id" >"$work/retry.log" 2>&1; then
                again=$((again + 1))
            fi
        done
        if [ "$again" -eq 2 ]; then
            problem "FAILS $id (not expected; failed again on both lone reruns):"
            sed -n '/^Failures:/,$p' "$work/retry.log" | sed 's/^/      /'
        else
            problem "FAILS $id (not expected; a race: passed $((2 - again)) of 2 lone reruns)." \
                "List it as a race in $EXPECTED, with its cause, or fix it."
            races=1
        fi
    done
    if [ "$races" -eq 1 ]; then
        echo "  The run's failures (the races above among them):"
        sed -n '/^Failures:/,$p' "$work/$label.log" | sed 's/^/      /'
    fi
    if [ "$which" = ours ]; then
        local now_passing=0
        for id in $(expected_always "$key"); do
            if grep -qx "pass $id" "$work/$label.res"; then
                problem "PASSES $id, which $EXPECTED expects to fail always for '$key': update the list"
                now_passing=$((now_passing + 1))
            fi
        done
        local races_passed=0
        for id in $(awk '$1 == "pass" { print $2 }' "$work/$label.res"); do
            if [ "$(expected_kind "$id" "$key")" = race ]; then
                races_passed=$((races_passed + 1))
            fi
        done
        echo "  listed races that passed this time: $races_passed"
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}

run "ours h2c" ours h2c h2c
run "ours TLS" ours tls tls
run "ours h2c, a real method (-P)" ours h2c h2c -P "$GREET"
run "ours h2c, http2_only" ours h2only h2only
run "ours h2c, a method path (-P, no query)" ours h2c method-h2c -P "$METHOD"
run "ours h2c http2_only, a method path" ours h2only method-h2only -P "$METHOD"
run "ours TLS, a method path" ours tls method-tls -P "$METHOD"
run "bare hyper h2c" hyper h2c h2c
run "bare hyper TLS" hyper tls tls

if [ "$problems" -gt 0 ]; then
    echo "h2spec: $problems problem(s) with our server (see FAILS/PASSES above)"
    exit 1
fi
echo "h2spec: our server failed only listed tests, and every run was complete"
