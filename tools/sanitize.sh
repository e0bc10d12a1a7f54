#!/usr/bin/env bash
# Builds everything with AddressSanitizer and UndefinedBehaviorSanitizer
# (LEDGER_SANITIZE) into build-asan, without the benchmarks, and runs every
# test there. Any sanitizer report fails its test. Takes longer than
# tools/test.sh: run by hand; results are recorded in bench/RESULTS.md.
# Usage: tools/sanitize.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

./tools/install-deps.sh --tests
build_dir=${BUILD_DIR:-build-asan}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLEDGER_SANITIZE=ON -DLEDGER_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j 2
# Leaks are reported too; a report aborts the process, so the test fails.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 900 "$@"
