#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak test: the server under mixed load for MINUTES (default 30) while
# Shopify flaps between healthy, slow, 500, 429 and hanging, Redis is
# restarted, the catalog changes and SIGHUP reloads the config. Prints
# failures, p50/p99 and resident memory per window, and fails on any failed
# request, a reload that did not take effect, memory growth of 5 % or more
# after warm-up, or an unclean exit (see tests/soak/soak.py).
#
#   scripts/soak.sh [MINUTES] [--out FILE]
#
# Uses build-test/retail-api (built here if missing); RETAIL_API_BIN picks
# another binary. scripts/test.sh runs one minute of it.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
case "$minutes" in '' | *[!0-9.]* | .*) echo "usage: $0 [MINUTES] [--out FILE]" >&2; exit 2 ;; esac
shift $(( $# > 0 ? 1 : 0 ))

scripts/deps.sh test
if [ -z "${RETAIL_API_BIN:-}" ]; then
    cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRETAIL_WERROR=ON \
        -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
    cmake --build build-test -j "$(nproc 2>/dev/null || echo 2)" --target retail-api >/dev/null
    export RETAIL_API_BIN=$PWD/build-test/retail-api
fi
export RETAIL_SOURCE_DIR=$PWD
exec /usr/bin/python3 tests/soak/soak.py --minutes "$minutes" "$@"
