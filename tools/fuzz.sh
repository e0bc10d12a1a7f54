#!/usr/bin/env bash
# Builds the fuzz targets with clang and libFuzzer (LEDGER_FUZZ: every
# library instrumented for coverage, with AddressSanitizer) into build-fuzz,
# and fuzzes each for SECONDS (default 600) from its seed corpus
# (tests/fuzz/corpus/<target>); what libFuzzer adds goes to
# build-fuzz/tests/fuzz/corpus/<target>. A crash stops that target and
# leaves crash-* in build-fuzz/tests/fuzz. Usage: tools/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

./tools/install-deps.sh
if ! command -v clang++ >/dev/null || [ ! -e "$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a" ]; then
  apt-get install -y --no-install-recommends clang libclang-rt-14-dev
fi
seconds=${1:-600}
build_dir=${BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLEDGER_FUZZ=ON -DLEDGER_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j 2 --target event_json_fuzz event_codec_fuzz request_fuzz
root=$PWD
cd "$build_dir/tests/fuzz"
status=0
for target in event_json_fuzz event_codec_fuzz request_fuzz; do
  mkdir -p "corpus/$target"
  echo "== $target, $seconds s"
  ./"$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    "corpus/$target" "$root/tests/fuzz/corpus/$target" 2>&1 | tail -25 || status=1
done
exit $status
