#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the hotfix's locust scenario headless against a running retail-api
# and prints the hotfix report filled in, with PASS/FAIL against its
# targets; writes locust's HTML and CSV reports too.
#
#   scripts/loadtest.sh [--host URL] [--users N] [--spawn-rate R] [--duration S]
#                       [--out DIR] [--heavy [--workers N]] [--start]
#
# Defaults: http://localhost:8000, 10 users, spawn rate 2, 60 s, reports in
# loadtest-results/. The key comes from RETAIL_API_KEY, else from the file
# scripts/run.sh keeps (.retail-api.key).
# --heavy runs the no-wait HeavyUser class (50 users by default) in several
# locust processes side by side (one per core by default), to find
# throughput beyond what one Python process can send; their figures are
# merged (see tests/load/report.py).
# --start starts a server of its own (with the mock Shopify, on free
# loopback ports, with a fresh key) and stops it afterwards: for CI.
# Exits non-zero when the hotfix's targets (RPS > 2, P95 < 5 s, failures
# < 10 %) are not met.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

host=http://localhost:8000 users="" rate=2 duration=60 out="$root/loadtest-results"
heavy=false workers=$(nproc 2>/dev/null || echo 2) start=false
while [ $# -gt 0 ]; do
    case "$1" in
    --host) host=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --spawn-rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --heavy) heavy=true; shift ;;
    --workers) workers=$2; shift 2 ;;
    --start) start=true; shift ;;
    *) echo "loadtest: unknown option $1 (see the top of $0)" >&2; exit 2 ;;
    esac
done
if [ -z "$users" ]; then
    if $heavy; then users=50; else users=10; fi
fi

scripts/deps.sh load
mkdir -p "$out"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # url
    for _ in $(seq 1 200); do
        python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" \
            >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "loadtest: $1 did not answer" >&2
    exit 1
}

if $start; then
    scripts/deps.sh run
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRETAIL_TESTS=OFF >/dev/null
    cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
    mock_port=$(free_port)
    port=$(free_port)
    token="shpat_loadtest_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    RETAIL_API_KEY="loadtest-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export RETAIL_API_KEY
    python3 tests/mock/mock_shopify.py --port "$mock_port" --products 1000 --token "$token" \
        >"$out/mock.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$mock_port/__mock/stats"
    PORT=$port HOST=127.0.0.1 API_KEYS=$RETAIL_API_KEY REDIS_URL=none \
        SHOPIFY_SHOP_URL=http://127.0.0.1:$mock_port SHOPIFY_ACCESS_TOKEN=$token \
        build/retail-api >"$out/retail-api.log" 2>&1 &
    pids+=($!)
    host=http://127.0.0.1:$port
    wait_for "$host/health"
    # The figures are for the server in service: wait (up to 120 s) for the
    # first catalog from the mock, which GraphQL paces by query cost. Cold
    # starts are the integration tests' business.
    python3 - "$host/health" <<'PY' || { echo "loadtest: no catalog from the mock" >&2; exit 1; }
import json, sys, time, urllib.request
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        health = json.load(urllib.request.urlopen(sys.argv[1], timeout=2))
        if health["components"]["cache"]["products"] >= 1000:
            sys.exit(0)
    except (OSError, ValueError, KeyError):
        pass
    time.sleep(0.2)
sys.exit(1)
PY
fi

if [ -z "${RETAIL_API_KEY:-}" ]; then
    if [ -s "$root/.retail-api.key" ]; then
        RETAIL_API_KEY=$(cat "$root/.retail-api.key")
        export RETAIL_API_KEY
    else
        echo "loadtest: set RETAIL_API_KEY to a key the server accepts" >&2
        exit 2
    fi
fi
wait_for "$host/health"

# locust's own master/worker mode is not used: with Debian's locust 2.12
# the workers never get the master's acknowledgement and it waits forever.
run_locust() { # name users class
    timeout $((duration + 60)) locust -f tests/load/locustfile.py --headless --host "$host" \
        -u "$2" -r "$rate" -t "${duration}s" --csv "$out/$1" --html "$out/$1.html" \
        --only-summary --stop-timeout 5 "$3" >"$out/$1.log" 2>&1
}
prefixes=""
if $heavy; then
    echo "loadtest: $users heavy users in $workers locust processes for ${duration}s against $host"
    runners=()
    for i in $(seq 1 "$workers"); do
        share=$(((users + workers - i) / workers))
        run_locust "heavy-$i" "$share" HeavyUser &
        runners+=($!)
        prefixes="${prefixes:+$prefixes,}$out/heavy-$i"
    done
    for pid in "${runners[@]}"; do
        wait "$pid" || true
    done
else
    echo "loadtest: $users users (spawn rate $rate) for ${duration}s against $host"
    run_locust locust "$users" RetailSystemUser || true
    prefixes="$out/locust"
fi
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())" \
    "$host/health" >"$out/health.json"
python3 tests/load/report.py "$prefixes" "$out/health.json" "$users" "$duration" |
    tee "$out/report.txt"
exit "${PIPESTATUS[0]}"
