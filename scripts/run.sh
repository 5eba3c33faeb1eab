#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what is missing, builds a release binary at build/retail-api and
# runs it on port 8000 in the foreground. Arguments are passed to the
# server (e.g. --port 9000 or --config FILE).
#
# With nothing configured it still works:
#  - no Shopify credentials: it serves the bundled catalog (and says so);
#  - REDIS_URL unset: it starts a private redis-server on a free loopback
#    port for itself and stops it on exit; if that fails it runs memory-only;
#  - no API key: it creates a random one in .retail-api.key (untracked,
#    mode 600) and tells you how to use it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/deps.sh run
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRETAIL_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
echo "run: built build/retail-api"

rundir="$root/.run"
mkdir -p "$rundir"
redis_pid=""
server_pid=""

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        echo "run: stopped the private redis-server (pid $redis_pid)"
    fi
    rm -f "$rundir/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

uses_config=false
port=${PORT:-8000}
previous=""
for arg in "$@"; do
    case "$arg" in
    --config | --config=*) uses_config=true ;;
    --port=*) port=${arg#--port=} ;;
    esac
    [ "$previous" = "--port" ] && port=$arg
    previous=$arg
done

# An API key for local use, unless one is configured.
if [ -z "${API_KEYS:-}" ] && [ -z "${API_KEY:-}" ] && ! $uses_config; then
    keyfile="$root/.retail-api.key"
    if [ ! -s "$keyfile" ]; then
        (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$keyfile")
        echo "run: no API key configured; created a random one in $keyfile"
    else
        echo "run: no API key configured; using the one in $keyfile"
    fi
    API_KEYS=$(cat "$keyfile")
    export API_KEYS
    echo "run: try  curl -H \"X-API-Key: \$(cat $keyfile)\" localhost:$port/v1/products/?limit=5"
fi

# A private Redis, unless one is configured.
if [ -z "${REDIS_URL:-}" ] && ! $uses_config; then
    redis_port=""
    for candidate in $(seq 16379 16479); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
            redis_port=$candidate
            break
        fi
    done
    if [ -n "$redis_port" ] && command -v redis-server >/dev/null 2>&1; then
        redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
            --dir "$rundir" >"$rundir/redis.log" 2>&1 &
        redis_pid=$!
        echo "$redis_pid" >"$rundir/redis.pid"
        for _ in $(seq 1 100); do
            if redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
                break
            fi
            if ! kill -0 "$redis_pid" 2>/dev/null; then
                break
            fi
            sleep 0.05
        done
    fi
    if [ -n "$redis_pid" ] && redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
        export REDIS_URL="redis://127.0.0.1:$redis_port/0"
        echo "run: started a private redis-server on 127.0.0.1:$redis_port (pid $redis_pid)"
    else
        export REDIS_URL=none
        echo "run: could not start redis-server (see $rundir/redis.log); running memory-only"
    fi
fi

build/retail-api "$@" &
server_pid=$!
set +e
wait "$server_pid"
status=$?
set -e
server_pid=""
exit "$status"
