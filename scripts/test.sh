#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what is missing, builds with warnings as errors, checks the
# format, and runs every test: the unit tests, and the integration tests
# (the real binary against a real redis-server and the mock Shopify, both
# started on free loopback ports and stopped by the tests). Then everything
# runs a second time built with AddressSanitizer and UndefinedBehaviorSanitizer
# (a sanitizer report in a server log fails the test that started it).
# The gcc build's integration tests also run under valgrind's memcheck.
# Then each libFuzzer harness runs for FUZZ_SECONDS (default 10), and the
# soak test for SOAK_MINUTES (default 1).
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
jobs=$(nproc 2>/dev/null || echo 2)

echo "== format"
scripts/check-format.sh

echo "== build (warnings are errors)"
# Debian's python3, which deps.sh gave python3-yaml (not whatever python3
# comes first on PATH).
python=(-DPython3_EXECUTABLE=/usr/bin/python3)
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRETAIL_WERROR=ON "${python[@]}" >/dev/null
cmake --build build-test -j "$jobs"

echo "== tests"
ctest --test-dir build-test --output-on-failure

echo "== all tests again under AddressSanitizer and UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRETAIL_WERROR=ON -DRETAIL_SANITIZE=ON \
    "${python[@]}" >/dev/null
cmake --build build-asan -j "$jobs"
ctest --test-dir build-asan --output-on-failure

echo "== fuzzing (${FUZZ_SECONDS:=10} s for each harness)"
scripts/fuzz.sh "$FUZZ_SECONDS"

echo "== soak (${SOAK_MINUTES:=1} min of load with faults)"
scripts/soak.sh "$SOAK_MINUTES"

echo "== all tests passed"
