#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails when a C source or header differs from what .clang-format asks for.
# With --fix, rewrites them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find src include tests -name '*.[ch]')
if [ "${1:-}" = "--fix" ]; then
    clang-format -i $files
    exit 0
fi
bad=0
for f in $files; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "format: $f differs from .clang-format (run scripts/check-format.sh --fix)" >&2
        bad=1
    fi
done
exit $bad
