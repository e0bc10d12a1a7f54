#!/usr/bin/env bash
# Checks the house style (tools/format.sh --check), builds everything and
# runs every test. Installs the Debian packages it needs first
# (tools/install-deps.sh). Usage: tools/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

./tools/install-deps.sh --tests
# The house style first: a file that differs from .clang-format fails fast.
./tools/format.sh --check
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEDGER_WEB_TESTS=ON \
  -DLEDGER_INTEROP_TESTS=ON >/dev/null
cmake --build "$build_dir" -j 2
ctest --test-dir "$build_dir" --output-on-failure -j 2 "$@"
