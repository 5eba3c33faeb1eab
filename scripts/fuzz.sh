#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every libFuzzer harness (tests/fuzz/fuzz_*.c: the query parser, the
# Link header parser, the Shopify-to-product mapping with the catalog built
# from it, the config and Redis URL parsers, the GraphQL mapping of pages
# and of bulk JSONL) for SECONDS each (default 60),
# built with clang, AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh [SECONDS]
#
# Seeds: tests/fuzz/corpus/<name>/, tests/fuzz/regressions/<name>/ and the
# Shopify fixtures; what the fuzzers learn is kept in build-fuzz/corpus/.
# A crash stops that fuzzer, leaves the input in build-fuzz/crashes/<name>/
# and makes the script exit 1: copy the input into
# tests/fuzz/regressions/<name>/ (scripts/test.sh replays that directory on
# every run), then fix the bug.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

scripts/deps.sh test
scripts/deps.sh fuzz
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRETAIL_FUZZ=ON \
    -DRETAIL_TESTS=OFF -DRETAIL_WERROR=ON >/dev/null
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

failed=()
for name in query link product config graphql; do
    mkdir -p "build-fuzz/corpus/$name" "build-fuzz/crashes/$name"
    seeds=("tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name")
    max_len=4096
    if [ "$name" = product ] || [ "$name" = config ]; then
        seeds+=(tests/fixtures/shopify/rest)
        max_len=65536
    elif [ "$name" = graphql ]; then
        max_len=65536
    fi
    echo "== fuzz_$name for ${seconds}s"
    if ! "build-fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$name/" \
        "build-fuzz/corpus/$name" "${seeds[@]}" >"build-fuzz/fuzz_$name.log" 2>&1; then
        failed+=("$name")
        tail -n 40 "build-fuzz/fuzz_$name.log"
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" \
        "build-fuzz/fuzz_$name.log" | tr '\n' ' '
    echo
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]}; inputs in build-fuzz/crashes/ (see the top of $0)" >&2
    exit 1
fi
echo "fuzz: no crash in $((5 * seconds)) s of fuzzing"
