#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark: installs what it needs (wrk, nginx, redis-server), builds
# the release binary and the ceiling, and runs bench/bench.py, which starts
# Redis, the mock Shopify, retail-api, nginx and the ceiling on free
# loopback ports, measures them in turn with wrk, stops them all, prints a
# table and writes it to bench/results/latest.md.
#   scripts/bench.sh            the full run (several minutes)
#   scripts/bench.sh --quick    a smoke run of a few seconds per part
# Other options: --rounds N, --duration S, --sizes 100,5000,50000, --skip-scale.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh bench
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRETAIL_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec python3 bench/bench.py "$@"
