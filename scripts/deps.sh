#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages retail-api needs that are missing.
#   scripts/deps.sh run    to build and run the server
#   scripts/deps.sh test   to build and run every test
#   scripts/deps.sh bench  to run the benchmark (wrk, nginx)
#   scripts/deps.sh load   to run the locust load test
#   scripts/deps.sh fuzz   to build and run the libFuzzer harnesses (clang)
# Runs apt-get update and install only when something is missing; needs
# root (or sudo) only then.
set -euo pipefail

need_libs=(pkg-config make libmicrohttpd-dev libhiredis-dev libcurl4-openssl-dev libjansson-dev
    libsystemd-dev)
need_cmds=(redis-server:redis-server)
case "${1:-run}" in
run) ;;
test)
    # The integration tests run on Debian's python3 (test.sh names it), which
    # reads docs/openapi.yaml with python3-yaml; systemd-analyze checks the unit;
    # valgrind runs the integration tests again under memcheck.
    need_libs+=(libcmocka-dev clang-format python3-yaml)
    need_cmds+=(/usr/bin/python3:python3 systemd-analyze:systemd valgrind:valgrind)
    ;;
bench)
    need_cmds+=(python3:python3 wrk:wrk nginx:nginx taskset:util-linux)
    ;;
load)
    need_cmds+=(python3:python3 locust:python3-locust)
    ;;
fuzz)
    need_cmds+=(clang:clang)
    ;;
*)
    echo "usage: $0 run|test|bench|load|fuzz" >&2
    exit 2
    ;;
esac

missing=()
for pkg in "${need_libs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
for entry in "${need_cmds[@]}"; do
    if ! command -v "${entry%%:*}" >/dev/null 2>&1; then
        missing+=("${entry#*:}")
    fi
done
sudo=()
updated=false
install() {
    [ $# -eq 0 ] && return 0
    echo "deps: installing $*" >&2
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "deps: missing $*; run as root or install them with apt-get" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $updated; then
        "${sudo[@]}" apt-get update -q
        updated=true
    fi
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}

install "${missing[@]}"

# libFuzzer is in clang's runtime package, which clang only recommends.
if [ "${1:-run}" = fuzz ]; then
    probe='int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }'
    if ! echo "$probe" | clang -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
        install "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
    fi
fi
